"""The documentation site builds, with every sample run, and the README's samples are among them.

The build is `sphinx-build -W --keep-going -n` (a warning fails it: a broken internal link or anchor, a sample that
raised, a public result field without a docstring, an external link that is not a well-formed https URL); MyST-NB
runs every page's code cells in a fresh kernel, offline against the emulator, with no key (docs/conf.py). On top of
the build this checks what a passing build cannot: that a cell shown as failing on purpose (tagged
raises-exception) really failed, that no Python sample sits in a plain code block where nothing runs it, and that
every sample in README.md is a cell of the tour page.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TOUR = DOCS / "tutorials" / "tour.md"
# Fenced blocks that hold Python or IPython: they must be {code-cell}s, which the build runs.
PYTHON_FENCES = {"python", "py", "ipython", "ipython3", "pycon"}
MAGIC_LINE = re.compile(r"^\s*(%%?qwen\b|%config\b|%load_ext\b)", re.M)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(DOCS), str(out / "html")],
        capture_output=True, text=True, cwd=ROOT, timeout=1500,
    )
    log = "\n".join(line for line in (run.stdout + run.stderr).splitlines()
                    if "Kernel is running over TCP" not in line and "Executing notebook with kernel" not in line)
    assert run.returncode == 0, f"the docs build failed:\n{log[-12000:]}"
    return out


@pytest.mark.timeout(1800)
def test_the_site_builds_with_every_sample_run(built):
    pages = list((built / "html").rglob("*.html"))
    assert len(pages) > 25
    executed = list((built / "jupyter_execute").rglob("*.ipynb"))
    assert len(executed) >= 15, "MyST-NB executed fewer pages than have samples"
    for page in ("reference/options.html", "reference/errors.html", "reference/configuration.html"):
        assert (built / "html" / page).is_file(), page


def _failed(output: dict) -> bool:
    """An output that says its cell failed: an error, or IPython's one-line UsageError (printed to stderr)."""
    text = "".join(output.get("text", ""))
    return output["output_type"] == "error" or (output.get("name") == "stderr" and text.startswith("UsageError"))


@pytest.mark.timeout(1800)
def test_a_cell_shown_failing_really_failed(built):
    quiet = []
    for notebook in (built / "jupyter_execute").rglob("*.ipynb"):
        for cell in json.loads(notebook.read_text("utf-8"))["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if "raises-exception" in tags and not any(_failed(out) for out in cell.get("outputs", [])):
                quiet.append(f"{notebook.relative_to(built)}: {''.join(cell['source'])[:80]!r}")
    assert not quiet, "cells tagged raises-exception that did not raise (the page would show a failure that is not " \
                      "there):\n" + "\n".join(quiet)


@pytest.mark.timeout(1800)
def test_external_links_are_listed_and_well_formed(built):
    listed = (built / "html" / "external-links.txt").read_text("utf-8").splitlines()
    assert listed, "no external links were collected (the check did not run)"
    assert all(line.startswith("https://") for line in listed), listed


def _fences(path: Path) -> list[tuple[str, str, int]]:
    """(info, content, line) of each top-level fenced block of a Markdown file (a {code-cell}'s own content, fences
    inside it included, is one block)."""
    tokens = MarkdownIt("commonmark").parse(path.read_text("utf-8"))
    return [(t.info.strip(), t.content, t.map[0] + 1) for t in tokens if t.type == "fence"]


def test_every_python_sample_in_the_docs_is_a_cell_that_runs():
    static = []
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        for info, content, line in _fences(page):
            if info.split()[0:1] and info.split()[0] in PYTHON_FENCES or (
                    not info.startswith("{") and MAGIC_LINE.search(content)):
                static.append(f"{page.relative_to(ROOT)}:{line}: ```{info}")
    assert not static, ("Python or %qwen samples in plain code blocks, which the build does not run; make them "
                        "{code-cell}s:\n" + "\n".join(static))


def test_every_readme_sample_is_a_cell_of_the_tour():
    cells = {content.strip() for info, content, _ in _fences(TOUR) if info.startswith("{code-cell}")}
    missing = [f"README.md:{line}" for info, content, line in _fences(README)
               if info not in ("bash", "text", "console") and content.strip() not in cells]
    assert not missing, "README samples that docs/tutorials/tour.md does not run, word for word: " + ", ".join(missing)


def test_the_readme_is_short_and_its_links_resolve():
    text = README.read_text("utf-8")
    assert len(text.splitlines()) <= 150
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
