"""ripser.py: values from ripser, critical edges recovered here (ripser.py reports none)."""

from __future__ import annotations

import numpy as np

from . import register_backend
from ._base import Backend, DimPairing, Pairing
from ._giotto import check_memory
from ._graph import MAX_FLOAT32_RANK, PairingMatrix, float32_matrix, mst_h0, rank_matrix

#: Bytes per matrix entry besides the matrix, for H0 (our spanning forest) and for H1 (ripser.py's
#: copies, about 83 measured with ripser.py 0.6, plus the forest).
_RIPSER_BYTES = (32, 110)


@register_backend
class RipserBackend(Backend):
    """ripser.py, with recovered indices.

    H0 comes from a minimum spanning forest of the same matrix (exact). For H1 and up, ripser.py
    gives only values, in float32 (a float64 matrix whose lengths leave float32's range is first
    scaled by a power of two, which is exact, or replaced by its ranks). Each value names the edge
    of that length. When a value belongs to several edges, ripser.py pairs again on the rank matrix:
    every edge replaced by its rank in the order "length, then ripser's order of equal lengths", so
    that each value names exactly one edge, the same in every run. Values always equal the other
    backends'; at exact ties the chosen edges, so the gradients, can differ from theirs.
    """

    name = "ripser"
    requires = "ripser"
    extra = "ripser"
    package = "ripser"
    auto_rank = 3
    max_coeff = 127  # from 131 on, ripser.py 0.6 returns wrong diagrams or aborts
    exact_indices = False

    def __init__(self) -> None:
        from ripser import ripser

        self._ripser = ripser

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        check_memory(self.name, dist, maxdim, thresh, _RIPSER_BYTES)
        h0 = mst_h0(dist, thresh)
        if maxdim == 0:
            return (h0,)
        m = float32_matrix(dist, thresh)
        higher = self._higher(m, maxdim, coeff)
        if higher is None:  # a value belongs to several edges: pair the ranks, where none does
            n = dist.shape[0]
            kept = n * (n - 1) // 2 if thresh == np.inf else int(np.count_nonzero(np.triu(dist <= thresh, 1)))
            if kept < MAX_FLOAT32_RANK:
                higher = self._higher(rank_matrix(dist, thresh, np.float32), maxdim, coeff)
            else:  # too many edges for exact float32 ranks: the first edge of each length
                higher = self._higher(m, maxdim, coeff, ties=True)
        return (h0, *higher)

    def _higher(self, m: PairingMatrix, maxdim: int, coeff: int, ties: bool = False) -> list[DimPairing] | None:
        """H1..maxdim of ``m``; None when a value belongs to several edges (unless ``ties``)."""
        out = self._ripser(m.matrix, maxdim=maxdim, thresh=m.thresh, coeff=coeff, distance_matrix=True)
        dgms, values = [], []
        for k in range(1, maxdim + 1):
            dgm = np.asarray(out["dgms"][k], dtype=np.float64).reshape(-1, 2)
            dgm = dgm[~np.isfinite(dgm[:, 1]) | (dgm[:, 1] > dgm[:, 0])]
            ess = ~np.isfinite(dgm[:, 1])
            dgms.append((len(dgm), ess))
            values += [dgm[:, 0], dgm[~ess, 1]]  # births, then finite deaths
        i, j, unique = m.edges(np.concatenate(values))  # one lookup for every value of every dimension
        if not ties and not unique.all():
            return None
        result, start = [], 0
        for count, ess in dgms:
            deaths = int((~ess).sum())
            bi, bj = i[start : start + count], j[start : start + count]
            di, dj = i[start + count : start + count + deaths], j[start + count : start + count + deaths]
            start += count + deaths
            birth = np.stack([bi, bj], axis=1)
            result.append(DimPairing(np.concatenate([birth[~ess], np.stack([di, dj], axis=1)], axis=1), birth[ess]))
        return result
