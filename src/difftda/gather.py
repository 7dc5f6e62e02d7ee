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

from .backends import Pairing
from .diagrams import Diagram, Diagrams
from .distances import edge_lengths

__all__ = ["gather", "normalize"]


def normalize(host: np.ndarray | None, sizes: list[int], pairings: list[Pairing], maxdim: int):
    """Check, canonicalize and concatenate the pairings of a batch on the host (vectorized).

    Each edge is written with ``i <= j``; bars with ``death <= birth`` are dropped; rows are sorted by
    ``(birth, death, edges)`` within each (cloud, dimension) group. With ``host=None`` (the matrix
    stayed on its device) only the first step is done: the backend has dropped empty bars itself.

    Returns ``(fin, fin_group, ess, ess_group)``: ``(K, 4)`` and ``(M, 2)`` local indices and the group
    ``b * (maxdim + 1) + k`` of each row.
    """
    ndim = maxdim + 1
    fins, esss, fg, eg = [], [], [], []
    for b, pairing in enumerate(pairings):
        if len(pairing) != ndim:
            raise RuntimeError(f"backend returned {len(pairing)} dimensions, expected maxdim + 1 = {ndim}")
        for k, dp in enumerate(pairing):
            f = np.asarray(dp.finite, dtype=np.int64).reshape(-1, 4)
            e = np.asarray(dp.essential, dtype=np.int64).reshape(-1, 2)
            fins.append(f)
            esss.append(e)
            fg.append(np.full(len(f), b * ndim + k, np.int64))
            eg.append(np.full(len(e), b * ndim + k, np.int64))
    fin, ess = np.concatenate(fins), np.concatenate(esss)
    fin_group, ess_group = np.concatenate(fg), np.concatenate(eg)
    limit = np.asarray(sizes, np.int64)
    if (fin < 0).any() or (ess < 0).any() or (fin >= limit[fin_group // ndim, None]).any() or (
        ess >= limit[ess_group // ndim, None]
    ).any():
        raise RuntimeError("backend returned a vertex index outside the cloud")
    fin = np.concatenate([np.sort(fin[:, :2], axis=1), np.sort(fin[:, 2:], axis=1)], axis=1)
    ess = np.sort(ess, axis=1)
    if host is None:  # a device-native backend: values stay on the device, rows as it gave them
        return fin, fin_group, ess, ess_group
    cloud = fin_group // ndim
    birth = host[cloud, fin[:, 0], fin[:, 1]]
    death = host[cloud, fin[:, 2], fin[:, 3]]
    keep = death > birth
    fin, fin_group, birth, death = fin[keep], fin_group[keep], birth[keep], death[keep]
    order = np.lexsort((fin[:, 3], fin[:, 2], fin[:, 1], fin[:, 0], death, birth, fin_group))
    ess_birth = host[ess_group // ndim, ess[:, 0], ess[:, 1]]
    ess_order = np.lexsort((ess[:, 1], ess[:, 0], ess_birth, ess_group))
    return fin[order], fin_group[order], ess[ess_order], ess_group[ess_order]


def gather(
    dist: torch.Tensor,
    sizes: list[int],
    fin: np.ndarray,
    fin_group: np.ndarray,
    ess: np.ndarray,
    ess_group: np.ndarray,
    maxdim: int,
    points: torch.Tensor | None = None,
    metric: str = "euclidean",
) -> list[Diagrams]:
    """Turn normalized critical edges into one :class:`Diagrams` per cloud.

    Args:
        dist: ``(B, N, N)`` padded distances; differentiable when ``points`` is None.
        sizes: the number of points of each cloud.
        fin, fin_group, ess, ess_group: the output of :func:`normalize`.
        maxdim: the top homology dimension.
        points: ``(B, N, d)`` padded points; when given and differentiable, gradients come from the
            critical edges' lengths recomputed from them.
        metric: the metric that made ``dist`` from ``points``.
    """
    B, N = dist.shape[0], dist.shape[-1]
    ndim = maxdim + 1
    device = dist.device
    K, M = len(fin), len(ess)
    # One host -> device copy for all the indices of the batch.
    packed = np.concatenate([fin.ravel(), ess.ravel(), fin_group, ess_group])
    idx = torch.from_numpy(packed).to(device)
    fin_t = idx[: 4 * K].view(K, 4)
    ess_t = idx[4 * K : 4 * K + 2 * M].view(M, 2)
    fin_cloud = idx[4 * K + 2 * M : 5 * K + 2 * M] // ndim
    ess_cloud = idx[5 * K + 2 * M :] // ndim
    # Every critical edge of the batch, as (cloud, i, j): births, deaths, essential births.
    cloud = torch.cat([fin_cloud, fin_cloud, ess_cloud])
    ii = torch.cat([fin_t[:, 0], fin_t[:, 2], ess_t[:, 0]])
    jj = torch.cat([fin_t[:, 1], fin_t[:, 3], ess_t[:, 1]])
    if points is not None:
        values = dist.detach()[cloud, ii, jj]
        if points.requires_grad:
            flat = points.reshape(B * N, -1)
            e = edge_lengths(flat, cloud * N + ii, cloud * N + jj, metric)
            values = values + (e - e.detach())  # exact forward value, gradient of the edge length
    else:
        values = dist[cloud, ii, jj]
    pairs = torch.stack([values[:K], values[K : 2 * K]], dim=1)
    births = values[2 * K :]
    fin_counts = np.bincount(fin_group, minlength=B * ndim).tolist()
    ess_counts = np.bincount(ess_group, minlength=B * ndim).tolist()
    parts = zip(
        torch.split(pairs, fin_counts), torch.split(births, ess_counts),
        torch.split(fin_t, fin_counts), torch.split(ess_t, ess_counts),
    )
    dgms = [Diagram(*p) for p in parts]
    return [Diagrams(dgms[b * ndim : (b + 1) * ndim]) for b in range(B)]
