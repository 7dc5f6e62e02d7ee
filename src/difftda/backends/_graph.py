"""Graph helpers shared by the backends: the matrix an engine pairs, and edges found by value.

Critical edges are canonical: the same input gives the same edges in every run, on any number of
threads. Each engine (giotto-ph and ripser.py in float32, gudhi in float64) pairs deterministically
on one thread, and reports values an edge can be recovered from. Where that recovery is not unique
(several edges share a critical value in the engine's precision) the backends pair again, either on
one thread (giotto) or on the *rank matrix* (:func:`rank_matrix`): every edge replaced by its
position in the order "length in the matrix's precision, then the larger colexicographic index of
``(i, j)``, ``i < j``, first" (ripser's own edge order). Ranks have no ties, so every critical value
names exactly one edge, and the pairing is one of the matrix itself (the order refines it).

A float64 matrix whose lengths leave float32's normal range is paired exactly too: scaled by a power
of two (exact) when its spread fits, else by its ranks (:func:`float32_matrix`). Values are always
read from the original matrix afterwards, so only the order of lengths matters here.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from .. import _checks
from ._base import DimPairing

# scipy's graphs read an explicit 0 as "no edge"; duplicate points have distance 0, so their edges
# get this positive stand-in, smaller than every real distance, which keeps the order of ties.
_TINY = np.nextafter(0.0, 1.0)

#: Ranks above this are not exact in float32 (the precision giotto-ph and ripser.py pair in).
MAX_FLOAT32_RANK = 2**24
# float32 lengths are paired as they are when every positive kept length lies in [2**MIN, 2**MAX):
# normal float32 numbers, away from overflow (a subnormal keeps fewer bits, so more false ties).
_F32_MIN_EXP, _F32_MAX_EXP = -126, 127


def mst_h0(dist: np.ndarray, thresh: float) -> DimPairing:
    """H0 critical edges from a minimum spanning forest (Kruskal in scipy, no Python loop per vertex).

    Each forest edge kills one component. Rooting every tree at its smallest vertex, the edge
    ``(parent, child)`` is written as the death of the component born at ``child``; the roots are the
    essential bars. All births are 0, so which vertex names a component does not change any value.
    """
    n = dist.shape[0]
    # A sparse graph: scipy's dense input would read every entry below ~1e-8 as "no edge".
    i, j = _upper(n)
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


class PairingMatrix(NamedTuple):
    """The matrix handed to an engine, and how its values map back to edges.

    Attributes:
        matrix: ``(n, n)`` C-contiguous, in the engine's precision: the input itself, a copy scaled
            by a power of two, or ranks.
        thresh: the threshold in ``matrix``'s values (an edge is kept iff its entry is ``<= thresh``).
        ranked: for a rank matrix, ``(i, j)``: the edge of rank ``r`` is ``(i[r - 1], j[r - 1])``.
    """

    matrix: np.ndarray
    thresh: float
    ranked: tuple[np.ndarray, np.ndarray] | None = None

    def edges(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, unique)`` for each value, as :func:`find_edges` (exact and unique for ranks)."""
        if self.ranked is None:
            return find_edges(self.matrix, values, self.matrix.dtype.type)
        pos = np.asarray(values, np.float64).reshape(-1).astype(np.int64) - 1
        if pos.size and (pos.min() < 0 or pos.max() >= self.ranked[0].size):
            raise RuntimeError("internal error: a persistence value matches no edge rank")
        return self.ranked[0][pos], self.ranked[1][pos], np.ones(pos.size, bool)


def _down32(thresh: float) -> float:
    """The largest float32 ``<= thresh``: an entry ``e`` of a float32 matrix has ``e <= thresh`` iff
    ``e <= _down32(thresh)`` (engines compare in float32, and a rounded-up threshold would keep an
    edge longer than ``thresh``)."""
    t = np.float32(thresh)
    if float(t) > thresh:
        t = np.nextafter(t, np.float32(-np.inf))
    return float(t)


def float32_matrix(dist: np.ndarray, thresh: float) -> PairingMatrix:
    """The matrix a float32 engine (giotto-ph, ripser.py) pairs so that it pairs ``dist`` exactly.

    A float32 matrix is returned as it is. A float64 one is cast to float32 (what the engines would
    do themselves), after a scale by ``2**k`` when its positive kept lengths leave float32's normal
    range (exact: only exponents change), or replaced by its ranks when their spread exceeds that
    range (:func:`rank_matrix`). With a finite ``thresh`` the entries longer than ``thresh`` become
    ``inf``, so that the cast cannot move an edge across the threshold.
    """
    if dist.dtype == np.float32:
        return PairingMatrix(dist, _down32(thresh))
    keep = dist <= thresh if math.isfinite(thresh) else None
    top = float(np.max(dist, initial=0.0, where=keep)) if keep is not None else float(dist.max(initial=0.0))
    positive = dist > 0 if keep is None else (dist > 0) & keep
    low = float(np.min(dist, initial=np.inf, where=positive))
    scale = 0
    if top > 0 and low < np.inf:
        e_top, e_low = math.frexp(top)[1], math.frexp(low)[1]  # top < 2**e_top, low >= 2**(e_low - 1)
        lo, hi = _F32_MIN_EXP + 1 - e_low, _F32_MAX_EXP - e_top  # the exponents k that fit
        if lo > hi:
            return rank_matrix(dist, thresh, np.float32)
        if not lo <= 0 <= hi:
            scale = (lo + hi) // 2
    with np.errstate(over="ignore"):
        matrix = (dist * 2.0**scale if scale else dist).astype(np.float32)
    if keep is None:
        return PairingMatrix(matrix, math.inf)
    matrix[~keep] = np.inf
    return PairingMatrix(matrix, float(np.finfo(np.float32).max))


@functools.lru_cache(maxsize=4)
def _lower(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)``, ``i < j``, of every edge, in decreasing colexicographic order (``j`` first)."""
    j, i = np.tril_indices(n, k=-1)  # increasing colex order: j, then i
    return np.ascontiguousarray(i[::-1]), np.ascontiguousarray(j[::-1])


def rank_matrix(dist: np.ndarray, thresh: float, dtype: type = np.float32) -> PairingMatrix:
    """``dist`` with each edge replaced by its rank ``1, 2, ...`` in the canonical order: length,
    then the larger colexicographic index first (``(i, j)`` before ``(i', j')`` when ``j > j'``, or
    ``j == j'`` and ``i > i'``; ripser's order of equal-length edges). Edges longer than ``thresh``
    share the rank after the last kept one, and the returned threshold is the number of kept edges.

    Raises:
        ValueError: more kept edges than ``dtype`` counts exactly (``2**24`` in float32).
    """
    n = dist.shape[0]
    # The edge list (two index arrays, the lengths, their order, the ranks) and the ranked matrix.
    _checks.check_memory(44 * n * (n - 1) // 2 + np.dtype(dtype).itemsize * n * n, f"ranking the {n} x {n} matrix",
                         "Pass thresh= to keep fewer edges, or use fewer points.")
    i, j = _lower(n)
    lengths = dist[i, j]
    order = np.argsort(lengths, kind="stable")  # stable: equal lengths keep the decreasing colex order
    kept = int(np.searchsorted(lengths[order], thresh, side="right")) if math.isfinite(thresh) else lengths.size
    limit = MAX_FLOAT32_RANK if np.dtype(dtype) == np.float32 else 2**53
    if kept >= limit:
        raise ValueError(
            f"the {n} x {n} matrix keeps {kept} edges, more than the {limit} that {np.dtype(dtype).name} ranks "
            "count exactly; pass a smaller thresh=, or use backend='gudhi', which pairs in float64"
        )
    ranks = np.empty(lengths.size, dtype)
    ranks[order] = np.minimum(np.arange(1, lengths.size + 1), kept + 1)
    matrix = np.zeros((n, n), dtype)
    matrix[i, j] = ranks
    matrix[j, i] = ranks
    edges = (i[order[:kept]], j[order[:kept]])
    return PairingMatrix(matrix, float(kept) if kept < lengths.size else math.inf, edges)


_HASH_BITS = 16
_GOLDEN = {4: np.uint32(0x9E3779B1), 8: np.uint64(0x9E3779B97F4A7C15)}


def _matching(lengths: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A mask of the entries of ``lengths`` that may equal one of ``values`` (same dtype): every
    match, plus a few hash collisions. One pass with a small table, not a sort of ``lengths``."""
    size = lengths.dtype.itemsize
    if size not in _GOLDEN or values.size > 2**12:
        return np.isin(lengths, values)
    ut = np.uint32 if size == 4 else np.uint64
    shift = ut(8 * size - _HASH_BITS)
    table = np.zeros(1 << _HASH_BITS, bool)
    table[(values.view(ut) * _GOLDEN[size]) >> shift] = True
    h = lengths.view(ut) * _GOLDEN[size]
    h >>= shift
    return table[h]


def tied(matrix: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each value, whether more than one edge ``(i, j)``, ``i < j``, of the symmetric matrix has
    exactly that length (compared in ``matrix``'s dtype). A zero value counts as tied (the diagonal).

    Costs one pass over the matrix with a small hash table, then an exact count among the few entries
    that hash like a value (about 0.2 ms for 256 points).
    """
    v = np.ascontiguousarray(np.asarray(values).astype(matrix.dtype).reshape(-1))
    if not v.size:
        return np.zeros(0, bool)
    flat = np.ascontiguousarray(matrix).reshape(-1)
    candidates = np.sort(flat[_matching(flat, v)])
    count = np.searchsorted(candidates, v, side="right") - np.searchsorted(candidates, v, side="left")
    return (count > 2) | (v == 0)  # the symmetric matrix holds each edge twice


def colex(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The colexicographic index of each edge ``{i, j}`` (ripser's edge index: ``C(max, 2) + min``)."""
    lo, hi = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
    return hi * (hi - 1) // 2 + lo


def first_colex(matrix: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each value, the smallest colexicographic index among the edges ``(i, j)``, ``i < j``, of the
    symmetric matrix with exactly that length (compared in ``matrix``'s dtype); -1 for none. One pass
    over the matrix with a small hash table, then an exact look at the few candidates."""
    v = np.ascontiguousarray(np.asarray(values).astype(matrix.dtype).reshape(-1))
    out = np.full(v.size, -1, np.int64)
    if not v.size:
        return out
    n = matrix.shape[0]
    flat = np.ascontiguousarray(matrix).reshape(-1)
    pos = np.flatnonzero(_matching(flat, v))
    row, col = np.divmod(pos, n)
    upper = row < col
    pos, row, col = pos[upper], row[upper], col[upper]
    key, index = flat[pos], colex(row, col)
    order = np.lexsort((index, key))  # by length, then colex index: the first of each length leads
    key, index = key[order], index[order]
    at = np.searchsorted(key, v, side="left")
    hit = at < key.size
    hit[hit] = key[at[hit]] == v[hit]
    out[hit] = index[at[hit]]
    return out


def find_edges(dist: np.ndarray, values: np.ndarray, dtype: type = np.float64) -> tuple[np.ndarray, ...]:
    """For each value, an edge ``(i, j)``, ``i < j``, of exactly that length, and whether it is the
    only edge of that length: ``(i, j, unique)``.

    Used where an engine reports values but not (reliably) edges. Lengths are compared after a cast
    to ``dtype`` (float32 for engines that pair in float32). Among the edges of equal length the first
    one in row-major order is returned (callers that need a canonical edge at a tie pair the rank
    matrix instead). Only the edges whose length is among ``values`` are sorted.
    """
    v = np.ascontiguousarray(np.asarray(values).astype(dtype).reshape(-1))
    i, j = _upper(dist.shape[0])
    lengths = dist[i, j].astype(dtype, copy=False)
    candidates = np.flatnonzero(_matching(lengths, v)) if v.size else np.zeros(0, np.int64)
    order = candidates[np.argsort(lengths[candidates], kind="stable")]  # ties stay in row-major order
    ranked = lengths[order]
    pos = np.searchsorted(ranked, v, side="left")
    end = np.searchsorted(ranked, v, side="right")
    if v.size and (ranked.size == 0 or not np.array_equal(ranked[np.minimum(pos, ranked.size - 1)], v)):
        raise RuntimeError("internal error: a persistence value matches no edge length of the matrix")
    edge = order[np.minimum(pos, max(ranked.size - 1, 0))] if v.size else np.zeros(0, np.int64)
    return i[edge], j[edge], (end - pos) == 1
