"""Step 3 of the pipeline: critical edges -> differentiable diagrams, for a whole batch at once.

This is the only place where indices become values, and the only code that gives bars their
gradient: a bar's birth and death are the lengths of its critical edges. Backends never see it.

Two ways to read a length, chosen by the caller:

* from the matrix ``dist`` (``metric="precomputed"``): ``dist[b, i, j]`` by plain indexing, so
  autograd (reverse and forward mode) flows into the matrix;
* from the points: the value is still ``dist[b, i, j]`` bit for bit, but one autograd node
  (:class:`_Bars`) gives every value of the batch the derivative of ``|x_i - x_j|`` of its critical
  edge. Backward then costs O(bars * d) instead of O(n^2 * d), and the n x n matrix never enters
  the autograd graph.
"""

from __future__ import annotations

import numpy as np
import torch

from .backends import BatchPairing
from .diagrams import Diagram, DiagramBatch, Diagrams
from .distances import _P

__all__ = ["gather", "normalize"]


def normalize(host: np.ndarray | None, sizes: list[int], bp: BatchPairing) -> BatchPairing:
    """Check and canonicalize the pairing of a batch on the host, vectorized over all its bars.

    Each edge is written with ``i <= j``; bars with ``death <= birth`` are dropped; rows are sorted by
    group, then ``(birth, death, edges)``. With ``host=None`` (a ``canonical`` backend) the values are
    not read: the backend has dropped empty bars itself, and rows are only grouped.
    """
    B = len(sizes)
    fin, fg, ess, eg = bp
    fin, ess = _ordered_edges(fin), _ordered_edges(ess)
    _check_range(fin, fg, ess, eg, sizes)
    if host is None:
        order, ess_order = np.argsort(fg, kind="stable"), np.argsort(eg, kind="stable")
        return BatchPairing(fin[order], fg[order], ess[ess_order], eg[ess_order])
    N = host.shape[-1]
    values = host.reshape(-1)
    start = (fg % B) * N
    birth_key, death_key = fin[:, 0] * N + fin[:, 1], fin[:, 2] * N + fin[:, 3]
    birth, death = values[start * N + birth_key], values[start * N + death_key]
    keep = death > birth
    if not keep.all():
        fin, fg, birth, death, birth_key, death_key = (v[keep] for v in (fin, fg, birth, death, birth_key, death_key))
    order = np.lexsort((death_key, birth_key, death, birth, fg))
    ess_key = ess[:, 0] * N + ess[:, 1]
    ess_order = np.lexsort((ess_key, values[(eg % B) * N * N + ess_key], eg))
    return BatchPairing(fin[order], fg[order], ess[ess_order], eg[ess_order])


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


def gather(
    dist: torch.Tensor,
    sizes: list[int],
    bp: BatchPairing,
    maxdim: int,
    points: torch.Tensor | None = None,
    metric: str = "euclidean",
) -> DiagramBatch:
    """Turn normalized critical edges into one :class:`Diagrams` per cloud.

    Args:
        dist: ``(B, N, N)`` padded distances; differentiable when ``points`` is None.
        sizes: the number of points of each cloud.
        bp: the output of :func:`normalize`.
        maxdim: the top homology dimension.
        points: ``(B, N, d)`` padded points; when given and differentiable, gradients come from the
            critical edges' lengths recomputed from them.
        metric: the metric that made ``dist`` from ``points``.
    """
    B, N = dist.shape[0], dist.shape[-1]
    fin, fg, ess, eg = bp
    K, M = len(fin), len(ess)
    ngroups = (maxdim + 1) * B
    fin_counts = np.bincount(fg, minlength=ngroups)
    ess_counts = np.bincount(eg, minlength=ngroups)
    # Groups are dimension-major: H0 comes first, and its births are vertices (length exactly 0).
    k0, m0 = int(fin_counts[:B].sum()), int(ess_counts[:B].sum())
    fc, ec = fg % B, eg % B
    # The edges whose lengths are read: every death, the births of H>=1, the essential births of H>=1.
    c = np.concatenate([fc, fc[k0:], ec[m0:]])
    i = np.concatenate([fin[:, 2], fin[k0:, 0], ess[m0:, 0]])
    j = np.concatenate([fin[:, 3], fin[k0:, 1], ess[m0:, 1]])
    # Where each output value sits in [0, lengths...]: H0 births are the leading 0.
    E = len(c)
    pair_pos = np.zeros((K, 2), np.int64)
    pair_pos[k0:, 0] = np.arange(K + 1, 2 * K - k0 + 1)
    pair_pos[:, 1] = np.arange(1, K + 1)
    ess_pos = np.concatenate([np.zeros(m0, np.int64), np.arange(2 * K - k0 + 1, E + 1)])
    # Point input: values from the detached matrix, gradient (and forward-mode tangent) from the
    # critical edges' lengths. Matrix input: plain indexing, so autograd does everything itself.
    attach = points is not None and (points.requires_grad or _has_tangent(points))
    read = (c * N + i) * N + j
    parts_host = [fin.ravel(), ess.ravel(), fc, ec, read, pair_pos.ravel(), ess_pos]
    if attach:
        parts_host += [c * N + i, c * N + j]  # the flat rows of both ends of each edge
    # One host -> device copy for all the indices of the batch; the rest are views of it.
    idx = torch.from_numpy(np.concatenate(parts_host)).to(dist.device)
    fin_t, ess_t, fin_cloud, ess_cloud, read_t, pair_pos_t, ess_pos_t, *point_ij = idx.split_with_sizes(
        [4 * K, 2 * M, K, M, E, 2 * K, M] + ([2 * E] if attach else [])
    )
    fin_t, ess_t = fin_t.view(K, 4), ess_t.view(M, 2)
    if attach:  # one autograd node for every value of the batch
        values = dist.detach().reshape(-1)[read_t]
        pairs, births = _Bars.apply(points, values, pair_pos_t, ess_pos_t, point_ij[0], _P[metric])
    else:
        pairs, births = _place((dist if points is None else dist.detach()).reshape(-1)[read_t], pair_pos_t, ess_pos_t)
    counts = (fin_counts.tolist(), ess_counts.tolist())
    # Groups are dimension-major, so each dimension of the whole batch is one contiguous slice.
    dims = maxdim + 1
    f_dim = np.add.reduceat(fin_counts, np.arange(0, dims * B, B)).tolist()
    e_dim = np.add.reduceat(ess_counts, np.arange(0, dims * B, B)).tolist()
    split = [t.split_with_sizes(n) for t, n in ((pairs, f_dim), (births, e_dim), (fin_t, f_dim), (ess_t, e_dim))]
    whole = Diagrams(Diagram(*parts) for parts in zip(*split))
    clouds = list(zip(fin_cloud.split_with_sizes(f_dim), ess_cloud.split_with_sizes(e_dim)))
    if B == 1:
        return DiagramBatch([whole], whole, clouds)
    per_dim = [
        list(zip(*(t.split_with_sizes(counts[n][k * B:(k + 1) * B]) for t, n in zip(dgm, (0, 1, 0, 1)))))
        for k, dgm in enumerate(whole)
    ]
    per_cloud = [Diagrams(Diagram(*per_dim[k][b]) for k in range(dims)) for b in range(B)]
    return DiagramBatch(per_cloud, whole, clouds)


def _place(values: torch.Tensor, pair_pos: torch.Tensor, ess_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pairs (K, 2), essential births (M,))`` from the edge lengths; position 0 is the constant 0
    of the H0 births."""
    ext = torch.cat([values.new_zeros(1), values])
    return ext[pair_pos].view(-1, 2), ext[ess_pos]


def _has_tangent(x: torch.Tensor) -> bool:
    """Whether ``x`` carries a forward-mode AD tangent (at the current dual level)."""
    return torch.autograd.forward_ad.unpack_dual(x).tangent is not None


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
        return _place(values, pair_pos, ess_pos)

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
        return _place(change, pair_pos, ess_pos)

    @staticmethod
    def backward(ctx, grad_pairs, grad_births):
        points, pair_pos, ess_pos, edges = ctx.saved_tensors
        E = len(ctx.values)
        grad = grad_pairs.new_zeros(E + 1).index_add(
            0, torch.cat([pair_pos.reshape(-1), ess_pos]), torch.cat([grad_pairs.reshape(-1), grad_births])
        )[1:]
        x = points.reshape(-1, points.shape[-1])
        i, j = edges[:E], edges[E:]
        # One index_add over both ends of every edge (two calls cost twice as much on small rows).
        if ctx.p == 2.0 and not torch.is_grad_enabled():
            # First-order backward (no create_graph): the lengths are the known values, and the
            # temporaries are filled in place.
            coef = torch.where(ctx.values > 0, grad / ctx.values.clamp_min(torch.finfo(x.dtype).tiny), 0)
            step = x.new_empty(2 * E, x.shape[1])
            torch.sub(x.index_select(0, i), x.index_select(0, j), out=step[:E]).mul_(coef[:, None])
            torch.neg(step[:E], out=step[E:])
            return torch.zeros_like(x).index_add_(0, edges, step).view_as(points), None, None, None, None, None
        diff = x.index_select(0, i) - x.index_select(0, j)
        if ctx.p == 2.0:
            norm = torch.linalg.vector_norm(diff, dim=-1)
            step = diff * torch.where(norm > 0, grad / norm.clamp_min(torch.finfo(x.dtype).tiny), 0)[:, None]
        elif ctx.p == 1.0:
            step = diff.sign() * grad[:, None]
        else:  # chebyshev: the largest coordinate, shared among ties as autograd's amax does
            mag = diff.abs()
            top = (mag == mag.amax(dim=-1, keepdim=True)) & (mag > 0)
            step = diff.sign() * top * (grad[:, None] / top.sum(-1, keepdim=True).clamp_min(1))
        g = torch.zeros_like(x).index_add(0, edges, torch.cat([step, -step]))
        return g.view_as(points), None, None, None, None, None
