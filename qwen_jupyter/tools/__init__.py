"""The documented path qwen_jupyter.tools.schema (a tool from a function's hints and docstring): the tools
themselves live in core/tools.py, the rounds of calls in engine/rounds.py. It imports only core/."""
