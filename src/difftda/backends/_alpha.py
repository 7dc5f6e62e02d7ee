"""Engines of the alpha filtrations of 2-D and 3-D point clouds: alpha, Delaunay-Cech and weak alpha.

An engine pairs one cloud (a detached float64 ``(n, D)`` array) and returns an :class:`AlphaPairing`:
a table of *defining simplices* (the simplex whose circumradius is a critical value), their
values, and for every bar the rows of the table where it is born and dies. The filtration module
recomputes the radii of those simplices in torch, so values are differentiable in the points.

* alpha: a simplex's value is its squared circumradius, unless a coface is "attached" to it (a
  vertex of the coface lies inside its smallest circumsphere); then it takes the value of a coface,
  and the defining simplex is the coface whose own squared circumradius equals the value.
* Delaunay-Cech: a simplex's value is the squared radius of its minimal enclosing ball, which is
  the circumball of its smallest face whose circumball holds every vertex of the simplex.
* weak alpha: the flag (Vietoris-Rips) filtration of the Delaunay graph; values are edge lengths.
"""

from __future__ import annotations

import gc
from abc import abstractmethod
from itertools import chain
from typing import ClassVar, NamedTuple

import numpy as np

from .. import _jit
from . import register_backend
from ._base import Engine, from_generators

__all__ = ["AlphaEngine", "AlphaPairing", "KINDS", "delaunay_edges", "circum_sq", "meb_faces"]

KINDS = ("alpha", "cech", "weak")


class AlphaPairing(NamedTuple):
    """The pairing of one cloud, as int64 / float64 numpy arrays.

    Attributes:
        table: ``(R, D + 1)`` vertex ids of the defining simplices, padded with -1 (a row with one
            vertex is a vertex: value 0).
        values: ``(R,)`` the engine's value of each row (squared radius for alpha and Cech, edge
            length for weak alpha).
        finite: ``(K, 2)`` table rows of each finite bar's birth and death.
        finite_dim: ``(K,)`` homology dimension of each finite bar.
        essential: ``(M,)`` table row of each essential bar's birth.
        essential_dim: ``(M,)`` its homology dimension.
    """

    table: np.ndarray
    values: np.ndarray
    finite: np.ndarray
    finite_dim: np.ndarray
    essential: np.ndarray
    essential_dim: np.ndarray


class AlphaEngine(Engine):
    """An engine of the ``"alpha"`` filtration; ``kinds`` says which of alpha / cech / weak it computes."""

    filtration: ClassVar[str] = "alpha"
    kinds: ClassVar[tuple[str, ...]] = KINDS

    @classmethod
    def refuses(cls, maxdim: int | None, *, kind: str | None = None, **request: object) -> str | None:
        if kind is not None and kind not in cls.kinds:
            return f"computes kind {', '.join(map(repr, cls.kinds))} only; got kind={kind!r}"
        return super().refuses(maxdim, **request)

    @abstractmethod
    def pairing(self, points: np.ndarray, *, maxdim: int, kind: str) -> AlphaPairing:
        """Pair one cloud: ``points`` is a C-contiguous float64 ``(n, D)`` array, ``D`` in {2, 3},
        ``n >= 1``, finite."""


# --------------------------------------------------------------------------------------------
# Geometry on the host (float64, vectorized)


def circum_sq(p: np.ndarray) -> np.ndarray:
    """Squared circumradius of simplices ``p`` ``(m, k, D)`` (k = 1..4 vertices, D = 2 or 3)."""
    k = p.shape[1]
    if k == 1:
        return np.zeros(len(p))
    return (_circum_offset(p) ** 2).sum(-1)


def _circum_offset(p: np.ndarray) -> np.ndarray:
    """Circumcenter minus the first vertex, ``(m, D)``, for ``(m, k, D)`` simplices (k = 2..4)."""
    k = p.shape[1]
    a = p[:, 1] - p[:, 0]
    if k == 2:
        return a / 2
    b = p[:, 2] - p[:, 0]
    if k == 3:
        # Solve [a.a a.b; a.b b.b] lam = (a.a, b.b) / 2 in the plane of the triangle (any D).
        aa, bb, ab = (a * a).sum(-1), (b * b).sum(-1), (a * b).sum(-1)
        det = aa * bb - ab * ab
        safe = np.where(det > 0, det, 1.0)
        la = np.where(det > 0, bb * (aa - ab) / (2 * safe), np.inf)
        lb = np.where(det > 0, aa * (bb - ab) / (2 * safe), np.inf)
        with np.errstate(invalid="ignore"):
            return la[:, None] * a + lb[:, None] * b
    c = p[:, 3] - p[:, 0]
    bc, ca, ab = np.cross(b, c), np.cross(c, a), np.cross(a, b)
    det = (a * bc).sum(-1)
    num = (a * a).sum(-1)[:, None] * bc + (b * b).sum(-1)[:, None] * ca + (c * c).sum(-1)[:, None] * ab
    safe = np.where(det != 0, det, 1.0)
    return np.where((det != 0)[:, None], num / (2 * safe)[:, None], np.inf)


def _faces(k: int) -> list[tuple[int, ...]]:
    """Faces with at least two vertices of a simplex with ``k`` vertices, smallest first."""
    from itertools import combinations

    return [f for s in range(2, k + 1) for f in combinations(range(k), s)]


def meb_faces(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    """For ``(m, k)`` simplices, the face (``(m, k)`` vertex ids padded with -1) whose circumball is
    the minimal enclosing ball: the smallest circumball among the faces whose ball holds every
    vertex. ``k == 1`` rows are returned as they are."""
    m, k = simplices.shape
    if k == 1 or m == 0:
        return simplices.copy()
    p = points[simplices]  # (m, k, D)
    best_r = np.full(m, np.inf)
    best = np.full((m, k), -1, np.int64)
    for face in _faces(k):
        q = p[:, list(face)]
        off = _circum_offset(q)
        center = q[:, 0] + off
        r2 = (off**2).sum(-1)
        dist2 = ((p - center[:, None]) ** 2).sum(-1).max(-1)
        ok = np.isfinite(r2) & (dist2 <= r2 * (1 + 1e-10) + 1e-300) & (r2 < best_r)
        best_r = np.where(ok, r2, best_r)
        hit = np.flatnonzero(ok)
        best[hit] = -1
        best[hit[:, None], np.arange(len(face))] = simplices[hit][:, list(face)]
    return best


def delaunay_edges(points: np.ndarray) -> np.ndarray:
    """The edges ``(E, 2)`` (``i < j``) of a Delaunay triangulation of ``points`` ``(n, D)``.

    Points that the triangulation leaves out (duplicates) get an edge to their nearest vertex.
    A cloud that lies in a line or a plane is triangulated in its own affine hull (a collinear
    cloud gives the path through its sorted points).
    """
    from scipy.spatial import Delaunay, QhullError

    n, D = points.shape
    if n < 2:
        return np.zeros((0, 2), np.int64)
    centered = points - points.mean(0)
    # The D x D second moments tell a clearly full-dimensional cloud at once (their eigenvalues are
    # the squared singular values, to about 1e-16 of the largest); only a cloud that may be flat pays
    # for the SVD that decides its rank.
    eig = np.linalg.eigvalsh(centered.T @ centered)
    if eig[0] > 1e-8 * eig[-1] > 0:
        rank, vt = D, None
    else:
        sv, vt = np.linalg.svd(centered, full_matrices=False)[1:]
        scale = sv[0] if sv[0] > 0 else 1.0
        rank = int((sv > scale * 1e-10).sum())
    if rank == 0:  # every point is the same: a star of zero-length edges
        return np.stack([np.zeros(n - 1, np.int64), np.arange(1, n)], axis=1)
    coords = centered @ vt[:rank].T if rank < D else points
    if rank == 1:
        order = np.argsort(coords[:, 0], kind="stable")
        edges = np.stack([order[:-1], order[1:]], axis=1)
    else:
        try:
            tri = Delaunay(coords)
        except QhullError:  # nearly flat input that Qhull cannot resolve: joggled triangulation
            tri = Delaunay(coords, qhull_options="Qbb Qc Qz Q12 QJ")
        s = tri.simplices
        k = s.shape[1]
        cols = [(i, j) for i in range(k) for j in range(i + 1, k)]
        edges = np.concatenate([s[:, [i, j]] for i, j in cols])
        if len(tri.coplanar):
            edges = np.concatenate([edges, tri.coplanar[:, [0, 2]]])
    edges = np.sort(edges.astype(np.int64), axis=1)
    code = np.unique(edges[:, 0] * n + edges[:, 1])
    return np.stack([code // n, code % n], axis=1)


def _lengths(points: np.ndarray, edges: np.ndarray) -> np.ndarray:
    d = points[edges[:, 0]] - points[edges[:, 1]]
    return np.sqrt((d * d).sum(-1))


def _weak_pairing(points: np.ndarray, gens: tuple, maxdim: int) -> AlphaPairing:
    """Generators in the giotto-ph / gudhi flag layout -> an :class:`AlphaPairing` of edges."""
    n, D = points.shape
    pairing = from_generators(gens, maxdim)
    fin = [p.finite for p in pairing]
    ess = [p.essential for p in pairing]
    fdim = np.repeat(np.arange(maxdim + 1), [len(f) for f in fin])
    edim = np.repeat(np.arange(maxdim + 1), [len(e) for e in ess])
    fin_all = np.concatenate(fin).reshape(-1, 4)
    ess_all = np.concatenate(ess).reshape(-1, 2)
    K, M = len(fin_all), len(ess_all)
    # Rows: the K birth edges, the K death edges, the M essential births (vertices for H0).
    edges = np.concatenate([fin_all[:, :2], fin_all[:, 2:], ess_all])
    lo, hi = np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1])
    vertex = lo == hi
    table = np.full((len(edges), D + 1), -1, np.int64)
    table[:, 0] = lo
    table[:, 1] = np.where(vertex, -1, hi)
    values = np.where(vertex, 0.0, _lengths(points, edges))
    finite = np.stack([np.arange(K), np.arange(K, 2 * K)], axis=1)
    return AlphaPairing(table, values, finite, fdim, np.arange(2 * K, 2 * K + M), edim)


def _check_kind(engine: AlphaEngine, kind: str) -> None:
    reason = engine.refuses(None, kind=kind)
    if reason is not None:
        raise ValueError(f"backend {engine.name!r} {reason}. Use backend='gudhi' (every kind) or 'auto'")


# --------------------------------------------------------------------------------------------
# Engines


@register_backend
class GudhiAlpha(AlphaEngine):
    """gudhi: ``AlphaComplex`` (alpha), ``DelaunayCechComplex`` (Delaunay-Cech), and a flag complex
    on the Delaunay edges (weak alpha), paired by the simplex tree's persistent cohomology.

    Bars are read from ``SimplexTree.persistence_pairs()`` and their values from
    ``persistence_intervals_in_dimension`` (the same order within a dimension). Critical simplices
    whose squared circumradius is not their value (alpha: attached to a coface) get their defining
    coface from ``get_cofaces``, one call per such simplex (few: they are rarely critical).

    Args:
        precision: gudhi's ``'fast'``, ``'safe'`` (default) or ``'exact'`` construction.
    """

    name = "gudhi"
    requires = "gudhi"
    package = "gudhi"
    extra = "alpha"
    auto_rank = 2

    def __init__(self, *, precision: str = "safe") -> None:
        if precision not in ("fast", "safe", "exact"):
            raise ValueError(f"gudhi option precision must be 'fast', 'safe' or 'exact'; got {precision!r}")
        import gudhi

        self._gudhi = gudhi
        self.precision = precision

    def pairing(self, points: np.ndarray, *, maxdim: int, kind: str) -> AlphaPairing:
        _check_kind(self, kind)
        gd = self._gudhi
        if kind == "weak":
            n = len(points)
            edges = delaunay_edges(points)
            st = gd.SimplexTree()
            st.insert_batch(np.arange(n)[None, :], np.zeros(n))
            if len(edges):
                st.insert_batch(edges.T.copy(), _lengths(points, edges))
            st.expansion(maxdim + 1)
            st.compute_persistence(homology_coeff_field=2, persistence_dim_max=st.dimension() <= maxdim)
            return _weak_pairing(points, st.flag_persistence_generators(), maxdim)
        cls = gd.AlphaComplex if kind == "alpha" else gd.DelaunayCechComplex
        st = cls(points=points, precision=self.precision).create_simplex_tree()
        if st.dimension() > maxdim + 1:
            st.prune_above_dimension(maxdim + 1)
        st.compute_persistence(homology_coeff_field=2, persistence_dim_max=st.dimension() <= maxdim)
        return _simplex_tree_pairing(st, points, maxdim, kind)


def _persistence_pairs(st: object, width: int) -> tuple[np.ndarray, np.ndarray]:
    """gudhi's persistence pairs as ``(births, deaths)``, each ``(m, width)`` int64 vertex rows padded
    with -1 (an essential bar's death row is all -1).

    One flat pass over the lists gudhi returns: their lengths (read through ``bytes``), then every
    vertex id (:func:`numpy.fromiter`); no Python loop per pair.
    """
    # persistence_pairs() builds one Python list per simplex; the cyclic garbage collector would scan
    # them again and again while they are made (they hold no cycles), so it pauses meanwhile.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        flat = list(chain.from_iterable(st.persistence_pairs()))  # birth 0, death 0, birth 1, ...
        lens = np.frombuffer(bytes(map(len, flat)), np.uint8).astype(np.int64)  # bytes(): the fastest reader
        verts = np.fromiter(chain.from_iterable(flat), np.int64, int(lens.sum()))
        del flat
    finally:
        if was_enabled:
            gc.enable()
    if lens.size and lens.max() > width:
        raise RuntimeError(f"gudhi returned a simplex with {int(lens.max())} vertices; at most {width} expected")
    out = np.full((len(lens), width), -1, np.int64)
    starts = np.cumsum(lens) - lens
    for j in range(int(lens.max(initial=0))):  # one column at a time (at most 4)
        rows = np.flatnonzero(lens > j)
        out[rows, j] = verts[starts[rows] + j]
    return out[0::2], out[1::2]


def _intervals(st: object, k: int) -> np.ndarray:
    """``(m, 2)`` float64 intervals of dimension ``k``, in the order of :func:`_persistence_pairs`.

    Reads gudhi's list of tuples with one :func:`numpy.fromiter` (several times faster than the
    ``np.array`` that ``persistence_intervals_in_dimension`` applies to it); the public method
    stands in when the internal one is not there.
    """
    raw = getattr(getattr(st, "_pers", None), "_intervals_in_dimension", None)
    if raw is None:
        return np.asarray(st.persistence_intervals_in_dimension(k), np.float64).reshape(-1, 2)
    iv = raw(k)
    return np.fromiter(chain.from_iterable(iv), np.float64, 2 * len(iv)).reshape(-1, 2)


def _simplex_tree_pairing(st: object, points: np.ndarray, maxdim: int, kind: str) -> AlphaPairing:
    D = points.shape[1]
    bt, dt = _persistence_pairs(st, D + 1)
    dim = (bt >= 0).sum(1) - 1
    keep = dim <= maxdim
    fin = keep & (dt[:, 0] >= 0)
    ess = keep & (dt[:, 0] < 0)
    # Values, in the order persistence_pairs gives the bars of each dimension.
    bval, dval = np.zeros(len(bt)), np.zeros(len(bt))
    for k in range(min(maxdim, D) + 1):
        rows = np.flatnonzero(dim == k)
        iv = _intervals(st, k)
        if len(iv) != len(rows):
            raise RuntimeError(f"gudhi returned {len(rows)} pairs but {len(iv)} intervals in dimension {k}")
        bval[rows], dval[rows] = iv[:, 0], iv[:, 1]
    K, M = int(fin.sum()), int(ess.sum())
    crit = np.concatenate([bt[fin], dt[fin], bt[ess]])
    values = np.concatenate([bval[fin], dval[fin], bval[ess]])
    table = _defining(st, points, crit, values, kind)
    finite = np.arange(2 * K).reshape(2, K).T
    return AlphaPairing(table, values, finite, dim[fin], np.arange(2 * K, 2 * K + M), dim[ess])


def _defining(st: object, points: np.ndarray, crit: np.ndarray, values: np.ndarray, kind: str) -> np.ndarray:
    """The defining simplex of each critical simplex (rows padded with -1)."""
    table = crit.copy()
    size = (crit >= 0).sum(1)
    for k in range(2, crit.shape[1] + 1):
        rows = np.flatnonzero(size == k)
        if not len(rows):
            continue
        simp = crit[rows, :k]
        if kind == "cech":
            table[rows, :k] = meb_faces(points, simp)
            continue
        if _jit.enabled():  # the same test, compiled: one pass, no temporaries
            mask = np.zeros(len(rows), np.bool_)
            _attached_kernel(points, simp, values[rows], mask)
        else:
            mask = attached(points[simp], values[rows])
        for r in rows[mask]:  # their value is a coface's circumradius (rare: few such simplices are critical)
            table[r] = _attaching_coface(st, points, crit[r], values[r])
    return table


def attached(p: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each simplex ``p`` ``(m, k, D)`` (k >= 2) has a value other than its own squared
    circumradius (relative tolerance 1e-9): its value comes from a coface. A flat simplex counts."""
    return ~(np.abs(circum_sq(p) - values) <= 1e-9 * np.maximum(np.abs(values), 1e-300))


@_jit.kernel
def _attached_kernel(points, simp, values, out):  # pragma: no cover - compiled by numba
    """:func:`attached` for ``simp`` ``(m, k)`` vertex ids (k >= 2, no padding), the same arithmetic
    as :func:`_circum_offset`, into the boolean ``out`` ``(m,)``."""
    m, k = simp.shape
    D = points.shape[1]
    e = np.zeros((3, 3))
    cr = np.zeros((3, 3))  # b x c, c x a, a x b
    sq = np.zeros(3)
    for r in range(m):
        i0 = simp[r, 0]
        for j in range(1, k):
            for d in range(D):
                e[j - 1, d] = points[simp[r, j], d] - points[i0, d]
        r2 = 0.0
        if k == 2:
            for d in range(D):
                r2 += (e[0, d] / 2) ** 2
        elif k == 3:
            aa = 0.0
            bb = 0.0
            ab = 0.0
            for d in range(D):
                aa += e[0, d] * e[0, d]
                bb += e[1, d] * e[1, d]
                ab += e[0, d] * e[1, d]
            det = aa * bb - ab * ab
            if det > 0:
                la = bb * (aa - ab) / (2 * det)
                lb = aa * (bb - ab) / (2 * det)
                for d in range(D):
                    r2 += (la * e[0, d] + lb * e[1, d]) ** 2
            else:
                r2 = np.inf
        else:
            for q in range(3):
                u, w = (q + 1) % 3, (q + 2) % 3
                cr[q, 0] = e[u, 1] * e[w, 2] - e[u, 2] * e[w, 1]
                cr[q, 1] = e[u, 2] * e[w, 0] - e[u, 0] * e[w, 2]
                cr[q, 2] = e[u, 0] * e[w, 1] - e[u, 1] * e[w, 0]
                sq[q] = e[q, 0] * e[q, 0] + e[q, 1] * e[q, 1] + e[q, 2] * e[q, 2]
            det = e[0, 0] * cr[0, 0] + e[0, 1] * cr[0, 1] + e[0, 2] * cr[0, 2]
            if det != 0:
                for d in range(3):
                    r2 += ((sq[0] * cr[0, d] + sq[1] * cr[1, d] + sq[2] * cr[2, d]) / (2 * det)) ** 2
            else:
                r2 = np.inf
        v = values[r]
        out[r] = not abs(r2 - v) <= 1e-9 * max(abs(v), 1e-300)


def _attaching_coface(st: object, points: np.ndarray, simplex: np.ndarray, value: float) -> np.ndarray:
    """Among the simplex and its cofaces, the one whose squared circumradius is closest to ``value``
    (the filtration values of equal simplices can differ in the last bit, so they are not compared)."""
    s = [int(v) for v in simplex if v >= 0]
    cands = [s] + [c for c, _ in st.get_cofaces(s, 0)]
    best, err = s, np.inf
    for k in sorted({len(c) for c in cands}):  # one vectorized radius per coface dimension
        group = np.array([c for c in cands if len(c) == k], np.int64)
        e = np.abs(circum_sq(points[group]) - value)
        i = int(e.argmin())
        if e[i] < err:
            best, err = group[i].tolist(), e[i]
    out = np.full(len(simplex), -1, np.int64)
    out[: len(best)] = best
    return out


@register_backend
class GiottoWeakAlpha(AlphaEngine):
    """Weak alpha with giotto-ph: scipy's Delaunay edges as a sparse distance matrix, paired by
    ``ripser_parallel(..., metric="precomputed", return_generators=True)`` (float32 pairing).

    Duplicate points are joined to a copy by an explicit zero-length edge, so they merge at 0.

    Args:
        n_threads: giotto-ph worker threads (-1: all cores).
    """

    name = "giotto"
    requires = "gph"
    package = "giotto-ph"
    extra = "alpha"
    auto_rank = 1  # the faster engine for weak alpha; it refuses the other kinds
    kinds = ("weak",)

    def __init__(self, *, n_threads: int = 1) -> None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads == 0 or n_threads < -1:
            raise ValueError(f"giotto option n_threads must be a positive int or -1; got {n_threads!r}")
        from gph import ripser_parallel

        self._ripser = ripser_parallel
        self.n_threads = n_threads

    def pairing(self, points: np.ndarray, *, maxdim: int, kind: str) -> AlphaPairing:
        _check_kind(self, kind)
        from scipy.sparse import coo_matrix

        n = len(points)
        edges = delaunay_edges(points)
        # Every point is a vertex born at 0 (nothing on the diagonal); each Delaunay edge is stored
        # once, above it. An edge between duplicate points is an explicit 0, which giotto-ph keeps.
        matrix = coo_matrix((_lengths(points, edges), (edges[:, 0], edges[:, 1])), shape=(n, n))
        out = self._ripser(matrix, maxdim=maxdim, metric="precomputed", n_threads=self.n_threads,
                           return_generators=True)
        return _weak_pairing(points, out["gens"], maxdim)
