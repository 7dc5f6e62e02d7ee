"""giotto-ph: the fastest engine with critical edges (``ripser_parallel(..., return_generators=True)``)."""

from __future__ import annotations

import os
import warnings

import numpy as np

from .. import _checks
from . import register_backend
from ._base import Backend, DimPairing, Pairing, from_generators
from ._graph import PairingMatrix, colex, first_colex, float32_matrix, tied

#: ``n_threads="auto"`` uses one thread below this many points (thread start-up costs more there).
AUTO_THREADS_MIN_POINTS = 150


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@register_backend
class GiottoBackend(Backend):
    """giotto-ph's multithreaded ripser, with its generators.

    giotto-ph pairs in float32 (a float64 matrix whose lengths leave float32's range is first scaled
    by a power of two, which is exact, or replaced by its ranks). Its pairing on one thread is
    deterministic and defines this backend's critical edges. With ``n_threads > 1`` it can report
    another birth edge for a bar (a column displaced from its pivot keeps its generator), so every
    edge is checked against its bar's values: a wrong edge is replaced by the only edge of the bar's
    length; and where a birth's length is shared with edges that could be the right one (giotto-ph's
    order decides), the call is rerun on one thread. So the edges depend neither on the thread count
    nor on the run, and an index handed out here always has the length of its bar.

    Args:
        n_threads: worker threads of giotto-ph; -1 for all cores; ``"auto"`` for one thread on small
            clouds (under 150 points) and all available cores (at most 8) on larger ones. More threads
            than available cores are capped to the cores, with a warning.
    """

    name = "giotto"
    requires = "gph"
    extra = "giotto"
    package = "giotto-ph"
    auto_rank = 1
    auto_options = {"n_threads": "auto"}
    max_coeff = 127  # larger primes crash or hang giotto-ph 0.2.4

    def __init__(self, *, n_threads: int | str = 1) -> None:
        if n_threads != "auto" and (
            isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads == 0 or n_threads < -1
        ):
            raise ValueError(f"giotto option n_threads must be a positive int, -1 or 'auto'; got {n_threads!r}")
        cores = available_cores()
        if isinstance(n_threads, int) and n_threads > cores:
            warnings.warn(
                f"giotto option n_threads={n_threads} exceeds the {cores} available cores; using {cores}",
                UserWarning,
                stacklevel=2,
            )
            n_threads = cores
        from gph import ripser_parallel

        self._ripser = ripser_parallel
        self.n_threads = n_threads

    def _threads(self, n: int) -> int:
        if self.n_threads == -1:
            return available_cores()
        if self.n_threads != "auto":
            return int(self.n_threads)
        if n < AUTO_THREADS_MIN_POINTS:
            return 1
        return max(1, min(8, available_cores()))

    def _run(self, m: PairingMatrix, maxdim: int, coeff: int, n_threads: int) -> dict:
        return self._ripser(
            m.matrix, maxdim=maxdim, thresh=m.thresh, coeff=coeff, metric="precomputed",
            n_threads=n_threads, return_generators=True,
        )

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        check_memory(self.name, dist, maxdim, thresh, _GIOTTO_BYTES)
        m = float32_matrix(dist, thresh)
        threads = self._threads(dist.shape[0])
        out = self._run(m, maxdim, coeff, threads)
        result = from_generators(out["gens"], maxdim)
        if threads != 1:
            repaired = _repair(m, out, result)
            if repaired is None:  # a tie: the edges could depend on the threads, pair again on one
                repaired = from_generators(self._run(m, maxdim, coeff, 1)["gens"], maxdim)
            result = repaired
        return result


#: Bytes per matrix entry giotto-ph needs besides the matrix, for H0 and for H1 (measured with
#: giotto-ph 0.2.4: about 23 and 29, its condensed float32 copies and its sorted edge list).
_GIOTTO_BYTES = (24, 32)


def check_memory(engine: str, dist: np.ndarray, maxdim: int, thresh: float, per_entry: tuple[int, int]) -> None:
    """A :class:`MemoryError` before an engine runs when its estimated working memory exceeds what is
    available (an engine that runs out of memory inside C++ may crash the process instead).

    The estimate is ``per_entry[0]`` (H0) or ``per_entry[1]`` (H1 and up) bytes per matrix entry, per
    kept entry when ``thresh`` is finite, plus a float32 copy of a float64 matrix. What H2 and up add
    on top is not foreseen.
    """
    n = dist.shape[0]
    copy = 4 * n * n if dist.dtype != np.float32 else 0
    need = per_entry[0 if maxdim == 0 else 1] * n * n
    if need + copy < _checks.MEMORY_CHECK_FLOOR:
        return
    if thresh != np.inf:  # only kept edges are listed (counted only now that the estimate is large)
        need = n * n + need * np.count_nonzero(dist <= thresh) / (n * n)
    hint = "Pass thresh= to keep fewer edges, or use fewer points."
    if maxdim == 0:
        hint = "For H0 alone, backend='torch' needs no edge list (a spanning tree on the matrix itself). " + hint
    _checks.check_memory(need + copy, f"backend {engine!r} on a {n} x {n} matrix with maxdim={maxdim}", hint)


def _repair(m: PairingMatrix, out: dict, pairing: Pairing) -> Pairing | None:
    """Make a multithreaded pairing equal to the one-thread pairing, or return None (pair again on
    one thread).

    Each edge is checked against giotto-ph's own float32 values (its rows line up with its
    generators); a wrong edge is replaced by the only edge of the right length. What threads can
    change: when a column that had claimed a death simplex is displaced by the column that owns it
    (a column earlier in giotto-ph's order: longer, or as long with a smaller colexicographic index),
    the generator keeps the displaced column's birth simplex. Death edges and essential bars are the
    engine's own. So a finite bar's birth is certain when its edge has the bar's length and no edge
    of that length has a smaller colexicographic index (H1), or when no other edge has that length
    (H2 and up); otherwise the result is None.
    """
    d32 = m.matrix
    fixed, wrong = [pairing[0]], []  # H0 is paired by union-find before any thread starts
    checks = []  # (births, their reported edges, dimension) of the finite bars
    for k in range(1, len(pairing)):
        dgm = np.asarray(out["dgms"][k], dtype=np.float32).reshape(-1, 2)
        finite = np.isfinite(dgm[:, 1])
        fin, ess = pairing[k].finite.copy(), pairing[k].essential.copy()
        if len(fin) != int(finite.sum()) or len(ess) != int((~finite).sum()):
            return None
        for edges, vals in ((fin[:, 0:2], dgm[finite, 0]), (fin[:, 2:4], dgm[finite, 1]), (ess, dgm[~finite, 0])):
            bad = np.flatnonzero(d32[edges[:, 0], edges[:, 1]] != vals)
            if bad.size:
                wrong.append((edges, bad, vals[bad]))
        checks.append((dgm[finite, 0], fin[:, 0:2], k))
        fixed.append(DimPairing(fin, ess))
    if wrong:  # one lookup for all of them
        i, j, unique = m.edges(np.concatenate([w[2] for w in wrong]))
        if not unique.all():
            return None
        start = 0
        for edges, bad, _ in wrong:  # a few column blocks, not bars
            edges[bad, 0], edges[bad, 1] = i[start : start + bad.size], j[start : start + bad.size]
            start += bad.size
    if m.ranked is None and checks:  # ranks have no ties: nothing to check
        births = np.concatenate([c[0] for c in checks])
        edges = np.concatenate([c[1] for c in checks])
        dims = np.concatenate([np.full(len(c[0]), c[2]) for c in checks])
        h1 = np.flatnonzero(dims == 1)
        unsure = h1[first_colex(d32, births[h1]) != colex(edges[h1, 0], edges[h1, 1])]
        if unsure.size > _MAX_UNSURE or not all(_sure(d32, births[r], edges[r], pairing[0]) for r in unsure):
            return None
        if tied(d32, births[dims != 1]).any():
            return None
    return tuple(fixed)


#: Above this many H1 births whose edge shares its length with an earlier-indexed edge, pair again on
#: one thread at once (a tie-heavy input, such as a grid) instead of looking at each.
_MAX_UNSURE = 8


def _sure(d32: np.ndarray, birth: np.float32, edge: np.ndarray, h0: DimPairing) -> bool:
    """Whether the reported birth edge of an H1 bar is giotto-ph's own though another edge of the same
    length has a smaller colexicographic index: the bar's true birth edge is a column of giotto-ph's
    reduction that comes before the reported one, so one of those edges; it is the reported edge when
    none of them is a column, that is each is an H0 death edge (paired by union-find) or in a
    zero-length apparent pair (skipped by giotto-ph's reduction: its oldest cofacet of the same length,
    the one with the largest index, has it as youngest facet of that length, the one with the smallest
    index). Exact: it follows giotto-ph's own order of equal lengths."""
    rows, cols = np.nonzero(np.triu(d32 == birth, 1))
    earlier = colex(rows, cols) < colex(edge[:1], edge[1:])[0]
    deaths = {tuple(e) for e in np.sort(h0.finite[:, 2:4], axis=1).tolist()}
    for a, b in zip(rows[earlier].tolist(), cols[earlier].tolist()):
        if (a, b) in deaths:
            continue
        w = np.flatnonzero((d32[a] <= birth) & (d32[b] <= birth))
        w = w[(w != a) & (w != b)]
        if not w.size:
            return False  # no cofacet of the same length: a column
        tri = np.sort(np.stack([np.full(w.size, a), np.full(w.size, b), w], axis=1), axis=1)
        index = tri[:, 2] * (tri[:, 2] - 1) * (tri[:, 2] - 2) // 6 + tri[:, 1] * (tri[:, 1] - 1) // 2 + tri[:, 0]
        i, j, k = tri[int(np.argmax(index))].tolist()  # the oldest cofacet of this length
        facets = [(i, j), (i, k), (j, k)]
        youngest = min((f for f in facets if d32[f] == birth), key=lambda f: f[1] * (f[1] - 1) // 2 + f[0])
        if youngest != (a, b):
            return False
    return True
