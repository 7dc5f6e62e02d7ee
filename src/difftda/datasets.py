"""Small synthetic data sets used by the demo, the examples and the tests (nothing is downloaded)."""

from __future__ import annotations

import math

import torch

__all__ = ["three_gaussians", "noisy_circle"]


def three_gaussians(n_per: int = 500, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The toy data of Hofer et al. (ICML'19, seed 000): three Gaussians in R^2.

    Means (4, 4), (3, 3), (0, 0.5) and scales 1, 3, 0.5, as in the torchph tutorial. Returns the
    ``(3 * n_per, 2)`` points and their ``(3 * n_per,)`` labels.
    """
    g = torch.Generator().manual_seed(seed)
    means = torch.tensor([[4.0, 4.0], [3.0, 3.0], [0.0, 0.5]], dtype=dtype)
    scales = torch.tensor([1.0, 3.0, 0.5], dtype=dtype)
    noise = torch.randn(3, n_per, 2, generator=g, dtype=dtype)
    x = (means[:, None, :] - noise * scales[:, None, None]).reshape(-1, 2)
    y = torch.arange(3).repeat_interleave(n_per)
    return x, y


def noisy_circle(n: int = 200, *, noise: float = 0.1, outliers: float = 0.2, seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A unit circle with Gaussian noise plus a fraction of uniform points in [-1.5, 1.5]^2."""
    g = torch.Generator().manual_seed(seed)
    n_out = int(round(outliers * n))
    n_in = n - n_out
    theta = torch.rand(n_in, generator=g, dtype=dtype) * 2 * math.pi
    circle = torch.stack([theta.cos(), theta.sin()], 1) + noise * torch.randn(n_in, 2, generator=g, dtype=dtype)
    box = (torch.rand(n_out, 2, generator=g, dtype=dtype) * 3.0) - 1.5
    return torch.cat([circle, box])
