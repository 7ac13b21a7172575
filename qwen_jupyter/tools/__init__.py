"""Python functions as tools: their schema (schema.py) and the rounds of calls the toolkit runs (rounds.py)."""

from .schema import Tool, Toolbox, toolbox

__all__ = ["Tool", "Toolbox", "toolbox"]
