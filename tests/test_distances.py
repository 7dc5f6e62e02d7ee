import numpy as np
import pytest
import torch

import difftda
from reference import distance_matrix


@pytest.mark.parametrize("grad", [False, True], ids=["nograd", "grad"])
@pytest.mark.parametrize("shape", [(60, 4), (300, 3), (2, 150, 1), (3, 40, 12)], ids=str)
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_matches_scipy(metric, shape, grad, dtype, device):
    # The shapes reach each layout: cdist, one coordinate at a time, pdist (with and without a graph).
    x = torch.randn(*shape, dtype=torch.float64)
    d = difftda.pairwise_distances(x.to(device, dtype, copy=True).requires_grad_(grad), metric)
    assert d.dtype == dtype and d.device.type == device and d.shape == (*shape[:-1], shape[-2])
    clouds = x.numpy().reshape(-1, *shape[-2:])
    ref = np.stack([distance_matrix(c, metric) for c in clouds]).reshape(d.shape)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(d.detach().cpu().double().numpy(), ref, rtol=tol, atol=tol)


def test_offset_float32_exact_diagonal_and_symmetry():
    # torch.cdist's default (matmul) path gives a non-zero diagonal on such data; ours must not.
    x = torch.randn(200, 3) + 100.0
    d = difftda.pairwise_distances(x)
    assert torch.equal(torch.diagonal(d), torch.zeros(200))
    assert torch.equal(d, d.T)


@pytest.mark.parametrize("dim", [2, 12])
def test_batched_equals_single(dim):
    x = torch.randn(3, 20, dim)
    d = difftda.pairwise_distances(x)
    for b in range(3):
        assert torch.equal(d[b], difftda.pairwise_distances(x[b]))


@pytest.mark.parametrize("dim", [2, 10])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_finite_gradient_at_duplicates(metric, dim):
    x = torch.randn(10, dim, dtype=torch.float64)
    x[3] = x[7]
    x.requires_grad_(True)
    difftda.pairwise_distances(x, metric).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
@pytest.mark.parametrize("shape", [(32, 64, 16), (700, 2), (256, 128), (3, 77, 5), (40, 1000)])
def test_exact_symmetry_and_zero_diagonal(metric, shape, dtype, device):
    x = (torch.randn(*shape, dtype=dtype) * 10 + 100).to(device)
    d = difftda.pairwise_distances(x, metric)
    assert torch.equal(d, d.transpose(-1, -2))
    assert bool((torch.diagonal(d, dim1=-2, dim2=-1) == 0).all())


@pytest.mark.parametrize("shape", [(300, 2), (2, 150, 3), (200, 12), (40, 5)], ids=str)
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_same_values_with_and_without_graph(metric, shape, dtype):
    # persistence() reads values from the graph-free matrix and metric="precomputed" users from the
    # differentiable one: both must hold the same bits.
    x = torch.randn(*shape, dtype=dtype)
    plain = difftda.pairwise_distances(x, metric)
    graph = difftda.pairwise_distances(x.clone().requires_grad_(True), metric)
    assert graph.requires_grad and torch.equal(plain, graph.detach())


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_coordinatewise_layout_gradients(metric):
    # From 128 points in 1-3 coordinates the values come from the coordinate-wise layout and the
    # gradient from cdist rebuilt in backward: check the gradient numerically.
    x = torch.randn(128, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5), requires_grad=True)
    f = lambda z: difftda.pairwise_distances(z, metric)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,), fast_mode=True)  # (torch has no double backward of cdist)


def test_overflow_gives_inf_with_and_without_graph():
    # Distances of float32 points near the top of the range overflow to inf in both paths (no NaN).
    x = torch.randn(130, 2, generator=torch.Generator().manual_seed(0)) * 1e20
    plain = difftda.pairwise_distances(x)
    graph = difftda.pairwise_distances(x.clone().requires_grad_(True))
    assert torch.isinf(plain).any() and not torch.isnan(graph).any()
    assert torch.equal(plain, graph.detach())
