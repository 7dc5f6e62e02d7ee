"""Vietoris-Rips corners: tied lengths in every dimension, canonical edges whatever the threads or the
run, lengths outside float32's range, memory, thread counts. References: gudhi called directly in
float64, brute force, and the same computation in another process."""

from __future__ import annotations

import functools
import itertools
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import difftda
import difftda._checks as checks
from conftest import BACKENDS
from difftda.backends import _giotto
from difftda.backends._graph import float32_matrix, rank_matrix, tied
from reference import assert_same_diagram, distance_matrix, gudhi_diagrams


def _check_indices(d: torch.Tensor, dgms) -> None:
    """Every index has its bar's value: pairs == D[index] exactly (d is the matrix the values come from)."""
    for k, dgm in enumerate(dgms):
        i, e = dgm.index, dgm.essential_index
        assert torch.equal(dgm.pairs[:, 0].detach(), d[i[:, 0], i[:, 1]]), f"H{k} births"
        assert torch.equal(dgm.pairs[:, 1].detach(), d[i[:, 2], i[:, 3]]), f"H{k} deaths"
        assert torch.equal(dgm.essential.detach(), d[e[:, 0], e[:, 1]]), f"H{k} essential"


def _cube(k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=k)), dtype=torch.float64)


def _cross_polytope(k: int) -> torch.Tensor:
    eye = torch.eye(k, dtype=torch.float64)
    return torch.cat([eye, -eye])


def _grid(*sizes: int) -> torch.Tensor:
    return torch.cartesian_prod(*(torch.arange(s, dtype=torch.float64) for s in sizes))


def _cube_surface(m: int) -> torch.Tensor:
    g = _grid(m, m, m)
    return g[((g == 0) | (g == m - 1)).any(dim=1)]


#: Clouds whose lengths tie everywhere, with a bar in H2 or H3, and the maxdim that reaches it.
TIED = {
    "octahedron": (_cross_polytope(3), 2),  # H2 (sqrt 2, 2)
    "cube": (_cube(3), 3),  # H3 (sqrt 2, sqrt 3)
    "cube-surface": (_cube_surface(3), 2),  # H2 (sqrt 2, 2)
    "grid-3x3x3": (_grid(3, 3, 3), 3),  # 8 H3 bars
    "cross-polytope-R4": (_cross_polytope(4), 3),  # H3 (sqrt 2, 2)
    "tesseract": (_cube(4), 3),  # 9 H3 bars
}


@functools.cache
def _tied_reference(name: str) -> list[np.ndarray]:
    x, maxdim = TIED[name]
    return gudhi_diagrams(distance_matrix(x.numpy()), maxdim)


@pytest.mark.parametrize("name", list(TIED))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_tied_higher_dimensions_agree_with_gudhi(backend, name, dtype):
    x, maxdim = TIED[name]
    x = x.to(dtype)
    dgms = difftda.persistence(x, maxdim=maxdim, backend=backend)
    ref = _tied_reference(name)
    assert any(len(r) for r in ref[2:]), "the case must have a bar in H2 or higher"
    for k in range(maxdim + 1):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=1e-12)
    _check_indices(difftda.pairwise_distances(x), dgms)


@pytest.mark.parametrize("seed", range(3))
def test_integer_clouds_with_duplicates(backend, seed):
    """Integer points in R^3 with duplicates: ties in every dimension (gudhi's collapse repair and
    ripser's lookup fall back to the rank matrix here)."""
    x = torch.randint(0, 3, (25, 3), generator=torch.Generator().manual_seed(seed)).double()
    dgms = difftda.persistence(x, maxdim=2, backend=backend)
    ref = gudhi_diagrams(distance_matrix(x.numpy()), 2)
    for k in range(3):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=1e-12)
    _check_indices(difftda.pairwise_distances(x), dgms)
    assert _signature(difftda.persistence(x, maxdim=2, backend=backend)) == _signature(dgms)


def test_octahedron_void_on_every_backend(backend):
    x = _cross_polytope(3)
    h2 = difftda.persistence(x, maxdim=2, backend=backend)[2]
    torch.testing.assert_close(h2.pairs, torch.tensor([[2**0.5, 2.0]], dtype=torch.float64), rtol=0, atol=1e-15)


def _half_grid() -> torch.Tensor:
    g = torch.arange(0, 7.5, 0.5, dtype=torch.float64)
    return torch.cartesian_prod(g, g[:10])  # 150 points: "auto" runs giotto-ph on several threads


def _signature(dgms) -> tuple:
    return tuple(torch.cat([d.index.flatten() for d in dgms] + [d.essential_index.flatten() for d in dgms]).tolist())


def _gradient(x: torch.Tensor, backend, maxdim: int = 1) -> torch.Tensor:
    y = x.clone().requires_grad_(True)
    dgms = difftda.persistence(y, maxdim=maxdim, backend=backend)
    loss = sum((d.pairs[:, 1] - d.pairs[:, 0]).pow(2).sum() for d in dgms[1:]) + dgms[0].pairs[:, 1].sum()
    loss.backward()
    return y.grad


def test_same_edges_and_gradient_for_every_thread_count_and_run(monkeypatch):
    pytest.importorskip("gph")
    monkeypatch.setattr(_giotto, "available_cores", lambda: 8)  # let 8 threads run on a small machine
    x = _half_grid()
    ref = difftda.persistence(x, maxdim=1, backend=_giotto.GiottoBackend(n_threads=1))
    ref_grad = _gradient(x, _giotto.GiottoBackend(n_threads=1))
    for threads in (2, 3, 4, 8):
        engine = _giotto.GiottoBackend(n_threads=threads)
        for _ in range(4):
            dgms = difftda.persistence(x, maxdim=1, backend=engine)
            assert _signature(dgms) == _signature(ref)
        assert torch.equal(_gradient(x, engine), ref_grad)
    assert _signature(difftda.persistence(x, maxdim=1)) == _signature(ref)  # "auto"


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_accidental_float32_ties_give_the_one_thread_edges(seed, monkeypatch):
    """256 points in R^128 in float32: a few lengths tie exactly by accident, some of them at a
    bar's birth. Several threads must still give the edges of one thread (in giotto-ph's order)."""
    pytest.importorskip("gph")
    monkeypatch.setattr(_giotto, "available_cores", lambda: 4)
    x = torch.randn(256, 128, generator=torch.Generator().manual_seed(seed))
    ref = _signature(difftda.persistence(x, maxdim=1, backend=_giotto.GiottoBackend(n_threads=1)))
    for threads in (2, 4):
        for _ in range(2):
            assert _signature(difftda.persistence(x, maxdim=1, backend=_giotto.GiottoBackend(n_threads=threads))) == ref


@pytest.mark.parametrize("name", ["cube-surface", "grid-3x3x3"])
def test_same_edges_every_run_in_higher_dimensions(backend, name, monkeypatch):
    monkeypatch.setattr(_giotto, "available_cores", lambda: 4)
    x, maxdim = TIED[name]
    engines = [backend] + ([_giotto.GiottoBackend(n_threads=4)] if backend == "giotto" else [])
    first = _signature(difftda.persistence(x, maxdim=maxdim, backend=backend))
    for engine in engines:
        for _ in range(3):
            assert _signature(difftda.persistence(x, maxdim=maxdim, backend=engine)) == first


_CHILD = """
import hashlib, sys, torch, difftda
sys.path.insert(0, sys.argv[1])
from test_rips_corners import _fingerprint
print(_fingerprint())
"""


def _fingerprint() -> str:
    """A hash of the edges and the gradient of the half-integer grid with "auto" and two threads."""
    import hashlib

    parts = []
    for spec in ("auto", "giotto:n_threads=2"):
        x = _half_grid().requires_grad_(True)
        dgms = difftda.persistence(x, maxdim=1, backend=spec)
        loss = (dgms[1].pairs[:, 1] - dgms[1].pairs[:, 0]).pow(2).sum() + dgms[0].pairs[:, 1].sum()
        loss.backward()
        parts += [d.index for d in dgms] + [d.essential_index for d in dgms] + [x.grad]
    return hashlib.sha256(b"".join(p.contiguous().numpy().tobytes() for p in parts)).hexdigest()


def test_same_edges_and_gradient_in_another_process():
    pytest.importorskip("gph")
    here = str(Path(__file__).parent)
    child = subprocess.run([sys.executable, "-c", _CHILD, here], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == _fingerprint()


def test_rank_matrix_order_is_length_then_larger_colex_index():
    rng = np.random.default_rng(0)
    n = 9
    d = rng.integers(1, 4, size=(n, n)).astype(np.float64)  # many ties
    d = np.triu(d, 1) + np.triu(d, 1).T
    m = rank_matrix(d, np.inf)
    edges = [(i, j) for j in range(n) for i in range(j)]  # increasing colex order
    expected = sorted(edges, key=lambda e: (d[e], -(e[1] * (e[1] - 1) // 2 + e[0])))
    assert list(zip(*(a.tolist() for a in m.ranked))) == expected
    for r, (i, j) in enumerate(expected, start=1):
        assert m.matrix[i, j] == m.matrix[j, i] == r
    kept = rank_matrix(d, 2.0)
    assert kept.thresh == np.count_nonzero(np.triu(d <= 2.0, 1))
    assert (kept.matrix[np.triu(d > 2.0, 1)] > kept.thresh).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tied_matches_a_brute_force_count(dtype):
    rng = np.random.default_rng(1)
    for d in (rng.integers(0, 5, size=(30, 30)), rng.normal(size=(300, 300))):
        d = np.abs(np.triu(d, 1) + np.triu(d, 1).T).astype(dtype)
        upper = d[np.triu_indices(len(d), 1)]
        values = rng.choice(upper, 50)
        expected = [np.count_nonzero(upper == v) > 1 or v == 0 for v in values]
        assert tied(d, values).tolist() == expected


# Extreme scales: float64 lengths outside float32's range. gudhi in float64 is the reference.

def _points(n: int = 30, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("scale", [1e50, 1e-50, 1e150, 1e-150])
def test_float64_points_at_extreme_scales(backend, scale):
    x = _points() * scale
    dgms = difftda.persistence(x, maxdim=1, backend=backend)
    ref = gudhi_diagrams(distance_matrix(x.numpy()), 1)
    for k in range(2):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=0)
    _check_indices(difftda.pairwise_distances(x), dgms)


def _matrix(transform) -> torch.Tensor:
    d = distance_matrix(_points(25, seed=3).numpy())
    off = ~np.eye(len(d), dtype=bool)
    d[off] = transform(d[off])
    return torch.as_tensor(d)


@pytest.mark.parametrize(
    "name,transform",
    [
        ("near-1e300", lambda d: d * 1e300),
        ("near-1e-60", lambda d: d * 1e-60),
        ("1e-77-to-1e160", lambda d: 10.0 ** (60.0 * d - 80.0)),  # wider than float32: ranks
    ],
)
def test_precomputed_matrices_at_extreme_scales(backend, name, transform):
    d = _matrix(transform)
    dgms = difftda.persistence(d, maxdim=1, backend=backend, metric="precomputed")
    ref = gudhi_diagrams(d.numpy(), 1)
    for k in range(2):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=0)
    _check_indices(d, dgms)


def test_scaled_float32_copy_is_exact():
    d = _matrix(lambda v: v * 1e-60).numpy()
    m = float32_matrix(d, np.inf)
    k = np.round(np.log2(m.matrix[0, 1] / d[0, 1]))
    assert np.array_equal(m.matrix, (d * 2.0**k).astype(np.float32))  # only exponents changed


def test_float64_threshold_is_not_moved_by_the_float32_cast(backend):
    # Two edges one float64 ulp-scale apart but equal in float32; thresh falls between them.
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0 + 1e-12], [5.0, 5.0]], dtype=torch.float64)
    thresh = 1.0 + 5e-13
    dgms = difftda.persistence(x, maxdim=1, backend=backend, thresh=thresh)
    ref = gudhi_diagrams(distance_matrix(x.numpy()), 1, thresh=thresh)
    for k in range(2):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=0, atol=0)
    assert len(dgms[0].essential) == 3  # (0, 1) joined; the point at 1 + 1e-12 and the far one stay apart


def test_float32_points_of_mixed_scale_are_not_collapsed(backend):
    x = torch.tensor([[0, 0], [1e-30, 0], [0, 3e-30], [1, 1], [1, 1.5], [2, 0]], dtype=torch.float32)
    d = difftda.pairwise_distances(x)
    off = ~torch.eye(6, dtype=torch.bool)
    assert (d[off] > 0).all()
    ref64 = distance_matrix(x.double().numpy())
    np.testing.assert_allclose(d.numpy(), ref64, rtol=1e-6)
    dgms = difftda.persistence(x, maxdim=1, backend=backend)
    ref = gudhi_diagrams(ref64, 1)
    for k in range(2):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=0)
    _check_indices(d, dgms)


def test_mixed_scale_gradient_is_finite():
    x = torch.tensor([[0, 0], [1e-30, 0], [1, 1], [2, 0]], dtype=torch.float32, requires_grad=True)
    difftda.persistence(x, maxdim=0)[0].pairs[:, 1].sum().backward()
    assert torch.isfinite(x.grad).all()


# Memory and threads.

@pytest.mark.parametrize("maxdim", [0, 1])
def test_out_of_memory_is_a_memory_error(backend, maxdim, monkeypatch):
    monkeypatch.setattr(checks, "available_memory", lambda: 2**20)  # 1 MiB free
    monkeypatch.setattr(checks, "MEMORY_CHECK_FLOOR", 0)
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(MemoryError, match=r"300 x 300.*thresh=") as err:
        difftda.persistence(x, maxdim=maxdim, backend=backend)
    assert type(err.value) is MemoryError
    if maxdim == 0:
        assert "backend='torch'" in str(err.value)


def test_a_small_threshold_fits_in_memory(monkeypatch):
    pytest.importorskip("gph")
    monkeypatch.setattr(checks, "available_memory", lambda: 2**19)
    monkeypatch.setattr(checks, "MEMORY_CHECK_FLOOR", 0)
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(MemoryError):
        difftda.persistence(x, maxdim=0, backend="giotto")
    dgms = difftda.persistence(x, maxdim=0, backend="giotto", thresh=0.05)  # few edges: fits
    assert len(dgms[0].pairs) + len(dgms[0].essential) == 300


def test_absurd_thread_counts_are_capped():
    pytest.importorskip("gph")
    cores = _giotto.available_cores()
    with pytest.warns(UserWarning, match="available cores"):
        engine = _giotto.GiottoBackend(n_threads=100000)
    assert engine.n_threads == cores and engine._threads(1000) == cores
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning within the cores
        assert _giotto.GiottoBackend(n_threads=cores).n_threads == cores
    dgms = difftda.persistence(_grid(5, 5), maxdim=1, backend=engine)
    assert len(dgms[1].pairs) == 16


def test_backend_list_is_complete():
    assert set(BACKENDS) <= {"giotto", "gudhi", "ripser"}
