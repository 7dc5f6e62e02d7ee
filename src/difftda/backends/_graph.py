"""Graph helpers shared by the backends that do not report every critical edge themselves."""

from __future__ import annotations

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


class EdgeLookup:
    """Find, for given values, an edge of a distance matrix with exactly that length.

    Used where an engine reports values but not (reliably) edges. Lengths are compared after a cast
    to ``dtype`` (float32 for engines that pair in float32). Tie rule, documented and deterministic:
    among the edges of equal length, the first one in row-major order of ``(i, j)``, ``i < j``.
    """

    def __init__(self, dist: np.ndarray, dtype: type = np.float64) -> None:
        self.i, self.j = np.triu_indices(dist.shape[0], k=1)
        lengths = dist[self.i, self.j].astype(dtype)
        self.order = np.argsort(lengths, kind="stable")
        self.sorted = lengths[self.order]
        self.dtype = dtype

    def __call__(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i, j, _ = self.find(values)
        return i, j

    def find(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, unique)``: an edge of each value, and whether it is the only edge of that length."""
        v = np.asarray(values).astype(self.dtype)
        pos = np.searchsorted(self.sorted, v, side="left")
        end = np.searchsorted(self.sorted, v, side="right")
        pos = np.minimum(pos, self.sorted.size - 1)
        if self.sorted.size == 0 or not np.array_equal(self.sorted[pos], v):
            raise RuntimeError("internal error: a persistence value matches no edge length of the matrix")
        edge = self.order[pos]
        return self.i[edge], self.j[edge], (end - pos) == 1
