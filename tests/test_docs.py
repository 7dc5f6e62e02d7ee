"""The documentation runs as shown: every ```python block of README.md and docs/*.md, and every install line.

Each page's ```python blocks run in order in one namespace, in a temporary folder (so that blocks
that write files leave nothing behind). Two HTML comments on the line before a block change that:

- ``<!-- requires: gudhi giotto -->``: the block needs optional packages (import names, or the
  backend names giotto / gudhi / ripser; ``giotto|gudhi|ripser`` means any one of them); it is
  skipped when one is absent, and so is every later block of the page that fails with a NameError
  because of it;
- ``<!-- skip-test -->``: the block is deliberately slow and is not run; the page should say why.

New pages in docs/ are picked up automatically.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]

#: Backend names a ``requires:`` comment may use, and the module each one imports.
ENGINE_MODULES = {"giotto": "gph", "giotto-ph": "gph", "gudhi": "gudhi", "ripser": "ripser",
                  "matplotlib": "matplotlib", "plot": "matplotlib", "pot": "ot", "sklearn": "sklearn",
                  "scikit-learn": "sklearn"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                    re.M | re.S)
_COMMENT = re.compile(r"<!--\s*(?P<what>skip-test|requires:[^>]*?)\s*-->\s*$")


def code_blocks(text: str) -> list[tuple[int, str, str, list[str]]]:
    """``(line, language, code, directives)`` for every fenced block of a Markdown text."""
    out = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directives = [c.group("what") for c in [_COMMENT.search(before)] if c]
        body = "\n".join(ln[len(m.group("indent")):] for ln in m.group("body").splitlines())
        out.append((line, m.group("lang").lower(), body, directives))
    return out


def _missing(directives: list[str]) -> list[str]:
    names = [w for d in directives if d.startswith("requires:") for w in d[len("requires:"):].replace(",", " ").split()]
    def found(name: str) -> bool:
        return importlib.util.find_spec(ENGINE_MODULES.get(name.lower(), name)) is not None

    return [n for n in names if not any(found(alt) for alt in n.split("|"))]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_extractor_sees_fences_and_comments():
    text = ("a\n<!-- requires: gudhi -->\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
            "<!-- skip-test -->\n```python\ny\n```\n")
    blocks = code_blocks(text)
    assert [(b[1], b[2], b[3]) for b in blocks] == [("python", "x = 1", ["requires: gudhi"]), ("bash", "ls", []),
                                                     ("python", "y", ["skip-test"])]
    assert _missing(["requires: torch, no_such_module_here"]) == ["no_such_module_here"]
    assert _missing(["requires: no_such_module_here|torch"]) == []


def run_page(page: Path) -> list[str]:
    """Run a page's python blocks in order in one namespace; returns why blocks were skipped."""
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    skipped: list[str] = []
    for line, lang, code, directives in code_blocks(page.read_text()):
        if lang not in ("python", "py") or "skip-test" in directives:
            continue
        where = f"{_page_id(page)}:{line}"
        missing = _missing(directives)
        if missing:
            skipped.append(f"{where} needs {' and '.join(missing)}")
            continue
        try:
            exec(compile(code, where, "exec"), namespace)
        except NameError as err:
            if not skipped:
                raise
            skipped.append(f"{where}: {err}, after a skipped block")
    return skipped


@functools.lru_cache(maxsize=1)
def _run_all_pages(tmp: str) -> dict[str, dict]:
    """Every page, in one separate interpreter (imported once): a block that registers a backend or sets
    a global leaves no trace in the test session. Returns page -> {"error": traceback, "skipped": [...]}."""
    pages = [str(p) for p in PAGES if any(b[1] in ("python", "py") for b in code_blocks(p.read_text()))]
    proc = subprocess.run([sys.executable, __file__, *pages], cwd=tmp, env=dict(os.environ, MPLBACKEND="Agg"),
                          capture_output=True, text=True, timeout=900)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            results[entry.pop("page")] = entry
    if proc.returncode != 0 or len(results) != len(pages):
        raise RuntimeError(f"the documentation runner failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return results


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_python_blocks_run(page: Path, tmp_path_factory):
    if not any(b[1] in ("python", "py") for b in code_blocks(page.read_text())):
        pytest.skip("no python blocks")
    result = _run_all_pages(str(tmp_path_factory.getbasetemp()))[str(page)]
    assert not result["error"], f"{_page_id(page)}:\n{result['error']}"
    if result["skipped"]:
        pytest.skip("; ".join(result["skipped"]))


def _install_lines(page: Path) -> list[tuple[str, str]]:
    out = []
    for n, line in enumerate(page.read_text().splitlines(), 1):
        for cmd in re.findall(r"pip install[^`\n&|;#]*", line):
            out.append((f"{_page_id(page)}:{n}", cmd.strip()))
    return out


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_install_lines_work_from_a_checkout(page: Path):
    """difftda is installed from the checkout (``pip install -e '.[extra,...]'``), with extras that exist."""
    tomllib = pytest.importorskip("tomllib")
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    for where, cmd in _install_lines(page):
        words = shlex.split(cmd)
        assert not any(w.startswith("difftda") for w in words), (
            f"{where}: no index serves difftda; write pip install -e '.[extra]' (from a checkout): {cmd!r}")
        for w in words:
            m = re.fullmatch(r"\.(?:\[(?P<extras>[^\]]*)\])?", w)
            if m and m.group("extras"):
                unknown = set(m.group("extras").split(",")) - extras
                assert not unknown, f"{where}: unknown extras {sorted(unknown)} in {cmd!r}"

if __name__ == "__main__":
    import traceback

    for arg in sys.argv[1:]:
        page = Path(arg)
        page_dir = Path.cwd() / page.stem  # each page writes its files into a folder of its own
        page_dir.mkdir(exist_ok=True)
        os.chdir(page_dir)
        entry = {"page": arg, "error": "", "skipped": []}
        try:
            entry["skipped"] = run_page(page)
        except BaseException:  # noqa: BLE001 - reported to the test of this page
            entry["error"] = traceback.format_exc()
        finally:
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
        print(json.dumps(entry), flush=True)
