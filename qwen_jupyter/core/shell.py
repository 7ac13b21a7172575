"""The IPython shell this process runs in, if any, found without importing IPython (a plain script never loads it)."""

from __future__ import annotations

import sys
from typing import Any


def running_shell() -> Any:
    """The running IPython shell (a kernel's or a terminal's), or None in a plain script."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None
