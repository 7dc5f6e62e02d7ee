"""Small synthetic data sets used by the demo, the examples and the tests (nothing is downloaded)."""

from __future__ import annotations

import math

import torch

__all__ = [
    "three_gaussians", "noisy_circle", "disk_with_holes", "hole_centers", "line_segments", "clusters", "circle",
    "two_segments",
]


def three_gaussians(
    n_per: int = 500, *, seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The toy data of Hofer et al. (ICML 2019): three Gaussians in R^2.

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


def _generator(seed: int) -> torch.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int; got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _check_count(value: object, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return value


def _uniform_disk(n: int, radius: float, g: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """``n`` points uniform on a disk (the square root of a uniform radius keeps the density flat)."""
    r = radius * torch.rand(n, generator=g, dtype=torch.float64).sqrt()
    theta = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    return torch.stack([r * theta.cos(), r * theta.sin()], 1).to(dtype)


def hole_centers(n_holes: int = 9, radius: float = 1.0, *, center_hole: bool = True) -> torch.Tensor:
    """The centers used by :func:`disk_with_holes`: evenly spaced on the circle of radius
    ``radius / 2``, plus the origin when ``center_hole``. Returns ``(n_holes, 2)`` float64."""
    ring = n_holes - int(center_hole)
    theta = torch.arange(ring, dtype=torch.float64) * (2 * math.pi / max(ring, 1))
    pts = torch.stack([theta.cos(), theta.sin()], 1) * (radius / 2)
    if center_hole:
        pts = torch.cat([pts, torch.zeros(1, 2, dtype=torch.float64)])
    return pts


def disk_with_holes(n_neg: int = 500, n_pos: int = 500, *, n_holes: int = 9, radius: float = 1.0,
                    hole_radius: float = 0.15, pos_radius: float = 0.02, center_hole: bool = True, seed: int = 0,
                    dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes whose topology differs (after Naitzat et al., arXiv:2004.06093).

    Class 0 fills a disk of radius ``radius`` with ``n_holes`` round holes of radius
    ``hole_radius`` cut out (so its cloud has ``n_holes`` one-dimensional holes); class 1 is
    ``n_holes`` small disks of radius ``pos_radius`` sitting in the middles of the holes (so it has
    ``n_holes`` components). The holes lie evenly on the circle of radius ``radius / 2``, plus one
    at the center when ``center_hole``; they must fit in the disk without overlapping.

    Returns:
        ``(x, y)``: ``(n_neg + n_pos, 2)`` points in random order and their int64 labels.

    Example:
        >>> from difftda.datasets import disk_with_holes
        >>> x, y = disk_with_holes(200, 90, seed=1)
        >>> x.shape, int(y.sum())
        (torch.Size([290, 2]), 90)
    """
    n_neg, n_pos = _check_count(n_neg, "n_neg"), _check_count(n_pos, "n_pos")
    n_holes = _check_count(n_holes, "n_holes", 1)
    if not 0 < pos_radius <= hole_radius:
        raise ValueError(f"need 0 < pos_radius <= hole_radius; got pos_radius={pos_radius}, hole_radius={hole_radius}")
    centers = hole_centers(n_holes, radius, center_hole=center_hole)
    gap = torch.pdist(centers).min().item() if n_holes > 1 else math.inf
    if not (2 * hole_radius <= gap and centers.norm(dim=1).max().item() + hole_radius < radius):
        raise ValueError(
            f"hole_radius={hole_radius} is too large: {n_holes} holes must fit in the disk of radius {radius} "
            f"without overlapping (at most {min(gap / 2, radius - centers.norm(dim=1).max().item()):.4g} here)"
        )
    g = _generator(seed)
    # Rejection sampling in rounds: draw many points at once, keep those outside every hole.
    kept, have = [], 0
    while have < n_neg:
        cand = _uniform_disk(4 * (n_neg - have) + 16, radius, g, torch.float64)
        outside = (torch.cdist(cand, centers) > hole_radius).all(1)
        kept.append(cand[outside])
        have += int(outside.sum())
    neg = torch.cat(kept)[:n_neg] if kept else torch.zeros(0, 2, dtype=torch.float64)
    # Class 1: n_pos points shared as evenly as possible among the holes.
    which = torch.arange(n_pos) % n_holes
    pos = centers[which] + _uniform_disk(n_pos, pos_radius, g, torch.float64)
    x = torch.cat([neg, pos]).to(dtype)
    y = torch.cat([torch.zeros(n_neg, dtype=torch.int64), torch.ones(n_pos, dtype=torch.int64)])
    perm = torch.randperm(len(x), generator=g)
    return x[perm], y[perm]


def line_segments(n_neg: int = 5, n_pos: int = 5, *, length: float = 0.2, points_per_line: int = 50, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Short random line segments in ``[-1, 1]^2``, each with a class label.

    Each of the ``n_neg + n_pos`` segments starts at a uniform point of the square, points in a
    uniform direction, and carries ``points_per_line`` points at uniform distances in
    ``[0, length)`` along it. Which segments are class 1 is drawn at random.

    Returns:
        ``(x, y)``: ``((n_neg + n_pos) * points_per_line, 2)`` points and their int64 labels, segment
        by segment.

    Example:
        >>> from difftda.datasets import line_segments
        >>> x, y = line_segments(3, 2, points_per_line=10)
        >>> x.shape, int(y.sum())
        (torch.Size([50, 2]), 20)
    """
    n_neg, n_pos = _check_count(n_neg, "n_neg"), _check_count(n_pos, "n_pos")
    points_per_line = _check_count(points_per_line, "points_per_line", 1)
    if not length > 0:
        raise ValueError(f"length must be > 0; got {length}")
    g = _generator(seed)
    n = n_neg + n_pos
    start = 2 * torch.rand(n, 2, generator=g, dtype=torch.float64) - 1
    theta = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    direction = torch.stack([theta.cos(), theta.sin()], 1)
    t = length * torch.rand(n, points_per_line, generator=g, dtype=torch.float64)
    x = (start[:, None, :] + t[..., None] * direction[:, None, :]).reshape(-1, 2)
    labels = torch.cat([torch.zeros(n_neg, dtype=torch.int64), torch.ones(n_pos, dtype=torch.int64)])
    labels = labels[torch.randperm(n, generator=g)]
    return x.to(dtype), labels.repeat_interleave(points_per_line)


def clusters(centers: list[list[float]] | torch.Tensor, sizes: list[int], *, noise: float = 0.5, seed: int = 0,
             dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Square clusters: ``sizes[k]`` points uniform in ``centers[k] + [-noise, noise]^d``.

    The synthetic clouds of the Topo-GEN experiments are made this way.

    Returns:
        ``(x, y)``: ``(sum(sizes), d)`` points, cluster by cluster, and their cluster index.

    Example:
        >>> from difftda.datasets import clusters
        >>> x, y = clusters([[0, 0], [10, 0]], [3, 4], noise=0.5)
        >>> x.shape, y.tolist()
        (torch.Size([7, 2]), [0, 0, 0, 1, 1, 1, 1])
    """
    c = torch.as_tensor(centers, dtype=torch.float64)
    if c.dim() != 2:
        raise ValueError(f"centers must be a (k, d) list or tensor; got shape {tuple(c.shape)}")
    if len(sizes) != len(c):
        raise ValueError(f"sizes has {len(sizes)} entries for {len(c)} centers; give one size per center")
    for k, s in enumerate(sizes):
        _check_count(s, f"sizes[{k}]")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise}")
    g = _generator(seed)
    y = torch.repeat_interleave(torch.arange(len(c)), torch.as_tensor(sizes, dtype=torch.int64))
    x = c[y] + noise * (2 * torch.rand(len(y), c.shape[1], generator=g, dtype=torch.float64) - 1)
    return x.to(dtype), y


def circle(n: int = 100, *, radius: float = 1.0, noise: float = 0.0, seed: int = 0,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` points at uniform random angles on a circle of radius ``radius``, plus Gaussian noise.

    Example:
        >>> from difftda.datasets import circle
        >>> x = circle(50, radius=5.0)
        >>> float(x.norm(dim=1).max()) <= 5.0 + 1e-5
        True
    """
    n = _check_count(n, "n")
    g = _generator(seed)
    theta = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    x = radius * torch.stack([theta.cos(), theta.sin()], 1)
    if noise:
        x = x + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return x.to(dtype)


def two_segments(n_per: int = 32, *, noise: float = 0.1, seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Two noisy, slightly divergent line segments of ``n_per`` points each (Topo-GEN's third test).

    Segment 1 is ``(0, 0.7 i)`` and segment 2 ``(5 + 0.2 i, 0.9 i)`` for ``i = 0 .. n_per - 1``, each
    coordinate moved by uniform noise in ``[-noise, noise]``.

    Example:
        >>> from difftda.datasets import two_segments
        >>> two_segments(32).shape
        torch.Size([64, 2])
    """
    n_per = _check_count(n_per, "n_per")
    g = _generator(seed)
    i = torch.arange(n_per, dtype=torch.float64)
    first = torch.stack([torch.zeros_like(i), 0.7 * i], 1)
    second = torch.stack([5.0 + 0.2 * i, 0.9 * i], 1)
    x = torch.cat([first, second])
    x = x + noise * (2 * torch.rand(x.shape, generator=g, dtype=torch.float64) - 1)
    return x.to(dtype)
