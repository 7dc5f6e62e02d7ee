"""Engines of the lower-star filtration: vertex values in, critical vertices out.

A simplex's value is the largest value of its vertices. An engine pairs the filtration of one
simplicial complex (a batch of graphs or meshes arrives as their disjoint union) and returns, for
each bar, the vertex whose value is its birth and the vertex whose value is its death.

* ``gudhi``: gudhi's ``SimplexTree`` and ``lower_star_persistence_generators()``, any complex and
  any ``maxdim``;
* ``graph``: graphs only (pairs of vertices, ``maxdim <= 1``), no simplex tree: Kruskal's
  spanning forest over the edges in order of value in scipy, the elder rule in rounds of whole-array
  numpy and scipy operations (no Python step per bar).
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

    @classmethod
    def refuses(cls, maxdim: int | None, *, graph: bool | None = None, **request: object) -> str | None:
        if cls.graphs_only and graph is False:
            return "takes graphs only (simplices of at most 2 vertices)"
        return super().refuses(maxdim, **request)

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
    pointer jumping). The remaining forest edges merge two basins each (one per H0 bar of non-zero
    length); which minimum dies at each merge is found in a few rounds over all merges at once (see
    :func:`elder_rule`), not one merge at a time.
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
    births = elder_rule(basin[saddle_hi], saddle_lo, n)
    minima = np.flatnonzero(link == np.arange(n))
    dead = np.zeros(n, bool)
    dead[births] = True
    fin = [np.stack([vorder[births], vorder[saddle_hi]], axis=1)]
    ess = [vorder[minima[~dead[minima]]]]
    if maxdim >= 1:
        fin.append(np.zeros((0, 2), np.int64))
        ess.append(vorder[hi[~in_tree]])  # a cycle is born at its closing edge's higher vertex
    return _split(LowerStarPairing(tuple(fin), tuple(ess)), maxdim)


def elder_rule(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The elder rule at a sequence of merges, without a Python step per merge.

    ``a[i]`` and ``b[i]`` are vertices of ``0 .. n-1`` (a vertex's number is also its rank: the smaller
    number is the older minimum) joined by the ``i``-th merge, in filtration order; the merges form a
    forest (no merge joins two vertices already connected). Returns, for each merge, the minimum of
    the younger of the two components it joins: the birth of the bar that dies there.

    Two exact stages, each a number of rounds that grows like ``log(len(a))`` at most:

    * contraction: a component's first remaining merge joins it, unchanged until then, to whatever
      has gathered around the vertex on the other side, whose minimum is at most that vertex's.
      When that vertex is older, the component dies at that merge, and merging it into that vertex
      changes no other answer. Every such component (a constant fraction of them on most inputs) is
      resolved and merged in one round of numpy pointer jumping. The rounds go on while each
      resolves at least a quarter of the remaining merges;
    * halving: the rest by divide and conquer on the order. The merges split into an early and a
      late half; the components of the early half (one scipy ``connected_components`` call) become
      the vertices of the late half, each carrying its minimum. All halves of a level go in one
      call, so there are ``ceil(log2(m))`` calls for ``m`` merges; when every half holds one merge,
      its two vertices are the two components it joins.

    >>> elder_rule(np.array([1, 3]), np.array([3, 0]), 4).tolist()  # 1-3: 3 dies; then {1, 3} meets 0: 1 dies
    [3, 1]
    """
    m = len(a)
    out = np.empty(m, np.int64)
    if m == 0:
        return out
    ea, eb, low = _compact(np.asarray(a, np.int64), np.asarray(b, np.int64), np.arange(n, dtype=np.int64))
    place = np.arange(m)  # each remaining merge's place in the order (they stay sorted)
    while len(place):
        k = len(low)
        first = np.full(k, len(place))  # each component's first merge
        idx = np.arange(len(place))
        np.minimum.at(first, ea, idx)
        np.minimum.at(first, eb, idx)
        me = np.arange(k)
        fa = ea[first]
        other = np.where(fa == me, eb[first], fa)  # the component it meets there
        dies = low[other] < low
        ndie = int(np.count_nonzero(dies))
        if ndie == 0:
            break
        out[place[first[dies]]] = low[dies]
        parent = np.where(dies, other, me)  # always towards an older minimum: no cycles
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
        ea, eb = parent[ea], parent[eb]
        alive = ea != eb
        ea, eb, place = ea[alive], eb[alive], place[alive]
        if not len(place):
            return out
        ea, eb, low = _compact(ea, eb, low)
        if 4 * ndie < len(place) + ndie:
            break
    out[place] = _halving(ea, eb, low)
    return out


def _compact(ea: np.ndarray, eb: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renumbers the vertices that ``ea`` and ``eb`` use as ``0 .. k-1``; ``low`` follows them."""
    used = np.zeros(len(low), bool)
    used[ea] = True
    used[eb] = True
    keep = np.flatnonzero(used)
    new = np.empty(len(low), np.int64)
    new[keep] = np.arange(len(keep))
    return new[ea], new[eb], low[keep]


def _halving(ea: np.ndarray, eb: np.ndarray, low: np.ndarray) -> np.ndarray:
    """The elder rule by divide and conquer on the order (see :func:`elder_rule`): ``low[v]`` is the
    minimum that vertex ``v`` stands for; returns the younger minimum at each merge ``ea[i] - eb[i]``."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    m = len(ea)
    order = np.arange(m)
    ones = np.ones(m)
    for bit in range((m - 1).bit_length() - 1, -1, -1):
        # The halves of this level: merges that agree on the bits above `bit`; the early half has `bit` clear.
        early = (order & (1 << bit)) == 0
        late = ~early
        k = len(low)
        graph = csr_matrix((ones[: int(np.count_nonzero(early))], (ea[early], eb[early])), shape=(k, k))
        count, label = connected_components(graph, directed=False)
        comp_low = np.full(count, np.iinfo(np.int64).max)
        np.minimum.at(comp_low, label, low)
        # The late half meets the components of the early half: new vertices k + label, apart from the early half's.
        ea[late] = label[ea[late]] + k
        eb[late] = label[eb[late]] + k
        ea, eb, low = _compact(ea, eb, np.concatenate([low, comp_low]))
    return np.maximum(low[ea], low[eb])
