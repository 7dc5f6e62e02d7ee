"""Step 3 of the pipeline: critical edges -> differentiable diagrams, for a whole batch at once.

This is the only place where indices become values, and the only gradient code of difftda: a bar's
birth and death are the lengths of its critical edges, read with autograd. Backends never see it.

Two ways to read a length, chosen by the caller:

* from the matrix ``dist`` (``metric="precomputed"``): ``dist[b, i, j]``, so the gradient flows into
  the matrix;
* from the points: the value is still ``dist[b, i, j]`` bit for bit, but the gradient comes from
  ``|x_i - x_j|`` recomputed for the critical edges only. Backward then costs O(bars * d) instead of
  O(n^2 * d), and the n x n matrix never enters the autograd graph.
"""

from __future__ import annotations

import numpy as np
import torch

from .backends import BatchPairing
from .diagrams import Diagram, DiagramBatch, Diagrams
from .distances import known_lengths

__all__ = ["gather", "normalize"]


def normalize(host: np.ndarray | None, sizes: list[int], bp: BatchPairing) -> BatchPairing:
    """Check and canonicalize the pairing of a batch on the host, vectorized over all its bars.

    Each edge is written with ``i <= j``; bars with ``death <= birth`` are dropped; rows are sorted by
    group, then ``(birth, death, edges)``. With ``host=None`` (a ``canonical`` backend) the values are
    not read: the backend has dropped empty bars itself, and rows are only grouped.
    """
    B = len(sizes)
    limit = np.asarray(sizes, np.int64)
    fin, fg, ess, eg = bp
    if (fin < 0).any() or (ess < 0).any() or (fin >= limit[fg % B, None]).any() or (ess >= limit[eg % B, None]).any():
        raise RuntimeError("backend returned a vertex index outside the cloud")
    fin = np.concatenate([np.sort(fin[:, :2], axis=1), np.sort(fin[:, 2:], axis=1)], axis=1)
    ess = np.sort(ess, axis=1)
    if host is None:
        order, ess_order = np.argsort(fg, kind="stable"), np.argsort(eg, kind="stable")
        return BatchPairing(fin[order], fg[order], ess[ess_order], eg[ess_order])
    cloud = fg % B
    birth = host[cloud, fin[:, 0], fin[:, 1]]
    death = host[cloud, fin[:, 2], fin[:, 3]]
    keep = death > birth
    fin, fg, birth, death = fin[keep], fg[keep], birth[keep], death[keep]
    order = np.lexsort((fin[:, 3], fin[:, 2], fin[:, 1], fin[:, 0], death, birth, fg))
    ess_birth = host[eg % B, ess[:, 0], ess[:, 1]]
    ess_order = np.lexsort((ess[:, 1], ess[:, 0], ess_birth, eg))
    return BatchPairing(fin[order], fg[order], ess[ess_order], eg[ess_order])


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
    birth_pos = np.concatenate([np.zeros(k0, np.int64), np.arange(K + 1, K + 1 + K - k0)])
    pair_pos = np.stack([birth_pos, np.arange(1, K + 1)], axis=1)
    ess_pos = np.concatenate([np.zeros(m0, np.int64), np.arange(2 * K - k0 + 1, E + 1)])
    grad_points = points is not None and points.requires_grad
    parts_host = [fin.ravel(), ess.ravel(), fc, ec, (c * N + i) * N + j, pair_pos.ravel(), ess_pos]
    if grad_points:
        parts_host += [c * N + i, c * N + j]
    # One host -> device copy for all the indices of the batch; the rest are views of it.
    idx = torch.from_numpy(np.concatenate(parts_host)).to(dist.device)
    fin_t, ess_t, fin_cloud, ess_cloud, flat, pair_pos_t, ess_pos_t, *point_ij = torch.split(
        idx, [4 * K, 2 * M, K, M, E, 2 * K, M] + ([E, E] if grad_points else [])
    )
    fin_t, ess_t = fin_t.view(K, 4), ess_t.view(M, 2)
    source = dist if points is None else points
    values = (dist.detach() if points is not None else dist).reshape(-1)[flat]
    if grad_points:  # the value read above, the gradient of |x_i - x_j| (critical edges only)
        values = known_lengths(points.reshape(B * N, -1), *point_ij, values, metric)
    # The constant 0 of H0 births, attached to the graph like every other value when there is one.
    zero = source.reshape(-1)[:1] * 0 if source.requires_grad else values.new_zeros(1)
    ext = torch.cat([zero, values])
    pairs = ext[pair_pos_t].view(K, 2)
    births = ext[ess_pos_t]
    parts = list(zip(
        torch.split(pairs, fin_counts.tolist()), torch.split(births, ess_counts.tolist()),
        torch.split(fin_t, fin_counts.tolist()), torch.split(ess_t, ess_counts.tolist()),
    ))
    per_cloud = [Diagrams(Diagram(*parts[k * B + b]) for k in range(maxdim + 1)) for b in range(B)]
    # Groups are dimension-major, so each dimension of the whole batch is one contiguous slice.
    f_end, e_end = fin_counts.reshape(maxdim + 1, B).sum(1).cumsum(), ess_counts.reshape(maxdim + 1, B).sum(1).cumsum()
    whole, clouds = [], []
    for k in range(maxdim + 1):
        f = slice(int(f_end[k - 1]) if k else 0, int(f_end[k]))
        e = slice(int(e_end[k - 1]) if k else 0, int(e_end[k]))
        whole.append(Diagram(pairs[f], births[e], fin_t[f], ess_t[e]))
        clouds.append((fin_cloud[f], ess_cloud[e]))
    return DiagramBatch(per_cloud, Diagrams(whole), clouds)
