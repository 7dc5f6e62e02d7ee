"""Runs for the whole suite (tests/ and the doctests of src/): optional packages may be absent.

Without ``DIFFTDA_TEST_BACKENDS`` (which .ci/run sets for the full install), the suite also runs with
only the core dependencies (torch, numpy, scipy, pytest, hypothesis): a test module, test or doctest
stopped by a missing optional package (an engine, matplotlib, POT, ...) or by difftda's
``BackendUnavailableError`` is reported as skipped, with the package as the reason. A doctest whose
output differs while it names an engine that is not installed is skipped too.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re

import pytest

_required = [b for b in os.environ.get("DIFFTDA_TEST_BACKENDS", "").split(",") if b]


#: Import names of the optional packages: without DIFFTDA_TEST_BACKENDS, a test stopped by one of
#: them missing is skipped. The core (torch, numpy, scipy) is not in this list: a core import error fails.
OPTIONAL_MODULES = {"gph", "gudhi", "ripser", "cripser", "matplotlib", "PIL", "persim", "ot", "sklearn", "tqdm",
                    "topolosses", "torch_topological", "oineus", "persistence0", "persist0"}
_MISSING = re.compile(r"No module named '([\w.]+)'")


def _missing_optional(exc: BaseException | None) -> str | None:
    """The reason to skip when ``exc`` is a missing optional package, else None."""
    failures = getattr(exc, "failures", None)  # pytest's MultipleDoctestFailures
    if failures:
        exc = failures[0]
    if isinstance(exc, doctest.UnexpectedException):
        exc = exc.exc_info[1]
    if type(exc).__name__ == "BackendUnavailableError":
        return f"backend not installed: {exc}"
    if isinstance(exc, ModuleNotFoundError):
        name = (exc.name or "").split(".")[0]
        if name in OPTIONAL_MODULES:
            return f"optional package not installed: {name}"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _required or call.excinfo is None or not report.failed:
        return
    why = _missing_optional(call.excinfo.value) or _doctest_names_missing_engine(call.excinfo.value)
    if why:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {why}")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if _required or not report.failed:
        return
    text = str(report.longrepr)
    m = _MISSING.search(text)
    if m and m.group(1).split(".")[0] in OPTIONAL_MODULES:
        why = f"optional package not installed: {m.group(1)}"
    elif "BackendUnavailableError" in text:
        why = "backend not installed: " + text.rsplit("BackendUnavailableError: ", 1)[-1].split("\n")[0][:200]
    else:
        return
    report.outcome = "skipped"
    report.longrepr = (str(collector.path), 0, f"Skipped: {why}")
    report.result = []


#: Engine names a doctest may use -> the module each one needs.
_ENGINES = {"giotto": "gph", "gudhi": "gudhi", "ripser": "ripser", "cripser": "cripser"}


def _doctest_names_missing_engine(exc: BaseException) -> str | None:
    failures = getattr(exc, "failures", None) or [exc]
    for failure in failures:
        if isinstance(failure, doctest.DocTestFailure):
            source = "".join(ex.source for ex in failure.test.examples)
            for name, module in _ENGINES.items():
                if name in source and importlib.util.find_spec(module) is None:
                    return f"the doctest uses {name}, which is not installed"
    return None
