"""Gradients of the gather layer: gradcheck, closed forms, duplicates, dtype and device."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import difftda


def _flat(dgms) -> torch.Tensor:
    return torch.cat([torch.cat([d.pairs.reshape(-1), d.essential]) for d in dgms])


def test_gradcheck_points(backend):
    x = torch.randn(14, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    x.requires_grad_(True)
    assert len(difftda.persistence(x, maxdim=1, backend=backend)[1].pairs) > 0
    assert torch.autograd.gradcheck(lambda p: _flat(difftda.persistence(p, maxdim=1, backend=backend)), (x,))


def test_gradcheck_essential_births_with_thresh(backend):
    # A hexagon of side 1: with thresh between 1 and sqrt(3) the loop never closes, so H1 has an
    # essential bar born at the last side added.
    t = torch.arange(6, dtype=torch.float64) * (2 * math.pi / 6)
    x = torch.stack([t.cos(), t.sin()], 1) + 0.03 * torch.randn(6, 2, dtype=torch.float64,
                                                                 generator=torch.Generator().manual_seed(2))
    x.requires_grad_(True)
    dgms = difftda.persistence(x, maxdim=1, backend=backend, thresh=1.4)
    assert dgms[1].essential.shape == (1,)

    def f(p):
        d = difftda.persistence(p, maxdim=1, backend=backend, thresh=1.4)
        return torch.cat([d[1].essential, d[0].pairs[:, 1]])

    assert torch.autograd.gradcheck(f, (x,))


def test_gradcheck_precomputed(backend):
    n = 10
    pts = torch.randn(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    iu = torch.triu_indices(n, n, 1)
    upper = torch.cdist(pts, pts)[iu[0], iu[1]].clone().requires_grad_(True)

    def f(u):
        d = torch.zeros(n, n, dtype=u.dtype).index_put((iu[0], iu[1]), u)
        return _flat(difftda.persistence(d + d.T, maxdim=1, backend=backend, metric="precomputed"))

    assert torch.autograd.gradcheck(f, (upper,))


def test_precomputed_gradient_reaches_matrix(backend):
    d = difftda.pairwise_distances(torch.randn(12, 2, dtype=torch.float64)).requires_grad_(True)
    dgms = difftda.persistence(d, maxdim=0, backend=backend, metric="precomputed")
    dgms[0].pairs[:, 1].sum().backward()
    # Each finite H0 death is one entry, its gradient split between D[i, j] and D[j, i]: the
    # gradient marks exactly the spanning-tree edges, symmetrically.
    assert torch.equal(d.grad, d.grad.T)
    g = d.grad + d.grad.T
    assert int((g != 0).sum()) == 2 * 11 and torch.allclose(g[g != 0], torch.ones(22, dtype=torch.float64))


def test_closed_form_triangle(backend):
    # H0 of a triangle dies at its two shortest sides; the gradient of their sum is the sum of the
    # unit vectors along those sides.
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    dgms = difftda.persistence(x, maxdim=0, backend=backend)
    torch.testing.assert_close(dgms[0].pairs[:, 1].sort().values, torch.tensor([1.0, 2.0], dtype=torch.float64))
    dgms[0].pairs[:, 1].sum().backward()
    expected = torch.tensor([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(x.grad, expected)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_no_nan_gradient_with_duplicates(backend, metric):
    x = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    x = torch.cat([x, x[:7]]).requires_grad_(True)
    dgms = difftda.persistence(x, maxdim=1, backend=backend, metric=metric)
    loss = sum((d.pairs[:, 1] - d.pairs[:, 0]).sum() + d.essential.sum() for d in dgms)
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_dtype_and_device_kept(backend, dtype, device):
    x = torch.randn(30, 2, dtype=dtype, device=device, requires_grad=True)
    dgms = difftda.persistence(x, maxdim=1, backend=backend)
    for d in dgms:
        assert d.pairs.dtype == dtype and d.pairs.device == x.device
        assert d.essential.dtype == dtype and d.essential.device == x.device
        assert d.index.device == x.device
    (dgms[0].pairs.sum() + dgms[1].pairs.sum()).backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dim", [3, 10])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_point_path_equals_matrix_path(backend, metric, dim):
    """The O(bars * d) backward from points equals differentiating the full matrix."""
    x = torch.randn(25, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(8), requires_grad=True)
    dgms = difftda.persistence(x, maxdim=1, backend=backend, metric=metric)
    loss = dgms[0].pairs[:, 1].pow(2).sum() + (dgms[1].pairs[:, 1] - dgms[1].pairs[:, 0]).sum()
    (g_points,) = torch.autograd.grad(loss, x)
    y = x.detach().clone().requires_grad_(True)
    dm = difftda.persistence(difftda.pairwise_distances(y, metric), maxdim=1, backend=backend, metric="precomputed")
    loss_m = dm[0].pairs[:, 1].pow(2).sum() + (dm[1].pairs[:, 1] - dm[1].pairs[:, 0]).sum()
    (g_matrix,) = torch.autograd.grad(loss_m, y)
    torch.testing.assert_close(loss, loss_m, rtol=0, atol=0)
    torch.testing.assert_close(g_points, g_matrix)


def test_double_backward():
    x = torch.randn(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda p: difftda.persistence(p, maxdim=0)[0].pairs[:, 1], (x,))


@pytest.mark.parametrize("metric", ["euclidean", "precomputed"])
def test_every_output_is_attached_to_the_graph(backend, metric):
    x = torch.randn(1 if metric == "euclidean" else 3, 2, dtype=torch.float64)  # no H1 possible
    if metric == "precomputed":
        x = difftda.pairwise_distances(x)
    x.requires_grad_(True)
    dgms = difftda.persistence(x, maxdim=1, backend=backend, metric=metric)
    for d in dgms:
        assert d.pairs.requires_grad and d.essential.requires_grad
    (dgms[0].essential.sum() + dgms[1].pairs.sum()).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("where", ["finite", "essential", "negative"])
@pytest.mark.parametrize("batch", [1, 3])
def test_index_outside_the_cloud_is_refused(where, batch):
    import numpy as np

    from difftda.backends import Backend, DimPairing

    class Broken(Backend):
        name = "broken-test"

        def pairing(self, dist, *, maxdim, thresh, coeff):
            n = 5  # the size of the first cloud, for every cloud
            fin = np.array([[1, 1, 0, 1]])
            ess = np.array([[0, 0]])
            if where == "finite":
                fin = np.array([[1, 1, 0, n]])
            elif where == "essential":
                ess = np.array([[n, n]])
            else:
                fin = np.array([[1, 1, -1, 1]])
            return (DimPairing(fin, ess),)

    with pytest.raises(RuntimeError, match="outside the cloud"):
        # A ragged batch: index 5 is outside the first cloud but inside the others.
        x = torch.randn(5, 2) if batch == 1 else [torch.randn(5 + b, 2) for b in range(batch)]
        difftda.persistence(x, maxdim=0, backend=Broken())


def _central(f, x, t, h=1e-6):
    return (f(x + h * t) - f(x - h * t)) / (2 * h)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")  # torch's own forward-AD setup
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "precomputed"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_forward_mode_ad_matches_finite_differences(backend, metric, requires_grad):
    import torch.autograd.forward_ad as fwAD

    g = torch.Generator().manual_seed(3)
    x = torch.randn(12, 3, dtype=torch.float64, generator=g)
    t = torch.randn(12, 3, dtype=torch.float64, generator=g)
    if metric == "precomputed":
        x, t = torch.cdist(x, x), t @ t.T
        t = t.fill_diagonal_(0)

    def values(z):
        d = difftda.persistence(z, maxdim=1, backend=backend, metric=metric)
        return torch.cat([d[0].pairs.reshape(-1), d[1].pairs.reshape(-1), d[0].essential])

    with fwAD.dual_level():
        dual = fwAD.make_dual(x.clone().requires_grad_(requires_grad), t)
        tangent = fwAD.unpack_dual(values(dual)).tangent
    assert tangent is not None
    torch.testing.assert_close(tangent, _central(values, x, t), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n_rows", [10, 5000])
@pytest.mark.parametrize("levels", [0, 7])
def test_normalize_orders_as_a_lexsort_over_every_key(n_rows, levels):
    """normalize's order (group, birth value, death value, index columns) against numpy's lexsort
    over all the keys, with and without tied values, rows given in a shuffled order."""
    from difftda.gather import Bars, normalize

    rng = np.random.default_rng(n_rows + levels)
    host = rng.integers(0, levels, 4000).astype(float) if levels else rng.random(4000)
    birth, death = rng.integers(-1, 4000, n_rows), rng.integers(0, 4000, n_rows)
    group = rng.integers(0, 40, n_rows)
    index = np.stack([birth % 37, death % 41, death % 3], axis=1)
    bars = normalize(host, Bars(birth, death, group, index, birth[:20], group[:20], index[:20, :1]))
    b_val, d_val = np.where(birth >= 0, host[birth], 0), host[death]
    keep = b_val != d_val
    ref = np.lexsort((index[keep, 2], index[keep, 1], index[keep, 0], d_val[keep], b_val[keep], group[keep]))
    keys = np.stack([group, b_val, d_val, *index.T], axis=1)[keep][ref]
    b_got = np.where(bars.birth >= 0, host[bars.birth], 0)
    got = np.stack([bars.group, b_got, host[bars.death], *bars.index.T], axis=1)
    np.testing.assert_array_equal(got, keys)
    assert len(bars.birth) == keep.sum()


@pytest.mark.parametrize("constant", [False, True])
def test_unplace_is_the_adjoint_of_place(constant):
    """<place(v), g> == <v, unplace(g)> for every v and g, with and without the constant slot."""
    from difftda.gather import place, unplace

    g = torch.Generator().manual_seed(4)
    K, M = 7, 3
    if constant:  # slots of 10 read values, some bars born at the constant (slot 0)
        m = 10
        pair_pos = torch.randint(0, m + 1, (K, 2), generator=g)
        ess_pos = torch.randint(0, m + 1, (M,), generator=g)
    else:  # every slot read once: births, deaths, essential births
        m = 2 * K + M
        pair_pos = torch.stack([torch.arange(1, K + 1), torch.arange(K + 1, 2 * K + 1)], 1)
        ess_pos = torch.arange(2 * K + 1, m + 1)
    v = torch.randn(m, dtype=torch.float64, generator=g)
    gp, gb = torch.randn(K, 2, dtype=torch.float64, generator=g), torch.randn(M, dtype=torch.float64, generator=g)
    pairs, births = place(v, pair_pos.reshape(-1), ess_pos)
    back = unplace(gp, gb, pair_pos.reshape(-1), ess_pos, m)
    torch.testing.assert_close((pairs * gp).sum() + (births * gb).sum(), (v * back).sum())
    assert back.shape == (m,)
