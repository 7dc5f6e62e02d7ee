"""ripser.py: values from ripser, critical edges recovered here (ripser.py reports none)."""

from __future__ import annotations

import numpy as np

from . import register_backend
from ._base import Backend, DimPairing, Pairing
from ._graph import EdgeLookup, mst_h0


@register_backend
class RipserBackend(Backend):
    """ripser.py, with recovered indices.

    H0 comes from a minimum spanning forest of the same matrix (exact). For H1 and up, ripser.py
    gives only values (in float32); each value is looked up among the edge lengths, and at an exact
    tie the first edge in row-major order is taken. Values always equal the other backends'; at exact
    ties the chosen edges (so the gradients) can differ from theirs.
    """

    name = "ripser"
    requires = "ripser"
    extra = "ripser"
    exact_indices = False

    def __init__(self) -> None:
        from ripser import ripser

        self._ripser = ripser

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        result = [mst_h0(dist, thresh)]
        if maxdim == 0:
            return tuple(result)
        dgms = self._ripser(dist, maxdim=maxdim, thresh=thresh, coeff=coeff, distance_matrix=True)["dgms"]
        lookup = EdgeLookup(dist, np.float32)
        for k in range(1, maxdim + 1):
            dgm = np.asarray(dgms[k], dtype=np.float64).reshape(-1, 2)
            fin = dgm[np.isfinite(dgm[:, 1]) & (dgm[:, 1] > dgm[:, 0])]
            ess = dgm[~np.isfinite(dgm[:, 1])]
            bi, bj = lookup(fin[:, 0])
            di, dj = lookup(fin[:, 1])
            ei, ej = lookup(ess[:, 0])
            result.append(DimPairing(np.stack([bi, bj, di, dj], axis=1), np.stack([ei, ej], axis=1)))
        return tuple(result)
