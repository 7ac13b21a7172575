"""What the built sdist and wheel hold, checked by scripts/check_wheel.sh (not a pytest module).

    python dist_contents.py DIST_DIR VERSION

The wheel holds the package (every file the sdist has under qwen_jupyter/, the parts of the panel's ES module, its
CSS and KaTeX with its fonts among them) and its metadata, nothing from tests or notebooks; the sdist holds what builds and tests it, and
no caches. One line per failure; exit 1 if any.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

PACKAGE = "qwen_jupyter"
PANEL_ASSETS = ("panel/js/panel.js", "panel/panel.css", "panel/vendor/katex/katex.min.js",
                "panel/vendor/katex/katex.min.css", "panel/vendor/katex/LICENSE")
KATEX_FONTS = 20  # the woff2 files katex.min.css refers to
SDIST_TOP = {"qwen_jupyter", "tests", "notebooks", "conftest.py", "README.md", "CHANGELOG.md", "LICENSE",
             "pyproject.toml", "PKG-INFO", ".gitignore"}
JUNK = ("__pycache__", ".pyc", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache", ".DS_Store", ".egg-info")


def archives(folder: Path, version: str) -> tuple[Path, Path]:
    """The wheel and the sdist of this version in `folder`."""
    return (folder / f"qwen_jupyter-{version}-py3-none-any.whl", folder / f"qwen_jupyter-{version}.tar.gz")


def wheel_problems(wheel: Path, sdist_package: set[str], version: str) -> list[str]:
    """What is wrong with the wheel's file list."""
    names = set(zipfile.ZipFile(wheel).namelist())
    info = f"qwen_jupyter-{version}.dist-info"
    problems = [f"the wheel holds {name}, outside the package and its metadata" for name in sorted(names)
                if PurePosixPath(name).parts[0] not in (PACKAGE, info)]
    problems += [f"the wheel holds {name}" for name in sorted(names) if any(junk in name for junk in JUNK)
                 or "/tests/" in name or PurePosixPath(name).name.startswith(("test_", "conftest"))]
    problems += [f"the wheel lacks {PACKAGE}/{asset}" for asset in PANEL_ASSETS if f"{PACKAGE}/{asset}" not in names]
    fonts = [name for name in names if name.startswith(f"{PACKAGE}/panel/vendor/katex/fonts/")
             and name.endswith(".woff2")]
    if len(fonts) < KATEX_FONTS:
        problems.append(f"the wheel holds {len(fonts)} KaTeX fonts, not {KATEX_FONTS}")
    package = {name for name in names if name.startswith(f"{PACKAGE}/")}
    problems += [f"the wheel lacks {name}, which the sdist has" for name in sorted(sdist_package - package)]
    problems += [f"the wheel holds {name}, which the sdist lacks" for name in sorted(package - sdist_package)]
    for needed in ("METADATA", "entry_points.txt", "licenses/LICENSE"):
        if f"{info}/{needed}" not in names:
            problems.append(f"the wheel lacks {info}/{needed}")
    return problems


def sdist_problems(sdist: Path, version: str) -> tuple[list[str], set[str]]:
    """What is wrong with the sdist's file list, and the files it has under the package."""
    root = f"qwen_jupyter-{version}"
    with tarfile.open(sdist) as archive:
        names = [member.name for member in archive.getmembers() if member.isfile()]
    problems = [f"the sdist holds {name}, outside {root}/" for name in names if not name.startswith(f"{root}/")]
    inside = [name.removeprefix(f"{root}/") for name in names if name.startswith(f"{root}/")]
    problems += [f"the sdist holds {name}, which it should not" for name in sorted(inside)
                 if name.split("/")[0] not in SDIST_TOP or any(junk in name for junk in JUNK)]
    problems += [f"the sdist lacks {name}" for name in sorted(SDIST_TOP - {name.split("/")[0] for name in inside})]
    return problems, {name for name in inside if name.startswith(f"{PACKAGE}/")}


def main(argv: list[str]) -> int:
    """Check both archives; 0 when they hold what they should, else 1 with one line per problem."""
    if len(argv) != 2:
        print("usage: python dist_contents.py DIST_DIR VERSION", file=sys.stderr)
        return 2
    folder, version = Path(argv[0]), argv[1]
    wheel, sdist = archives(folder, version)
    missing = [path.name for path in (wheel, sdist) if not path.is_file()]
    if missing:
        print(f"FAIL: no {' or '.join(missing)} in {folder} (is the version {version}?)", file=sys.stderr)
        return 1
    problems, sdist_package = sdist_problems(sdist, version)
    problems += wheel_problems(wheel, sdist_package, version)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    if not problems:
        files = len(zipfile.ZipFile(wheel).namelist())
        print(f"  ok  {wheel.name}: {files} files, {wheel.stat().st_size // 1024} KiB; "
              f"{sdist.name}: {sdist.stat().st_size // 1024} KiB")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
