"""The one place the version is written: pyproject.toml reads it (hatchling), and so do the package and the CLI."""

__version__ = "0.1.0"
