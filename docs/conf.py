"""Sphinx configuration: MyST Markdown pages whose {code-cell} samples run in a real kernel at every build.

Every sample runs offline against the built-in emulator, with no key and a database of its own, so the docs build
is also a test: a sample that stops working fails it (`sphinx-build -W`, tests/docs/test_docs_build.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

# The kernels that run the samples inherit this environment: the emulator answers, no key can leak into a page,
# and nothing touches the person's own conversations.
os.environ["QWEN_JUPYTER_OFFLINE"] = "on"
os.environ.pop("DASHSCOPE_API_KEY", None)
for name in ("QWEN_JUPYTER_BASE_URL", "QWEN_JUPYTER_CASSETTE", "QWEN_JUPYTER_CASSETTE_MODE"):
    os.environ.pop(name, None)
# A relative path: each page runs in a scratch folder of its own (nb_execution_in_temp), so each page starts with
# an empty database and no page's stored answers stand in for another's.
os.environ["QWEN_JUPYTER_DB"] = "qwen.db"
os.environ["QWEN_DOCS_REPO"] = str(HERE.parent)  # where a sample finds the repository's files (notebooks/mcp_units.py)

from qwen_jupyter import __version__  # noqa: E402

project = "qwen-jupyter"
author = "the qwen-jupyter authors"
copyright = "2026, the qwen-jupyter authors"  # noqa: A001 - Sphinx's name
release = version = __version__

extensions = ["myst_nb", "qwen_reference"]
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints"]
root_doc = "index"

# MyST: headings get anchors for links like [x](page.md#a-heading); ::: fences and definition lists read well.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# MyST-NB: execute every page's code cells in a fresh kernel at every build. A cell that raises is a warning
# (which -W makes an error, every failing page listed at the end of the build) unless it is tagged
# raises-exception: a sample that shows a failure on purpose.
nb_execution_mode = "force"
nb_execution_raise_on_error = False
nb_execution_timeout = 180
nb_execution_in_temp = True  # samples write files (cassettes, exports) into a scratch folder, not docs/
nb_execution_show_tb = True  # a failing sample's traceback goes to the build log
nb_merge_streams = True

html_theme = "furo"
html_title = f"qwen-jupyter {release}"

nitpicky = True
smartquotes = False  # option names keep their two hyphens (--search, not an en dash)
