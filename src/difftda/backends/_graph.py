"""Graph helpers shared by the backends that do not report every critical edge themselves."""

from __future__ import annotations

import functools

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from ._base import DimPairing

# scipy's graphs read an explicit 0 as "no edge"; duplicate points have distance 0, so their edges
# get this positive stand-in, smaller than every real distance, which keeps the order of ties.
_TINY = np.nextafter(0.0, 1.0)


def mst_h0(dist: np.ndarray, thresh: float) -> DimPairing:
    """H0 critical edges from a minimum spanning forest (Kruskal in scipy, no Python loop per vertex).

    Each forest edge kills one component. Rooting every tree at its smallest vertex, the edge
    ``(parent, child)`` is written as the death of the component born at ``child``; the roots are the
    essential bars. All births are 0, so which vertex names a component does not change any value.
    """
    n = dist.shape[0]
    # A sparse graph: scipy's dense input would read every entry below ~1e-8 as "no edge".
    i, j = np.triu_indices(n, k=1)
    w = dist[i, j]
    keep = w <= thresh
    i, j, w = i[keep], j[keep], np.maximum(w[keep], _TINY)
    forest = minimum_spanning_tree(coo_matrix((w, (i, j)), shape=(n, n)).tocsr())
    _, labels = connected_components(forest, directed=False)
    _, roots = np.unique(labels, return_index=True)
    # A virtual vertex n joined to every root turns the forest into one tree: one BFS orients it all.
    fc = forest.tocoo()
    rows = np.concatenate([fc.row, np.full(roots.size, n)])
    cols = np.concatenate([fc.col, roots])
    data = np.ones(rows.size)
    tree = coo_matrix((data, (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    _, pred = breadth_first_order(tree, n, directed=False, return_predecessors=True)
    child = np.setdiff1d(np.arange(n), roots, assume_unique=True)
    parent = pred[child]
    finite = np.stack([child, child, parent, child], axis=1).astype(np.int64)
    essential = np.stack([roots, roots], axis=1).astype(np.int64)
    return DimPairing(finite, essential)


@functools.lru_cache(maxsize=8)
def _upper(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def find_edges(dist: np.ndarray, values: np.ndarray, dtype: type = np.float64) -> tuple[np.ndarray, ...]:
    """For each value, an edge ``(i, j)``, ``i < j``, of exactly that length, and whether it is the
    only edge of that length: ``(i, j, unique)``.

    Used where an engine reports values but not (reliably) edges. Lengths are compared after a cast
    to ``dtype`` (float32 for engines that pair in float32). Tie rule, documented and deterministic:
    among the edges of equal length, the first one in row-major order. Only the edges whose length is
    among ``values`` are sorted, so a few values cost one pass over the matrix.
    """
    v = np.asarray(values).astype(dtype).reshape(-1)
    i, j = _upper(dist.shape[0])
    lengths = dist[i, j].astype(dtype, copy=False)
    candidates = np.flatnonzero(np.isin(lengths, v))
    order = candidates[np.argsort(lengths[candidates], kind="stable")]  # ties stay in row-major order
    ranked = lengths[order]
    pos = np.searchsorted(ranked, v, side="left")
    end = np.searchsorted(ranked, v, side="right")
    if v.size and (ranked.size == 0 or not np.array_equal(ranked[np.minimum(pos, ranked.size - 1)], v)):
        raise RuntimeError("internal error: a persistence value matches no edge length of the matrix")
    edge = order[np.minimum(pos, max(ranked.size - 1, 0))] if v.size else np.zeros(0, np.int64)
    return i[edge], j[edge], (end - pos) == 1
