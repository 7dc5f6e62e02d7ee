"""Independent references for the tests: gudhi called directly, scipy distances."""

from __future__ import annotations

import gudhi
import numpy as np
from gudhi.hera import bottleneck_distance as hera_bottleneck
from scipy.spatial.distance import cdist


def distance_matrix(x: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    name = {"euclidean": "euclidean", "manhattan": "cityblock", "chebyshev": "chebyshev"}[metric]
    return cdist(x, x, metric=name)


def gudhi_diagrams(dist: np.ndarray, maxdim: int, thresh: float = np.inf, coeff: int = 2) -> list[np.ndarray]:
    """Diagrams of H0..maxdim from gudhi's RipsComplex without collapse, zero-length bars dropped."""
    rips = gudhi.RipsComplex(distance_matrix=dist, max_edge_length=thresh)
    st = rips.create_simplex_tree(max_dimension=maxdim + 1)
    st.compute_persistence(homology_coeff_field=coeff, persistence_dim_max=True)
    out = []
    for k in range(maxdim + 1):
        d = np.asarray(st.persistence_intervals_in_dimension(k), dtype=np.float64).reshape(-1, 2)
        out.append(d[d[:, 1] > d[:, 0]])
    return out


def split(dgm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(finite rows sorted, essential births sorted) of a (k, 2) diagram."""
    inf = ~np.isfinite(dgm[:, 1])
    fin = dgm[~inf]
    fin = fin[np.lexsort((fin[:, 1], fin[:, 0]))]
    return fin, np.sort(dgm[inf, 0])


def assert_same_diagram(a: np.ndarray, b: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    fa, ea = split(a)
    fb, eb = split(b)
    assert fa.shape == fb.shape, f"{fa.shape[0]} vs {fb.shape[0]} finite bars"
    assert ea.shape == eb.shape, f"{ea.shape[0]} vs {eb.shape[0]} essential bars"
    # Sort each column's multiset: robust to the order of near-equal rows.
    np.testing.assert_allclose(np.sort(fa, axis=0), np.sort(fb, axis=0), rtol=rtol, atol=atol)
    np.testing.assert_allclose(ea, eb, rtol=rtol, atol=atol)
    # Columns sorted apart cannot see deaths swapped between bars: the (exact, hera) bottleneck
    # distance between the finite parts can.
    scale = float(np.abs(fa).max()) if fa.size else 0.0
    assert hera_bottleneck(fa, fb, delta=0) <= atol + rtol * scale, "the bars are paired differently"
