"""Documents: model cards, audit packs and their verification, rendered from a plain-data
context with sandboxed Jinja2 templates (``templates/``)."""
