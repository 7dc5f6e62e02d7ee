"""Lower-star persistence of vertex values on graphs, meshes and signals.

References, all independent of the code under test: a gudhi ``SimplexTree`` built here face by face
with ``max`` over the vertices and ``persistence()``; gudhi's vertex-based ``CubicalComplex`` for 1-D
signals; ``torch.autograd.gradcheck``; the loop over the graphs of a batch.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import difftda

gudhi = pytest.importorskip("gudhi")

ENGINES = difftda.list_backends("lower_star")
GRAPH_ENGINES = ENGINES
COMPLEX_ENGINES = [
    e for e in ENGINES if not getattr(difftda.get_backend(e, filtration="lower_star"), "graphs_only", False)
]


# ----------------------------------------------------------------------------------------------
# The reference: a SimplexTree built face by face, persistence() with gudhi's defaults
# ----------------------------------------------------------------------------------------------

def reference(f: np.ndarray, simplices: np.ndarray, maxdim: int, superlevel: bool = False) -> list[tuple[list, list]]:
    """Per dimension ``(sorted finite (birth, death) pairs, sorted essential births)`` from gudhi,
    in the units of ``f`` (superlevel: persistence of ``-f``, mapped back)."""
    g = -np.asarray(f, np.float64) if superlevel else np.asarray(f, np.float64)
    st = gudhi.SimplexTree()
    for v in range(len(g)):
        st.insert([v], float(g[v]))
    for row in np.asarray(simplices).tolist():
        verts = sorted(set(row))
        for size in range(1, len(verts) + 1):
            for face in itertools.combinations(verts, size):
                st.insert(list(face), float(max(g[list(face)])))
    st.persistence(persistence_dim_max=True)
    out = []
    sign = -1.0 if superlevel else 1.0
    for k in range(maxdim + 1):
        bars = st.persistence_intervals_in_dimension(k)
        bars = bars.reshape(-1, 2)
        fin = bars[np.isfinite(bars[:, 1])] * sign
        ess = bars[~np.isfinite(bars[:, 1]), 0] * sign
        out.append((sorted(map(tuple, fin.tolist())), sorted(ess.tolist())))
    return out


def ours(dgms: difftda.Diagrams) -> list[tuple[list, list]]:
    return [
        (
            sorted(map(tuple, d.pairs.detach().double().cpu().tolist())),
            sorted(d.essential.detach().double().cpu().tolist()),
        )
        for d in dgms
    ]


def random_graph(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return rng.integers(0, n, (m, 2))


def grid_mesh(rows: int, cols: int) -> np.ndarray:
    idx = np.arange(rows * cols).reshape(rows, cols)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return np.concatenate([np.stack([a, b, d], 1), np.stack([a, c, d], 1)])


def assert_gathered(f: torch.Tensor, dgms: difftda.Diagrams) -> None:
    """Every value is read from f at its critical vertices, bit for bit."""
    for d in dgms:
        assert d.index.shape[1] == 2 and d.essential_index.shape[1] == 1
        assert torch.equal(d.pairs, f.detach()[d.index])
        assert torch.equal(d.essential, f.detach()[d.essential_index[:, 0]])


# ----------------------------------------------------------------------------------------------
# Diagrams against gudhi
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", GRAPH_ENGINES)
@pytest.mark.parametrize("superlevel", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_graphs_match_gudhi(engine, superlevel, ties, dtype):
    rng = np.random.default_rng(7 + ties + 2 * superlevel)
    for trial in range(25):
        n = int(rng.integers(1, 40))
        edges = random_graph(rng, n, int(rng.integers(0, 3 * n)))
        vals = rng.integers(0, 5, n) if ties else rng.standard_normal(n)
        f = torch.tensor(vals, dtype=dtype)
        dgms = difftda.lower_star_persistence(f, edges, maxdim=1, superlevel=superlevel, backend=engine)
        assert ours(dgms) == reference(f.double().numpy(), edges, 1, superlevel), trial
        assert_gathered(f, dgms)
        if superlevel:
            assert bool((dgms[0].pairs[:, 0] >= dgms[0].pairs[:, 1]).all())


def _stress_graph(rng: np.random.Generator, kind: int, n: int) -> np.ndarray:
    """Random graphs of several shapes: dense, forests, paths, grids, cliques joined by bridges."""
    if kind == 0:
        return random_graph(rng, n, int(rng.integers(0, 3 * n)))
    if kind == 1:  # a forest: each vertex hangs below an earlier one, some links cut
        perm = rng.permutation(n)
        up = (rng.random(n - 1) * np.arange(1, n)).astype(np.int64)
        e = np.stack([perm[1:], perm[up]], 1)
        return e[rng.random(len(e)) < 0.8]
    if kind == 2:  # a path in a random vertex order
        perm = rng.permutation(n)
        return np.stack([perm[:-1], perm[1:]], 1)
    if kind == 3:  # a grid graph
        c = max(1, int(np.sqrt(n)))
        idx = np.arange((n // c) * c).reshape(-1, c)
        return np.concatenate([np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),
                               np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1)])
    groups = np.array_split(rng.permutation(n), max(1, n // 5))  # small cliques, a few bridges between them
    e = [np.array(list(itertools.combinations(g, 2))).reshape(-1, 2) for g in groups]
    e.append(rng.integers(0, n, (len(groups), 2)))
    return np.concatenate(e)


@pytest.mark.parametrize("superlevel", [False, True])
def test_graph_engine_stress_against_gudhi(superlevel):
    """Many graphs of every shape, with generic values, ties and plateaus: the diagrams equal gudhi's,
    every value is read at its index, and a second call gives the same indices."""
    if "graph" not in ENGINES:
        pytest.skip("the graph engine is not registered")
    rng = np.random.default_rng(21 + superlevel)
    for trial in range(200):
        n = int(rng.integers(2, 120))
        edges = _stress_graph(rng, trial % 5, n)
        ties = trial // 5 % 3
        if ties == 0:
            vals = rng.standard_normal(n)
        elif ties == 1:
            vals = rng.integers(0, 4, n).astype(np.float64)
        else:  # plateaus: a smooth bump rounded into flat levels
            vals = np.round(np.sin(np.arange(n) / 7.0) * 3 + rng.standard_normal(n) * 0.3)
        f = torch.tensor(vals)
        dgms = difftda.lower_star_persistence(f, edges, maxdim=1, superlevel=superlevel, backend="graph")
        assert ours(dgms) == reference(vals, edges, 1, superlevel), trial
        assert_gathered(f, dgms)
        again = difftda.lower_star_persistence(f, edges, maxdim=1, superlevel=superlevel, backend="graph")
        for a, b in zip(dgms, again):
            assert torch.equal(a.index, b.index) and torch.equal(a.essential_index, b.essential_index)


def test_graph_engine_staircase_against_gudhi():
    """Signals whose merges form long chains (each new minimum is younger than the one it meets and
    dies at the next merge): the case where the elder rule cannot be settled by neighbours alone."""
    if "graph" not in ENGINES:
        pytest.skip("the graph engine is not registered")
    m = 1001
    rise = np.empty(m)
    rise[0::2] = np.arange(0, m, 2)  # minima rising to the right
    rise[1::2] = 10 * m - np.arange(1, m, 2)  # saddles falling to the right: merged right to left
    rng = np.random.default_rng(9)
    for x in (rise, rise[::-1].copy(), np.concatenate([rise, rise + 0.5]), rng.permutation(rise)):
        path = np.stack([np.arange(len(x) - 1), np.arange(1, len(x))], axis=1)
        f = torch.tensor(x)
        dgms = difftda.lower_star_persistence(f, path, maxdim=0, backend="graph")
        assert ours(dgms) == reference(x, path, 0)
        assert_gathered(f, dgms)


def _union_find_elder(a: list[int], b: list[int], n: int) -> list[int]:
    """The elder rule one merge at a time: a union-find whose root is its component's minimum."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    out = []
    for x, y in zip(a, b):
        x, y = root(x), root(y)
        parent[max(x, y)] = min(x, y)
        out.append(max(x, y))
    return out


def test_elder_rule_against_union_find():
    """The whole-array elder rule of the graph engine against the merges done one at a time, on
    random forests with the merges in random, rising and falling orders."""
    from difftda.backends._lower_star import elder_rule

    rng = np.random.default_rng(13)
    for trial in range(600):
        n = int(rng.integers(2, 90))
        perm = rng.permutation(n)
        up = np.arange(n - 1) if trial % 3 == 0 else (rng.random(n - 1) * np.arange(1, n)).astype(np.int64)
        a, b = perm[1:], perm[up]
        keep = rng.permutation(n - 1)[: int(rng.integers(1, n))]
        a, b = a[keep], b[keep]
        if trial % 4 == 1:
            order = np.argsort(-(a + b), kind="stable")
            a, b = a[order], b[order]
        elif trial % 4 == 2:
            order = np.argsort(np.maximum(a, b), kind="stable")
            a, b = a[order], b[order]
        assert elder_rule(a, b, n).tolist() == _union_find_elder(a.tolist(), b.tolist(), n), trial
    assert elder_rule(np.zeros(0, np.int64), np.zeros(0, np.int64), 3).tolist() == []


@pytest.mark.parametrize("engine", COMPLEX_ENGINES)
@pytest.mark.parametrize("superlevel", [False, True])
def test_meshes_match_gudhi(engine, superlevel):
    rng = np.random.default_rng(3)
    tris = grid_mesh(7, 8)
    for trial in range(6):
        keep = rng.random(len(tris)) < 0.8  # holes in the mesh give H1 bars
        vals = rng.standard_normal(56) if trial % 2 else rng.integers(0, 4, 56)  # generic and tied values
        f = torch.tensor(vals, dtype=torch.float64)
        dgms = difftda.lower_star_persistence(f, tris[keep], maxdim=2, superlevel=superlevel, backend=engine)
        assert ours(dgms) == reference(vals, tris[keep], 2, superlevel)
        assert_gathered(f, dgms)


@pytest.mark.parametrize("maxdim", [0, 1, 2, 3])
def test_higher_simplices_match_gudhi(maxdim):
    """Tetrahedra and a closed surface (the boundary of a tetrahedron: an H2 void); faces above
    maxdim + 1 are not needed and may be pruned."""
    rng = np.random.default_rng(maxdim)
    for trial in range(8):
        n = 12
        tets = np.stack([rng.choice(n, 4, replace=False) for _ in range(10)])
        sphere = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]) + n
        f = torch.tensor(rng.standard_normal(n + 4))
        for simplices in (tets, tets[:, :3], sphere):
            dgms = difftda.lower_star_persistence(f, simplices, maxdim=maxdim, backend="auto")
            assert ours(dgms) == reference(f.numpy(), simplices, maxdim), (trial, maxdim)
            assert len(dgms) == maxdim + 1


def test_isolated_vertices_and_vertex_only_input():
    f = torch.tensor([3.0, 1.0, 2.0, 0.5, 4.0])
    for simplices in (np.zeros((0, 2), np.int64), np.array([[0], [2]]), np.array([[0, 1]])):
        for engine in ENGINES:
            dgms = difftda.lower_star_persistence(f, simplices, maxdim=1, backend=engine)
            assert ours(dgms) == reference(f.double().numpy(), simplices, 1)
    # Every vertex is in the complex: 5 components, one of them joined at 3.0.
    dgms = difftda.lower_star_persistence(f, np.array([[0, 1]]), maxdim=0)
    assert sorted(dgms[0].essential.tolist()) == [0.5, 1.0, 2.0, 4.0]
    assert dgms[0].pairs.numel() == 0  # 0 joins 1 at f[0] = 3: the bar born at 3 has length 0


def test_plateaus_and_constant_values():
    """Ties everywhere: a constant function has no finite bar at all; a plateau is one component."""
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [3, 4]])
    for engine in ENGINES:
        dgms = difftda.lower_star_persistence(torch.ones(5), edges, maxdim=1, backend=engine)
        assert dgms[0].pairs.numel() == 0 and dgms[1].pairs.numel() == 0
        assert dgms[0].essential.tolist() == [1.0] and dgms[1].essential.tolist() == [1.0]
        f = torch.tensor([0.0, 2.0, 0.0, 2.0, 2.0])  # two minima at 0, joined on the plateau at 2
        dgms = difftda.lower_star_persistence(f, edges, maxdim=1, backend=engine)
        assert dgms[0].pairs.tolist() == [[0.0, 2.0]] and dgms[0].essential.tolist() == [0.0]
        assert dgms[1].essential.tolist() == [2.0]
        assert_gathered(f, dgms)


def test_torch_geometric_layout_and_duplicates():
    """An edge_index (2, E) with both directions of every edge, self-loops and duplicates."""
    rng = np.random.default_rng(11)
    und = rng.integers(0, 20, (40, 2))
    edge_index = torch.tensor(np.concatenate([und, und[:, ::-1], [[3, 3], [5, 5]]]).T.copy())
    f = torch.randn(20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for engine in ENGINES:
        dgms = difftda.lower_star_persistence(f, edge_index.T, maxdim=1, backend=engine)
        assert ours(dgms) == reference(f.numpy(), und, 1)


# ----------------------------------------------------------------------------------------------
# 1-D signals: lower-star on a path graph is the vertex-based cubical filtration
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("superlevel", [False, True])
def test_signal_equals_gudhi_cubical(superlevel):
    rng = np.random.default_rng(5)
    for x in (rng.standard_normal(200), np.round(rng.standard_normal(100), 1)):  # generic, and with ties
        path = np.stack([np.arange(len(x) - 1), np.arange(1, len(x))], axis=1)
        f = torch.tensor(x)
        for engine in ENGINES:
            dgm = difftda.lower_star_persistence(f, path, maxdim=0, superlevel=superlevel, backend=engine)[0]
            cc = gudhi.CubicalComplex(vertices=-x if superlevel else x)
            bars = cc.persistence()
            sign = -1.0 if superlevel else 1.0
            fin = sorted((sign * b, sign * d) for dim, (b, d) in bars if np.isfinite(d) and d > b)
            ess = sorted(sign * b for dim, (b, d) in bars if not np.isfinite(d))
            assert sorted(map(tuple, dgm.pairs.tolist())) == fin
            assert dgm.essential.tolist() == ess


@pytest.mark.skipif(not hasattr(difftda, "cubical_persistence"), reason="difftda.cubical_persistence not available")
def test_signal_equals_cubical_V():
    x = torch.randn(300, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    path = np.stack([np.arange(299), np.arange(1, 300)], axis=1)
    for superlevel in (False, True):
        a = difftda.lower_star_persistence(x, path, maxdim=0, superlevel=superlevel)[0]
        b = difftda.cubical_persistence(x, maxdim=0, construction="V", superlevel=superlevel)[0]
        assert sorted(map(tuple, a.pairs.tolist())) == sorted(map(tuple, b.pairs.tolist()))
        assert sorted(a.essential.tolist()) == sorted(b.essential.tolist())


# ----------------------------------------------------------------------------------------------
# Gradients
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("superlevel", [False, True])
def test_gradcheck(engine, superlevel):
    rng = np.random.default_rng(2)
    edges = random_graph(rng, 15, 30)
    f = torch.tensor(rng.standard_normal(15), requires_grad=True)  # distinct values: a smooth point

    def fn(v):
        d = difftda.lower_star_persistence(v, edges, maxdim=1, superlevel=superlevel, backend=engine)
        return d[0].pairs, d[0].essential, d[1].essential

    assert torch.autograd.gradcheck(fn, (f,))


def test_gradcheck_mesh():
    rng = np.random.default_rng(4)
    tris = grid_mesh(5, 5)[rng.random(32) < 0.8]
    f = torch.tensor(rng.standard_normal(25), requires_grad=True)

    def fn(v):
        d = difftda.lower_star_persistence(v, tris, maxdim=1, backend="gudhi")
        return d[0].pairs, d[1].pairs, d[0].essential

    assert torch.autograd.gradcheck(fn, (f,))


def test_gradient_goes_to_critical_vertices(dtype):
    f = torch.tensor([0.0, 2.0, 1.0, 3.0], dtype=dtype, requires_grad=True)
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0]])
    dgms = difftda.lower_star_persistence(f, edges, maxdim=1)
    (dgms[0].pairs[:, 1] - dgms[0].pairs[:, 0]).sum().backward()
    # The component born at vertex 2 (value 1) dies at vertex 1 (value 2).
    assert f.grad.tolist() == [0.0, 1.0, -1.0, 0.0]
    assert dgms[0].pairs.dtype == dtype


# ----------------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------------

def _random_batch(rng, B, dtype=torch.float64):
    sizes = rng.integers(1, 25, B)
    edges, off = [], 0
    for k in sizes:
        edges.append(random_graph(rng, int(k), int(rng.integers(0, 2 * k))) + off)
        off += int(k)
    batch = np.repeat(np.arange(B), sizes)
    f = torch.tensor(rng.integers(0, 6, off) if B % 2 else rng.standard_normal(off), dtype=dtype)
    return f, np.concatenate(edges), batch, sizes


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("superlevel", [False, True])
def test_batch_equals_loop(engine, superlevel):
    rng = np.random.default_rng(8)
    for B in (1, 2, 7, 30):
        f, edges, batch, sizes = _random_batch(rng, B)
        f.requires_grad_(True)
        out = difftda.lower_star_persistence(f, torch.tensor(edges), 1, batch=torch.tensor(batch),
                                             superlevel=superlevel, backend=engine)
        assert isinstance(out, difftda.DiagramBatch) and len(out) == B
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        for b in range(B):
            lo, hi = int(starts[b]), int(starts[b] + sizes[b])
            mine = edges[(edges >= lo).all(1) & (edges < hi).all(1)] - lo
            single = difftda.lower_star_persistence(f[lo:hi], mine, 1, superlevel=superlevel, backend=engine)
            for k in range(2):
                for a, c in zip(out[b][k], single[k]):
                    assert torch.equal(a, c), (B, b, k)
        loss = sum(d.pairs.sum() + d.essential.sum() for d in out.cat())
        loss.backward()
        assert f.grad is not None


def test_batch_allows_empty_graph_ids():
    f = torch.tensor([1.0, 0.0, 2.0, 5.0])
    out = difftda.lower_star_persistence(f, np.array([[0, 1], [2, 3]]), 0, batch=np.array([0, 0, 2, 2]))
    assert len(out) == 3
    assert out[1][0].essential.numel() == 0
    assert out[2][0].essential.tolist() == [2.0] and out[2][0].essential_index.tolist() == [[0]]


# ----------------------------------------------------------------------------------------------
# Engines and bad input
# ----------------------------------------------------------------------------------------------

def test_auto_routes_graphs_and_complexes():
    assert "gudhi" in ENGINES
    tri = np.array([[0, 1, 2]])
    f = torch.tensor([0.0, 1.0, 2.0])
    assert ours(difftda.lower_star_persistence(f, tri, 1)) == reference(f.double().numpy(), tri, 1)
    assert ours(difftda.lower_star_persistence(f, tri[:, :2], 2)) == reference(f.double().numpy(), tri[:, :2], 2)
    if "graph" in ENGINES:
        with pytest.raises(ValueError, match="graphs only"):
            difftda.lower_star_persistence(f, tri, 1, backend="graph")
        with pytest.raises(ValueError, match="maxdim"):
            difftda.lower_star_persistence(f, tri[:, :2], 2, backend="graph")
    with pytest.raises(ValueError, match="does not compute lower_star"):
        difftda.lower_star_persistence(f, tri, 1, backend="giotto")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"simplices": np.array([[0, 5]])}, ValueError, "simplices has vertex number 5"),
        ({"simplices": np.array([[0, -1]])}, ValueError, "negative"),
        ({"simplices": np.array([[0.0, 1.0]])}, TypeError, "simplices must hold integers"),
        ({"simplices": torch.tensor([[0.0, 1.0]])}, TypeError, "simplices must hold integers"),
        ({"simplices": np.array([0, 1])}, ValueError, "edge_index.T"),
        ({"f": torch.tensor([[0.0, 1.0]])}, ValueError, "f must be a 1-D"),
        ({"f": torch.tensor([0.0, float("nan"), 1.0, 2.0])}, ValueError, "NaN or inf"),
        ({"f": torch.tensor([0.0, float("inf"), 1.0, 2.0])}, ValueError, "NaN or inf"),
        ({"f": torch.tensor([0, 1, 2, 3])}, TypeError, "float32 or float64"),
        ({"f": np.zeros(4)}, TypeError, "torch.Tensor"),
        ({"batch": np.array([0, 0, 1])}, ValueError, "one graph id per vertex"),
        ({"batch": np.array([1, 0, 0, 1])}, ValueError, "sorted"),
        ({"batch": np.array([0, 0, -1, 1])}, ValueError, "negative graph id"),
        ({"batch": np.array([0.0, 0.0, 1.0, 1.0])}, TypeError, "batch must hold integers"),
        ({"batch": np.array([0, 1, 1, 1])}, ValueError, "joins vertices of different graphs"),
        ({"maxdim": -1}, ValueError, "maxdim"),
        ({"superlevel": "yes"}, TypeError, "superlevel"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"f": torch.tensor([0.0, 1.0, 2.0, 3.0]), "simplices": np.array([[0, 1], [2, 3]])}
    args.update(kwargs)
    f, simplices = args.pop("f"), args.pop("simplices")
    with pytest.raises(error, match=match):
        difftda.lower_star_persistence(f, simplices, **args)


def test_module():
    layer = difftda.LowerStarPersistence(maxdim=1, superlevel=True)
    f = torch.tensor([0.0, 2.0, 1.0, 3.0])
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0]])
    assert ours(layer(f, edges)) == reference(f.double().numpy(), edges, 1, superlevel=True)
    assert "superlevel=True" in repr(layer)
    with pytest.raises(ValueError):
        difftda.LowerStarPersistence(backend="nope")


@pytest.mark.gpu
def test_cuda():
    rng = np.random.default_rng(0)
    f, edges, batch, _ = _random_batch(rng, 5)
    fc = f.cuda().requires_grad_(True)
    out = difftda.lower_star_persistence(fc, torch.tensor(edges).cuda(), 1, batch=torch.tensor(batch).cuda())
    ref = difftda.lower_star_persistence(f, edges, 1, batch=batch)
    for a, b in zip(out, ref):
        for k in range(2):
            assert a[k].pairs.device.type == "cuda"
            assert torch.equal(a[k].pairs.cpu(), b[k].pairs) and torch.equal(a[k].index.cpu(), b[k].index)
    sum(d.pairs.sum() for d in out.cat()).backward()
    assert fc.grad.device.type == "cuda"


# ----------------------------------------------------------------------------------------------
# The example: a learned vertex filtration separates two families of graphs
# ----------------------------------------------------------------------------------------------

def test_graph_filtration_example():
    path = Path(__file__).resolve().parents[1] / "examples" / "graph_filtration.py"
    spec = importlib.util.spec_from_file_location("difftda_example_graph_filtration", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.process_time()  # CPU time: other work on a shared machine does not count
        result = module.run(quick=True, seed=0, verbose=False)
        took = time.process_time() - t0
    finally:
        torch.set_num_threads(threads)
    assert result["test_accuracy"] >= 0.8, result  # chance is 0.5 (balanced classes)
    assert took < 30
