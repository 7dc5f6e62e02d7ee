"""Shared fixtures: every test that takes ``backend`` runs once per installed backend.

``DIFFTDA_TEST_BACKENDS=giotto,gudhi,ripser,cripser`` (set by .ci/run) makes a missing engine (of
any filtration) an error instead of a silent skip.
Without it, a test stopped by a missing optional package is skipped (see the conftest.py at the
root of the repository, which also covers the doctests).
"""

from __future__ import annotations

import os

import pytest
import torch

import difftda

_required = [b for b in os.environ.get("DIFFTDA_TEST_BACKENDS", "").split(",") if b]
_installed = sorted({name for f in difftda.backends._REGISTRY for name in difftda.list_backends(f)})
_missing = sorted(set(_required) - set(_installed))
if _missing:
    raise RuntimeError(
        f"DIFFTDA_TEST_BACKENDS asks for {', '.join(_missing)}, which failed to install "
        f"(installed engines of every filtration: {', '.join(_installed)})"
    )

#: The backends that pair any homology dimension (the H0-only native backend is tested on its own).
BACKENDS = [b for b in difftda.list_backends() if difftda.get_backend(b).max_maxdim is None]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request) -> torch.dtype:
    return request.param


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

