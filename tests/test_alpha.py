"""alpha_persistence: alpha, Delaunay-Cech and weak alpha diagrams against gudhi and giotto-ph called
directly, values against an independent circumradius (a linear solve), gradients against finite
differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import difftda

gudhi = pytest.importorskip("gudhi")
from scipy.sparse import coo_matrix  # noqa: E402
from scipy.spatial import Delaunay  # noqa: E402

WEAK_ENGINES = [b for b in ("giotto", "gudhi") if b in difftda.list_backends("alpha")]


def cloud(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, d))


def gudhi_intervals(x: np.ndarray, kind: str, maxdim: int, squared: bool) -> list[np.ndarray]:
    cls = gudhi.AlphaComplex if kind == "alpha" else gudhi.DelaunayCechComplex
    st = cls(points=x).create_simplex_tree(output_squared_values=squared)
    st.compute_persistence()
    return [np.asarray(st.persistence_intervals_in_dimension(k), float).reshape(-1, 2) for k in range(maxdim + 1)]


def giotto_weak(x: np.ndarray, maxdim: int) -> list[np.ndarray]:
    """giotto-ph on the sparse matrix of Delaunay edge lengths (built here with scipy)."""
    from gph import ripser_parallel

    s = Delaunay(x).simplices
    k = s.shape[1]
    e = np.concatenate([s[:, [i, j]] for i in range(k) for j in range(i + 1, k)])
    e = np.unique(np.sort(e, axis=1), axis=0)
    length = np.linalg.norm(x[e[:, 0]] - x[e[:, 1]], axis=1)
    m = coo_matrix((length, (e[:, 0], e[:, 1])), shape=(len(x), len(x)))
    return ripser_parallel(m, maxdim=maxdim, metric="precomputed")["dgms"]


def rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, float).reshape(-1, 2)
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def same(got: np.ndarray, want: np.ndarray, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    got, want = rows(got), rows(want)
    assert got.shape == want.shape
    fin = np.isfinite(want)
    assert (np.isfinite(got) == fin).all()
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=atol)


def ref_circumradius(p: np.ndarray) -> float:
    """Circumradius of the simplex with vertices ``p`` (k, D) by a linear solve (an independent formula)."""
    if len(p) == 1:
        return 0.0
    a = p[1:] - p[0]
    lam = np.linalg.solve(a @ a.T, 0.5 * (a * a).sum(1))
    return float(np.linalg.norm(a.T @ lam))


# --------------------------------------------------------------------------------------------
# Diagrams against the engines called directly


@pytest.mark.parametrize("kind", ["alpha", "cech"])
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("squared", [False, True])
def test_equals_gudhi(kind, d, squared):
    x = cloud(120, d, seed=d)
    dgms = difftda.alpha_persistence(torch.tensor(x), maxdim=d - 1, kind=kind, squared=squared)
    ref = gudhi_intervals(x, kind, d - 1, squared)
    for k in range(d):
        same(dgms[k].to_numpy(), ref[k])
    assert dgms[0].essential.tolist() == [0.0]


def test_float32_input():
    x = cloud(80, 2, seed=5)
    dgms = difftda.alpha_persistence(torch.tensor(x, dtype=torch.float32), maxdim=1)
    assert dgms[1].pairs.dtype == torch.float32
    same(dgms[1].to_numpy(), gudhi_intervals(x, "alpha", 1, False)[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("d", [2, 3])
def test_weak_h0_equals_rips(d):
    x = torch.tensor(cloud(150, d, seed=7))
    for backend in WEAK_ENGINES:
        weak = difftda.alpha_persistence(x, maxdim=0, kind="weak", backend=backend)
        same(weak[0].to_numpy(), difftda.persistence(x, maxdim=0)[0].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("d", [2, 3])
def test_weak_equals_giotto_on_delaunay_edges(d):
    pytest.importorskip("gph")
    x = cloud(150, d, seed=11)
    ref = giotto_weak(x, d - 1)
    for backend in WEAK_ENGINES:
        dgms = difftda.alpha_persistence(torch.tensor(x), maxdim=d - 1, kind="weak", backend=backend)
        for k in range(d):
            same(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=1e-7)  # giotto-ph pairs in float32


def test_weak_squared():
    x = torch.tensor(cloud(60, 2, seed=3))
    a = difftda.alpha_persistence(x, kind="weak")
    b = difftda.alpha_persistence(x, kind="weak", squared=True)
    same(b[1].to_numpy(), a[1].to_numpy() ** 2)


def test_maxdim_above_dimension_is_empty():
    dgms = difftda.alpha_persistence(torch.tensor(cloud(40, 2)), maxdim=3)
    assert len(dgms) == 4 and len(dgms[2].pairs) == len(dgms[3].pairs) == 0


# --------------------------------------------------------------------------------------------
# Values are read exactly at the simplices the index names


@pytest.mark.parametrize("kind", ["alpha", "cech", "weak"])
@pytest.mark.parametrize("d", [2, 3])
def test_values_at_index(kind, d):
    x = cloud(100, d, seed=13)
    dgms = difftda.alpha_persistence(torch.tensor(x), maxdim=d - 1, kind=kind, backend="gudhi")
    for k in range(d):
        dg = dgms[k]
        index = dg.index.numpy()
        assert index.shape[1] == 2 * (d + 1)
        for half, col in ((index[:, : d + 1], 0), (index[:, d + 1:], 1)):
            for simplex, value in zip(half, dg.pairs[:, col].tolist()):
                p = x[simplex[simplex >= 0]]
                want = ref_circumradius(p) * (2 if kind == "weak" else 1)
                assert value == pytest.approx(want, rel=1e-9, abs=1e-12)
                if kind == "weak":
                    assert len(p) <= 2
        if k == 0:
            assert (index[:, 1: d + 1] == -1).all()  # H0 births are vertices
        assert dg.essential_index.shape == (len(dg.essential), d + 1)


@pytest.mark.parametrize("d", [2, 3])
def test_circumradius_of_every_row_kind(d):
    # Vertex rows (one id, then -1 padding), edges, triangles and tetrahedra against the linear solve,
    # including vertices other than point 0 (a vertex row has radius 0, whatever its vertex).
    from difftda.filtrations.alpha import circumradius

    x = cloud(8, d, seed=21)
    rows = [[v] for v in range(8)] + [[0, 3], [5, 2], [1, 4, 6]] + ([[0, 2, 5, 7]] if d == 3 else [])
    table = torch.tensor([r + [-1] * (d + 1 - len(r)) for r in rows])
    got = circumradius(torch.tensor(x), table)
    want = [ref_circumradius(x[r]) for r in rows]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(circumradius(torch.tensor(x), table, squared=True).numpy(), np.square(want),
                               rtol=1e-12, atol=0)


def test_defining_simplex_is_a_coface_for_alpha():
    # Three points of an obtuse triangle: the long edge is not Gabriel, its value is the triangle's.
    x = torch.tensor([[0.0, 0.0], [4.0, 0.0], [2.0, 0.5], [10.0, 10.0]], dtype=torch.float64)
    dgms = difftda.alpha_persistence(x, maxdim=1, kind="alpha", squared=True)
    ref = gudhi_intervals(x.numpy(), "alpha", 1, True)
    for k in range(2):
        same(dgms[k].to_numpy(), ref[k])


# --------------------------------------------------------------------------------------------
# Gradients


def _total(dgms) -> torch.Tensor:
    return sum((d.pairs[:, 1] - d.pairs[:, 0]).sum() + d.pairs.square().sum() for d in dgms)


@pytest.mark.parametrize("kind", ["alpha", "cech", "weak"])
@pytest.mark.parametrize("d", [2, 3])
def test_gradcheck(kind, d):
    x = torch.tensor(cloud(14 if d == 2 else 12, d, seed=17), requires_grad=True)
    fn = lambda p: _total(difftda.alpha_persistence(p, maxdim=d - 1, kind=kind, backend="gudhi"))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-7, atol=1e-5)


def test_gradient_closed_form_edge():
    # Two points: H0 dies at |a - b| / 2 (alpha); d/da = (a - b) / (2 |a - b|).
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    dgms = difftda.alpha_persistence(x, maxdim=0)
    assert dgms[0].pairs[:, 1].item() == pytest.approx(2.5)
    dgms[0].pairs[:, 1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[-0.3, -0.4], [0.3, 0.4]])


# --------------------------------------------------------------------------------------------
# Batches


@pytest.mark.parametrize("kind", ["alpha", "weak"])
def test_batch_equals_loop(kind):
    xs = [torch.tensor(cloud(n, 2, seed=n), requires_grad=True) for n in (30, 45, 20)]
    out = difftda.alpha_persistence(xs, maxdim=1, kind=kind)
    assert isinstance(out, difftda.DiagramBatch) and len(out) == 3
    _total(out.cat()).backward()
    grads = [x.grad.clone() for x in xs]
    for x, g, dg in zip(xs, grads, out):
        x.grad = None
        one = difftda.alpha_persistence(x, maxdim=1, kind=kind)
        for a, b in zip(dg, one):
            torch.testing.assert_close(a.pairs, b.pairs)
            torch.testing.assert_close(a.index, b.index)
            torch.testing.assert_close(a.essential_index, b.essential_index)
        _total(one).backward()
        torch.testing.assert_close(x.grad, g)
    stacked = difftda.alpha_persistence(torch.stack([torch.tensor(cloud(25, 3, seed=s)) for s in (1, 2)]), maxdim=2)
    for s, dg in zip((1, 2), stacked):
        same(dg[2].to_numpy(), gudhi_intervals(cloud(25, 3, seed=s), "alpha", 2, False)[2])


# --------------------------------------------------------------------------------------------
# Degenerate input


def _grid(m: int) -> np.ndarray:
    g = np.arange(m, dtype=float)
    return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)


DEGENERATE = {
    "duplicates": np.concatenate([cloud(30, 2, seed=21), cloud(30, 2, seed=21)[:10]]),
    "grid": _grid(6),
    "polygon": np.stack([np.cos(np.arange(12) * math.pi / 6), np.sin(np.arange(12) * math.pi / 6)], 1),
    "collinear": np.stack([np.arange(8.0) ** 1.3, 2 * np.arange(8.0) ** 1.3], 1),
    "cube": np.stack(np.meshgrid(*[np.arange(3.0)] * 3), -1).reshape(-1, 3),
    "coplanar_3d": np.concatenate([cloud(20, 2, seed=2), np.zeros((20, 1))], 1),
}


@pytest.mark.parametrize("name", list(DEGENERATE))
@pytest.mark.parametrize("kind", ["alpha", "cech", "weak"])
def test_degenerate(name, kind):
    x_np = DEGENERATE[name]
    d = x_np.shape[1]
    x = torch.tensor(x_np, requires_grad=True)
    dgms = difftda.alpha_persistence(x, maxdim=d - 1, kind=kind)
    if kind == "weak":
        same(dgms[0].to_numpy(), difftda.persistence(x.detach(), maxdim=0)[0].to_numpy())
    else:
        ref = gudhi_intervals(x_np, kind, d - 1, False)
        for k in range(d):
            same(dgms[k].to_numpy(), ref[k], rtol=1e-7, atol=1e-9)
    _total(dgms).backward()
    assert torch.isfinite(x.grad).all()


def test_single_point_and_pair():
    one = difftda.alpha_persistence(torch.zeros(1, 2))
    assert len(one[0].pairs) == 0 and one[0].essential.tolist() == [0.0]
    two = difftda.alpha_persistence(torch.tensor([[0.0, 0.0], [0.0, 2.0]]), kind="weak")
    assert two[0].pairs.tolist() == [[0.0, 2.0]]


# --------------------------------------------------------------------------------------------
# Bad input


def test_bad_input():
    with pytest.raises(ValueError, match="persistence"):
        difftda.alpha_persistence(torch.randn(10, 4))
    with pytest.raises(ValueError, match="kind"):
        difftda.alpha_persistence(torch.randn(10, 2), kind="rips")
    with pytest.raises(TypeError, match="squared"):
        difftda.alpha_persistence(torch.randn(10, 2), squared=1)
    with pytest.raises(TypeError, match="float32 or float64"):
        difftda.alpha_persistence(torch.zeros(10, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN"):
        difftda.alpha_persistence(torch.tensor([[0.0, math.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="no points"):
        difftda.alpha_persistence(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="dimension"):
        difftda.alpha_persistence([torch.randn(5, 2), torch.randn(5, 3)])
    with pytest.raises(ValueError, match="shape"):
        difftda.alpha_persistence(torch.randn(2, 3, 4, 2))
    with pytest.raises(ValueError, match="maxdim"):
        difftda.alpha_persistence(torch.randn(10, 2), maxdim=-1)
    if "giotto" in difftda.list_backends("alpha"):
        with pytest.raises(ValueError, match="weak"):
            difftda.alpha_persistence(torch.randn(10, 2), kind="alpha", backend="giotto")
    with pytest.raises(ValueError, match="backend"):
        difftda.alpha_persistence(torch.randn(10, 2), backend="ripser")


def test_module_twin():
    layer = difftda.AlphaPersistence(maxdim=1, kind="cech", squared=True)
    x = torch.tensor(cloud(40, 2, seed=4))
    same(layer(x)[1].to_numpy(), gudhi_intervals(x.numpy(), "cech", 1, True)[1])
    assert "cech" in repr(layer)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.tensor(cloud(200, 3, seed=9))
    cpu = difftda.alpha_persistence(x, maxdim=2)
    xc = x.cuda().requires_grad_()
    gpu = difftda.alpha_persistence(xc, maxdim=2)
    assert gpu[1].pairs.device.type == "cuda"
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(a.pairs, b.pairs.cpu())
    _total(gpu).backward()
    assert torch.isfinite(xc.grad).all()


def test_example_opens_a_hole():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "alpha_large.py"
    spec = importlib.util.spec_from_file_location("alpha_large", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result = mod.open_hole(n=1000, steps=8, lr=0.01, seed=0)
    curve = result["curve"]
    assert curve[-1] > 1.5 * curve[0]
    # The final longest bar, recomputed from scratch with gudhi, has the persistence reported.
    x = result["x"].numpy()
    ref = gudhi_intervals(x, "alpha", 1, False)[1]
    assert float((ref[:, 1] - ref[:, 0]).max()) == pytest.approx(curve[-1], rel=1e-9)


@pytest.mark.parametrize("kind", ["alpha", "cech", "weak"])
@pytest.mark.parametrize("scale", [2.0**-200, 1e-60, 1e60, 2.0**300])
def test_extreme_scales_follow_the_scaling_law(kind, scale):
    """Every value scales with the cloud: at 1e-60 or 1e60 the diagrams are the unit cloud's times the
    scale (checked against gudhi at unit scale), and the gradients of a bar's persistence are the same."""
    rng = np.random.default_rng(3)
    pts = torch.tensor(rng.random((25, 2)), dtype=torch.float64)
    unit = difftda.alpha_persistence(pts, 1, kind=kind)
    if kind != "weak":
        ac = gudhi.AlphaComplex(points=pts.numpy()).create_simplex_tree()
        ac.compute_persistence()
        ref = np.sort(np.sqrt(ac.persistence_intervals_in_dimension(1)), axis=0)
        np.testing.assert_allclose(np.sort(unit[1].pairs.numpy(), axis=0), ref, rtol=1e-12)
    x = (pts * scale).requires_grad_()
    far = difftda.alpha_persistence(x, 1, kind=kind)
    for k in range(2):
        assert far[k].pairs.shape == unit[k].pairs.shape
        torch.testing.assert_close(far[k].pairs / scale, unit[k].pairs, rtol=1e-12, atol=0)
    (far[1].pairs[:, 1] - far[1].pairs[:, 0]).sum().backward()
    y = pts.clone().requires_grad_()
    one = difftda.alpha_persistence(y, 1, kind=kind)
    (one[1].pairs[:, 1] - one[1].pairs[:, 0]).sum().backward()
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------------
# The autograd node: double backward, forward mode, compiled kernels against their torch / numpy twins


@pytest.mark.parametrize("kind", ["alpha", "weak"])
@pytest.mark.parametrize("d", [2, 3])
def test_double_backward_and_forward_mode(kind, d):
    import torch.autograd.forward_ad as fwAD

    x = torch.tensor(cloud(10, d, seed=23), requires_grad=True)

    def fn(p):
        return _total(difftda.alpha_persistence(p, maxdim=d - 1, kind=kind, squared=kind == "alpha"))

    assert torch.autograd.gradgradcheck(fn, (x,), eps=1e-7, atol=1e-5)
    t = torch.tensor(np.random.default_rng(1).standard_normal(x.shape))
    with fwAD.dual_level():
        jvp = fwAD.unpack_dual(fn(fwAD.make_dual(x.detach(), t))).tangent
    eps = 1e-6  # central finite difference along t (the pairing does not change for so small a step)
    fd = (fn(x.detach() + eps * t) - fn(x.detach() - eps * t)) / (2 * eps)
    assert jvp.item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-8)


def _rows(d: int) -> np.ndarray:
    """Vertex rows of every size, generic and degenerate (repeated vertex, collinear, flat), padded."""
    rng = np.random.default_rng(d)
    rows = [[3], [0, 1], [2, 2], [0, 1, 2], [4, 5, 6], [0, 0, 1]]
    rows += [list(rng.choice(12, size=s, replace=False)) for s in (2, 3) * 20]
    if d == 3:
        rows += [[0, 1, 2, 3], [8, 9, 10, 11]] + [list(rng.choice(12, size=4, replace=False)) for _ in range(20)]
    return np.array([r + [-1] * (d + 1 - len(r)) for r in rows], np.int64)


def _points(d: int) -> np.ndarray:
    x = cloud(12, d, seed=31)
    x[4:7] = np.array([[0.25, 0.5, 0.125], [0.75, 0.0, 0.625], [0.5, 0.25, 0.375]])[:, :d]  # collinear, exactly
    if d == 3:
        x[11, 2] = x[8, 2] = x[9, 2] = x[10, 2]  # 8..11 in one plane
    return x


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("squared", [False, True])
def test_radius_kernel_matches_torch(d, squared):
    pytest.importorskip("numba")
    from difftda.filtrations.alpha import _radius_and_slope, _radius_kernel, _scatter_slopes

    x, simp = _points(d), _rows(d)
    value, slope = np.zeros(len(simp)), np.zeros((*simp.shape, d))
    _radius_kernel(x, simp, squared, 1.0, value, slope)
    tv, ts = _radius_and_slope(torch.tensor(x), torch.tensor(simp), squared=squared)
    np.testing.assert_allclose(value, tv.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(slope, ts.numpy(), rtol=1e-10, atol=1e-12)
    # Against the linear solve; a flat simplex (repeated vertex, collinear, coplanar) reads 0.
    flat = [np.linalg.matrix_rank(x[r[r >= 0]][1:] - x[r[0]], tol=1e-9) < (r >= 0).sum() - 1 for r in simp]
    want = np.array([0.0 if f else ref_circumradius(x[r[r >= 0]]) for r, f in zip(simp, flat)])
    np.testing.assert_allclose(value, np.square(want) if squared else want, rtol=1e-9)
    assert sum(flat) >= 3
    grad = np.random.default_rng(0).standard_normal(len(simp))
    out = np.zeros_like(x)
    _scatter_slopes(simp, slope, grad, out)
    ref = torch.zeros(len(x), d, dtype=torch.float64).index_add(
        0, torch.tensor(simp).clamp_min(0).reshape(-1), torch.tensor(slope * grad[:, None, None]).reshape(-1, d))
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("d", [2, 3])
def test_attached_kernel_matches_numpy(d):
    pytest.importorskip("numba")
    from difftda.backends._alpha import _attached_kernel, attached, circum_sq

    x = np.concatenate([_grid(4) if d == 2 else DEGENERATE["cube"], _points(d)])
    s = Delaunay(x, qhull_options="QJ").simplices
    rng = np.random.default_rng(2)
    for k in range(2, d + 2):
        simp = np.unique(np.sort(s[:, :k], axis=1), axis=0)
        r2 = circum_sq(x[simp])
        values = np.where(rng.random(len(simp)) < 0.5, r2, r2 * (1 + rng.choice([1e-12, 1e-6, 1.0], len(simp))))
        mask = np.zeros(len(simp), np.bool_)
        _attached_kernel(x, simp, values, mask)
        np.testing.assert_array_equal(mask, attached(x[simp], values))
        assert mask.any() and not mask.all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["alpha", "cech", "weak"])
def test_without_compiled_kernels_the_same(kind, dtype, monkeypatch):
    """Compiled and torch radii agree: to the last bits in float64; in float32 within its rounding
    (the kernel computes in float64 and rounds once)."""
    x = torch.tensor(cloud(60, 3, seed=29), dtype=dtype, requires_grad=True)
    fast = difftda.alpha_persistence(x, maxdim=2, kind=kind)
    (g_fast,) = torch.autograd.grad(_total(fast), x)
    from difftda import _jit

    if not _jit.enabled():
        pytest.skip("numba is not installed: the numpy path is the only one")
    monkeypatch.setattr(_jit, "DISABLED", True)
    assert not _jit.enabled()
    plain = difftda.alpha_persistence(x, maxdim=2, kind=kind)
    (g_plain,) = torch.autograd.grad(_total(plain), x)
    tight = dtype == torch.float64
    for a, b in zip(fast, plain):
        torch.testing.assert_close(a.pairs, b.pairs, rtol=1e-12 if tight else 2e-6, atol=0)
        assert torch.equal(a.index, b.index)
    torch.testing.assert_close(g_fast, g_plain, rtol=1e-10 if tight else 1e-4, atol=1e-12 if tight else 1e-5)


def _lexsorted(values, bars):
    """The bars that survive (death != birth), ordered by a lexsort over every key: the reference."""
    b_val = np.where(bars.birth >= 0, values[np.maximum(bars.birth, 0)], 0.0)
    d_val = values[bars.death]
    keep = b_val != d_val
    ref = np.lexsort(tuple(bars.index[keep].T[::-1]) + (d_val[keep], b_val[keep], bars.group[keep]))
    e_val = np.where(bars.ess_birth >= 0, values[np.maximum(bars.ess_birth, 0)], 0.0)
    e_ref = np.lexsort(tuple(bars.ess_index.T[::-1]) + (e_val, bars.ess_group))
    return [a[keep][ref] for a in bars[:4]] + [a[e_ref] for a in bars[4:]]


def test_bar_order_on_tie_heavy_input():
    # Large clouds always have equal radii: the bars still come in the order of a lexsort over
    # (group, birth value, death value, index columns), on engine output and on random bars.
    from difftda.backends import get_backend
    from difftda.filtrations.alpha import _bars
    from difftda.gather import Bars, normalize

    engine = get_backend("gudhi", maxdim=1, filtration="alpha", kind="alpha")
    for x in (_grid(12), np.round(cloud(2000, 2, seed=3) * 64) / 64):  # equal radii everywhere
        bars, _, values = _bars([engine.pairing(np.unique(x, axis=0), maxdim=1, kind="alpha")], 1, len(x), 1)
        for got, want in zip(normalize(values, bars), _lexsorted(values, bars)):
            np.testing.assert_array_equal(got, want)
    rng = np.random.default_rng(0)
    n, m = 3000, 500
    values = rng.integers(0, 4, n).astype(float)
    fin = rng.integers(-1, n, (n, 2))
    bars = Bars(fin[:, 0], fin[:, 1] % n, rng.integers(0, 4, n), rng.integers(-1, 3, (n, 6)),
                rng.integers(-1, n, m), rng.integers(0, 4, m), rng.integers(-1, 3, (m, 3)))
    for got, want in zip(normalize(values, bars), _lexsorted(values, bars)):
        np.testing.assert_array_equal(got, want)
