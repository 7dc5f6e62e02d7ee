"""Engines of the lower-star filtration: vertex values in, critical vertices out.

A simplex's value is the largest value of its vertices. An engine pairs the filtration of one
simplicial complex (a batch of graphs or meshes arrives as their disjoint union) and returns, for
each bar, the vertex whose value is its birth and the vertex whose value is its death.

* ``gudhi``: gudhi's ``SimplexTree`` and ``lower_star_persistence_generators()``, any complex and
  any ``maxdim``;
* ``graph``: graphs only (pairs of vertices, ``maxdim <= 1``), no simplex tree: Kruskal's
  union-find over the edges in order of value, in scipy for the spanning forest and in numpy for
  the elder rule.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, NamedTuple

import numpy as np

from . import register_backend
from ._base import Engine

__all__ = ["LowerStarEngine", "LowerStarPairing", "GudhiLowerStar", "GraphLowerStar"]


class LowerStarPairing(NamedTuple):
    """Critical vertices of each homology dimension, as int64 numpy arrays (element ``k`` is H_k).

    Attributes:
        finite: one ``(k, 2)`` array ``[birth_vertex, death_vertex]`` per dimension.
        essential: one ``(m,)`` array of birth vertices per dimension.
    """

    finite: tuple[np.ndarray, ...]
    essential: tuple[np.ndarray, ...]


class LowerStarEngine(Engine):
    """An engine of the lower-star filtration (see :func:`difftda.lower_star_persistence`)."""

    filtration: ClassVar[str] = "lower_star"
    #: True for an engine that only takes graphs (simplices of at most two vertices).
    graphs_only: ClassVar[bool] = False

    @abstractmethod
    def pairing(self, values: np.ndarray, simplices: np.ndarray, *, maxdim: int) -> LowerStarPairing:
        """Critical vertices of H_0 .. H_maxdim of the lower-star filtration.

        Args:
            values: ``(n,)`` float64 vertex values, finite, already negated for a superlevel
                filtration; every vertex ``0 .. n-1`` belongs to the complex.
            simplices: ``(m, q)`` int64, C-contiguous, every entry in ``0 .. n-1``, each row sorted in
                increasing order; faces are implied. A row may repeat a vertex (it then stands for the
                simplex on its distinct vertices).
            maxdim: the top homology dimension.
        """


def _split(result: LowerStarPairing, maxdim: int) -> LowerStarPairing:
    """``maxdim + 1`` dimensions exactly, as int64 arrays of the documented shapes."""
    fin = [np.zeros((0, 2), np.int64)] * (maxdim + 1)
    ess = [np.zeros(0, np.int64)] * (maxdim + 1)
    for k, a in enumerate(result.finite[: maxdim + 1]):
        fin[k] = np.asarray(a, np.int64).reshape(-1, 2)
    for k, a in enumerate(result.essential[: maxdim + 1]):
        ess[k] = np.asarray(a, np.int64).reshape(-1)
    return LowerStarPairing(tuple(fin), tuple(ess))


def _row_order(simplices: np.ndarray, n: int) -> np.ndarray:
    """The rows in lexicographic order: gudhi's tree inserts sorted rows about 3x faster."""
    m, q = simplices.shape
    if m < 2:
        return simplices
    if float(n) ** q < 2**62:  # one int64 key per row: one argsort instead of a lexsort
        key = simplices[:, 0].copy()
        for c in range(1, q):
            key *= n
            key += simplices[:, c]
        return simplices[np.argsort(key)]
    return simplices[np.lexsort(simplices.T[::-1])]


@register_backend
class GudhiLowerStar(LowerStarEngine):
    """gudhi's ``SimplexTree``: any complex, any dimension, over the field Z/11Z (gudhi's default).

    The vertices go in with their values, the given simplices (rows sorted) with any value; every
    face and simplex then gets the largest value of its vertices in one pass inside gudhi
    (``reset_filtration`` + ``make_filtration_non_decreasing``), and simplices above dimension
    ``maxdim + 1`` are pruned before the pairing. ``lower_star_persistence_generators()`` names the
    vertex of each critical simplex.
    """

    name = "gudhi"
    requires = "gudhi"
    package = "gudhi"
    extra = "gudhi"
    auto_rank = 2

    #: The coefficient field of the homology (gudhi's default).
    coeff: ClassVar[int] = 11

    def __init__(self) -> None:
        import gudhi

        self._gudhi = gudhi

    def pairing(self, values: np.ndarray, simplices: np.ndarray, *, maxdim: int) -> LowerStarPairing:
        n = len(values)
        st = self._gudhi.SimplexTree()
        st.insert_batch(np.arange(n, dtype=np.int64)[None, :], values)
        q = simplices.shape[1] if simplices.ndim == 2 else 0
        if len(simplices) and q >= 2:
            if q > maxdim + 3:  # only faces up to dimension maxdim + 1 matter: fewer to insert and prune
                simplices = _faces(simplices, maxdim + 2)
                q = maxdim + 2
            rows = _row_order(simplices, n)
            st.insert_batch(rows.T, values[rows].max(axis=1))
            if q > 2:  # faces inserted with their simplex's value: give each the max of its vertices
                st.reset_filtration(-np.inf, 1)
                st.make_filtration_non_decreasing()
        st.compute_persistence(homology_coeff_field=self.coeff, persistence_dim_max=st.dimension() <= maxdim)
        fin, ess = st.lower_star_persistence_generators()
        return _split(LowerStarPairing(tuple(fin), tuple(ess)), maxdim)


def _faces(simplices: np.ndarray, size: int) -> np.ndarray:
    """Every ``size``-vertex face of each row (rows sorted, so faces are sorted too)."""
    from itertools import combinations

    cols = list(combinations(range(simplices.shape[1]), size))
    return np.concatenate([simplices[:, list(c)] for c in cols])


@register_backend
class GraphLowerStar(LowerStarEngine):
    """Graphs without a simplex tree: H0 by Kruskal's union-find and the elder rule, H1 by counting.

    Edges are ordered by value, ties broken by the order of their vertices (value, then number), so
    the order is strict and the result deterministic. scipy's minimum spanning forest (Kruskal, in
    C) gives the edges that join two components; every other edge closes a cycle and is an
    essential H1 bar born at its higher vertex (a graph has no triangles, so no H1 bar dies).

    The elder rule on the forest: a vertex's first edge in the order joins it, still alone, to a
    lower vertex; its bar has zero length and its link is made for all vertices at once (numpy
    pointer jumping). Only the remaining forest edges, the merges of two basins (one per H0 bar of
    non-zero length, usually a small fraction of the edges), go through a union-find one at a time.
    """

    name = "graph"
    graphs_only = True
    max_maxdim = 1
    auto_rank = 1

    def pairing(self, values: np.ndarray, simplices: np.ndarray, *, maxdim: int) -> LowerStarPairing:
        if simplices.ndim != 2 or simplices.shape[1] > 2:
            raise ValueError("the graph engine takes edges (m, 2) only; use backend='gudhi' for other complexes")
        return graph_pairing(values, simplices, maxdim)


def graph_pairing(values: np.ndarray, edges: np.ndarray, maxdim: int) -> LowerStarPairing:
    """H0 (and H1 when ``maxdim >= 1``) of the lower-star filtration of a graph (see :class:`GraphLowerStar`)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    n = len(values)
    vorder = np.argsort(values, kind="stable")  # vertices by value, ties by number
    rank = np.empty(n, np.int64)
    rank[vorder] = np.arange(n)
    if edges.shape[1] == 2 and len(edges):
        ru, rv = rank[edges[:, 0]], rank[edges[:, 1]]
        keep = ru != rv  # a self-loop is its vertex
        ru, rv = ru[keep], rv[keep]
    else:
        ru = rv = np.zeros(0, np.int64)
    # An edge's key (rank of its higher end, rank of its lower end) is its place in the filtration.
    key = np.sort(np.maximum(ru, rv) * n + np.minimum(ru, rv))
    if len(key) > 1:  # duplicates merged (np.unique costs several times more)
        fresh = np.empty(len(key), bool)
        fresh[0] = True
        np.not_equal(key[1:], key[:-1], out=fresh[1:])
        key = key[fresh]
    hi, lo = key // n, key % n
    E = len(key)
    # Kruskal in scipy with the position in the order as weight: the forest Kruskal builds in that order.
    w = np.arange(1, E + 1, dtype=np.float64)
    graph = csr_matrix((w, (lo, hi)), shape=(n, n))
    forest = minimum_spanning_tree(graph)
    in_tree = np.zeros(E, bool)
    in_tree[forest.data.astype(np.int64) - 1] = True
    t_hi, t_lo = hi[in_tree], lo[in_tree]  # the forest's edges in filtration order (vertex ranks)
    # A vertex's first edge (the first of its group of equal t_hi) joins it alone to a lower vertex.
    first = np.ones(len(t_hi), bool)
    first[1:] = t_hi[1:] != t_hi[:-1]
    link = np.arange(n)
    link[t_hi[first]] = t_lo[first]
    basin = link.copy()  # pointer jumping: the local minimum each vertex drains to
    while True:
        nxt = basin[basin]
        if np.array_equal(nxt, basin):
            break
        basin = nxt
    saddle_lo, saddle_hi = basin[t_lo[~first]], t_hi[~first]
    births = _merge(basin[saddle_hi].tolist(), saddle_lo.tolist(), n)
    minima = np.flatnonzero(link == np.arange(n))
    dead = np.zeros(n, bool)
    dead[births] = True
    fin = [np.stack([vorder[births], vorder[saddle_hi]], axis=1)]
    ess = [vorder[minima[~dead[minima]]]]
    if maxdim >= 1:
        fin.append(np.zeros((0, 2), np.int64))
        ess.append(vorder[hi[~in_tree]])  # a cycle is born at its closing edge's higher vertex
    return _split(LowerStarPairing(tuple(fin), tuple(ess)), maxdim)


def _merge(a: list[int], b: list[int], n: int) -> np.ndarray:
    """The elder rule at the merges of basins ``a[i]`` and ``b[i]`` (local minima, by rank), in
    filtration order: the birth (the younger minimum) of the component that dies at each merge.

    A union-find whose root is its component's minimum, with path halving.
    """
    parent = list(range(n))
    out = [0] * len(a)
    for i, (x, y) in enumerate(zip(a, b)):
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        while parent[y] != y:
            parent[y] = y = parent[parent[y]]
        if x < y:
            parent[y] = x
            out[i] = y
        else:
            parent[x] = y
            out[i] = x
    return np.asarray(out, np.int64)
