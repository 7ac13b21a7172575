"""Repository-wide test setup: nothing reaches Model Studio, and nothing touches the user's conversation store.

nbval starts notebook kernels from this process's environment. Without a key or base URL the toolkit's "auto"
offline mode answers from the built-in emulator, so a developer's real key is removed for the test run.
"""

from __future__ import annotations

import os
import tempfile

for name in ("DASHSCOPE_API_KEY", "QWEN_JUPYTER_BASE_URL", "QWEN_JUPYTER_CASSETTE", "QWEN_JUPYTER_CASSETTE_MODE"):
    os.environ.pop(name, None)
os.environ["QWEN_JUPYTER_OFFLINE"] = "auto"
os.environ["QWEN_JUPYTER_DB"] = os.path.join(tempfile.mkdtemp(prefix="qwen-tests-"), "qwen.db")
