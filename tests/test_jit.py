"""The compiled kernels (numba, extra ``fast``) give the bits of the numpy/torch paths they replace."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import difftda
from difftda import _jit
from difftda.backends._torch import TorchBackend
from difftda.distances import _P, _coordinatewise_distances, _host_distances

pytestmark = pytest.mark.skipif(not _jit._have_numba(), reason="numba is not installed")


def _run(x, jit: bool, monkeypatch, **kw):
    """H0 pairs, index and the gradient of a loss, with the compiled kernels on or off."""
    monkeypatch.setattr(_jit, "DISABLED", not jit)
    assert _jit.enabled() is jit
    x = [c.detach().clone().requires_grad_(True) for c in x] if isinstance(x, list) else x.detach().clone()
    if isinstance(x, torch.Tensor):
        x.requires_grad_(True)
    out = difftda.persistence(x, maxdim=0, backend="torch", **kw)
    dgms = out.cat() if isinstance(out, difftda.DiagramBatch) else out
    d = dgms[0]
    loss = (d.pairs[:, 1] - 0.7).abs().sum() + d.pairs[:, 1].square().sum()
    loss.backward()
    grad = torch.cat([c.grad.reshape(-1) for c in x]) if isinstance(x, list) else x.grad
    return d.pairs.detach(), d.index, d.essential_index, grad


def _same(a, b):
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and torch.equal(u, v)


def _pairing(dist, sizes, jit, monkeypatch, thresh=np.inf):
    monkeypatch.setattr(_jit, "DISABLED", not jit)
    return TorchBackend().pairing_batch(dist, sizes, maxdim=0, thresh=thresh, coeff=2)


def _clouds():
    g = torch.arange(6.0)
    grid = torch.cartesian_prod(g, g)  # every edge of the spanning tree ties
    dup = torch.cat([grid, grid[:7]])  # duplicate points: zero-length edges
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(40, 3, generator=gen), grid, dup, grid.flip(0), torch.randn(1, 2, generator=gen),
            torch.randn(2, 5, generator=gen), torch.randn(64, 16, generator=gen)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("thresh", [np.inf, 1.0])
def test_prim_kernel_same_pairing_as_numpy(dtype, thresh, monkeypatch):
    """The compiled spanning tree gives the numpy one's rows, clouds alone and in a padded batch."""
    clouds = [c.to(dtype) for c in _clouds()]
    mats = [difftda.pairwise_distances(c) for c in clouds]
    N = max(m.shape[0] for m in mats)
    batch = torch.stack([torch.nn.functional.pad(m, (0, N - len(m), 0, N - len(m))) for m in mats])
    sizes = [len(m) for m in mats]
    for dist, sz in [(batch, sizes)] + [(m[None], [len(m)]) for m in mats]:
        got, ref = _pairing(dist, sz, True, monkeypatch, thresh), _pairing(dist, sz, False, monkeypatch, thresh)
        for u, v in zip(got, ref):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(3, 130, 2), (200, 3), (2, 128, 1)])
def test_h0_same_bits_as_numpy(shape, dtype, monkeypatch):
    """Where the numpy path computes distances coordinate by coordinate too, the whole step (pairs,
    critical edges, gradient) has the same bits with and without the compiled kernels."""
    x = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(len(shape) + shape[-1]))
    _same(_run(x, True, monkeypatch), _run(x, False, monkeypatch))


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
@pytest.mark.parametrize("shape", [(5, 2), (32, 9, 16), (7, 40, 3), (4, 20, 130)])
def test_h0_other_layouts_agree(shape, metric, monkeypatch):
    """Elsewhere the numpy path takes another distance layout (last bits may differ): the same
    critical edges on generic input, and values and gradients equal to rounding."""
    x = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(shape[-1]))
    got, ref = _run(x, True, monkeypatch, metric=metric), _run(x, False, monkeypatch, metric=metric)
    torch.testing.assert_close(got[0], ref[0], rtol=1e-12, atol=1e-12)
    assert torch.equal(got[1], ref[1]) and torch.equal(got[2], ref[2])
    torch.testing.assert_close(got[3], ref[3], rtol=1e-9, atol=1e-12)


def test_h0_ties_duplicates_threshold_and_ragged(monkeypatch):
    g = torch.arange(6.0)
    grid = torch.cartesian_prod(g, g)
    dup = torch.cat([grid, grid[:7]])
    for x, kw in ((grid, {}), (dup, {}), (dup, {"thresh": 1.0}), (torch.stack([grid, grid.flip(0)]), {}),
                  ([grid, dup[:20], grid[:1]], {})):
        _same(_run(x, True, monkeypatch, **kw), _run(x, False, monkeypatch, **kw))


def test_h0_matches_gudhi_on_ties(monkeypatch):
    gudhi = pytest.importorskip("gudhi")
    g = torch.arange(5.0, dtype=torch.float64)
    x = torch.cartesian_prod(g, g) * 0.5
    pairs = _run(x, True, monkeypatch)[0]
    st = gudhi.RipsComplex(points=x.numpy()).create_simplex_tree(max_dimension=1)
    st.compute_persistence()
    ref = np.sort(st.persistence_intervals_in_dimension(0)[:, 1])
    np.testing.assert_array_equal(np.sort(pairs[:, 1].numpy()), ref[np.isfinite(ref)])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
@pytest.mark.parametrize("shape", [(3, 5, 1), (2, 64, 16), (4, 7, 3), (1, 200, 2), (5, 33, 129)])
def test_distances_same_bits_as_coordinatewise_layout(shape, metric, dtype, monkeypatch):
    x = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(3))
    monkeypatch.setattr(_jit, "DISABLED", False)
    got = _host_distances(x, metric)
    assert torch.equal(got, _coordinatewise_distances(x, _P[metric]))
    assert torch.equal(got, got.transpose(1, 2)) and bool((got.diagonal(dim1=1, dim2=2) == 0).all())
    # With a graph: the same values, and a gradient that finite differences confirm.
    y = x.clone().requires_grad_(True)
    assert torch.equal(difftda.pairwise_distances(y, metric).detach(), got)
    if dtype == torch.float64 and x[0].numel() <= 64:
        assert torch.autograd.gradcheck(lambda t: difftda.pairwise_distances(t, metric), (y,))


def test_disable_switch():
    """DIFFTDA_DISABLE_JIT=1 at import keeps every path in numpy: a Rips, a cubical and an alpha
    step with their backward run without importing numba (checked in a fresh process)."""
    code = (
        "import sys, torch, difftda, difftda._jit as j\n"
        "x = torch.randn(2, 30, 3, requires_grad=True)\n"
        "img = torch.rand(2, 16, 16, requires_grad=True)\n"
        "losses = [difftda.persistence(x, maxdim=1).cat()[0].pairs.sum(),\n"
        "          difftda.cubical_persistence(img, spatial_dims=2).cat()[1].pairs.sum()]\n"
        "if 'gudhi' in difftda.list_backends('alpha'):\n"
        "    losses.append(difftda.alpha_persistence(x[0], maxdim=1)[1].pairs.sum())\n"
        "sum(losses).backward()\n"
        "print(j.enabled(), 'numba' in sys.modules)\n"
    )
    for value, expect in (("1", "False False"), ("0", "True True")):
        env = {**os.environ, "DIFFTDA_DISABLE_JIT": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip().splitlines()[-1] == expect
