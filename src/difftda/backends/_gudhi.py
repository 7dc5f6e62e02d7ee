"""gudhi: the simplex-tree reference engine (``flag_persistence_generators``)."""

from __future__ import annotations

import numpy as np

from . import register_backend
from ._base import Backend, DimPairing, Pairing, from_generators
from ._giotto import check_memory
from ._graph import PairingMatrix, rank_matrix

#: Bytes per matrix entry besides the matrix (measured with gudhi 3.13: about 225 for the simplex
#: tree and its persistence of every edge, H0; about 50 with edge collapse, H1, before expansion).
_GUDHI_BYTES = (240, 64)


@register_backend
class GudhiBackend(Backend):
    """gudhi's SimplexTree, pairing in float64.

    Without edge collapse the edges are gudhi's own critical edges. Edge collapse (Boissonnat and
    Pritam) shrinks the complex by orders of magnitude for H1 and up, but raises the filtration
    value of some surviving edges; a bar whose reported edge no longer has the bar's length gets the
    only edge of that length. Where several edges share it, the collapse is run again on the rank
    matrix (every edge replaced by its rank in the order "length, then ripser's order of equal
    lengths"), where each value names exactly one edge: the edges are the same in every run.

    Args:
        num_collapses: edge-collapse rounds before the expansion; ``"auto"`` collapses until nothing
            changes when ``maxdim >= 1`` and never for H0 alone; 0 turns it off.
    """

    name = "gudhi"
    requires = "gudhi"
    extra = "gudhi"
    package = "gudhi"
    auto_rank = 2

    def __init__(self, *, num_collapses: int | str = "auto") -> None:
        if num_collapses != "auto" and (
            isinstance(num_collapses, bool) or not isinstance(num_collapses, int) or num_collapses < 0
        ):
            raise ValueError(f"gudhi option num_collapses must be 'auto' or an int >= 0; got {num_collapses!r}")
        import gudhi

        self._gudhi = gudhi
        self.num_collapses = num_collapses

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        collapses = (10**6 if maxdim >= 1 else 0) if self.num_collapses == "auto" else self.num_collapses
        check_memory(self.name, dist, 1 if collapses else 0, thresh, _GUDHI_BYTES)
        m = PairingMatrix(dist, thresh)
        result = self._pair(m, maxdim, coeff, collapses)
        if result is None:  # a repaired edge shares its length with others: pair the ranks
            result = self._pair(rank_matrix(dist, thresh, np.float64), maxdim, coeff, collapses)
        return result

    def _pair(self, m: PairingMatrix, maxdim: int, coeff: int, collapses: int) -> Pairing | None:
        n = m.matrix.shape[0]
        i, j = np.triu_indices(n, k=1)
        length = m.matrix[i, j].astype(np.float64, copy=False)
        keep = length <= m.thresh
        st = self._gudhi.SimplexTree()
        st.insert_batch(np.arange(n)[None, :], np.zeros(n))
        st.insert_batch(np.stack([i[keep], j[keep]]), length[keep])
        if collapses:
            before = -1
            for _ in range(collapses):  # rounds until the graph stops shrinking
                if st.num_simplices() == before:
                    break
                before = st.num_simplices()
                st.collapse_edges(1)
        st.expansion(maxdim + 1)
        st.compute_persistence(homology_coeff_field=coeff, persistence_dim_max=st.dimension() <= maxdim)
        result = from_generators(st.flag_persistence_generators(), maxdim)
        return _repair(st, m, result) if collapses else result


def _repair(st: object, m: PairingMatrix, result: Pairing) -> Pairing | None:
    """Replace edges whose matrix length differs from their filtration value in the collapsed tree;
    None when such a value belongs to several edges."""
    fixed = []
    for pairing in result:
        cols = [pairing.finite[:, 0:2], pairing.finite[:, 2:4], pairing.essential]
        new = []
        for edges in cols:
            edges = edges.copy()
            # The generator edges of a bar are few; gudhi gives their filtration one call at a time.
            value = np.array([st.filtration([int(a), int(b)]) if a != b else 0.0 for a, b in edges], np.float64)
            bad = np.flatnonzero(m.matrix[edges[:, 0], edges[:, 1]] != value) if len(edges) else np.zeros(0, int)
            if bad.size:
                edges[bad, 0], edges[bad, 1], unique = m.edges(value[bad])
                if not unique.all():
                    return None
            new.append(edges)
        fixed.append(DimPairing(np.concatenate(new[:2], axis=1), new[2]))
    return tuple(fixed)
