"""One client run for benchmarks/instructions.sh: `none` (imports only), `bare` (the openai loop) or `ours`."""

import sys

import IPython.display  # noqa: F401 - every import that `ours` would make lazily is paid by every mode
import openai

import qwen_jupyter
import qwen_jupyter.backends.openai  # noqa: F401
import qwen_jupyter.emulator  # noqa: F401
import qwen_jupyter.views.layout  # noqa: F401
from qwen_jupyter.views.cell import CellView
from qwen_jupyter.views.html import markdown_html

markdown_html("warm")  # the renderer is built once per process (the kernel's warm-up does it after %load_ext)

mode, url, chunks = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = f"qwen-plus~long={chunks * 4},chunk=4"


class Null:
    """A publisher that drops what the cell view would display (the kernel's own cost is not counted)."""

    def display(self, *args, **kwargs):
        pass

    def update_display(self, *args, **kwargs):
        pass

    def clear_output(self, *args, **kwargs):
        pass


if mode == "none":
    pass
elif mode == "bare":
    c = openai.OpenAI(base_url=url + "/compatible-mode/v1", api_key="sk-x", max_retries=0)
    stream = c.chat.completions.create(model=model, messages=[{"role": "user", "content": "go"}], stream=True,
                                       stream_options={"include_usage": True})
    for _ in stream:
        pass
else:
    r = qwen_jupyter.chat("go", model=model, base_url=url, api_key="sk-x")
    view = CellView(publisher=Null())
    view.run(r)
    view.finish(r)
    assert r.error is None and len(r.text) == chunks * 4
