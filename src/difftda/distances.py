"""Step 1 of the pipeline: points -> distance matrix, on the points' device.

Two promises the backends rely on: the matrix is exactly symmetric and its diagonal is exactly zero
(the default matmul path of :func:`torch.cdist` gives neither), and the gradient stays finite at
duplicate points (no ``sqrt(0)`` NaN).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from . import _jit
from ._checks import check_cloud, check_metric

__all__ = ["pairwise_distances", "distances"]

_P = {"euclidean": 2.0, "manhattan": 1.0, "chebyshev": math.inf}


def pairwise_distances(x: torch.Tensor, metric: str = "euclidean") -> torch.Tensor:
    """All pairwise distances of a cloud ``(n, d)`` or a batch ``(B, n, d)``, in one call.

    Args:
        x: points, ``(n, d)`` or ``(B, n, d)``, float32 or float64, on any device.
        metric: ``"euclidean"``, ``"manhattan"`` or ``"chebyshev"``.

    Returns:
        ``(n, n)`` or ``(B, n, n)`` distances, exactly symmetric with an exactly zero diagonal,
        differentiable (the gradient at two equal points is 0, not NaN).

    Example:
        >>> import torch, difftda
        >>> d = difftda.pairwise_distances(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
        >>> d
        tensor([[0., 5.],
                [5., 0.]])
    """
    check_cloud(x)
    metric = check_metric(metric)
    if metric == "precomputed":
        raise ValueError("pairwise_distances takes points; metric='precomputed' means x already is the matrix")
    if x.dim() not in (2, 3):
        raise ValueError(f"x must be (n, d) or (B, n, d) points; got shape {tuple(x.shape)}")
    return distances(x, metric)


def distances(x: torch.Tensor, metric: str) -> torch.Tensor:
    """:func:`pairwise_distances` without the argument checks (for callers that made them)."""
    if metric == "euclidean" and _squares_underflow(x):
        return _wide_distances(x)
    p = _P[metric]
    if x.device.type == "cpu" and not (torch.is_grad_enabled() and x.requires_grad):
        return _host_distances(x, metric)
    if x.device.type == "cpu" and (_jit.enabled() or _coordinatewise(x)):
        # The graph-free layout's values (compiled for every shape; without numba, coordinate by
        # coordinate, which rounds some euclidean entries differently from cdist), so that values
        # never depend on whether x requires grad; cdist's gradient, recomputed in backward.
        return _CoordinatewiseDistances.apply(x, metric)
    if x.device.type == "cpu" and _pdist_layout(x):
        # torch.pdist's CPU kernel is 5-10x faster than cdist's difference path from about 8
        # coordinates on; each pair is computed on its own, so a cloud's values depend neither on the
        # other clouds of a batch nor on padding.
        clouds = x.unsqueeze(0) if x.dim() == 2 else x
        B, n, _ = clouds.shape
        i, j = torch.triu_indices(n, n, 1)
        cond = torch.stack([torch.pdist(c, p) for c in clouds])
        rows = torch.arange(B)[:, None]
        flat = clouds.new_zeros(B, n * n).index_put((rows, i * n + j), cond).index_put((rows, j * n + i), cond)
        d = flat.view(B, n, n)
        return d[0] if x.dim() == 2 else d
    # The difference-based path computes |x_i - x_j| entry by entry: no cancellation, 0 on the diagonal.
    d = torch.cdist(x, x, p=p, compute_mode="donot_use_mm_for_euclid_dist")
    if x.device.type == "cpu":
        # The CPU kernel evaluates (i, j) and (j, i) with the same operations in the same order, so the
        # result is already exactly symmetric with a zero diagonal (tests/test_distances.py checks it).
        return d
    # Elsewhere mirror the strict upper triangle: exactness whatever the kernel does.
    upper = torch.triu(d, diagonal=1)
    return upper + upper.transpose(-1, -2)


#: A nonzero coordinate below this magnitude may differ from another by so little that the square
#: of the difference underflows (then two distinct points would be at distance 0). From this bound
#: on, distinct coordinates differ by at least 2**-63 (float32) or 2**-510 (float64), whose squares
#: are normal numbers.
_SQUARE_SAFE = {torch.float32: 2.0**-40, torch.float64: 2.0**-458}
#: Points scaled by a power of two (exact) so that their largest coordinate is below 2**_WIDE_TOP.
_WIDE_TOP = 500


def _squares_underflow(x: torch.Tensor) -> bool:
    """Whether some nonzero coordinate of ``x`` is small enough that a squared difference could
    underflow (a few elementwise operations; zero coordinates are common, tiny ones are not)."""
    safe = _SQUARE_SAFE.get(x.dtype)
    if safe is None or x.numel() == 0:
        return False
    a = x.detach().abs()
    if float(a.amin()) >= safe:  # the usual case: one reduction
        return False
    if a.device.type == "cpu":  # zero coordinates (padding, points on an axis): the smallest nonzero one
        h = a.numpy()
        return float(np.min(h, initial=np.inf, where=h > 0)) < safe
    return float(torch.where(a > 0, a, math.inf).amin()) < safe


def _wide_distances(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of points whose squared differences underflow in their dtype: float32
    points in float64, rounded back to float32 once; float64 points scaled by a power of two, which
    changes no bit of a difference, and the result scaled back (differentiable either way)."""
    if x.dtype == torch.float32:
        return distances(x.double(), "euclidean").float()
    a = x.detach().abs()
    top = float(a.max())
    low = float(a[a > 0].min())
    k = _WIDE_TOP - math.frexp(top)[1]
    if low * 2.0**k < _SQUARE_SAFE[x.dtype]:
        raise ValueError(
            f"x has coordinates from {low:g} to {top:g}: too wide a range for float64 to square their "
            "differences. Translate or rescale the points so that no coordinate is that close to 0"
        )
    return distances(x * 2.0**k, "euclidean") * 2.0**-k


#: From this many coordinates on, CPU distances come from ``torch.pdist`` (one cloud at a time).
_PDIST_MIN_DIM = 8
#: ... and clouds with more than this many entries (points x coordinates): below it the one call per
#: cloud costs more than the work: one batched cdist call was 1.4-10x faster (many small clouds).
_PDIST_MIN_ENTRIES = 256


def _pdist_layout(x: torch.Tensor) -> bool:
    """Whether CPU distances of ``x`` come from ``torch.pdist``, one cloud at a time (by the padded
    cloud's shape alone, so a cloud gets the same bits alone and in a batch)."""
    return x.shape[-1] >= _PDIST_MIN_DIM and x.shape[-2] * x.shape[-1] > _PDIST_MIN_ENTRIES

#: Clouds of at least ``_COORDINATEWISE_MIN_POINTS`` points in at most ``_COORDINATEWISE_MAX_DIM``
#: coordinates are computed one coordinate at a time (1.3-1.8x faster than cdist's difference path
#: there, slower from 5 coordinates on); others by cdist.
_COORDINATEWISE_MIN_POINTS = 128
_COORDINATEWISE_MAX_DIM = 3


def _host_distances(x: torch.Tensor, metric: str) -> torch.Tensor:
    """The matrix without autograd, on the CPU: the fastest exact layout for the shape at hand.

    Every path computes each entry from ``x_i - x_j`` alone (no ``|x|^2 - 2 x.y`` cancellation),
    with ``(i, j)`` and ``(j, i)`` given the same bits and a zero diagonal.
    """
    p = _P[metric]
    clouds = x.unsqueeze(0) if x.dim() == 2 else x
    B, n, dim = clouds.shape
    if _jit.enabled():
        # One compiled pass, coordinate by coordinate: the same bits as the coordinate-wise layout
        # below, for every shape.
        d = clouds.new_empty(B, n, n)
        _distance_kernel(np.ascontiguousarray(clouds.detach().numpy().transpose(0, 2, 1)), _METRIC_CODE[metric],
                         d.numpy())
    elif _pdist_layout(clouds):
        # Each cloud's pairs behind a 0 (the diagonal's value), then one gather lays out every square.
        pairs = np.empty((B, 1 + n * (n - 1) // 2), dtype=np.float32 if x.dtype == torch.float32 else np.float64)
        pairs[:, 0] = 0
        for b, c in enumerate(clouds):
            pairs[b, 1:] = torch.pdist(c, p).numpy()
        d = torch.from_numpy(np.take(pairs.reshape(-1), _square_positions(B, n))).view(B, n, n)
    elif _coordinatewise(clouds):
        d = _coordinatewise_distances(clouds, p)
    else:
        d = torch.cdist(clouds, clouds, p=p, compute_mode="donot_use_mm_for_euclid_dist")
    return d[0] if x.dim() == 2 else d


def _coordinatewise_distances(clouds: torch.Tensor, p: float) -> torch.Tensor:
    """``|x_i - x_j|_p`` accumulated one coordinate at a time, a block of rows at a time: no
    ``(n, n, d)`` tensor, and one temporary of about 2**18 entries (at least one row of every
    cloud) next to the result."""
    B, n, dim = clouds.shape
    out = clouds.new_empty(B, n, n)
    step = max(1, (1 << 18) // (B * n))
    cols = [clouds[:, None, :, k] for k in range(dim)]
    for r in range(0, n, step):  # a loop over blocks of rows, not over points
        block = out[:, r : r + step]
        term = torch.empty_like(block) if dim > 1 else None
        for k in range(dim):
            target = block if k == 0 else term
            torch.sub(clouds[:, r : r + step, k, None], cols[k], out=target)
            if p == 2.0:
                target.square_()
            else:
                target.abs_()
            if k == 0:
                continue
            if p == math.inf:
                torch.maximum(block, term, out=block)
            else:
                block.add_(term)
        if p == 2.0:
            # numpy's square root is correctly rounded (torch's CPU one is not always, in float32):
            # the same bits as the compiled layout, on every machine.
            np.sqrt(block.numpy(), out=block.numpy())
    return out


_METRIC_CODE = {"euclidean": 2, "manhattan": 1, "chebyshev": 0}


@_jit.kernel
def _distance_kernel(xt, code, out):  # pragma: no cover - compiled by numba
    """``out[b, i, j] = |x_i - x_j|`` from the coordinates ``xt`` ``(B, d, n)``, a row of a cloud at
    a time, the coordinates added in order from 0 (squares for ``code`` 2, absolute values for 1,
    the largest for 0, then the correctly rounded square root), as
    :func:`_coordinatewise_distances` does. Four coordinates go per pass over a row (the same
    additions in the same order, with a quarter of the loads and stores); the loops over ``j``
    vectorize."""
    B, D, n = xt.shape
    for b in range(B):
        for i in range(n):
            row = out[b, i]
            for j in range(n):
                row[j] = 0
            for k in range(0, D - 3, 4):
                a0, a1, a2, a3 = xt[b, k, i], xt[b, k + 1, i], xt[b, k + 2, i], xt[b, k + 3, i]
                c0, c1, c2, c3 = xt[b, k], xt[b, k + 1], xt[b, k + 2], xt[b, k + 3]
                if code == 2:
                    for j in range(n):
                        t0, t1, t2, t3 = a0 - c0[j], a1 - c1[j], a2 - c2[j], a3 - c3[j]
                        row[j] = row[j] + t0 * t0 + t1 * t1 + t2 * t2 + t3 * t3
                elif code == 1:
                    for j in range(n):
                        row[j] = row[j] + abs(a0 - c0[j]) + abs(a1 - c1[j]) + abs(a2 - c2[j]) + abs(a3 - c3[j])
                else:
                    for j in range(n):
                        r = max(max(row[j], abs(a0 - c0[j])), abs(a1 - c1[j]))
                        row[j] = max(max(r, abs(a2 - c2[j])), abs(a3 - c3[j]))
            for k in range(D - D % 4, D):
                a0, c0 = xt[b, k, i], xt[b, k]
                if code == 2:
                    for j in range(n):
                        t0 = a0 - c0[j]
                        row[j] = row[j] + t0 * t0
                elif code == 1:
                    for j in range(n):
                        row[j] = row[j] + abs(a0 - c0[j])
                else:
                    for j in range(n):
                        row[j] = max(row[j], abs(a0 - c0[j]))
            if code == 2:
                for j in range(n):
                    row[j] = np.sqrt(row[j])


class _CoordinatewiseDistances(torch.autograd.Function):
    """Coordinate-wise distances with autograd: forward keeps one matrix (no graph of its
    temporaries); backward rebuilds ``torch.cdist`` of the saved points and differentiates that
    (the same gradient as before)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, metric: str) -> torch.Tensor:
        ctx.metric = metric
        ctx.save_for_backward(x)
        return _host_distances(x.detach(), metric)

    @staticmethod
    def _cdist(x: torch.Tensor, metric: str) -> torch.Tensor:
        return torch.cdist(x, x, p=_P[metric], compute_mode="donot_use_mm_for_euclid_dist")

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        create = torch.is_grad_enabled()  # backward of a backward (create_graph=True)
        with torch.enable_grad():
            z = x if create and x.requires_grad else x.detach().requires_grad_(True)
            (gx,) = torch.autograd.grad(_CoordinatewiseDistances._cdist(z, ctx.metric), z, grad, create_graph=create)
        return gx, None


def _coordinatewise(x: torch.Tensor) -> bool:
    """Whether the graph-free CPU layout of ``x`` goes one coordinate at a time."""
    return 0 < x.shape[-1] <= _COORDINATEWISE_MAX_DIM and x.shape[-2] >= _COORDINATEWISE_MIN_POINTS


def _square_positions(B: int, n: int) -> np.ndarray:
    """For every entry of a ``(B, n, n)`` batch, its position in the ``(B, 1 + n (n - 1) / 2)`` array
    of each cloud's ``torch.pdist`` pairs behind a leading 0 (the last 4 shapes of up to 2**20
    entries, 8 MB each, are cached)."""
    if B * n * n <= 1 << 20:
        return _cached_square_positions(B, n)
    return _square_positions_uncached(B, n)


def _square_positions_uncached(B: int, n: int) -> np.ndarray:
    i, j = np.triu_indices(n, 1)
    pos = np.zeros((n, n), np.int64)
    pos[i, j] = pos[j, i] = np.arange(1, 1 + i.size)  # the pair (i, j), i < j, is pdist's entry k - 1
    out = pos.reshape(-1) if B == 1 else (np.arange(B)[:, None] * (1 + i.size) + pos.reshape(1, -1)).reshape(-1)
    out.flags.writeable = False  # shared through the cache
    return out


_cached_square_positions = functools.lru_cache(maxsize=4)(_square_positions_uncached)
