"""The native H0 backend ("torch"): the same H0 as every other backend, batched, on any device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import difftda
from conftest import BACKENDS, DEVICES
from difftda.backends._torch import _prim_numpy, _prim_torch
from reference import assert_same_diagram, distance_matrix, gudhi_diagrams


def _grid(m: int) -> torch.Tensor:
    g = torch.arange(m, dtype=torch.float64)
    return torch.cartesian_prod(g, g)


def test_auto_uses_it_for_h0_only():
    assert difftda.get_backend("auto", maxdim=0).name == "torch"
    assert difftda.get_backend("auto", maxdim=1).name != "torch"


def test_higher_maxdim_is_refused():
    with pytest.raises(ValueError, match="giotto"):
        difftda.persistence(torch.randn(10, 2), maxdim=1, backend="torch")


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_agrees_with_gudhi_and_other_backends(dtype, device, metric):
    x = torch.randn(70, 3, dtype=dtype, generator=torch.Generator().manual_seed(0)).to(device)
    got = difftda.persistence(x, maxdim=0, backend="torch", metric=metric)
    ref = gudhi_diagrams(distance_matrix(x.cpu().double().numpy(), metric), 0)
    assert_same_diagram(got[0].to_numpy(), ref[0], rtol=2e-6, atol=2e-6)
    for b in BACKENDS:
        other = difftda.persistence(x, maxdim=0, backend=b, metric=metric)
        pairs = got[0].pairs[got[0].pairs[:, 1].argsort()]
        assert torch.equal(pairs, other[0].pairs[other[0].pairs[:, 1].argsort()])
        # Generic input: the spanning tree is unique, so the death edges are the same.
        assert torch.equal(
            got[0].index[got[0].pairs[:, 1].argsort(), 2:], other[0].index[other[0].pairs[:, 1].argsort(), 2:]
        )


@pytest.mark.parametrize(
    "x", [_grid(6), torch.cat([_grid(4), _grid(4), _grid(4)]), torch.ones(5, 2, dtype=torch.float64)],
    ids=["grid", "grid-tripled", "all-equal"],
)
def test_ties_and_duplicates(x, device):
    x = x.to(device)
    got = difftda.persistence(x, maxdim=0, backend="torch")[0]
    ref = gudhi_diagrams(distance_matrix(x.cpu().numpy()), 0)[0]
    assert_same_diagram(got.to_numpy(), ref, rtol=0, atol=1e-12)
    d = difftda.pairwise_distances(x)
    assert torch.equal(got.pairs[:, 1], d[got.index[:, 2], got.index[:, 3]])


def test_thresh_forest(device):
    x = torch.randn(60, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(device)
    got = difftda.persistence(x, maxdim=0, backend="torch", thresh=0.25)[0]
    ref = gudhi_diagrams(distance_matrix(x.cpu().numpy()), 0, thresh=0.25)[0]
    assert_same_diagram(got.to_numpy(), ref, rtol=1e-9, atol=1e-12)
    assert len(got.essential) > 1
    assert len(set(got.essential_index[:, 0].tolist()) | set(got.index[:, 0].tolist())) == 60


def test_batch_and_ragged(device):
    g = torch.Generator().manual_seed(2)
    batch = torch.randn(5, 30, 4, dtype=torch.float64, generator=g).to(device)
    out = difftda.persistence(batch, maxdim=0, backend="torch")
    ragged = [torch.randn(n, 2, dtype=torch.float64, generator=g).to(device) for n in (1, 2, 40, 7)]
    out_r = difftda.persistence(ragged, maxdim=0, backend="torch")
    for clouds, res in ((list(batch), out), (ragged, out_r)):
        for c, d in zip(clouds, res):
            one = difftda.persistence(c, maxdim=0, backend="torch")
            assert torch.equal(d[0].pairs, one[0].pairs) and torch.equal(d[0].index, one[0].index)


def test_gradcheck():
    x = torch.randn(15, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: difftda.persistence(p, maxdim=0, backend="torch")[0].pairs, (x,))


@pytest.mark.parametrize("sizes", [[25], [25, 3, 17, 2], [70, 5, 66]])
@pytest.mark.parametrize("ties", [False, True])
def test_torch_prim_equals_numpy_prim(sizes, ties):
    """The CUDA code path (torch Prim, parents updated in the loop) checked here on CPU tensors against
    the numpy Prim (parents found after the loop up to 64 points, in the loop above), with ties and
    duplicate points too."""
    g = torch.Generator().manual_seed(4)
    N = max(sizes)
    x = torch.randn(len(sizes), N, 3, dtype=torch.float64, generator=g)
    if ties:  # a coarse lattice: many equal lengths and some equal points
        x = torch.round(x * 2) / 2
    d = difftda.pairwise_distances(x)
    for thresh in (np.inf, 0.9):
        dt = torch.where(d <= thresh, d, torch.finfo(d.dtype).max)
        a = [t.numpy() for t in _prim_torch(dt, sizes)]
        b = _prim_numpy(dt.numpy(), np.asarray(sizes))
        for (ta, tb) in zip(a, b):
            valid = np.arange(ta.shape[1])[None, :] < (np.asarray(sizes) - 1)[:, None]
            assert np.array_equal(ta[valid], tb[valid])


@pytest.mark.gpu
def test_cuda_stays_on_device():
    x = torch.randn(200, 2, device="cuda", requires_grad=True)
    dgm = difftda.persistence(x, maxdim=0, backend="torch")[0]
    assert dgm.pairs.device.type == "cuda" and dgm.index.device.type == "cuda"
    difftda.losses.connectivity_loss(dgm).backward()
    assert x.grad.device.type == "cuda" and torch.isfinite(x.grad).all()
    cpu = difftda.persistence(x.detach().cpu(), maxdim=0, backend="torch")[0]
    torch.testing.assert_close(dgm.pairs.sort(0).values.cpu(), cpu.pairs.sort(0).values)


assert "cpu" in DEVICES


@pytest.mark.parametrize("shape", [(8, 40, 5), (3, 64, 16), (2, 36, 2)], ids=["8x40", "3x64", "2x36-grid"])
def test_agrees_with_persist0(shape):
    """persist0-tda (an independent Rust Prim, H0 only) on the same float32 matrices: the same deaths
    per cloud, the same death edges on generic input, the same gradient to the points."""
    persist0 = pytest.importorskip("persist0")
    B, n, dim = shape
    if dim == 2:  # ties: a 6 x 6 grid, shifted per cloud (many equal edge lengths)
        x = torch.stack([_grid(6).float() + b for b in range(B)])
    else:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(5))
    x.requires_grad_(True)
    ours = difftda.persistence(x, maxdim=0, backend="torch")
    d = difftda.pairwise_distances(x)
    edges, deaths = persist0.h0_persistence(d)
    for b in range(B):
        want = deaths[b][deaths[b] > 0].detach().sort().values
        assert torch.equal(ours[b][0].pairs[:, 1].detach().sort().values, want)
        assert (ours[b][0].pairs[:, 0] == 0).all() and len(ours[b][0].essential) == 1
        if dim > 2:  # a unique spanning tree: the same edges
            got = {tuple(e) for e in ours[b][0].index[:, 2:].tolist()}
            assert got == {tuple(e) for e in edges[b].tolist()}
    if dim > 2:  # at ties each engine may pick another tree, so another (equally valid) gradient
        (g_ours,) = torch.autograd.grad((ours.cat()[0].pairs[:, 1] ** 2).sum(), x)
        (g_ref,) = torch.autograd.grad((deaths**2).sum(), x)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sizes,dim", [((100, 130), 2), ((20, 40), 9)], ids=["coordinatewise", "pdist"])
def test_ragged_batch_across_distance_layouts(sizes, dim):
    """The padded batch's shape would pick another distance layout than each cloud's own (from 128
    points in R^2; above 256 entries in R^9): each cloud still gets the values it gets alone."""
    g = torch.Generator().manual_seed(6)
    clouds = [torch.randn(n, dim, generator=g) for n in sizes]
    out = difftda.persistence(clouds, maxdim=0, backend="torch")
    for c, got in zip(clouds, out):
        one = difftda.persistence(c, maxdim=0, backend="torch")[0]
        assert torch.equal(got[0].pairs, one.pairs) and torch.equal(got[0].index, one.index)


def test_batch_items_are_built_on_first_read():
    """The per-cloud entries of a batch: the minimum spanning tree of each cloud (scipy), read
    lazily; ``cat()`` alone never builds them, and pickling keeps them."""
    import pickle

    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    x = torch.randn(5, 12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out = difftda.persistence(x, maxdim=0)
    assert len(out) == 5 and out._pending is not None  # the count alone builds nothing
    whole = out.cat()[0].pairs[:, 1]
    for b in range(5):
        tree = np.sort(minimum_spanning_tree(cdist(x[b].numpy(), x[b].numpy())).data)
        np.testing.assert_allclose(np.sort(out[b][0].pairs[:, 1].numpy()), tree, rtol=1e-12)
    assert torch.equal(torch.cat([d[0].pairs[:, 1] for d in out]), whole)
    again = difftda.persistence(x, maxdim=0)
    copy = pickle.loads(pickle.dumps(again))
    assert len(list(copy)) == 5 and all(torch.equal(a[0].pairs, b[0].pairs) for a, b in zip(copy, out))
    first, *rest = difftda.persistence(x, maxdim=0)
    assert torch.equal(first[0].pairs, out[0][0].pairs) and len(rest) == 4


def test_batched_h0_derivatives_against_finite_differences():
    """Backward, double backward and forward mode of a batch's H0 deaths (every birth is the constant
    0), against finite differences."""
    x = torch.randn(3, 7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4), requires_grad=True)

    def deaths(p: torch.Tensor) -> torch.Tensor:
        d = difftda.persistence(p, maxdim=0).cat()[0]
        return torch.cat([d.pairs.reshape(-1), d.essential])

    assert torch.autograd.gradcheck(deaths, (x,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(deaths, (x,))
