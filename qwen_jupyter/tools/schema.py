"""qwen_jupyter.tools.schema, as the README writes it: as_tool(f).spec shows what the model is offered."""

from ..core.tools import Tool, Toolbox, as_tool, notebook_functions, toolbox

__all__ = ["Tool", "Toolbox", "as_tool", "notebook_functions", "toolbox"]
