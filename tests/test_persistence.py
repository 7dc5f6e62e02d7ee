"""The contract of difftda.persistence: shapes, batches, thresh, coeff, corner cases, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import connected_components

import difftda
from difftda.backends import Backend, DimPairing, register_backend
from reference import assert_same_diagram, distance_matrix, gudhi_diagrams


def _same(a: difftda.Diagrams, b: difftda.Diagrams) -> None:
    assert len(a) == len(b)
    for da, db in zip(a, b):
        for fa, fb in zip(da, db):
            assert torch.equal(fa, fb)


def test_result_types(backend):
    x = torch.randn(40, 2)
    dgms = difftda.persistence(x, maxdim=1, backend=backend)
    assert isinstance(dgms, difftda.Diagrams) and len(dgms) == 2
    assert isinstance(dgms[0], difftda.Diagram)
    assert dgms[0].pairs.shape == (39, 2) and dgms[0].essential.shape == (1,)
    arrays = dgms.to_numpy()
    assert len(arrays) == 2 and all(a.ndim == 2 and a.shape[1] == 2 for a in arrays)
    assert np.isinf(arrays[0][:, 1]).sum() == 1


def test_to_numpy_feeds_persim_and_gudhi(backend):
    persim = pytest.importorskip("persim")
    import gudhi

    x = torch.randn(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    dgm = difftda.persistence(x, maxdim=1, backend=backend).to_numpy()[1]
    assert persim.bottleneck(dgm, dgm) == 0.0
    assert gudhi.bottleneck_distance(dgm, dgm, e=0) < 1e-12


@pytest.mark.parametrize("dim", [3, 12])
@pytest.mark.parametrize("metric", ["euclidean", "precomputed"])
def test_batch_equals_per_cloud(backend, metric, dim):
    x = torch.randn(4, 25, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    if metric == "precomputed":
        x = difftda.pairwise_distances(x)
    out = difftda.persistence(x, maxdim=1, backend=backend, metric=metric)
    assert isinstance(out, list) and len(out) == 4
    for b in range(4):
        _same(out[b], difftda.persistence(x[b], maxdim=1, backend=backend, metric=metric))


@pytest.mark.parametrize("dim", [2, 9])
@pytest.mark.parametrize("metric", ["euclidean", "precomputed"])
def test_ragged_list_equals_per_cloud(backend, metric, dim):
    g = torch.Generator().manual_seed(2)
    clouds = [torch.randn(n, dim, dtype=torch.float64, generator=g) for n in (1, 17, 30, 2, 9)]
    if metric == "precomputed":
        clouds = [difftda.pairwise_distances(c) for c in clouds]
    clouds = [c.requires_grad_(True) for c in clouds]
    out = difftda.persistence(clouds, maxdim=1, backend=backend, metric=metric)
    sum(d[0].pairs.sum() + d[1].pairs.sum() for d in out).backward()
    for c, got in zip(clouds, out):
        c2 = c.detach().clone().requires_grad_(True)
        ref = difftda.persistence(c2, maxdim=1, backend=backend, metric=metric)
        _same(got, ref)
        (ref[0].pairs.sum() + ref[1].pairs.sum()).backward()
        torch.testing.assert_close(c.grad, c2.grad)


def test_thresh_components_become_essential(backend):
    x = torch.randn(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    thresh = 0.3
    dgms = difftda.persistence(x, maxdim=1, backend=backend, thresh=thresh)
    d = distance_matrix(x.numpy())
    n_comp, _ = connected_components((d <= thresh) & (d > 0) | np.eye(40, dtype=bool), directed=False)
    assert n_comp > 1
    assert dgms[0].essential.shape == (n_comp,)
    assert (dgms[0].pairs[:, 1] <= thresh).all()
    ref = gudhi_diagrams(d, 1, thresh=thresh)
    for k in range(2):
        assert_same_diagram(dgms[k].to_numpy(), ref[k], rtol=1e-6, atol=1e-6)


def _rp2_matrix(n_side: int = 9) -> torch.Tensor:
    """Points of the projective plane: the upper hemisphere of a Fibonacci sphere, x ~ -x."""
    k = torch.arange(2 * n_side * n_side, dtype=torch.float64) + 0.5
    phi = torch.acos(1 - 2 * k / len(k))
    theta = math.pi * (1 + 5**0.5) * k
    p = torch.stack([phi.sin() * theta.cos(), phi.sin() * theta.sin(), phi.cos()], 1)
    p = p[p[:, 2] > 0]
    return torch.minimum(torch.cdist(p, p), torch.cdist(p, -p)).fill_diagonal_(0)


def test_coeff_reaches_the_backend(backend):
    # RP^2 has H1 = Z/2 over Z/2 but H1 = 0 over Z/3: a long H1 bar exists for coeff=2 only.
    d = _rp2_matrix()
    longest = {}
    for coeff in (2, 3):
        dgm = difftda.persistence(d, maxdim=1, backend=backend, metric="precomputed", coeff=coeff)[1]
        life = dgm.pairs[:, 1] - dgm.pairs[:, 0]
        longest[coeff] = float(life.max()) if len(life) else 0.0
    assert longest[2] > 0.4 and longest[3] < 0.2, longest


def test_one_point(backend):
    for x in (torch.randn(1, 3), torch.zeros(1, 1, dtype=torch.float64)):
        dgms = difftda.persistence(x, maxdim=2, backend=backend)
        assert dgms[0].pairs.shape == (0, 2) and dgms[0].essential.shape == (1,)
        assert float(dgms[0].essential[0]) == 0.0
        assert all(d.pairs.shape == (0, 2) and d.essential.shape == (0,) for d in dgms[1:])


def test_two_identical_points(backend):
    x = torch.ones(2, 2, requires_grad=True)
    dgms = difftda.persistence(x, maxdim=1, backend=backend)
    assert dgms[0].pairs.shape == (0, 2) and dgms[0].essential.shape == (1,)
    assert dgms[1].pairs.shape == (0, 2)
    (dgms[0].pairs.sum() + dgms[0].essential.sum()).backward()  # a differentiable empty sum
    assert torch.equal(x.grad, torch.zeros(2, 2))


def test_empty_dimensions_have_shapes(backend):
    dgms = difftda.persistence(torch.randn(3, 2), maxdim=3, backend=backend)
    for d in dgms[1:]:
        assert d.pairs.shape == (0, 2) and d.index.shape == (0, 4) and d.essential_index.shape == (0, 2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_giotto_threads_never_hand_out_a_wrong_edge(seed):
    """giotto-ph with n_threads > 1 can mislabel H1 birth edges; difftda must repair that."""
    pytest.importorskip("gph")
    from difftda.datasets import noisy_circle

    x = noisy_circle(400, seed=seed, dtype=torch.float64)
    one = difftda.persistence(x, maxdim=1, backend="giotto")
    two = difftda.persistence(x, maxdim=1, backend="giotto:n_threads=2")
    d = difftda.pairwise_distances(x)
    for k in range(2):
        i = two[k].index
        assert torch.equal(two[k].pairs[:, 0], d[i[:, 0], i[:, 1]])
        assert torch.equal(two[k].pairs[:, 1], d[i[:, 2], i[:, 3]])
        assert torch.equal(two[k].pairs, one[k].pairs)
        assert torch.equal(two[k].index[:, 2:], one[k].index[:, 2:])


def _corrupting(engine, calls):
    """Wrap giotto-ph so that multithreaded calls report a wrong birth edge for every H1 bar."""
    real = engine._ripser

    def corrupted(dist, **kw):
        out = real(dist, **kw)
        calls.append(kw["n_threads"])
        if kw["n_threads"] != 1:
            out["gens"][1][0][:, :2] = [0, dist.shape[0] - 1]
        return out

    return corrupted


@pytest.mark.parametrize("data", ["generic", "grid"])
def test_giotto_wrong_edges_are_repaired(monkeypatch, data):
    """Generic lengths: a wrong edge is replaced by the unique edge of the bar's length. Tied
    lengths (a grid): no unique edge, so the call is rerun on one thread."""
    pytest.importorskip("gph")
    g = torch.arange(7, dtype=torch.float64)
    x = (torch.randn(60, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
         if data == "generic" else torch.cartesian_prod(g, g))
    engine = difftda.get_backend("giotto:n_threads=2")
    calls: list[int] = []
    monkeypatch.setattr(engine, "_ripser", _corrupting(engine, calls))
    dgms = difftda.persistence(x, maxdim=1, backend=engine)
    assert calls == ([2] if data == "generic" else [2, 1])
    assert len(dgms[1].pairs) > 0
    d = difftda.pairwise_distances(x)
    i = dgms[1].index
    assert torch.equal(dgms[1].pairs[:, 0], d[i[:, 0], i[:, 1]])
    one = difftda.persistence(x, maxdim=1, backend="giotto")
    assert torch.equal(dgms[1].pairs, one[1].pairs)
    if data == "generic":
        assert torch.equal(dgms[1].index, one[1].index)


def test_giotto_auto_threads():
    pytest.importorskip("gph")
    engine = difftda.get_backend("giotto:n_threads=auto")
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert engine._threads(20) == 1 and engine._threads(1000) == max(1, min(8, cores))
    with warnings.catch_warnings():  # more threads than cores are capped, with a warning
        warnings.simplefilter("ignore")
        assert difftda.get_backend("giotto:n_threads=3")._threads(20) == min(3, cores)
    assert str(engine) == "giotto:n_threads=auto"


def test_auto_backend():
    dgms = difftda.persistence(torch.randn(20, 2), maxdim=1)
    assert len(dgms) == 2
    order = [b for b in ("giotto", "gudhi", "ripser") if b in difftda.list_backends()]
    assert difftda.get_backend("auto", maxdim=1).name == order[0]


def test_module_wrapper():
    layer = difftda.Persistence(maxdim=1, backend="auto")
    x = torch.randn(15, 2, dtype=torch.float64)
    _same(layer(x), difftda.persistence(x, maxdim=1))
    assert "maxdim=1" in repr(layer)


# ----------------------------------------------------------------------------- backend specs

def test_spec_round_trip():
    for spec in difftda.list_backends():
        assert str(difftda.get_backend(str(difftda.get_backend(spec)))) == str(difftda.get_backend(spec))
    if "giotto" in difftda.list_backends():
        assert str(difftda.get_backend("giotto:n_threads=2")) == "giotto:n_threads=2"
        assert difftda.get_backend(" giotto : n_threads = 2 ").n_threads == 2


def test_unknown_backend_lists_installed():
    with pytest.raises(ValueError, match="installed: " + ", ".join(difftda.list_backends())):
        difftda.persistence(torch.randn(5, 2), backend="giotoo")
    with pytest.raises(ValueError, match="Did you mean 'giotto'"):
        difftda.get_backend("giotoo")


def test_unknown_option_lists_keys(backend):
    with pytest.raises(TypeError, match="valid keys"):
        difftda.get_backend(f"{backend}:no_such_option=1")
    with pytest.raises(ValueError, match="key=value"):
        difftda.get_backend(f"{backend}:oops")


def test_bad_option_value():
    if "giotto" in difftda.list_backends():
        with pytest.raises(ValueError, match="n_threads"):
            difftda.get_backend("giotto:n_threads=0")


def test_missing_package_names_the_extra():
    @register_backend
    class Phantom(Backend):
        name = "phantom-test"
        requires = "difftda_no_such_package_xyz"
        extra = "phantom"

        def pairing(self, dist, *, maxdim, thresh, coeff):  # pragma: no cover
            return (DimPairing.empty(),)

    try:
        assert "phantom-test" not in difftda.list_backends()
        with pytest.raises(difftda.BackendUnavailableError, match=r"pip install -e '\.\[phantom\]'"):
            difftda.get_backend("phantom-test")
        assert issubclass(difftda.BackendUnavailableError, ImportError)
    finally:
        from difftda.backends import unregister_backend

        unregister_backend("phantom-test")


# ----------------------------------------------------------------------------- argument errors

@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(x=np.zeros((5, 2))), TypeError, "torch.Tensor"),
        (dict(x=torch.zeros(5, 2, dtype=torch.int64)), TypeError, "float32 or float64"),
        (dict(x=torch.zeros(5)), ValueError, "shape"),
        (dict(x=torch.zeros(2, 5, 2, 2)), ValueError, "shape"),
        (dict(x=torch.tensor([[0.0, float("nan")], [1.0, 1.0]])), ValueError, "NaN"),
        (dict(x=torch.tensor([[0.0, float("inf")], [1.0, 1.0]])), ValueError, "inf"),
        (dict(x=torch.tensor([[[0.0, 1.0], [1.0, 1.0]], [[0.0, 1.0], [float("nan"), 1.0]]])), ValueError, "NaN"),
        (dict(x=[torch.zeros(3, 2), torch.tensor([[0.0, float("inf")]])]), ValueError, r"x\[1\].*inf"),
        (dict(x=torch.tensor([[0.0, float("nan")], [float("nan"), 0.0]]), metric="precomputed"), ValueError, "NaN"),
        (dict(x=torch.tensor([[0.0, float("inf")], [float("inf"), 0.0]]), metric="precomputed"), ValueError, "inf"),
        (dict(maxdim=-1), ValueError, "maxdim"),
        (dict(maxdim=1.5), TypeError, "maxdim"),
        (dict(metric="cosine"), ValueError, "metric"),
        (dict(thresh=0.0), ValueError, "thresh"),
        (dict(thresh=-1.0), ValueError, "thresh"),
        (dict(coeff=4), ValueError, "prime"),
        (dict(coeff=1), ValueError, "prime"),
        (dict(x=torch.zeros(0, 2)), ValueError, "no points"),
        (dict(x=[]), ValueError, "empty"),
        (dict(x=[torch.zeros(3, 2), torch.zeros(3, 3)]), ValueError, "dimension"),
        (dict(x=torch.zeros(4, 3), metric="precomputed"), ValueError, "square"),
        (dict(x=-difftda.pairwise_distances(torch.randn(4, 2)), metric="precomputed"), ValueError,
         "non-negative"),
        (dict(x=difftda.pairwise_distances(torch.randn(4, 2)) + torch.eye(4), metric="precomputed"), ValueError,
         "diagonal"),
        (dict(x=torch.tensor([[0.0, 1.0], [2.0, 0.0]]), metric="precomputed"), ValueError, "symmetric"),
    ],
)
def test_errors(kwargs, exc, match):
    args = dict(x=torch.randn(5, 2), maxdim=1)
    args.update(kwargs)
    x = args.pop("x")
    with pytest.raises(exc, match=match):
        difftda.persistence(x, **args)


def test_precomputed_rounding_asymmetry_is_accepted(backend):
    d = difftda.pairwise_distances(torch.randn(20, 2, dtype=torch.float64))
    noisy = d + 1e-13 * torch.rand(20, 20, dtype=torch.float64) * (1 - torch.eye(20, dtype=torch.float64))
    a = difftda.persistence(noisy, maxdim=1, backend=backend, metric="precomputed")
    b = difftda.persistence(d, maxdim=1, backend=backend, metric="precomputed")
    for k in range(2):
        torch.testing.assert_close(a[k].pairs, b[k].pairs)


def test_batch_cat_holds_every_bar(backend):
    g = torch.Generator().manual_seed(6)
    clouds = [torch.randn(n, 2, dtype=torch.float64, generator=g) for n in (12, 1, 20)]
    out = difftda.persistence(clouds, maxdim=1, backend=backend)
    whole = out.cat()
    for k in range(2):
        fin_cloud, ess_cloud = out.cloud_of(k)
        for b, dgms in enumerate(out):
            assert torch.equal(whole[k].pairs[fin_cloud == b], dgms[k].pairs)
            assert torch.equal(whole[k].index[fin_cloud == b], dgms[k].index)
            assert torch.equal(whole[k].essential[ess_cloud == b], dgms[k].essential)
    total = sum(d[0].pairs[:, 1].sum() for d in out)
    torch.testing.assert_close(whole[0].pairs[:, 1].sum(), total)


def test_batch_of_one_names_item_zero(backend):
    """A batch of one cloud: every bar of every dimension belongs to item 0."""
    g = torch.Generator().manual_seed(7)
    out = difftda.persistence(torch.randn(1, 15, 2, dtype=torch.float64, generator=g), maxdim=1, backend=backend)
    for k in range(2):
        fin_cloud, ess_cloud = out.cloud_of(k)
        assert len(fin_cloud) == len(out.cat()[k].pairs) and not fin_cloud.any() and not ess_cloud.any()


def test_auto_takes_no_options():
    with pytest.raises(TypeError, match="auto"):
        difftda.get_backend("auto:n_threads=2")


def test_coeff_beyond_the_engine_is_refused(backend):
    limit = difftda.get_backend(backend).max_coeff
    with pytest.raises(ValueError, match=f"coeff must be a prime <= {limit}"):
        difftda.persistence(torch.randn(6, 2), maxdim=1, backend=backend, coeff=131 if limit == 127 else 46349)
    with pytest.raises(ValueError, match="coeff"):
        difftda.persistence(torch.randn(6, 2), maxdim=1, backend=backend, coeff=2**61 - 1)


@pytest.mark.parametrize("scale", [1e20, 1e-25])
def test_float32_scales_that_over_or_underflow_are_refused(scale):
    with pytest.raises(ValueError, match="Rescale"):
        difftda.persistence(torch.randn(6, 2) * scale, maxdim=1)
    dgms = difftda.persistence((torch.randn(6, 2) * scale).double(), maxdim=0)  # fine in float64
    assert len(dgms[0].pairs) == 5


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_refused(dtype):
    for metric, x in (("euclidean", torch.randn(5, 2)), ("precomputed", difftda.pairwise_distances(torch.randn(5, 2)))):
        with pytest.raises(TypeError, match="float32 or float64"):
            difftda.persistence(x.to(dtype), maxdim=0, metric=metric)


def test_empty_batch_is_refused():
    with pytest.raises(ValueError, match="empty batch"):
        difftda.persistence(torch.zeros(0, 5, 2), maxdim=0)


@pytest.mark.parametrize(
    "matrix,match",
    [
        ([[0, 1e-7, 2e-7], [5e-6, 0, 1e-7], [2e-7, 1e-7, 0]], "symmetric"),
        ([[4e-6, 1e-7], [1e-7, 0]], "diagonal"),
    ],
)
def test_small_scale_precomputed_checks_are_relative(matrix, match):
    for dtype in (torch.float32, torch.float64):
        with pytest.raises(ValueError, match=match):
            difftda.persistence(torch.tensor(matrix, dtype=dtype), maxdim=0, metric="precomputed")


def test_precomputed_gradient_is_symmetric_and_a_step_stays_valid(backend):
    x = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    d = difftda.pairwise_distances(x).requires_grad_(True)
    dgms = difftda.persistence(d, maxdim=1, backend=backend, metric="precomputed")
    (dgms[0].pairs[:, 1].sum() + dgms[1].pairs.sum()).backward()
    assert torch.equal(d.grad, d.grad.T) and d.grad.abs().sum() > 0
    step = (d - 0.01 * d.grad).clamp_min(0).detach()  # a gradient step keeps a valid matrix
    difftda.persistence(step, maxdim=1, backend=backend, metric="precomputed")


def test_module_checks_its_backend_eagerly():
    with pytest.raises(ValueError, match="maxdim"):
        difftda.Persistence(maxdim=1, backend="torch")
    if "giotto" in difftda.list_backends():
        with pytest.raises(ValueError, match="coeff"):
            difftda.Persistence(maxdim=1, backend="giotto", coeff=131)


# ----------------------------------------------------------------------------- registry and input forms

def test_list_of_lists_explains_batches():
    with pytest.raises(TypeError, match="a list means a batch"):
        difftda.persistence([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], 0)


def test_repeated_spec_option_is_an_error():
    with pytest.raises(ValueError, match="given twice"):
        difftda.get_backend("giotto:n_threads=2,n_threads=3")


def test_distance_matrix_read_as_points_warns():
    pts = torch.randn(7, 2, dtype=torch.float64)
    d = torch.cdist(pts, pts)
    d = (d + d.T) / 2
    d.fill_diagonal_(0)
    with pytest.warns(UserWarning, match="metric='precomputed'"):
        difftda.persistence(d, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        difftda.persistence(d, 0, metric="precomputed")
        difftda.persistence(torch.randn(7, 7), 0)  # square points that are not a distance matrix


def test_engine_of_another_filtration_is_refused():
    from difftda.backends import Engine, unregister_backend

    @register_backend
    class Other(Engine):
        name = "phantom-other"
        filtration = "phantom-filtration"

        def __init__(self) -> None:
            pass

    try:
        assert difftda.list_backends("phantom-filtration") == ["phantom-other"]
        with pytest.raises(ValueError, match="does not compute rips persistence"):
            difftda.get_backend("phantom-other")
        engine = difftda.get_backend("auto", filtration="phantom-filtration")
        assert isinstance(engine, Other)
        with pytest.raises(ValueError, match="computes phantom-filtration persistence, not rips"):
            difftda.persistence(torch.randn(5, 2), 0, backend=engine)
        with pytest.raises(ValueError, match="unknown filtration"):
            difftda.list_backends("no-such-filtration")
    finally:
        unregister_backend("phantom-other", "phantom-filtration")


def test_memory_error_from_an_engine_propagates(monkeypatch):
    engine = difftda.get_backend("gudhi")

    def boom(*args, **kwargs):
        raise MemoryError("needs 9 TB")

    monkeypatch.setattr(type(engine), "pairing_batch", boom)
    with pytest.raises(MemoryError, match="9 TB"):
        difftda.persistence(torch.randn(10, 2), 1, backend="gudhi")


def test_auto_skips_engines_that_refuse_the_input():
    """Engine.refuses: "auto" takes the best engine that accepts what the input needs, a named engine
    that refuses raises with its reason (the alpha and cubical engines are the live cases)."""
    from difftda.backends import Engine, unregister_backend

    class Base(Engine):
        filtration = "phantom-requests"

        def __init__(self) -> None:
            pass

        @classmethod
        def refuses(cls, maxdim, *, size=None, **request):
            if size is not None and size > cls.limit:
                return f"takes inputs up to size {cls.limit}; got {size}"
            return super().refuses(maxdim, **request)

    @register_backend
    class Small(Base):
        name, auto_rank, limit = "small", 1, 10

    @register_backend
    class Large(Base):
        name, auto_rank, limit = "large", 2, 1000

    try:
        assert difftda.get_backend("auto", filtration="phantom-requests", size=5).name == "small"
        assert difftda.get_backend("auto", filtration="phantom-requests", size=50).name == "large"
        with pytest.raises(ValueError, match="up to size 10; got 50. Engines that can: large"):
            difftda.get_backend("small", filtration="phantom-requests", size=50)
        with pytest.raises(ValueError, match="up to size 10"):
            difftda.get_backend(difftda.get_backend("small", filtration="phantom-requests"),
                                filtration="phantom-requests", size=50)
    finally:
        unregister_backend("small", "phantom-requests")
        unregister_backend("large", "phantom-requests")
    with pytest.raises(ValueError, match="computes up to maxdim=0; got maxdim=1"):
        difftda.persistence(torch.randn(5, 2), 1, backend="torch")
    if {"gudhi", "giotto"} <= set(difftda.list_backends("alpha")):
        assert difftda.get_backend("auto", maxdim=1, filtration="alpha", kind="weak").name == "giotto"
        assert difftda.get_backend("auto", maxdim=1, filtration="alpha", kind="alpha").name == "gudhi"
        with pytest.raises(ValueError, match="computes kind 'weak' only"):
            difftda.alpha_persistence(torch.randn(10, 2), 1, kind="alpha", backend="giotto")
