import numpy as np
import pytest
import torch

import difftda
from reference import distance_matrix


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_matches_scipy(metric, dtype, device):
    x = torch.randn(60, 4, dtype=torch.float64)
    d = difftda.pairwise_distances(x.to(device, dtype), metric)
    assert d.dtype == dtype and d.device.type == device
    ref = distance_matrix(x.numpy(), metric)
    np.testing.assert_allclose(d.cpu().double().numpy(), ref, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-5)


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
