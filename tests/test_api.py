"""The loss API as a PyTorch user meets it: where each Module lives, what its constructor checks,
what a diagram may be (tensor, Diagram, numpy as ripser/persim write it), and that every loss
measures a bar by |death - birth| so superlevel diagrams work.

References: gudhi's hera bottleneck and POT-based Wasserstein on numpy arrays, closed forms, the
chain rule (a loss of the negated diagram has the negated gradient), and the function twin of each
Module for the error messages the two must share.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings

import numpy as np
import pytest
import torch

import difftda
from difftda import losses as L
from difftda import nn as dnn

INF = math.inf


def diagram(seed: int, k: int, n_essential: int = 0, scale: float = 2.0) -> np.ndarray:
    """k finite bars with birth < death and n_essential (birth, inf) rows, as ripser writes them."""
    rng = np.random.default_rng(seed)
    b = rng.random(k) * scale
    finite = np.stack([b, b + rng.random(k) * scale + 0.05], axis=1)
    ess = np.stack([rng.random(n_essential) * scale, np.full(n_essential, np.inf)], axis=1)
    return np.concatenate([finite, ess]).reshape(-1, 2)


def mirror(a: np.ndarray) -> np.ndarray:
    """The superlevel twin: every value negated (so birth >= death), essential deaths kept at +inf."""
    out = -a.copy()
    out[np.isinf(a[:, 1]), 1] = np.inf
    return out


def t(a: np.ndarray, grad: bool = False, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(a, dtype=dtype, requires_grad=grad)


# ----------------------------------------------------------------------------------------------
# 1. each Module beside its function; difftda.nn re-exports them all


def _families() -> list:
    """The submodules of difftda.losses that its __init__ imports (every loss family)."""
    return [m for name, m in vars(L).items() if inspect.ismodule(m) and m.__name__.startswith("difftda.losses.")]


def _modules() -> dict[str, type]:
    return {n: getattr(dnn, n) for n in dnn.__all__ if not n.endswith("Persistence") or n in L.__all__}


def _twin(cls: type):
    """The function a Module wraps, read from its docstring's first line ("Module form of :func:`f`")."""
    name = re.search(r":func:`~?([\w.]+)`", cls.__doc__.split("\n\n")[0]).group(1).rsplit(".", 1)[-1]
    return getattr(L, name)


def test_every_module_lives_beside_its_function_and_nn_reexports_it():
    modules = _modules()
    assert len(modules) >= 16
    for name, cls in modules.items():
        fn = _twin(cls)
        assert cls.__module__ == fn.__module__, name  # same file of difftda.losses
        assert getattr(L, name) is cls and name in L.__all__, name
        assert issubclass(cls, torch.nn.Module)
    # every public name of every family is exported by difftda.losses, every Module by difftda.nn
    for fam in _families():
        for name in getattr(fam, "__all__", ()):
            assert name in L.__all__ and getattr(L, name) is getattr(fam, name), (fam.__name__, name)
            obj = getattr(fam, name)
            if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
                assert name in dnn.__all__ and getattr(dnn, name) is obj, name
    for name in L.__all__:
        assert hasattr(L, name), name


def test_nn_keeps_persistence_and_star_import():
    assert dnn.Persistence is difftda.Persistence and "Persistence" in dir(dnn)
    ns: dict = {}
    exec("from difftda.nn import *", ns)
    assert set(dnn.__all__) <= set(ns)
    x = torch.randn(12, 2, requires_grad=True)
    dgms = dnn.Persistence(maxdim=1)(x)
    dnn.TotalPersistence()(dgms[1]).backward()


# Arguments that are not the diagrams/batches a call takes, compared between function and Module.
_INPUTS = {
    "dgm", "a", "b", "target", "pred", "x", "z", "dgms", "x_diagrams", "z_diagrams", "latent_norm", "return_terms",
}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_takes_the_same_arguments_with_the_same_defaults_as_its_function(name):
    cls = _modules()[name]
    fn = _twin(cls)
    f_params = {k: p.default for k, p in inspect.signature(fn).parameters.items() if k not in _INPUTS}
    m_params = {
        k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
        if k not in {"self", "target", "learn_latent_norm", "args", "kwargs"}
    }
    if name == "PerDimensionLoss":  # the loss is the Module's first argument, the function's too
        f_params.pop("kwargs")
    assert m_params == f_params


# ----------------------------------------------------------------------------------------------
# 2./3. construction checks the arguments exactly as the function does


_D = t(diagram(1, 4, 1))
_X = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
_Z = torch.randn(10, 2, generator=torch.Generator().manual_seed(1))
_DG = difftda.persistence(_X, maxdim=1)

# (Module construction, the same arguments given to the function, exception type)
SAME_ERRORS = [
    (lambda: dnn.ConnectivityLoss(eta=math.nan), lambda: L.connectivity_loss(_D, eta=math.nan), ValueError),
    (lambda: dnn.ConnectivityLoss(eta=-1.0), lambda: L.connectivity_loss(_D, eta=-1.0), ValueError),
    (lambda: dnn.ConnectivityLoss(eta="2"), lambda: L.connectivity_loss(_D, eta="2"), TypeError),
    (lambda: dnn.TotalPersistence(p=0), lambda: L.total_persistence(_D, p=0), ValueError),
    (lambda: dnn.TotalPersistence(p=math.inf), lambda: L.total_persistence(_D, p=math.inf), ValueError),
    (lambda: dnn.PersistentEntropy(base=1), lambda: L.persistent_entropy(_D, base=1), ValueError),
    (lambda: dnn.BottleneckDistance(keep_essential_parts=1),
     lambda: L.bottleneck_distance(_D, _D, keep_essential_parts=1), TypeError),
    (lambda: dnn.WassersteinDistance(order=0.5), lambda: L.wasserstein_distance(_D, _D, order=0.5), ValueError),
    (lambda: dnn.WassersteinDistance(order=math.nan), lambda: L.wasserstein_distance(_D, _D, order=math.nan),
     ValueError),
    (lambda: dnn.WassersteinDistance(internal_p=0.5), lambda: L.wasserstein_distance(_D, _D, internal_p=0.5),
     ValueError),
    (lambda: dnn.SlicedWassersteinDistance(0), lambda: L.sliced_wasserstein_distance(_D, _D, 0), ValueError),
    (lambda: dnn.SlicedWassersteinDistance(2.5), lambda: L.sliced_wasserstein_distance(_D, _D, 2.5), TypeError),
    (lambda: dnn.SlicedWassersteinDistance(seed="a"), lambda: L.sliced_wasserstein_distance(_D, _D, seed="a"),
     TypeError),
    (lambda: dnn.SlicedWassersteinDistance(directions="foo"),
     lambda: L.sliced_wasserstein_distance(_D, _D, directions="foo"), ValueError),
    (lambda: dnn.SlicedWassersteinDistance(directions=torch.tensor([math.nan])),
     lambda: L.sliced_wasserstein_distance(_D, _D, directions=torch.tensor([math.nan])), ValueError),
    (lambda: dnn.BottleneckLoss(reduction="mean"), lambda: L.bottleneck_loss(_D, _D, "mean"), ValueError),
    (lambda: dnn.PersistentEntropyLoss(delta=-1.0), lambda: L.persistent_entropy_loss(_D, _D, -1.0), ValueError),
    (lambda: dnn.PersistentEntropyLoss(delta=math.nan), lambda: L.persistent_entropy_loss(_D, _D, math.nan),
     ValueError),
    (lambda: dnn.DsigmaLoss(sigma=math.inf), lambda: L.dsigma_loss(_D, _D, math.inf), ValueError),
    (lambda: dnn.DensityLoss(npoints=0), lambda: L.density_loss(_D, _D, npoints=0), ValueError),
    (lambda: dnn.DensityLoss(npoints=3.0), lambda: L.density_loss(_D, _D, npoints=3.0), TypeError),
    (lambda: dnn.DensityLoss(scale=math.nan), lambda: L.density_loss(_D, _D, scale=math.nan), ValueError),
    (lambda: dnn.SummaryStatisticLoss("foo"), lambda: L.summary_statistic_loss(_DG, statistic="foo"), ValueError),
    (lambda: dnn.SummaryStatisticLoss(p=0.5), lambda: L.summary_statistic_loss(_DG, p=0.5), ValueError),
    (lambda: dnn.SummaryStatisticLoss(weights=(math.nan, 1.0)),
     lambda: L.summary_statistic_loss(_DG, weights=(math.nan, 1.0)), ValueError),
    (lambda: dnn.SummaryStatisticLoss(homology_dimensions=(0, 1.0)),
     lambda: L.summary_statistic_loss(_DG, homology_dimensions=(0, 1.0)), TypeError),
    (lambda: dnn.SummaryStatisticLoss(homology_dimensions=(0, -1)),
     lambda: L.summary_statistic_loss(_DG, homology_dimensions=(0, -1)), ValueError),
    (lambda: dnn.PerDimensionLoss("nope"), lambda: L.per_dimension_loss("nope", _DG), ValueError),
    (lambda: dnn.PerDimensionLoss(L.wasserstein_distance, ordr=2.0),
     lambda: L.per_dimension_loss(L.wasserstein_distance, _DG, _DG, ordr=2.0), TypeError),
    (lambda: dnn.PerDimensionLoss(L.total_persistence, weights={5: 1.0}),
     lambda: L.per_dimension_loss(L.total_persistence, _DG, weights={5: 1.0}), ValueError),
    (lambda: dnn.TopoGenLoss(deg=2), lambda: L.topogen_loss(_X, _X, deg=2), ValueError),
    (lambda: dnn.TopoGenLoss(deg="1"), lambda: L.topogen_loss(_X, _X, deg="1"), TypeError),
    (lambda: dnn.TopoGenLoss(bottleneck_reduction="mean"),
     lambda: L.topogen_loss(_X, _X, bottleneck_reduction="mean"), ValueError),
    (lambda: dnn.TopoGenLoss(dsigma0_sigma=math.nan), lambda: L.topogen_loss(_X, _X, dsigma0_sigma=math.nan),
     ValueError),
    (lambda: dnn.TopoGenLoss(density_npoints=0), lambda: L.topogen_loss(_X, _X, density_npoints=0), ValueError),
    (lambda: dnn.TopoGenLoss(backend="giotoo"), lambda: L.topogen_loss(_X, _X, backend="giotoo"), ValueError),
    (lambda: dnn.SignatureLoss(backend="giotoo"), lambda: L.signature_loss(_X, _Z, backend="giotoo"), ValueError),
    (lambda: dnn.SignatureLoss(p=0.5), lambda: L.signature_loss(_X, _Z, p=0.5), ValueError),
    (lambda: dnn.SignatureLoss(metric="precomputed"), lambda: L.signature_loss(_X, _Z, metric="precomputed"),
     ValueError),
    (lambda: dnn.SignatureLoss(squared="yes"), lambda: L.signature_loss(_X, _Z, squared="yes"), TypeError),
    (lambda: dnn.SignatureLoss(homology_dimensions=()), lambda: L.signature_loss(_X, _Z, homology_dimensions=()),
     ValueError),
]


@pytest.mark.parametrize("module,function,exc", SAME_ERRORS)
def test_module_construction_raises_what_the_function_raises(module, function, exc):
    with pytest.raises(exc) as m_info:
        module()
    with pytest.raises(exc) as f_info:
        function()
    assert str(m_info.value) == str(f_info.value)


MISPLACED = [
    lambda d: dnn.WassersteinDistance(d),
    lambda d: dnn.SlicedWassersteinDistance(d),
    lambda d: dnn.ConnectivityLoss(d),
    lambda d: dnn.TotalPersistence(d),
    lambda d: dnn.PersistentEntropy(d),
    lambda d: dnn.BottleneckLoss(d),
    lambda d: dnn.PersistentEntropyLoss(d),
    lambda d: dnn.DsigmaLoss(d),
    lambda d: dnn.DensityLoss(d),
    lambda d: dnn.TopoGenLoss(d),
    lambda d: dnn.SignatureLoss(d),
    lambda d: dnn.SummaryStatisticLoss(d),
    lambda d: L.connectivity_loss(d, d),
    lambda d: L.total_persistence(d, d),
    lambda d: L.wasserstein_distance(d, d, d),
]


@pytest.mark.parametrize("call", MISPLACED)
@pytest.mark.parametrize("kind", ["tensor", "numpy", "Diagram", "Diagrams"])
def test_a_diagram_given_by_position_says_so(call, kind):
    d = {"tensor": _D, "numpy": _D.numpy(), "Diagram": _DG[0], "Diagrams": _DG}[kind]
    with pytest.raises(TypeError) as info:
        call(d)
    msg = str(info.value)
    assert "by position" in msg and "target=" in msg, msg


def test_integer_arguments_raise_typeerror_for_a_type_valueerror_for_a_value():
    cases = {  # name: (a call with a wrong type, a call with a wrong value)
        "n_directions": (
            lambda: L.sliced_wasserstein_distance(_D, _D, 3.0),
            lambda: L.sliced_wasserstein_distance(_D, _D, -1),
        ),
        "npoints": (lambda: L.density_loss(_D, _D, npoints=True), lambda: L.density_loss(_D, _D, npoints=0)),
        "deg": (lambda: L.topogen_loss(_X, _X, deg=1.0), lambda: L.topogen_loss(_X, _X, deg=-1)),
        "homology_dimensions": (
            lambda: L.summary_statistic_loss(_DG, homology_dimensions=("0",)),
            lambda: L.summary_statistic_loss(_DG, homology_dimensions=(-1,)),
        ),
        "maxdim": (lambda: difftda.persistence(_X, maxdim=1.0), lambda: difftda.persistence(_X, maxdim=-1)),
    }
    for name, (wrong_type, wrong_value) in cases.items():
        with pytest.raises(TypeError, match=name):
            wrong_type()
        with pytest.raises(ValueError, match=name):
            wrong_value()


def test_module_with_valid_arguments_stores_checked_values():
    w = dnn.WassersteinDistance(2, 1)
    assert (w.order, w.internal_p) == (2.0, 1.0) and isinstance(w.order, float)
    s = dnn.SlicedWassersteinDistance(10, np.int64(3))
    assert s.seed == 3 and type(s.seed) is int
    assert dnn.SignatureLoss(homology_dimensions=1).homology_dimensions == (1,)
    assert dnn.TopoGenLoss(deg=0, weights={"bottleneck0": 1.0}).params["deg"] == 0


# ----------------------------------------------------------------------------------------------
# 4. one loss equal to another shares its code


def test_bottleneck_loss_max_is_the_bottleneck_distance_of_the_finite_bars():
    gudhi_hera = pytest.importorskip("gudhi.hera")
    for seed in range(5):
        a, b = diagram(seed, 6, 1), diagram(seed + 10, 4, 2)
        got = L.bottleneck_loss(t(a), t(b), "max")
        assert got.item() == L.bottleneck_distance(t(a), t(b), keep_essential_parts=False).item()
        fin = lambda d: d[np.isfinite(d[:, 1])]  # noqa: E731
        assert got.item() == gudhi_hera.bottleneck_distance(fin(a), fin(b), delta=0)
    # with essential bars kept the distance differs (here: different counts give inf)
    assert math.isinf(L.bottleneck_distance(t(diagram(0, 6, 1)), t(diagram(10, 4, 2))).item())
    doc = L.bottleneck_loss.__doc__
    assert "bottleneck_distance" in doc and "keep_essential_parts=False" in doc


def test_push_loss_is_minus_half_the_total_persistence():
    a = diagram(3, 7, 1)
    fin = a[np.isfinite(a[:, 1])]
    ref = -0.5 * float((fin[:, 1] - fin[:, 0]).sum())
    x = t(a, grad=True)
    v = L.push_loss(x)
    assert v.item() == (-0.5 * L.total_persistence(t(a))).item() == pytest.approx(ref, rel=1e-14)
    v.backward()
    expected = np.zeros_like(a)
    expected[np.isfinite(a[:, 1])] = [0.5, -0.5]
    assert np.array_equal(x.grad.numpy(), expected)
    assert "total_persistence" in L.push_loss.__doc__


# ----------------------------------------------------------------------------------------------
# 5. numpy wherever a diagram is accepted


def _gudhi_w(a, b, order=1.0, internal_p=INF):
    gw = pytest.importorskip("gudhi.wasserstein")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(gw.wasserstein_distance(a, b, order=order, internal_p=internal_p, keep_essential_parts=True))


def test_distances_take_numpy_in_both_arguments():
    gudhi = pytest.importorskip("gudhi")
    a, b = diagram(4, 6, 1), diagram(5, 5, 1)
    assert L.wasserstein_distance(a, b, 2.0, 2.0).item() == pytest.approx(_gudhi_w(a, b, 2.0, 2.0), rel=1e-12)
    assert L.bottleneck_distance(a, b).item() == gudhi.bottleneck_distance(a, b, e=0)
    assert L.sliced_wasserstein_distance(a, b, seed=0).item() == pytest.approx(
        L.sliced_wasserstein_distance(t(a), t(b), seed=0).item(), rel=1e-14
    )
    # a numpy argument takes the other's dtype (and device): float32 in, float32 out, gradient flows
    x = t(a, grad=True, dtype=torch.float32)
    d = L.wasserstein_distance(x, b)
    assert d.dtype == torch.float32 and d.item() == pytest.approx(_gudhi_w(a, b), rel=1e-5)
    d.backward()
    assert torch.isfinite(x.grad).all()
    assert L.bottleneck_distance(b, x).dtype == torch.float32
    # lists of rows too (persim's and gudhi's other spelling)
    assert L.bottleneck_distance(a.tolist(), b.tolist()).item() == gudhi.bottleneck_distance(a, b, e=0)


def test_every_loss_takes_numpy_targets_and_numpy_diagram_lists():
    a, b = diagram(6, 6, 1), diagram(7, 5, 1)
    x = t(a, grad=True)
    for fn in (L.bottleneck_loss, L.persistent_entropy_loss, L.dsigma_loss, L.density_loss, L.pss_kernel,
               L.bottleneck_distance, L.wasserstein_distance):
        assert fn(x, b).item() == pytest.approx(fn(x, t(b)).item(), rel=1e-14), fn.__name__
    for fn in (L.total_persistence, L.persistent_entropy, L.connectivity_loss, L.push_loss):
        assert fn(a).item() == pytest.approx(fn(t(a)).item(), rel=1e-14), fn.__name__
    # per-dimension losses: a list of numpy arrays (ripser's dgms) for the diagrams and the target
    y = torch.randn(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    dy = difftda.persistence(y, maxdim=1)
    ripser_like = dy.to_numpy()
    dx = difftda.persistence(y * 1.5, maxdim=1)
    ref = L.summary_statistic_loss(dx, dy, statistic="persistent_entropy")
    assert L.summary_statistic_loss(dx, ripser_like, statistic="persistent_entropy").item() == pytest.approx(ref.item())
    ref = L.per_dimension_loss("wasserstein_distance", dx, dy)
    assert L.per_dimension_loss("wasserstein_distance", dx, ripser_like).item() == pytest.approx(ref.item())
    assert dnn.PerDimensionLoss("wasserstein_distance", target=ripser_like)(dx).item() == pytest.approx(ref.item())
    assert L.topogen_loss(dx, ripser_like).item() == pytest.approx(L.topogen_loss(dx, dy).item())
    assert dnn.WassersteinDistance(target=b)(x).item() == pytest.approx(L.wasserstein_distance(x, t(b)).item())


@pytest.mark.gpu
def test_numpy_targets_follow_a_cuda_diagram():
    a, b = diagram(13, 5, 1), diagram(14, 4, 1)
    for fn in (L.bottleneck_distance, L.wasserstein_distance, L.sliced_wasserstein_distance, L.bottleneck_loss,
               L.persistent_entropy_loss, L.dsigma_loss, L.density_loss):
        kw = {"seed": 0} if fn is L.sliced_wasserstein_distance else {}
        x = torch.tensor(a, device="cuda", requires_grad=True)
        v = fn(x, b, **kw)
        assert v.device.type == "cuda", fn.__name__
        assert v.item() == pytest.approx(fn(t(a), t(b), **kw).item(), rel=1e-10), fn.__name__
        v.backward()
        assert x.grad.device.type == "cuda" and torch.isfinite(x.grad).all()
    crit = dnn.WassersteinDistance(target=b).cuda()
    assert crit.target_h0.device.type == "cuda"
    assert crit(torch.tensor(a, device="cuda")).item() == pytest.approx(_gudhi_w(a, b), rel=1e-10)


def test_diagram_to_numpy_protocol_and_index_errors():
    dgms = difftda.persistence(torch.randn(15, 2, dtype=torch.float64), maxdim=1)
    arr = np.asarray(dgms[0])
    assert arr.shape == (15, 2) and np.isinf(arr[:, 1]).sum() == 1
    assert np.array_equal(arr, dgms[0].to_numpy())
    assert np.asarray(dgms[1], dtype=np.float32).dtype == np.float32
    with pytest.raises(IndexError, match=r"H0\.\.H1 were computed.*maxdim >= 2"):
        dgms[2]
    with pytest.raises(IndexError, match="H0..H1"):
        dgms[-3]
    assert dgms[-1] is dgms[1] and len(dgms[:1]) == 1


# ----------------------------------------------------------------------------------------------
# 6. a bar is |death - birth|: superlevel (mirrored) diagrams give the same losses


ONE_DIAGRAM = {
    "connectivity_loss": lambda d: L.connectivity_loss(d, eta=0.7),
    "total_persistence": lambda d: L.total_persistence(d, p=1.5),
    "persistent_entropy": L.persistent_entropy,
    "push_loss": L.push_loss,
}
TWO_DIAGRAMS = {
    "bottleneck_distance": L.bottleneck_distance,
    "wasserstein_distance": lambda a, b: L.wasserstein_distance(a, b, 2.0, 2.0),
    "sliced_wasserstein_distance": lambda a, b: L.sliced_wasserstein_distance(a, b, 40, seed=0),
    "bottleneck_loss_sum": L.bottleneck_loss,
    "bottleneck_loss_max": lambda a, b: L.bottleneck_loss(a, b, "max"),
    "persistent_entropy_loss": lambda a, b: L.persistent_entropy_loss(a, b, 0.3),
    "pss_kernel": lambda a, b: L.pss_kernel(a, b, 0.3),
    "dsigma_loss": lambda a, b: L.dsigma_loss(a, b, 0.3),
    "density_loss": lambda a, b: L.density_loss(a, b, 0.3, 1.0, 4.0, 15),
}


def _check_mirror(fn, *arrays):
    plain = [t(a, grad=True) for a in arrays]
    mirrored = [t(mirror(a), grad=True) for a in arrays]
    v, w = fn(*plain), fn(*mirrored)
    assert w.item() == pytest.approx(v.item(), rel=1e-12, abs=1e-15)
    # the chain rule: the mirrored loss has the negated gradient (finite coordinates)
    g = torch.autograd.grad(v, plain)
    h = torch.autograd.grad(w, mirrored)
    for gi, hi, a in zip(g, h, arrays):
        fin = np.isfinite(a[:, 1])
        assert torch.allclose(hi[fin], -gi[fin], rtol=1e-10, atol=1e-13)
    return v.item()


@pytest.mark.parametrize("name", list(ONE_DIAGRAM))
def test_superlevel_diagrams_give_the_same_value(name):
    a = diagram(8, 7, 1)
    _check_mirror(ONE_DIAGRAM[name], a)


@pytest.mark.parametrize("name", list(TWO_DIAGRAMS))
def test_superlevel_diagrams_give_the_same_distance(name):
    a, b = diagram(9, 6, 1), diagram(10, 5, 1)
    _check_mirror(TWO_DIAGRAMS[name], a, b)


def test_superlevel_values_against_closed_forms_and_gudhi():
    a, b = diagram(11, 5, 1), diagram(12, 4, 1)
    ma, mb = mirror(a), mirror(b)
    fin = ma[np.isfinite(ma[:, 1])]
    lengths = np.abs(fin[:, 1] - fin[:, 0])
    assert L.total_persistence(ma, p=2.0).item() == pytest.approx(float((lengths**2).sum()), rel=1e-12)
    q = lengths / lengths.sum()
    assert L.persistent_entropy(ma).item() == pytest.approx(float(-(q * np.log(q)).sum()), rel=1e-12)
    assert L.connectivity_loss(ma, eta=1.0).item() == pytest.approx(float(np.abs(1.0 - lengths).sum()), rel=1e-12)
    assert L.push_loss(ma).item() == pytest.approx(-0.5 * float(lengths.sum()), rel=1e-12)
    # the distances of the superlevel pair are gudhi's distances of the sublevel pair
    assert L.wasserstein_distance(ma, mb, 2.0, 2.0).item() == pytest.approx(_gudhi_w(a, b, 2.0, 2.0), rel=1e-12)
    gudhi = pytest.importorskip("gudhi")
    assert L.bottleneck_distance(ma, mb).item() == gudhi.bottleneck_distance(a, b, e=0)


def test_superlevel_diagram_objects_through_summary_and_topogen():
    x = torch.randn(14, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.randn(14, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    dx, dy = difftda.persistence(x, maxdim=1), difftda.persistence(y, maxdim=1)

    def flip(dgms):
        return difftda.Diagrams(difftda.Diagram(-d.pairs, -d.essential, d.index, d.essential_index) for d in dgms)

    w = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    kw = dict(weights=w, density_maxrange=4.0, density_scale=1.0)
    assert L.topogen_loss(flip(dx), flip(dy), **kw).item() == pytest.approx(L.topogen_loss(dx, dy, **kw).item())
    for stat in ("total_persistence", "persistent_entropy"):
        ref = L.summary_statistic_loss(dx, dy, statistic=stat, p=2.0)
        assert L.summary_statistic_loss(flip(dx), flip(dy), statistic=stat, p=2.0).item() == pytest.approx(ref.item())
