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
    gives only values, in float32; each value is looked up among the edge lengths rounded to float32.
    When several edges share that float32 length, the bar's representative cocycle (ripser.py's
    ``do_cocycles``) picks among them: a birth edge must belong to the cocycle, a death edge must
    touch it (then the shortest in the matrix's precision, then row-major order). Values always equal
    the other backends'; at exact ties the chosen edges, so the gradients, can still differ from theirs.
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
        result = [mst_h0(dist, thresh)]
        if maxdim == 0:
            return tuple(result)
        out = self._ripser(dist, maxdim=maxdim, thresh=thresh, coeff=coeff, distance_matrix=True, do_cocycles=True)
        d32 = dist.astype(np.float32, copy=False)
        for k in range(1, maxdim + 1):
            dgm = np.asarray(out["dgms"][k], dtype=np.float64).reshape(-1, 2)
            rows = np.flatnonzero(~np.isfinite(dgm[:, 1]) | (dgm[:, 1] > dgm[:, 0]))
            dgm = dgm[rows]
            cocycles = [out["cocycles"][k][r] for r in rows] if len(out["cocycles"]) > k else None
            ess = ~np.isfinite(dgm[:, 1])
            # One lookup for all values of the dimension: births, then finite deaths.
            values = np.concatenate([dgm[:, 0], dgm[~ess, 1]])
            i, j, unique = find_edges(dist, values, np.float32)
            if cocycles is not None and not unique.all():
                _disambiguate(dist, d32, values, i, j, unique, cocycles, np.flatnonzero(~ess))
            n = len(dgm)
            birth = np.stack([i[:n], j[:n]], axis=1)
            death = np.stack([i[n:], j[n:]], axis=1)
            result.append(DimPairing(np.concatenate([birth[~ess], death], axis=1), birth[ess]))
        return tuple(result)


def _disambiguate(dist, d32, values, i, j, unique, cocycles, finite_rows) -> None:
    """Where several edges share a value's float32 length, use the bar's representative cocycle
    (ripser.py's ``do_cocycles``): the birth edge is an edge of the cocycle, and the death edge lies on
    a triangle that meets the cocycle, so it shares a vertex with it; among the qualifying edges the
    shortest in the matrix's own precision is taken (the earliest in the filtration), the first in
    row-major order at an exact tie. In place; a loop over the ambiguous values only."""
    n_bars = len(cocycles)
    for pos in np.flatnonzero(~unique):
        bar = pos if pos < n_bars else finite_rows[pos - n_bars]
        cocycle = np.asarray(cocycles[bar], dtype=np.int64).reshape(-1, 3)[:, :2]
        if not len(cocycle):
            continue
        a, b = np.nonzero(np.triu(d32 == np.float32(values[pos]), 1))
        if pos < n_bars:  # a birth: an edge of the cocycle
            edges = set(map(tuple, np.sort(cocycle, axis=1).tolist()))
            ok = np.array([(p, q) in edges for p, q in zip(a.tolist(), b.tolist())], bool)
        else:  # a death: an edge touching the cocycle
            ok = np.isin(a, cocycle) | np.isin(b, cocycle)
        if ok.any():
            a, b = a[ok], b[ok]
            first = int(np.argmin(dist[a, b]))  # argmin keeps the first of exact ties
            i[pos], j[pos] = a[first], b[first]
