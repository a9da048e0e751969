"""The user cache, outside any repository (``store``): parsed record files (``parses``),
whole validate answers (``results``) and compiled schema checks (``compiled``). Any layer
may use it; it imports only ``model``."""
