"""A real JupyterLab on 127.0.0.1 (state kept in a temporary folder) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "qwen-browser-test"
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "out" / "browser"  # screenshots a person can look at


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app: str, emulator, tmp_path_factory):
    """JupyterLab or Notebook 7 serving a temporary folder; kernels reach only the emulator."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it with apt)")
    home = tmp_path_factory.mktemp("lab")
    notebooks = home / "notebooks"
    notebooks.mkdir()
    env = {
        **os.environ,
        "QWEN_JUPYTER_BASE_URL": emulator.url,
        "DASHSCOPE_API_KEY": "sk-browser-test",
        "QWEN_JUPYTER_DB": str(home / "qwen.db"),
        "QWEN_JUPYTER_OFFLINE": "auto",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
    }
    overrides = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    overrides.mkdir(parents=True, exist_ok=True)
    (overrides / "overrides.json").write_text(
        '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}')
    port = _free_port()
    command = [sys.executable, "-m", app, "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={notebooks}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(home / "jupyter.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError((home / "jupyter.log").read_text()) from None
                time.sleep(0.25)
        yield {"url": url, "notebooks": notebooks, "log": home / "jupyter.log", "app": app}
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def lab(emulator, tmp_path_factory):
    yield from serve("jupyterlab", emulator, tmp_path_factory)


@pytest.fixture(scope="module")
def notebook7(emulator, tmp_path_factory):
    yield from serve("notebook", emulator, tmp_path_factory)


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"],
            viewport={"width": 1400, "height": 1000})
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(60_000)
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(f"{error}\n{error.stack or ''}"))
        try:
            yield page
        finally:
            context.close()


def run_notebook_with_panel(page, server, name: str, sources: list[str]) -> None:
    """Write NAME.ipynb with these code cells, open it in its own JupyterLab workspace, run every cell (the last
    shows a panel) and wait until the kernel is idle."""
    import nbformat

    from .test_panel_in_browser import KERNEL_IDLE

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, server["notebooks"] / f"{name}.ipynb")
    page.goto(f"{server['url']}/lab/workspaces/qwen-{name}/tree/{name}.ipynb?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    page.wait_for_function(KERNEL_IDLE)
    page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
    for _ in sources:
        page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".qwen-panel .qp-input", state="visible")
    page.wait_for_function(KERNEL_IDLE)
