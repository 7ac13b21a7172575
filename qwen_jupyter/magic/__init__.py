"""The magic: %%qwen and %qwen. The options, declared once (options.py), the line and cell as MagicArgs
(parse.py, line_input.py for `%qwen question?`), the commands (commands.py), the kernel's ids (kernel.py), the
warm-up after %load_ext (warmup.py) and QwenMagics itself (magics.py), which parses and hands over to the engine.

It is a front door: it may import every layer below it.
"""
