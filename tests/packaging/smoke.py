"""Smoke test of an installed qwen-jupyter, run by scripts/check_wheel.sh with a fresh venv's Python, from a
directory outside the checkout (so only the installed wheel can be imported). Not a pytest module.

    python smoke.py EXPECTED_VERSION

Each step prints its time; the first failure prints one line and exits 1. Offline: the built-in emulator answers.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SECRET_ENV = ("DASHSCOPE_API_KEY", "QWEN_JUPYTER_BASE_URL", "QWEN_JUPYTER_OFFLINE", "QWEN_JUPYTER_CASSETTE",
              "QWEN_JUPYTER_CASSETTE_MODE")


class SmokeFailure(Exception):
    """A step of the smoke test found the installed package wrong."""


def expect(condition: object, message: str) -> None:
    """Fail the smoke test with `message` unless `condition` holds."""
    if not condition:
        raise SmokeFailure(message)


def offline_env(home: Path) -> dict[str, str]:
    """This process's environment with no key, base URL or cassette, and fresh Jupyter, IPython and store dirs."""
    env = {name: value for name, value in os.environ.items() if name not in SECRET_ENV}
    for name, folder in (("IPYTHONDIR", "ipython"), ("JUPYTER_CONFIG_DIR", "jupyter-config"),
                         ("JUPYTER_DATA_DIR", "jupyter-data"), ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")):
        env[name] = str(home / folder)
    env["QWEN_JUPYTER_DB"] = str(home / "qwen.db")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def check_import(version: str) -> Path:
    """The package imports from this environment's site-packages, with the expected version; its folder."""
    import qwen_jupyter

    package = Path(qwen_jupyter.__file__).resolve().parent
    expect(package.is_relative_to(Path(sys.prefix).resolve()),
           f"qwen_jupyter imported from {package}, not from the venv {sys.prefix}")
    expect(qwen_jupyter.__version__ == version, f"qwen_jupyter.__version__ is {qwen_jupyter.__version__}, not {version}")
    installed = importlib.metadata.version("qwen-jupyter")
    expect(installed == version, f"installed metadata says version {installed}, not {version}")
    return package


def check_cli(version: str, env: dict[str, str], cwd: Path) -> None:
    """`qwen-jupyter --version` prints the version and `qwen-jupyter chat --offline` answers from the emulator."""
    command = Path(sys.executable).parent / "qwen-jupyter"
    expect(command.exists(), f"the qwen-jupyter command is not installed at {command}")
    shown = subprocess.run([str(command), "--version"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    expect(shown.returncode == 0, f"qwen-jupyter --version exited {shown.returncode}: {shown.stderr.strip()[-300:]}")
    expect(shown.stdout.strip() == f"qwen-jupyter {version}",
           f"qwen-jupyter --version printed {shown.stdout.strip()!r}, not 'qwen-jupyter {version}'")
    answer = subprocess.run([str(command), "chat", "--offline", "hi"], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=120)
    expect(answer.returncode == 0,
           f"qwen-jupyter chat --offline exited {answer.returncode}: {answer.stderr.strip()[-300:]}")
    expect("emulated" in answer.stdout, f"qwen-jupyter chat --offline gave no emulated answer: {answer.stdout[-300:]!r}")


def check_panel_assets(package: Path) -> dict[str, int]:
    """The panel's ES module and CSS, and KaTeX (script, CSS with every font inlined), load from the installed
    package; the lengths of the module and the CSS, for the kernel's panel to match."""
    from qwen_jupyter.panel import QwenPanel, front_end, katex_assets

    esm, css = str(QwenPanel._esm), str(QwenPanel._css)
    expect(len(esm) > 10_000 and "export" in esm, f"the panel's ES module is nearly empty ({len(esm)} characters)")
    expect(esm == front_end(), "the panel widget's ES module is not the one its package's js/ files make")
    stylesheet = package / "panel" / "panel.css"
    expect(stylesheet.is_file() and css == stylesheet.read_text(encoding="utf-8"),
           f"the panel widget's CSS is not the installed {stylesheet}")
    katex = katex_assets()
    expect("export default module.exports" in katex["script"] and len(katex["script"]) > 100_000,
           "katex_assets() gave no KaTeX ES module")
    fonts = katex["css"].count("data:font/woff2;base64,")
    expect(fonts >= 20 and "url(fonts/" not in katex["css"],
           f"katex_assets() CSS has {fonts} inlined fonts (20 expected) or still points at font files")
    return {"esm": len(esm), "css": len(css)}


def _expression(reply: dict[str, Any], name: str) -> Any:
    """The value of a JSON-valued user expression in an execute reply."""
    value = reply["content"]["user_expressions"][name]
    expect(value["status"] == "ok", f"kernel expression {name} failed: {value.get('evalue')}")
    return json.loads(ast.literal_eval(value["data"]["text/plain"]))


def check_kernel(env: dict[str, str], cwd: Path, sizes: dict[str, int]) -> None:
    """A real kernel loads the extension, answers a %%qwen cell (emulated, status ok) and makes a panel whose
    ESM and CSS are the installed files."""
    from jupyter_client.manager import start_new_kernel

    log = cwd / "kernel.log"
    try:
        with log.open("w") as stderr:
            manager, client = start_new_kernel(kernel_name="python3", startup_timeout=120, env=env, cwd=str(cwd),
                                               stderr=stderr)
    except Exception as exc:
        said = log.read_text(errors="replace").strip().splitlines()
        raise SmokeFailure(f"the kernel did not start ({type(exc).__name__}: {exc}); it said: "
                           f"{said[-1] if said else 'nothing'}") from None
    try:
        def run(code: str, what: str, **expressions: str) -> dict[str, Any]:
            messages: list[dict[str, Any]] = []
            reply = client.execute_interactive(code, timeout=120, output_hook=messages.append,
                                               user_expressions=expressions, allow_stdin=False)
            if reply["content"]["status"] != "ok":
                said = [m["content"].get("evalue") or m["content"].get("text", "")
                        for m in messages if m["msg_type"] in ("error", "stream")]
                raise SmokeFailure(f"{what} ended in error in the kernel: {' '.join(said)[-300:]}")
            reply["messages"] = messages
            return reply

        reply = run("%load_ext qwen_jupyter\nimport json as _json, sys as _sys, qwen_jupyter as _qj",
                    "%load_ext qwen_jupyter", where="_json.dumps([_sys.prefix, _qj.__file__])")
        prefix, module = _expression(reply, "where")
        expect(Path(prefix).resolve() == Path(sys.prefix).resolve(), f"the kernel runs in {prefix}, not {sys.prefix}")
        expect(Path(module).resolve().is_relative_to(Path(sys.prefix).resolve()),
               f"the kernel imported qwen_jupyter from {module}, not from the venv")

        reply = run("%%qwen\nSay hello from the installed wheel.", "the %%qwen cell",
                    answer="_json.dumps([_qwen.error and str(_qwen.error), _qwen.emulated, _qwen.text])")
        error, emulated, text = _expression(reply, "answer")
        expect(error is None and text, f"the %%qwen cell gave no answer (error: {error})")
        expect(emulated, "the %%qwen answer is not marked emulated")
        shown = [m["content"]["data"].get("text/html", "") for m in reply["messages"]
                 if m["msg_type"] == "display_data"]
        expect(any("emulated" in html for html in shown), "the %%qwen cell's output shows no emulated badge")

        reply = run("_panel = _qj.Panel()", "qwen_jupyter.Panel()",
                    panel="_json.dumps([len(_panel._esm), len(_panel._css)])")
        esm, css = _expression(reply, "panel")
        expect((esm, css) == (sizes["esm"], sizes["css"]),
               f"the kernel's panel has ES module {esm} and CSS {css} characters; the package's are "
               f"{sizes['esm']} and {sizes['css']}")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def timed(name: str, check: Callable[..., Any], *args: Any) -> Any:
    """Run one check, print its name and time when it passes, and return what it returned."""
    started = time.perf_counter()
    value = check(*args)
    print(f"  ok  {name} ({time.perf_counter() - started:.1f} s)", flush=True)
    return value


def main(argv: list[str]) -> int:
    """Run every check against the installed package; 0 when all pass, 1 with one line at the first failure."""
    if len(argv) != 1:
        print("usage: python smoke.py EXPECTED_VERSION", file=sys.stderr)
        return 2
    version, python = argv[0], sys.version.split()[0]
    with tempfile.TemporaryDirectory(prefix="qwen-smoke-") as folder:
        home = Path(folder)
        os.chdir(home)  # nothing of the checkout is importable from here
        env = offline_env(home)
        os.environ.clear()
        os.environ.update(env)
        try:
            package = timed(f"import qwen_jupyter {version} from the venv", check_import, version)
            timed("qwen-jupyter --version; qwen-jupyter chat --offline", check_cli, version, env, home)
            sizes = timed("panel ESM, CSS and KaTeX load from the package", check_panel_assets, package)
            timed("a kernel answers a %%qwen cell (emulated) and makes a panel", check_kernel, env, home, sizes)
        except SmokeFailure as failure:
            print(f"FAIL (Python {python}): {failure}", file=sys.stderr)
            return 1
        except Exception as exc:  # a crash is a failure too, in one line
            print(f"FAIL (Python {python}): {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
