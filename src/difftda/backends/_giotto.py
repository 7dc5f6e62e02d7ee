"""giotto-ph: the fastest engine with critical edges (``ripser_parallel(..., return_generators=True)``)."""

from __future__ import annotations

import os

import numpy as np

from . import register_backend
from ._base import Backend, DimPairing, Pairing, from_generators
from ._graph import find_edges

#: ``n_threads="auto"`` uses one thread below this many points (thread start-up costs more there).
AUTO_THREADS_MIN_POINTS = 150


@register_backend
class GiottoBackend(Backend):
    """giotto-ph's multithreaded ripser, with its generators.

    giotto-ph pairs in float32. With ``n_threads > 1`` it can report a wrong birth edge for an H1 bar
    while the bar's values are right (a race in its generator bookkeeping). So every edge is checked
    against its bar's values. A wrong edge is replaced by the edge of exactly the bar's length when
    that edge is unique; when it is not (a tie), the call is rerun on one thread. An index handed
    out here always has the length of its bar.

    Args:
        n_threads: worker threads of giotto-ph; -1 for all cores; ``"auto"`` for one thread on small
            clouds (under 150 points) and all available cores (at most 8) on larger ones.
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
        from gph import ripser_parallel

        self._ripser = ripser_parallel
        self.n_threads = n_threads

    def _threads(self, n: int) -> int:
        if self.n_threads != "auto":
            return int(self.n_threads)
        if n < AUTO_THREADS_MIN_POINTS:
            return 1
        return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))

    def _run(self, dist: np.ndarray, maxdim: int, thresh: float, coeff: int, n_threads: int) -> dict:
        return self._ripser(
            dist, maxdim=maxdim, thresh=thresh, coeff=coeff, metric="precomputed",
            n_threads=n_threads, return_generators=True,
        )

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        threads = self._threads(dist.shape[0])
        out = self._run(dist, maxdim, thresh, coeff, threads)
        result = from_generators(out["gens"], maxdim)
        if threads != 1:
            repaired = _repair(dist, out, result)
            if repaired is None:  # a tie: no unique edge to repair with, pair again on one thread
                repaired = from_generators(self._run(dist, maxdim, thresh, coeff, 1)["gens"], maxdim)
            result = repaired
        return result


def _repair(dist: np.ndarray, out: dict, pairing: Pairing) -> Pairing | None:
    """Check every edge against giotto-ph's own float32 values (its rows are aligned with its
    generators); replace wrong edges by the unique edge of the right length. None: a wrong edge
    has a tied length, so it cannot be repaired."""
    d32 = dist.astype(np.float32, copy=False)
    fixed, wrong = [pairing[0]], []  # H0 is paired by union-find before any thread starts
    for k in range(1, len(pairing)):
        dgm = np.asarray(out["dgms"][k], dtype=np.float32).reshape(-1, 2)
        finite = np.isfinite(dgm[:, 1])
        fin, ess = pairing[k].finite.copy(), pairing[k].essential.copy()
        if len(fin) != int(finite.sum()) or len(ess) != int((~finite).sum()):
            return None
        for edges, values in ((fin[:, 0:2], dgm[finite, 0]), (fin[:, 2:4], dgm[finite, 1]), (ess, dgm[~finite, 0])):
            bad = np.flatnonzero(d32[edges[:, 0], edges[:, 1]] != values)
            if bad.size:
                wrong.append((edges, bad, values[bad]))
        fixed.append(DimPairing(fin, ess))
    if wrong:  # one lookup for all of them
        i, j, unique = find_edges(dist, np.concatenate([w[2] for w in wrong]), np.float32)
        if not unique.all():
            return None
        start = 0
        for edges, bad, _ in wrong:  # a few column blocks, not bars
            edges[bad, 0], edges[bad, 1] = i[start : start + bad.size], j[start : start + bad.size]
            start += bad.size
    return tuple(fixed)
