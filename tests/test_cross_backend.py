"""Every backend against gudhi called directly, and against each other (values, counts, indices)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import difftda
from conftest import BACKENDS
from reference import assert_same_diagram, distance_matrix, gudhi_diagrams


def _check_indices(x: torch.Tensor, dgms, metric: str = "euclidean") -> None:
    """pairs == D[index] exactly, int64 indices, H0 births at (v, v)."""
    d = x if metric == "precomputed" else difftda.pairwise_distances(x.detach(), metric)
    for k, dgm in enumerate(dgms):
        assert dgm.index.dtype == torch.int64 and dgm.essential_index.dtype == torch.int64
        assert dgm.index.shape == (dgm.pairs.shape[0], 4)
        assert dgm.essential_index.shape == (dgm.essential.shape[0], 2)
        i = dgm.index
        assert torch.equal(dgm.pairs[:, 0].detach(), d[i[:, 0], i[:, 1]])
        assert torch.equal(dgm.pairs[:, 1].detach(), d[i[:, 2], i[:, 3]])
        e = dgm.essential_index
        assert torch.equal(dgm.essential.detach(), d[e[:, 0], e[:, 1]])
        assert (dgm.pairs[:, 1] > dgm.pairs[:, 0]).all()
        if k == 0:
            assert torch.equal(i[:, 0], i[:, 1]) and torch.equal(e[:, 0], e[:, 1])


@pytest.mark.parametrize("dim,n,maxdim", [(2, 40, 0), (2, 40, 1), (2, 24, 2), (5, 40, 1), (5, 22, 2)])
def test_agrees_with_gudhi(backend, dtype, dim, n, maxdim):
    rng = np.random.default_rng(100 * dim + n + maxdim)
    x = torch.as_tensor(rng.normal(size=(n, dim)), dtype=dtype)
    dgms = difftda.persistence(x, maxdim=maxdim, backend=backend)
    assert len(dgms) == maxdim + 1
    ref = gudhi_diagrams(distance_matrix(x.double().numpy()), maxdim)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == torch.float32 else dict(rtol=1e-6, atol=1e-9)
    for k in range(maxdim + 1):
        assert dgms[k].pairs.dtype == dtype
        assert_same_diagram(dgms[k].to_numpy(), ref[k], **tol)
    _check_indices(x, dgms)


@pytest.mark.parametrize("metric", ["manhattan", "chebyshev"])
def test_other_metrics_agree_with_gudhi(backend, metric):
    x = torch.randn(35, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    dgms = difftda.persistence(x, maxdim=1, backend=backend, metric=metric)
    ref = gudhi_diagrams(distance_matrix(x.numpy(), metric), 1)
    for k in range(2):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=1e-6)
    _check_indices(x, dgms, metric)


def _grid(m: int) -> torch.Tensor:
    g = torch.arange(m, dtype=torch.float64)
    return torch.cartesian_prod(g, g)


@pytest.mark.parametrize(
    "name,x",
    [
        ("grid", _grid(5)),
        ("grid-duplicated", torch.cat([_grid(4), _grid(4)])),
        ("line", torch.stack([torch.arange(10.0), torch.zeros(10)], 1).double()),
        ("all-equal", torch.ones(6, 3, dtype=torch.float64)),
    ],
)
def test_heavy_ties_same_values_everywhere(backend, name, x):
    dgms = difftda.persistence(x, maxdim=1, backend=backend)
    ref = gudhi_diagrams(distance_matrix(x.numpy()), 1)
    for k in range(2):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=0, atol=1e-12)
    _check_indices(x, dgms)


@pytest.mark.parametrize("a,b", list(itertools.combinations(BACKENDS, 2)))
def test_generic_inputs_same_critical_edges(a, b):
    """Without ties the critical edges are unique: every backend must name the same ones."""
    x = torch.randn(45, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    da = difftda.persistence(x, maxdim=1, backend=a)
    db = difftda.persistence(x, maxdim=1, backend=b)
    # H0 death edges and H1 birth/death edges are unique; H0 birth vertices are a convention.
    assert torch.equal(da[0].index[:, 2:], db[0].index[:, 2:])
    assert torch.equal(da[1].index, db[1].index)
    assert torch.equal(da[1].pairs, db[1].pairs)


def test_gradients_equal_across_backends():
    x0 = torch.randn(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    grads = []
    for b in BACKENDS:
        x = x0.clone().requires_grad_(True)
        dgms = difftda.persistence(x, maxdim=1, backend=b)
        loss = (dgms[1].pairs[:, 1] - dgms[1].pairs[:, 0]).pow(2).sum() + dgms[0].pairs[:, 1].sum()
        loss.backward()
        grads.append(x.grad)
    for g in grads[1:]:
        torch.testing.assert_close(g, grads[0])


def test_invariances(backend):
    x = torch.randn(30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    base = difftda.persistence(x, maxdim=1, backend=backend).to_numpy()
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))
    variants = {
        "permuted": x[torch.randperm(30)],
        "moved": x @ q.T + torch.tensor([5.0, -2.0, 1.0], dtype=torch.float64),
    }
    for y in variants.values():
        other = difftda.persistence(y, maxdim=1, backend=backend).to_numpy()
        for k in range(2):
            assert_same_diagram(other[k], base[k], rtol=1e-9, atol=1e-9)
    scaled = difftda.persistence(2.5 * x, maxdim=1, backend=backend).to_numpy()
    for k in range(2):
        assert_same_diagram(scaled[k], 2.5 * base[k], rtol=1e-9, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    pts=arrays(np.float64, st.tuples(st.integers(1, 14), st.integers(1, 3)),
               elements=st.integers(-3, 3).map(float)),
    maxdim=st.integers(0, 1),
)
def test_property_small_integer_clouds(pts, maxdim):
    """Small integer clouds: ties and duplicates everywhere; all backends give gudhi's diagrams."""
    x = torch.as_tensor(pts)
    ref = gudhi_diagrams(distance_matrix(pts), maxdim)
    for b in BACKENDS:
        dgms = difftda.persistence(x, maxdim=maxdim, backend=b)
        for k in range(maxdim + 1):
            assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=0, atol=1e-12)
        _check_indices(x, dgms)


@pytest.mark.parametrize("seed", range(4))
def test_float32_near_ties_keep_each_bar_on_its_own_loop(backend, seed):
    """Two unit squares with 1e-9 noise: lengths tie in float32 only. Every backend (ripser through its
    representative cocycles) must put each H1 bar's edges on the square that makes it."""
    sq = torch.tensor([[0.0, 0], [1, 0], [1, 1], [0, 1]], dtype=torch.float64)
    noise = 1e-9 * torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    x = (torch.cat([sq, sq + 10]) + noise).requires_grad_(True)
    h1 = difftda.persistence(x, maxdim=1, backend=backend)[1]
    assert len(h1.pairs) == 2
    squares = sorted(tuple(sorted(set((row // 4).tolist()))) for row in h1.index)
    assert squares == [(0,), (1,)]
    h1.pairs.sum().backward()
    assert (x.grad[:4].abs().sum() > 0) and (x.grad[4:].abs().sum() > 0)
