"""giotto-ph: the fastest engine with critical edges (``ripser_parallel(..., return_generators=True)``)."""

from __future__ import annotations

import numpy as np

from . import register_backend
from ._base import Backend, DimPairing, Pairing


@register_backend
class GiottoBackend(Backend):
    """giotto-ph's multithreaded ripser, with its generators.

    giotto-ph pairs in float32. With ``n_threads > 1`` it can report a wrong birth edge for an H1 bar
    while the bar's values are right (a race in its generator bookkeeping). Every edge it returns is
    checked against its bar's values; when one does not match, that call is rerun with one thread, so
    an index handed out here always has the length of its bar.

    Args:
        n_threads: worker threads of giotto-ph (-1: all cores).
    """

    name = "giotto"
    requires = "gph"
    extra = "giotto"

    def __init__(self, *, n_threads: int = 1) -> None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads == 0 or n_threads < -1:
            raise ValueError(f"giotto option n_threads must be a positive int or -1; got {n_threads!r}")
        from gph import ripser_parallel

        self._ripser = ripser_parallel
        self.n_threads = n_threads

    def _run(self, dist: np.ndarray, maxdim: int, thresh: float, coeff: int, n_threads: int) -> dict:
        return self._ripser(
            dist, maxdim=maxdim, thresh=thresh, coeff=coeff, metric="precomputed",
            n_threads=n_threads, return_generators=True,
        )

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        out = self._run(dist, maxdim, thresh, coeff, self.n_threads)
        if self.n_threads != 1 and not _consistent(dist, out):
            out = self._run(dist, maxdim, thresh, coeff, 1)
        fin0, fin_hi, ess0, ess_hi = out["gens"]
        fin0 = np.asarray(fin0, dtype=np.int64).reshape(-1, 3)
        ess0 = np.asarray(ess0, dtype=np.int64).reshape(-1)
        result = [DimPairing(fin0[:, [0, 0, 1, 2]], np.stack([ess0, ess0], axis=1))]
        for k in range(1, maxdim + 1):
            fin = np.asarray(fin_hi[k - 1], dtype=np.int64).reshape(-1, 4) if k - 1 < len(fin_hi) else None
            ess = np.asarray(ess_hi[k - 1], dtype=np.int64).reshape(-1, 2) if k - 1 < len(ess_hi) else None
            result.append(DimPairing(
                fin if fin is not None else np.zeros((0, 4), np.int64),
                ess if ess is not None else np.zeros((0, 2), np.int64),
            ))
        return tuple(result)


def _consistent(dist: np.ndarray, out: dict) -> bool:
    """Whether every finite bar of H>=1 has birth and death edges of exactly its float32 values."""
    d32 = dist.astype(np.float32)
    for k, gens in enumerate(out["gens"][1], start=1):
        gens = np.asarray(gens, dtype=np.int64).reshape(-1, 4)
        dgm = out["dgms"][k]
        finite = dgm[np.isfinite(dgm[:, 1])].astype(np.float32)
        if finite.shape[0] != gens.shape[0]:
            return False
        if not (np.array_equal(d32[gens[:, 0], gens[:, 1]], finite[:, 0])
                and np.array_equal(d32[gens[:, 2], gens[:, 3]], finite[:, 1])):
            return False
    for k, gens in enumerate(out["gens"][3], start=1):
        gens = np.asarray(gens, dtype=np.int64).reshape(-1, 2)
        dgm = out["dgms"][k]
        births = dgm[~np.isfinite(dgm[:, 1]), 0].astype(np.float32)
        if births.shape[0] != gens.shape[0] or not np.array_equal(d32[gens[:, 0], gens[:, 1]], births):
            return False
    return True
