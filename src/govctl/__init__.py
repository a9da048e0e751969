"""govctl: executable AI governance over a git repository of YAML records."""

__version__ = "0.1.0"
