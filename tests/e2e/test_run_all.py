"""A notebook whose request fails must stop Run All: nbconvert --execute and papermill exit non-zero, after the
cells before it ran, with the one-line error in the saved notebook (and no traceback from library internals)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

pytestmark = pytest.mark.e2e


def _notebook(folder, fault: str):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("%load_ext qwen_jupyter"),
                      nbformat.v4.new_code_cell("%%qwen\nWho are you?"),
                      nbformat.v4.new_code_cell(f"%%qwen -m qwen-plus~{fault}\nThis one fails."),
                      nbformat.v4.new_code_cell("print('after the failure')")]
    path = folder / "run_all.ipynb"
    nbformat.write(notebook, path)
    return path


def _env(tmp_path, emulator):
    return {**os.environ, "QWEN_JUPYTER_BASE_URL": emulator.url, "DASHSCOPE_API_KEY": "sk-run-all-0123456789",
            "QWEN_JUPYTER_DB": str(tmp_path / "qwen.db")}


def _check_saved(path) -> None:
    notebook = nbformat.read(path, as_version=4)
    outputs = [cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"]
    assert any("I am a large language model" in json.dumps(o) for o in outputs[1])
    errors = [o for o in outputs[2] if o["output_type"] == "error"]
    assert errors and len(errors[0]["traceback"]) == 1 and errors[0]["ename"] == "QwenError"
    assert "qwen-error" in json.dumps(outputs[2])  # the box was shown before the cell failed
    assert not outputs[3]  # Run All stopped at the failure


@pytest.mark.parametrize("fault", ["401", "moderation", "drop=2"])
def test_nbconvert_execute_exits_non_zero_on_a_failed_request(fault, tmp_path, emulator, reliability):
    path = _notebook(tmp_path, fault)
    out = tmp_path / "out.ipynb"
    run = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                          "--ExecutePreprocessor.timeout=60", str(path),
                          "--output", str(out)], env=_env(tmp_path, emulator), capture_output=True, text=True,
                         timeout=120)
    reliability.add("Faults", f"Run All with a failed request ({fault}), nbconvert", tried=1,
                    failed=int(run.returncode == 0))
    assert run.returncode != 0
    assert "This one fails." in run.stderr or "QwenError" in run.stderr


@pytest.mark.parametrize("fault", ["401", "moderation"])
def test_papermill_exits_non_zero_and_saves_the_one_line_error(fault, tmp_path, emulator, reliability):
    pytest.importorskip("papermill")
    path = _notebook(tmp_path, fault)
    out = tmp_path / "out.ipynb"
    run = subprocess.run([sys.executable, "-m", "papermill", str(path), str(out), "--cwd", str(tmp_path)],
                         env=_env(tmp_path, emulator), capture_output=True, text=True, timeout=120)
    reliability.add("Faults", f"Run All with a failed request ({fault}), papermill", tried=1,
                    failed=int(run.returncode == 0))
    assert run.returncode != 0 and "QwenError" in run.stderr
    _check_saved(out)


def test_identical_cells_run_headless_are_each_their_own_turn(tmp_path, emulator):
    """nbconvert sends no cell ids: two cells asking "Explain more." are two turns, each seeing the one before."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (
        "%load_ext qwen_jupyter", "%%qwen -c t\nWhat is entropy?", "%%qwen -c t\nExplain more.",
        "%%qwen -c t\nExplain more.", "%qwen -c j Tell me a joke", "%qwen -c j Tell me a joke",
        "%qwen history t\n%qwen history j")]
    path, out = tmp_path / "same.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, path)
    run = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                          "--ExecutePreprocessor.timeout=60", str(path), "--output", str(out)],
                         env=_env(tmp_path, emulator), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    cells = nbformat.read(out, as_version=4).cells
    assert "I can see 4 earlier messages" in json.dumps(cells[3].outputs)  # both turns before it
    history = "".join(o.get("text", "") for o in cells[6].outputs)
    assert history.count("you: Explain more.") == 2 and history.count("you: Tell me a joke") == 2, history
