"""A kernel with the extension loaded, pointed at the session emulator, with its own database and notebook id."""

from __future__ import annotations

import pytest

from ..conftest import KEY
from .kernel import Kernel


def start_kernel(emulator, tmp_path) -> Kernel:
    kernel = Kernel({
        "QWEN_JUPYTER_BASE_URL": emulator.url,
        "DASHSCOPE_API_KEY": KEY,
        "QWEN_JUPYTER_DB": str(tmp_path / "qwen.db"),
        "JPY_SESSION_NAME": str(tmp_path / "analysis.ipynb"),
        "QWEN_JUPYTER_OFFLINE": "auto",
    })
    setup = kernel.execute("%load_ext qwen_jupyter")
    assert setup.reply["content"]["status"] == "ok", setup.stderr
    return kernel


@pytest.fixture(scope="module")
def module_kernel(emulator, tmp_path_factory):
    kernel = start_kernel(emulator, tmp_path_factory.mktemp("kernel"))
    yield kernel
    kernel.shutdown()


@pytest.fixture
def kernel(module_kernel, emu):
    """The module's kernel with default settings restored and a fresh default chat."""
    module_kernel.execute("%config QwenMagics.api = 'openai'\n%config QwenMagics.model = 'qwen-plus'\n"
                          "%qwen reset\n%qwen reset maths")
    return module_kernel
