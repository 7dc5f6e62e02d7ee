"""The value lookup shared by the ripser backend and the repairs of giotto and gudhi."""

import numpy as np
import pytest

from difftda.backends._graph import find_edges


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_find_edges_matches_brute_force(dtype):
    rng = np.random.default_rng(0)
    n = 12
    d = rng.integers(1, 6, size=(n, n)).astype(np.float64)  # many ties
    d = np.triu(d, 1) + np.triu(d, 1).T
    values = np.array([1.0, 5.0, 3.0, 3.0, 2.0])
    i, j, unique = find_edges(d, values, dtype)
    for v, a, b, u in zip(values, i, j, unique):
        pairs = [(p, q) for p in range(n) for q in range(p + 1, n) if d[p, q] == v]
        assert (a, b) == pairs[0] and u == (len(pairs) == 1)
    single = d.copy()
    single[0, 1] = single[1, 0] = 7.5
    i, j, unique = find_edges(single, [7.5], dtype)
    assert (i[0], j[0], bool(unique[0])) == (0, 1, True)


def test_find_edges_refuses_an_unknown_value():
    d = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(RuntimeError, match="no edge"):
        find_edges(d, [2.0])
    assert [len(a) for a in find_edges(d, [])] == [0, 0, 0]
