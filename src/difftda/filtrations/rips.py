"""The Vietoris-Rips filtration: ``persistence(x, maxdim)`` runs distances -> engine -> gather.

Values are the distance matrix of each cloud (the batch padded to ``(B, N, N)``); an engine returns
critical edges ``(i, j)``, which are the flat positions ``(b * N + i) * N + j`` of the batch's
matrices. H0 births are the constant 0. From points, the values at the critical edges are
recomputed as ``|x_i - x_j|`` (:class:`EdgeLengths`), so the ``n x n`` matrix never enters the
autograd graph; from a precomputed matrix, they are read from it by plain indexing.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

from .. import _jit
from .._checks import (
    check_cloud,
    check_cloud_list,
    check_coeff,
    check_distance_matrix,
    check_maxdim,
    check_metric,
    check_scale,
    check_thresh,
)
from ..backends import Backend, BatchPairing, get_backend
from ..backends._torch import TorchBackend
from ..diagrams import DiagramBatch, Diagrams
from ..distances import _P, distances
from ..gather import Bars, Values, gather, has_tangent, normalize, place, unplace

__all__ = ["persistence", "Persistence", "EdgeLengths"]


def _as_batch(x: object, metric: str) -> tuple[list[torch.Tensor] | torch.Tensor, bool]:
    """``(batch, single)``: a (B, n, .) tensor or a list of 2-D tensors, and whether x was one cloud."""
    if isinstance(x, (list, tuple)):
        clouds = check_cloud_list(x, same_width=metric != "precomputed")
        return clouds, False
    check_cloud(x, finite=False)  # the scale or matrix check below reads every entry anyway
    assert isinstance(x, torch.Tensor)
    if metric != "precomputed" and x.dim() in (2, 3):
        _warn_if_matrix(x)
    if x.dim() == 2:
        return x.unsqueeze(0), True
    if x.dim() == 3:
        if x.shape[0] == 0:
            raise ValueError("x is an empty batch (B = 0); pass at least one point cloud")
        return x, False
    kind = "(n, n) or (B, n, n) distance matrices" if metric == "precomputed" else "(n, d) or (B, n, d) points"
    raise ValueError(f"x must be {kind}, or a list of 2-D tensors; got shape {tuple(x.shape)}")


def _warn_if_matrix(x: torch.Tensor) -> None:
    """Warn when points look like a distance matrix: square, symmetric, zero diagonal, non-negative."""
    n, d = x.shape[-2:]
    if n != d or n < 3:
        return
    with torch.no_grad():
        looks = (
            bool((x.diagonal(dim1=-2, dim2=-1) == 0).all())
            and bool((x == x.transpose(-1, -2)).all())
            and bool((x >= 0).all())
        )
    if looks:
        warnings.warn(
            f"x has shape {tuple(x.shape)} and looks like a distance matrix (square, symmetric, zero "
            "diagonal), but it is read as points; pass metric='precomputed' if it holds distances",
            UserWarning,
            stacklevel=4,
        )


def _engine(backend: str | Backend, maxdim: int, coeff: object) -> tuple[Backend, int]:
    """The backend for ``maxdim``, and ``coeff`` checked against what that engine handles."""
    engine = get_backend(backend, maxdim=maxdim)
    return engine, check_coeff(coeff, engine.max_coeff, engine.name)


def _pad_matrices(mats: list[torch.Tensor]) -> torch.Tensor:
    N = max(m.shape[-1] for m in mats)
    return torch.stack([nn.functional.pad(m, (0, N - m.shape[-1], 0, N - m.shape[-2])) for m in mats])


def persistence(
    x: torch.Tensor | list[torch.Tensor],
    maxdim: int = 1,
    *,
    backend: str | Backend = "auto",
    metric: str = "euclidean",
    thresh: float = math.inf,
    coeff: int = 2,
) -> Diagrams | DiagramBatch:
    """Differentiable Vietoris-Rips persistence diagrams of H_0 .. H_maxdim.

    Args:
        x: points ``(n, d)``; or with ``metric="precomputed"`` a distance matrix ``(n, n)`` (symmetric,
            zero diagonal, non-negative; gradients flow into it). A batch ``(B, n, d)`` / ``(B, n, n)``
            or a list of 2-D tensors of different sizes gives a list of results, one per cloud.
        maxdim: the top homology dimension (0: components, 1: loops, 2: voids).
        backend: ``"auto"``, ``"giotto"``, ``"gudhi"``, ``"ripser"``, a spec with options such as
            ``"giotto:n_threads=2"``, or a :class:`~difftda.backends.Backend`.
        metric: ``"euclidean"``, ``"manhattan"``, ``"chebyshev"`` or ``"precomputed"``.
        thresh: edges longer than this are never added; bars alive at ``thresh`` become essential.
        coeff: the prime field Z/coeff Z of the homology (the same for every backend).

    Returns:
        :class:`Diagrams` (``dgms[k]`` is H_k) on x's device and dtype; for a batch a list of them
        (a :class:`DiagramBatch`, whose ``cat()`` holds the bars of all clouds at once).
        Bars with ``death == birth`` are dropped; the order of rows is unspecified.

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(50, 2, requires_grad=True)
        >>> dgms = difftda.persistence(x, maxdim=1)
        >>> loss = (dgms[1].pairs[:, 1] - dgms[1].pairs[:, 0]).sum()
        >>> loss.backward()
        >>> x.grad.shape
        torch.Size([50, 2])
    """
    maxdim = check_maxdim(maxdim)
    metric = check_metric(metric)
    thresh = check_thresh(thresh)
    engine, coeff = _engine(backend, maxdim, coeff)
    batch, single = _as_batch(x, metric)
    if metric == "precomputed":
        mats = list(batch)
        sizes = [m.shape[-1] for m in mats]
        for b, m in enumerate(mats):
            check_distance_matrix(m, "x" if single else f"x[{b}]")
        dist = batch if isinstance(batch, torch.Tensor) else _pad_matrices(mats)
        upper = torch.triu(dist, diagonal=1)  # the values: the upper triangle, mirrored
        exact = upper + upper.transpose(-1, -2)
        if dist.requires_grad:  # the gradient: split evenly between D[i, j] and D[j, i]
            half = (dist + dist.transpose(-1, -2)) / 2
            exact = exact.detach() + (half - half.detach())
        dist = exact
        points = None
    else:
        points = batch if isinstance(batch, torch.Tensor) else nn.utils.rnn.pad_sequence(batch, batch_first=True)
        # (Iterating over a (B, n, d) tensor would make B views.)
        sizes = [points.shape[1]] * points.shape[0] if isinstance(batch, torch.Tensor) else [c.shape[0] for c in batch]
        check_scale(points)
        if len(set(sizes)) > 1:
            # Clouds of different sizes: each matrix on its own, since the layout distances() picks
            # (and so the last bit of a value) depends on the cloud's shape; a cloud then gets the
            # same values in a ragged batch as alone.
            dist = _pad_matrices([distances(c.detach(), metric) for c in batch])
        else:
            dist = distances(points.detach(), metric)  # no graph and no forward-mode tangent: values only
    if min(sizes) == 0:
        raise ValueError("x has a cloud with no points; persistence needs at least one point")
    # One detached host copy, in the input's precision (none at all for a CPU tensor in float32 or
    # float64), for the CPU engines; a device-native engine pairs the matrix where it is.
    in_place = engine.on_device and dist.device.type != "cpu"
    host_dtype = dist.dtype if dist.dtype in (torch.float32, torch.float64) else torch.float32
    src = dist.detach() if in_place else dist.detach().to("cpu", host_dtype)
    try:
        bp = engine.pairing_batch(src, sizes, maxdim=maxdim, thresh=thresh, coeff=coeff)
    except (RuntimeError, ValueError, TypeError) as err:
        raise RuntimeError(
            f"backend {str(engine)!r} failed on a {max(sizes)} x {max(sizes)} matrix with maxdim={maxdim}: {err}"
        ) from err
    trusted = type(engine) is TorchBackend
    bars = normalize(
        None if engine.canonical else src.numpy().reshape(-1), edge_bars(bp, sizes, dist.shape[-1], trusted=trusted)
    )
    if points is not None and (points.requires_grad or has_tangent(points)):
        reader: Values = EdgeLengths(points, dist, metric)
    else:
        reader = Values((dist if points is None else dist.detach()).reshape(-1))
    out = gather(reader, bars, len(sizes), maxdim)
    return out[0] if single else out


def edge_bars(bp: BatchPairing, sizes: list[int], N: int, *, trusted: bool = False) -> Bars:
    """Critical edges of a padded ``(B, N, N)`` batch -> positions in its matrices.

    Each edge is written ``i <= j`` and checked to lie in its cloud; ``Diagram.index`` is the
    ``(k, 4)`` ``[b_i, b_j, d_i, d_j]`` of the edges, ``essential_index`` the ``(m, 2)`` birth edge.
    ``trusted``: the edges come from difftda's own H0 engine, already written ``i <= j`` inside
    their cloud (so neither step is repeated).
    """
    B = len(sizes)
    fin, fg, ess, eg = bp
    if not trusted:
        fin, ess = _ordered_edges(fin), _ordered_edges(ess)
        _check_range(fin, fg, ess, eg, sizes)
    fc, ec = (fg % B) * N if B > 1 else 0, (eg % B) * N if B > 1 else 0
    birth = (fc + fin[:, 0]) * N + fin[:, 1]
    birth[fg < B] = -1  # H0 rows are born at the constant 0
    death = (fc + fin[:, 2]) * N + fin[:, 3]
    ess_birth = (ec + ess[:, 0]) * N + ess[:, 1]
    ess_birth[eg < B] = -1
    return Bars(birth, death, fg, fin, ess_birth, eg, ess)


def _ordered_edges(edges: np.ndarray) -> np.ndarray:
    """Each pair of columns ``(i, j)`` written with ``i <= j`` (min/max: cheaper than a row sort)."""
    out = np.empty_like(edges)
    for c in range(0, edges.shape[1], 2):  # two or four columns
        np.minimum(edges[:, c], edges[:, c + 1], out=out[:, c])
        np.maximum(edges[:, c], edges[:, c + 1], out=out[:, c + 1])
    return out


def _check_range(fin: np.ndarray, fg: np.ndarray, ess: np.ndarray, eg: np.ndarray, sizes: list[int]) -> None:
    """Every vertex index (edges already written ``i <= j``) lies inside its cloud."""
    low = min(fin.min(initial=0), ess.min(initial=0))
    if len(sizes) == 1:
        high = max(fin.max(initial=0), ess.max(initial=0)) >= sizes[0]
    else:
        limit = np.asarray(sizes, np.int64)
        B = len(sizes)
        high = (np.maximum(fin[:, 1], fin[:, 3]) >= limit[fg % B]).any() or (ess[:, 1] >= limit[eg % B]).any()
    if low < 0 or high:
        raise RuntimeError("backend returned a vertex index outside the cloud")


class EdgeLengths(Values):
    """Rips values from points: the value at position ``(b * N + i) * N + j`` is ``|x_i - x_j|``.

    Forward reads the detached matrix (so the values are the matrix's bit for bit); one autograd
    node (:class:`_Bars`) gives every value of the batch the derivative of its critical edge's
    length. Backward costs O(bars * d), not O(n^2 * d).

    Args:
        points: ``(B, N, d)`` padded points.
        dist: ``(B, N, N)`` their distances.
        metric: the metric that made ``dist`` from ``points``.
    """

    def __init__(self, points: torch.Tensor, dist: torch.Tensor, metric: str) -> None:
        super().__init__(dist.detach().reshape(-1))
        self.points, self.p, self.N = points, _P[metric], dist.shape[-1]

    def prepare(self, positions: np.ndarray) -> np.ndarray:
        """The flat rows of both ends of each edge in ``points.reshape(-1, d)``: ``[b*N+i..., b*N+j...]``."""
        N = self.N
        row_i, j = np.divmod(positions, N)
        return np.concatenate([row_i, row_i - row_i % N + j])

    def bars(
        self, positions: torch.Tensor, pair_pos: torch.Tensor, ess_pos: torch.Tensor, extra: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        return _Bars.apply(self.points, self.flat.index_select(0, positions), pair_pos, ess_pos, extra, self.p)


class _Bars(torch.autograd.Function):
    """The values of every bar of a batch from point input, in one node of the graph.

    Forward places the known edge lengths (read from the detached matrix, so bit for bit the matrix's
    values). Backward sends each value's gradient to ``|x_i - x_j|`` of its critical edge alone
    (O(bars * d), not O(n^2 * d)); it is written in differentiable torch operations, so double
    backward works too. ``jvp`` gives forward-mode AD the same derivative. A zero-length edge (two
    equal points) has derivative 0.
    """

    @staticmethod
    def forward(ctx, points, values, pair_pos, ess_pos, edges, p):
        """``edges``: ``[i..., j...]``, the flat rows (in ``points.reshape(-1, d)``) of both ends."""
        ctx.p, ctx.values = p, values
        ctx.save_for_backward(points, pair_pos, ess_pos, edges)
        ctx.save_for_forward(points, pair_pos, ess_pos, edges)
        # One value per finite bar: every birth is the constant 0 (H0 alone), and the deaths are the
        # values in order, so the bars are laid out without indexing (and backward reads them back).
        ctx.deaths_only = 2 * len(values) == len(pair_pos)
        if ctx.deaths_only:
            return torch.stack([values.new_zeros(len(values)), values], 1), values.new_zeros(len(ess_pos))
        return place(values, pair_pos, ess_pos)

    @staticmethod
    def jvp(ctx, t_points, *_):
        points, pair_pos, ess_pos, edges = ctx.saved_tensors
        d = points.shape[-1]
        x, t = points.reshape(-1, d), t_points.reshape(-1, d)
        E = len(edges) // 2
        diff = x.index_select(0, edges[:E]) - x.index_select(0, edges[E:])
        dt = t.index_select(0, edges[:E]) - t.index_select(0, edges[E:])
        if ctx.p == 2.0:
            length = ctx.values.clamp_min(torch.finfo(x.dtype).tiny)
            change = torch.where(ctx.values > 0, (diff * dt).sum(-1) / length, 0)
        elif ctx.p == 1.0:
            change = (diff.sign() * dt).sum(-1)
        else:  # chebyshev: the largest coordinate, shared among ties as in backward
            mag = diff.abs()
            top = (mag == mag.amax(dim=-1, keepdim=True)) & (mag > 0)
            change = (diff.sign() * top * dt).sum(-1) / top.sum(-1).clamp_min(1)
        return place(change, pair_pos, ess_pos)

    @staticmethod
    def backward(ctx, grad_pairs, grad_births):
        points, pair_pos, ess_pos, edges = ctx.saved_tensors
        E = len(ctx.values)
        grad = grad_pairs[:, 1] if ctx.deaths_only else unplace(grad_pairs, grad_births, pair_pos, ess_pos, E)
        tiny = torch.finfo(points.dtype).tiny
        x = points.reshape(-1, points.shape[-1])
        i, j = edges[:E], edges[E:]
        # One index_add over both ends of every edge (two calls cost twice as much on small rows).
        if ctx.p == 2.0 and not torch.is_grad_enabled():
            # First-order backward (no create_graph): the lengths are the known values, and the
            # temporaries are filled in place; on the CPU one compiled pass gives the same bits.
            if x.device.type == "cpu" and _jit.enabled():
                g = torch.zeros_like(x)
                _scatter_edges(x.detach().contiguous().numpy(), edges.numpy(), grad.contiguous().numpy(),
                               ctx.values.contiguous().numpy(), tiny, g.numpy())
                return g.view_as(points), None, None, None, None, None
            coef = torch.where(ctx.values > 0, grad / ctx.values.clamp_min(tiny), 0)
            step = x.new_empty(2 * E, x.shape[1])
            torch.sub(x.index_select(0, i), x.index_select(0, j), out=step[:E]).mul_(coef[:, None])
            torch.neg(step[:E], out=step[E:])
            return torch.zeros_like(x).index_add_(0, edges, step).view_as(points), None, None, None, None, None
        diff = x.index_select(0, i) - x.index_select(0, j)
        if ctx.p == 2.0:
            norm = torch.linalg.vector_norm(diff, dim=-1)
            step = diff * torch.where(norm > 0, grad / norm.clamp_min(tiny), 0)[:, None]
        elif ctx.p == 1.0:
            step = diff.sign() * grad[:, None]
        else:  # chebyshev: the largest coordinate, shared among ties as autograd's amax does
            mag = diff.abs()
            top = (mag == mag.amax(dim=-1, keepdim=True)) & (mag > 0)
            step = diff.sign() * top * (grad[:, None] / top.sum(-1, keepdim=True).clamp_min(1))
        g = torch.zeros_like(x).index_add(0, edges, torch.cat([step, -step]))
        return g.view_as(points), None, None, None, None, None


@_jit.kernel
def _scatter_edges(x, edges, grad, length, tiny, g):  # pragma: no cover - compiled by numba
    """The first-order backward of euclidean edge lengths: with ``c = grad / length`` (0 for a
    zero-length edge), ``g[i] += c (x_i - x_j)`` and ``g[j] -= c (x_i - x_j)`` for every edge, in
    the order of the torch path (all ``i`` ends, then all ``j`` ends), so both give the same bits."""
    E = grad.shape[0]
    D = x.shape[1]
    coef = np.empty(E, g.dtype)
    for e in range(E):
        coef[e] = grad[e] / max(length[e], tiny) if length[e] > 0 else 0
    for e in range(E):
        i, j, c = edges[e], edges[E + e], coef[e]
        for k in range(D):
            g[i, k] += (x[i, k] - x[j, k]) * c
    for e in range(E):
        i, j, c = edges[e], edges[E + e], coef[e]
        for k in range(D):
            g[j, k] -= (x[i, k] - x[j, k]) * c


class Persistence(nn.Module):
    """:func:`persistence` as a module, its arguments fixed at construction.

    Example:
        >>> import torch, difftda
        >>> layer = difftda.Persistence(maxdim=0)
        >>> dgms = layer(torch.randn(20, 2))
        >>> dgms[0].pairs.shape
        torch.Size([19, 2])
    """

    def __init__(
        self,
        maxdim: int = 1,
        *,
        backend: str | Backend = "auto",
        metric: str = "euclidean",
        thresh: float = math.inf,
        coeff: int = 2,
    ) -> None:
        super().__init__()
        self.maxdim = check_maxdim(maxdim)
        self.metric = check_metric(metric)
        self.thresh = check_thresh(thresh)
        self.backend, self.coeff = _engine(backend, self.maxdim, coeff)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> Diagrams | DiagramBatch:
        return persistence(
            x, self.maxdim, backend=self.backend, metric=self.metric, thresh=self.thresh, coeff=self.coeff
        )

    def extra_repr(self) -> str:
        return (
            f"maxdim={self.maxdim}, backend={str(self.backend)!r}, metric={self.metric!r}, "
            f"thresh={self.thresh}, coeff={self.coeff}"
        )
