"""ripser.py: values from ripser, critical edges recovered here (ripser.py reports none)."""

from __future__ import annotations

import numpy as np

from . import register_backend
from ._base import Backend, DimPairing, Pairing
from ._graph import find_edges, mst_h0


@register_backend
class RipserBackend(Backend):
    """ripser.py, with recovered indices.

    H0 comes from a minimum spanning forest of the same matrix (exact). For H1 and up, ripser.py
    gives only values, in float32; each value is looked up among the edge lengths rounded to float32,
    and when several edges share that float32 length the first in row-major order is taken. Values
    always equal the other backends'; where lengths tie in float32 (exact ties, or float64 lengths
    closer than float32 resolves) the chosen edge, so the gradient, can be another edge of the same
    length than the one the filtration used. Prefer giotto or gudhi for gradients on such data.
    """

    name = "ripser"
    requires = "ripser"
    extra = "ripser"
    max_coeff = 127  # from 131 on, ripser.py 0.6 returns wrong diagrams or aborts
    exact_indices = False

    def __init__(self) -> None:
        from ripser import ripser

        self._ripser = ripser

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        result = [mst_h0(dist, thresh)]
        if maxdim == 0:
            return tuple(result)
        dgms = self._ripser(dist, maxdim=maxdim, thresh=thresh, coeff=coeff, distance_matrix=True)["dgms"]
        dgms = [np.asarray(dgms[k], dtype=np.float64).reshape(-1, 2) for k in range(1, maxdim + 1)]
        fins = [d[np.isfinite(d[:, 1]) & (d[:, 1] > d[:, 0])] for d in dgms]
        esss = [d[~np.isfinite(d[:, 1]), 0] for d in dgms]
        # One lookup for every value of every dimension: births, deaths, essential births.
        values = np.concatenate([np.concatenate([f[:, 0], f[:, 1], e]) for f, e in zip(fins, esss)])
        i, j, _ = find_edges(dist, values, np.float32)
        start = 0
        for f, e in zip(fins, esss):
            k, m = len(f), len(e)
            bi, di, ei = np.split(i[start : start + 2 * k + m], [k, 2 * k])
            bj, dj, ej = np.split(j[start : start + 2 * k + m], [k, 2 * k])
            start += 2 * k + m
            result.append(DimPairing(np.stack([bi, bj, di, dj], axis=1), np.stack([ei, ej], axis=1)))
        return tuple(result)
