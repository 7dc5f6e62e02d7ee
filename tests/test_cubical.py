"""cubical_persistence against cripser and gudhi called directly, oineus where installed, gradcheck,
batch == loop, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import difftda

ENGINES = difftda.list_backends("cubical")
CONSTRUCTIONS = ["T", "V"]

# (batch shape, image shape): non-square 2-D, anisotropic 3-D and 1-D images, so a swap of axes or
# of C and Fortran order cannot hide.
SHAPES = [((), (7, 11)), ((2,), (5, 4, 6)), ((3,), (17,)), ((2, 1), (9, 6))]


def _image(rng: np.random.Generator, shape: tuple[int, ...], levels: int = 5) -> np.ndarray:
    """Integer values in [0, levels): many ties and plateaus."""
    return rng.integers(0, levels, size=shape).astype(np.float64)


def _gudhi_reference(img: np.ndarray, construction: str, superlevel: bool, maxdim: int) -> list[np.ndarray]:
    """gudhi's own diagram of each dimension (values only), in the input's units, sorted."""
    import gudhi

    sign = -1.0 if superlevel else 1.0
    key = "top_dimensional_cells" if construction == "T" else "vertices"
    cc = gudhi.CubicalComplex(**{key: sign * img})
    cc.compute_persistence(homology_coeff_field=2)
    out = []
    for k in range(maxdim + 1):
        dg = np.asarray(cc.persistence_intervals_in_dimension(k), np.float64).reshape(-1, 2) * sign
        dg[np.isinf(dg)] = np.inf  # Diagram.to_numpy writes an essential bar's death as +inf
        out.append(_sorted_rows(dg))
    return out


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64).reshape(-1, 2)
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def _ours(dg: difftda.Diagram) -> np.ndarray:
    return _sorted_rows(dg.to_numpy())


def _items(out: difftda.Diagrams | difftda.DiagramBatch, single: bool) -> list[difftda.Diagrams]:
    return [out] if single else list(out)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@pytest.mark.parametrize("superlevel", [False, True])
@pytest.mark.parametrize("batch,shape", SHAPES)
def test_equals_gudhi_and_indices_are_exact(engine, construction, superlevel, batch, shape):
    rng = np.random.default_rng(len(shape) * 10 + len(batch))
    x = _image(rng, batch + shape)
    sd = len(shape)
    t = torch.tensor(x, dtype=torch.float32)
    out = difftda.cubical_persistence(
        t, spatial_dims=sd, construction=construction, superlevel=superlevel, backend=engine
    )
    single = batch == ()
    images = x.reshape((-1,) + shape)
    items = _items(out, single)
    assert len(items) == images.shape[0]
    for img, dgms in zip(images, items):
        assert len(dgms) == sd
        ref = _gudhi_reference(img, construction, superlevel, sd - 1)
        flat = torch.tensor(img.ravel(), dtype=torch.float32)
        for k, dg in enumerate(dgms):
            np.testing.assert_array_equal(_ours(dg), ref[k])
            assert dg.index.shape == (len(dg.pairs), 2) and dg.index.dtype == torch.int64
            assert dg.essential_index.shape == (len(dg.essential), 1)
            assert torch.equal(dg.pairs[:, 0], flat[dg.index[:, 0]])
            assert torch.equal(dg.pairs[:, 1], flat[dg.index[:, 1]])
            assert torch.equal(dg.essential, flat[dg.essential_index[:, 0]])
            if superlevel:
                assert bool((dg.pairs[:, 0] > dg.pairs[:, 1]).all())
            else:
                assert bool((dg.pairs[:, 0] < dg.pairs[:, 1]).all())
        # One essential bar, in H0, born at the extreme pixel.
        assert len(dgms[0].essential) == 1 and all(len(d.essential) == 0 for d in dgms[1:])
        assert float(dgms[0].essential[0]) == (img.max() if superlevel else img.min())


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
def test_cripser_equals_gudhi_on_real_values(construction):
    """The two engines give the same diagrams (values, essential bars) on ties and plateaus."""
    if not {"cripser", "gudhi"} <= set(ENGINES):
        pytest.skip("needs cripser and gudhi")
    rng = np.random.default_rng(3)
    for shape in [(6, 13), (3, 7, 4), (25,)]:
        x = torch.tensor(_image(rng, (4,) + shape, levels=3))
        a, b = (
            difftda.cubical_persistence(x, spatial_dims=len(shape), construction=construction, backend=e)
            for e in ("cripser", "gudhi")
        )
        for da, db in zip(a, b):
            for ka, kb in zip(da, db):
                np.testing.assert_array_equal(_ours(ka), _ours(kb))


def test_equals_oineus_cube_filtration():
    """oineus' cube_filtration (values_on='vertices' is V, 'cells' is T), sub- and superlevel."""
    od = pytest.importorskip("oineus.diff")
    rng = np.random.default_rng(5)
    for shape in [(7, 11), (4, 6, 5), (13,)]:
        x = torch.tensor(_image(rng, shape, levels=4))
        for construction, values_on in [("V", "vertices"), ("T", "cells")]:
            for superlevel in (False, True):
                ref = od.persistence_diagram(od.cube_filtration(x, negate=superlevel, values_on=values_on))
                ours = difftda.cubical_persistence(x, construction=construction, superlevel=superlevel)
                for k in range(len(shape)):
                    theirs = ref[k].detach().numpy() if k in ref else np.zeros((0, 2))
                    theirs = theirs[theirs[:, 0] != theirs[:, 1]]  # oineus keeps zero-length bars
                    np.testing.assert_array_equal(_sorted_rows(ours[k].pairs.detach().numpy()), _sorted_rows(theirs))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("construction", CONSTRUCTIONS)
def test_connectivity_of_each_construction(engine, construction):
    """T joins pixels that touch at a corner (8-connectivity), V only pixels sharing a side (4-):
    the number of components of {x <= 0} of a binary image equals scipy's labelling."""
    from scipy import ndimage

    rng = np.random.default_rng(11)
    structure = np.ones((3, 3)) if construction == "T" else ndimage.generate_binary_structure(2, 1)
    for _ in range(5):
        img = (rng.random((9, 12)) < 0.45).astype(np.float64)  # foreground 0, background 1
        n_components = ndimage.label(img == 0, structure=structure)[1]
        dgms = difftda.cubical_persistence(torch.tensor(img), construction=construction, backend=engine)
        alive_at_0 = int((dgms[0].pairs[:, 0] == 0).sum()) + int((dgms[0].essential == 0).sum())
        assert alive_at_0 == n_components
    # Two pixels on a diagonal: one component for T, two for V.
    diag = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    h0 = difftda.cubical_persistence(diag, construction=construction, backend=engine)[0]
    assert len(h0.pairs) == (0 if construction == "T" else 1)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@pytest.mark.parametrize("superlevel", [False, True])
def test_gradcheck_from_a_batch(engine, construction, superlevel):
    torch.manual_seed(0)
    x = torch.rand(2, 5, 6, dtype=torch.float64, requires_grad=True)  # tie-free
    w0, w1 = torch.randn(40, 2, dtype=torch.float64), torch.randn(40, 2, dtype=torch.float64)

    def f(x):
        out = difftda.cubical_persistence(
            x, spatial_dims=2, construction=construction, superlevel=superlevel, backend=engine
        ).cat()
        h0, h1 = out[0].pairs, out[1].pairs
        return (w0[: len(h0)] * h0).sum() + (w1[: len(h1)] * h1).sum() + out[0].essential.sum() * 0.5

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-7)


def test_gradient_goes_to_the_critical_pixels():
    """d(total persistence)/dx = (number of deaths at the pixel) - (number of births at it)."""
    torch.manual_seed(1)
    x = torch.rand(6, 7, dtype=torch.float64, requires_grad=True)
    dgms = difftda.cubical_persistence(x)
    loss = sum((d.pairs[:, 1] - d.pairs[:, 0]).sum() for d in dgms)
    loss.backward()
    expected = torch.zeros(42, dtype=torch.float64)
    for d in dgms:
        expected.index_add_(0, d.index[:, 1], torch.ones(len(d.index), dtype=torch.float64))
        expected.index_add_(0, d.index[:, 0], -torch.ones(len(d.index), dtype=torch.float64))
    assert torch.equal(x.grad.reshape(-1), expected)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("construction", CONSTRUCTIONS)
def test_batch_equals_loop(engine, construction):
    rng = np.random.default_rng(7)
    x = torch.tensor(_image(rng, (2, 3, 6, 9), levels=4), dtype=torch.float32)
    out = difftda.cubical_persistence(x, spatial_dims=2, construction=construction, superlevel=True, backend=engine)
    assert isinstance(out, difftda.DiagramBatch) and len(out) == 6
    for b, img in enumerate(x.reshape(6, 6, 9)):
        one = difftda.cubical_persistence(img, construction=construction, superlevel=True, backend=engine)
        assert isinstance(one, difftda.Diagrams)
        for d_batch, d_one in zip(out[b], one):
            for field in ("pairs", "essential", "index", "essential_index"):
                assert torch.equal(getattr(d_batch, field), getattr(d_one, field))
    # cat() holds the bars of all images, dimension by dimension.
    assert sum(len(d[1].pairs) for d in out) == len(out.cat()[1].pairs)


@pytest.mark.parametrize("engine", ENGINES)
def test_threads_do_not_change_the_result(engine):
    x = torch.rand(5, 40, 30)
    a = difftda.cubical_persistence(x, spatial_dims=2, backend=f"{engine}:n_threads=1")
    b = difftda.cubical_persistence(x, spatial_dims=2, backend=f"{engine}:n_threads=3")
    for da, db in zip(a, b):
        for ka, kb in zip(da, db):
            assert torch.equal(ka.pairs, kb.pairs) and torch.equal(ka.index, kb.index)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["random", "ties", "few_ties", "signed_zeros"])
def test_bars_come_in_the_canonical_order(dtype, kind):
    """Rows of each diagram sorted by (birth, death, birth position, death position) in the paired
    orientation, checked with numpy's lexsort over every key (float32 input is ordered on float32
    values with an integer key; ties, and 0.0 against -0.0, fall back to the positions)."""
    rng = np.random.default_rng(17)
    x = rng.random((3, 48, 40))
    if kind == "ties":
        x = np.round(x * 12)
    elif kind == "few_ties":  # short runs of tied values: ordered by the kernel's insertion sort
        x = np.round(x * 3000) / 3000
    elif kind == "signed_zeros":
        x[x < 0.3], x[x > 0.8] = -0.0, 0.0
    x = torch.from_numpy(x).to(dtype)
    for construction in CONSTRUCTIONS:
        for superlevel in (False, True):
            out = difftda.cubical_persistence(x, spatial_dims=2, construction=construction, superlevel=superlevel)
            for b in range(len(x)):
                flat = x[b].reshape(-1).double().numpy() * (-1.0 if superlevel else 1.0)
                for dg in out[b]:
                    idx = dg.index.numpy()
                    order = np.lexsort((idx[:, 1], idx[:, 0], flat[idx[:, 1]], flat[idx[:, 0]]))
                    assert np.array_equal(order, np.arange(len(idx)))


@pytest.mark.skipif(not difftda._jit.enabled(), reason="needs numba")
def test_compiled_and_numpy_paths_agree(monkeypatch):
    """The compiled kernels (cripser's rows to positions, the canonical order) give what the numpy
    path gives, bit for bit, on 1-D to 4-D images with ties, signed zeros and a batch."""
    import cripser

    from difftda.backends import _cubical

    rng = np.random.default_rng(5)
    for shape in [(40,), (9, 13), (5, 6, 7), (3, 4, 3, 5)]:
        img = rng.random(shape)
        for fn in (cripser.computePH_T, cripser.computePH):
            out = np.asarray(fn(img, maxdim=len(shape) - 1, top_dim=False, embedded=False, location="yes",
                                representatives=False, n_threads=1))
            width = 4 if len(shape) == 4 else 3
            strides = np.array([int(np.prod(shape[a + 1:])) for a in range(len(shape))], np.int64)
            got = _cubical._cripser_rows(out, strides, width, _cubical._ESSENTIAL)
            for a, b in zip(got, _cubical._cripser_rows_numpy(out, shape, width)):
                np.testing.assert_array_equal(a, b)
    inputs = [rng.random((3, 30, 20)), np.round(rng.random((2, 25, 25)) * 400) / 400,
              np.round(rng.random((2, 20, 20)) * 6), rng.integers(-2, 3, (2, 16, 16)) * 0.5]
    inputs[3][inputs[3] == 0] = -0.0
    for engine in ENGINES:
        for x in inputs:
            for dtype in (torch.float32, torch.float64):
                t = torch.from_numpy(x).to(dtype)
                for construction in CONSTRUCTIONS:
                    for superlevel in (False, True):
                        kw = dict(spatial_dims=2, construction=construction, superlevel=superlevel, backend=engine)
                        monkeypatch.setattr(difftda._jit, "DISABLED", False)
                        fast = difftda.cubical_persistence(t, **kw)
                        monkeypatch.setattr(difftda._jit, "DISABLED", True)
                        slow = difftda.cubical_persistence(t, **kw)
                        for da, db in zip(fast.cat(), slow.cat()):
                            assert torch.equal(da.pairs, db.pairs) and torch.equal(da.index, db.index)
                            assert torch.equal(da.essential, db.essential)
                            assert torch.equal(da.essential_index, db.essential_index)


def test_gradient_does_not_depend_on_torch_threads():
    """Pixels read by several bars sum their gradients in one fixed order: the same bits on one
    thread or two, and equal to a float64 accumulation up to float32 rounding."""
    x = torch.rand(2, 64, 64, generator=torch.Generator().manual_seed(3))
    grads = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            xr = x.clone().requires_grad_(True)
            batch = difftda.cubical_persistence(xr, spatial_dims=2, construction="V", superlevel=True)
            out = batch.cat()
            w = [torch.linspace(0.1, 1, len(dg.pairs)) for dg in out]
            sum(((dg.pairs[:, 1] - dg.pairs[:, 0]) ** 2 * wk).sum() for dg, wk in zip(out, w)).backward()
            grads.append(xr.grad)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(grads[0], grads[1])
    ref = np.zeros(x.numel())
    for k, (dg, wk) in enumerate(zip(out, w)):
        p, idx = dg.pairs.detach().double().numpy(), dg.index.numpy()
        g = 2 * (p[:, 1] - p[:, 0]) * wk.double().numpy()
        start = batch.cloud_of(k)[0].numpy() * x[0].numel()  # each item's first pixel in the batch
        np.add.at(ref, idx[:, 1] + start, g)
        np.add.at(ref, idx[:, 0] + start, -g)
    np.testing.assert_allclose(grads[0].reshape(-1).double().numpy(), ref, rtol=1e-5, atol=1e-6)


def test_layout_of_the_result():
    x = torch.rand(4, 5, 6)
    vol = difftda.cubical_persistence(x)  # no spatial_dims: one volume, never a silent batch
    assert isinstance(vol, difftda.Diagrams) and len(vol) == 3
    single = difftda.cubical_persistence(x[0], spatial_dims=2)
    assert isinstance(single, difftda.Diagrams) and len(single) == 2
    batch = difftda.cubical_persistence(x[:1], spatial_dims=2)
    assert isinstance(batch, difftda.DiagramBatch) and len(batch) == 1
    h0 = difftda.cubical_persistence(x, maxdim=0, spatial_dims=2)
    assert all(len(d) == 1 for d in h0)
    high = difftda.cubical_persistence(x[0], maxdim=3)  # dimensions above the image's are empty
    assert len(high) == 4 and high[2].pairs.shape == (0, 2) and high[3].essential.shape == (0,)
    for dtype in (torch.float32, torch.float64):
        d = difftda.cubical_persistence(x[0].to(dtype))
        assert d[0].pairs.dtype == dtype and d[0].essential.dtype == dtype


def test_axes_of_length_one_and_five_axes():
    """Axes of length 1 are dropped before pairing (cripser miscounts along them); more than four
    axes go to gudhi under 'auto'. Both compared with gudhi on the full array."""
    rng = np.random.default_rng(2)
    for shape in [(1, 7), (6, 1), (4, 1, 5), (1, 1), (2, 2, 1, 2, 3)]:
        img = _image(rng, shape, levels=3)
        for construction in CONSTRUCTIONS:
            ref = _gudhi_reference(img, construction, False, len(shape) - 1)
            dgms = difftda.cubical_persistence(torch.tensor(img), construction=construction)
            for k, dg in enumerate(dgms):
                np.testing.assert_array_equal(_ours(dg), ref[k])


def test_constant_image_gives_only_essential_bars_and_a_zero_gradient():
    x = torch.full((2, 6, 7), 0.5, requires_grad=True)
    out = difftda.cubical_persistence(x, spatial_dims=2)
    for dgms in out:
        assert [len(d.pairs) for d in dgms] == [0, 0]
        assert dgms[0].essential.tolist() == [0.5]
    loss = (out.cat()[0].pairs[:, 1] - out.cat()[0].pairs[:, 0]).sum() + (out.cat()[1].pairs ** 2).sum()
    assert loss.requires_grad and float(loss.detach()) == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_engines_and_specs():
    pytest.importorskip("gudhi")
    assert set(ENGINES) >= {"gudhi"}
    if "cripser" in ENGINES:
        assert ENGINES[0] == "cripser"  # 'auto' prefers cripser
    assert str(difftda.get_backend("gudhi:n_threads=2", filtration="cubical")) == "gudhi:n_threads=2"
    engine = difftda.get_backend("gudhi", filtration="cubical")
    assert isinstance(difftda.cubical_persistence(torch.rand(4, 4), backend=engine), difftda.Diagrams)
    with pytest.raises(ValueError, match="does not compute cubical"):
        difftda.cubical_persistence(torch.rand(4, 4), backend="giotto")
    with pytest.raises(ValueError, match="unknown backend"):
        difftda.cubical_persistence(torch.rand(4, 4), backend="nope")
    with pytest.raises(ValueError, match="n_threads"):
        difftda.cubical_persistence(torch.rand(4, 4), backend="gudhi:n_threads=-1")
    with pytest.raises(ValueError, match="computes rips persistence, not cubical"):
        difftda.cubical_persistence(torch.rand(4, 4), backend=difftda.get_backend("gudhi"))
    if "cripser" in ENGINES:
        with pytest.raises(ValueError, match="at most 4 axes"):
            difftda.cubical_persistence(torch.rand(2, 2, 2, 2, 2), backend="cripser")


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"x": torch.tensor([[0.0, float("nan")], [1.0, 2.0]])}, ValueError, "NaN or inf"),
        ({"x": torch.tensor([[0.0, float("inf")], [1.0, 2.0]])}, ValueError, "NaN or inf"),
        ({"x": torch.tensor([[0.0, 1.0], [float("-inf"), 2.0]])}, ValueError, "NaN or inf"),
        ({"x": torch.tensor([[0.0, float("nan")], [1.0, 2.0]], dtype=torch.float64)}, ValueError, "NaN or inf"),
        ({"x": torch.tensor([[0.0, 1.0], [2.0, float("nan")]], dtype=torch.bfloat16)}, ValueError, "NaN or inf"),
        ({"x": torch.zeros(3, 4), "spatial_dims": 3}, ValueError, "spatial_dims"),
        ({"x": torch.zeros(3, 4), "spatial_dims": 0}, ValueError, "spatial_dims"),
        ({"x": torch.zeros(3, 4), "spatial_dims": 1.0}, TypeError, "spatial_dims"),
        ({"x": torch.zeros(3, 4), "construction": "X"}, ValueError, "construction"),
        ({"x": torch.zeros(3, 4), "construction": None}, ValueError, "construction"),
        ({"x": torch.zeros(3, 4), "maxdim": -1}, ValueError, "maxdim"),
        ({"x": torch.zeros(3, 4), "superlevel": "yes"}, TypeError, "superlevel"),
        ({"x": torch.zeros(3, 4, dtype=torch.int64)}, TypeError, "floating"),
        ({"x": np.zeros((3, 4))}, TypeError, "torch.Tensor"),
        ({"x": torch.zeros(0, 4, 4), "spatial_dims": 2}, ValueError, "no pixels"),
        ({"x": torch.tensor(1.0)}, ValueError, "at least one axis"),
    ],
)
def test_bad_input(kwargs, error, match):
    x = kwargs.pop("x")
    with pytest.raises(error, match=match):
        difftda.cubical_persistence(x, **kwargs)


def test_module_twin():
    layer = difftda.CubicalPersistence(spatial_dims=2, construction="V", superlevel=True, backend="gudhi")
    x = torch.rand(2, 6, 5)
    out, ref = layer(x), difftda.cubical_persistence(x, spatial_dims=2, construction="V", superlevel=True)
    for a, b in zip(out.cat(), ref.cat()):
        assert torch.equal(a.pairs, b.pairs)
    assert "construction='V'" in repr(layer)
    with pytest.raises(ValueError, match="construction"):
        difftda.CubicalPersistence(construction="W")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("construction", CONSTRUCTIONS)
def test_cuda_matches_cpu(construction):
    torch.manual_seed(0)
    x = torch.rand(3, 12, 10, dtype=torch.float64)
    xc = x.cuda().requires_grad_()
    out = difftda.cubical_persistence(xc, spatial_dims=2, construction=construction, superlevel=True)
    ref = difftda.cubical_persistence(x, spatial_dims=2, construction=construction, superlevel=True)
    for a, b in zip(out.cat(), ref.cat()):
        assert a.pairs.device == xc.device and a.index.device == xc.device
        assert torch.equal(a.pairs.cpu(), b.pairs) and torch.equal(a.index.cpu(), b.index)
    (out.cat()[0].pairs.sum() + out.cat()[1].pairs.sum()).backward()
    assert xc.grad.device == xc.device and xc.grad.abs().sum() > 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gradcheck_and_float32():
    x = torch.rand(2, 5, 6, dtype=torch.float64, device="cuda", requires_grad=True)

    def f(x):
        out = difftda.cubical_persistence(x, spatial_dims=2).cat()
        return out[0].pairs.sum() + 2 * out[1].pairs.sum()

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-7)
    assert difftda.cubical_persistence(x.float().detach())[0].pairs.dtype == torch.float32


def test_image_topology_example_removes_blobs_and_fills_holes(tmp_path):
    """examples/image_topology.py --quick: the thresholded image goes to 2 components and 1 hole
    (counted by scipy), changing few pixels."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("scipy")
    path = Path(__file__).resolve().parents[1] / "examples" / "image_topology.py"
    spec = importlib.util.spec_from_file_location("image_topology_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    img = example.make_image(48, n_blobs=4, n_dips=3, seed=0)
    before = example.betti(img)
    assert before[0] > 2 and before[1] > 1  # spurious blobs and holes to begin with
    after, history = example.optimize(img, steps=150)
    assert example.betti(after) == (2, 1)
    assert history[-1] < history[0]
    assert int((after != img).sum()) < 0.05 * img.numel()  # only critical pixels moved
    if importlib.util.find_spec("matplotlib") is not None:
        assert example.main(["--quick", "--out", str(tmp_path)]) == 0
        assert (tmp_path / "image_topology.png").stat().st_size > 0


def _bars_of(x: torch.Tensor, construction: str, superlevel: bool):
    """The host bars of the batch ``x`` (2-D images), as cubical_persistence hands them to the gather."""
    from difftda.filtrations.cubical import canonical_bars

    B, shape = x.shape[0], tuple(x.shape[1:])
    values = x.detach().double().reshape(-1).numpy() * (-1.0 if superlevel else 1.0)
    engine = difftda.get_backend("auto", maxdim=1, filtration="cubical")
    bp = engine.pairing_batch(values.reshape(B, *shape), maxdim=1, construction=construction)
    return canonical_bars(values, bp, B, int(np.prod(shape)))


@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pixel_reader_equals_plain_indexing(monkeypatch, jit, dtype):
    """The fused pixel reader gives the plain reader's values and gradients bit for bit (pixels read
    by several bars included: integer images have many), compiled or not, and the same tangents."""
    from difftda.filtrations.cubical import PixelValues
    from difftda.gather import Values, gather

    if jit and not difftda._jit.enabled():
        pytest.skip("needs numba")
    monkeypatch.setattr(difftda._jit, "DISABLED", not jit)
    rng = np.random.default_rng(11)
    for x in (rng.random((3, 20, 17)), np.round(rng.random((2, 16, 16)) * 5)):
        x = torch.from_numpy(x).to(dtype)
        for construction in CONSTRUCTIONS:
            bars = _bars_of(x, construction, superlevel=True)
            assert len(np.unique(np.concatenate([bars.birth, bars.death]))) < 2 * len(bars.birth)
            results = []
            for reader in (Values, PixelValues):
                xr = x.clone().requires_grad_(True)
                out = gather(reader(xr.reshape(-1)), bars, len(x), 1).cat()
                w = [torch.linspace(-1, 2, len(dg.pairs), dtype=dtype) for dg in out]
                loss = sum(((dg.pairs[:, 1] - dg.pairs[:, 0]) ** 2 * wk).sum() + dg.pairs[:, 0].sum()
                           for dg, wk in zip(out, w)) + 3 * out[0].essential.sum()
                loss.backward()
                with torch.autograd.forward_ad.dual_level():
                    dual = torch.autograd.forward_ad.make_dual(x, torch.linspace(0, 1, x.numel(), dtype=dtype)
                                                              .reshape(x.shape))
                    tan = gather(reader(dual.reshape(-1)), bars, len(x), 1).cat()
                    tangents = [torch.autograd.forward_ad.unpack_dual(t).tangent
                                for dg in tan for t in (dg.pairs, dg.essential)]
                results.append(([t for dg in out for t in (dg.pairs, dg.essential)], xr.grad, tangents))
            (va, ga, ta), (vb, gb, tb) = results
            assert all(torch.equal(a, b) for a, b in zip(va, vb))
            assert torch.equal(ga, gb)
            assert all(torch.equal(a, b) for a, b in zip(ta, tb))


def test_pixel_reader_second_order_and_gradcheck():
    """gradcheck and gradgradcheck (float64) through the fused reader: backward with create_graph
    is made of differentiable operations."""
    from difftda.filtrations.cubical import PixelValues

    torch.manual_seed(2)
    x = torch.rand(2, 6, 5, dtype=torch.float64, requires_grad=True)  # tie-free
    w = torch.randn(60, dtype=torch.float64)

    def f(x):
        out = difftda.cubical_persistence(x, spatial_dims=2).cat()
        h = torch.cat([out[0].pairs.reshape(-1), out[1].pairs.reshape(-1), out[0].essential])
        return (w[: len(h)] * h ** 2).sum()

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-7)
    pairs = difftda.cubical_persistence(x, spatial_dims=2)[0][0].pairs
    names, nodes = set(), [pairs.grad_fn]
    while nodes:  # every node between the pairs and x
        node = nodes.pop()
        names.add(type(node).__name__)
        nodes += [n for n, _ in node.next_functions if n is not None]
    assert "_PixelBarsBackward" in names and "GatherBackward0" not in names
    assert PixelValues.bars is not difftda.gather.Values.bars


@pytest.mark.skipif(not difftda._jit.enabled(), reason="needs numba")
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_order_bars_compiled_equal_numpy(monkeypatch, engine):
    """The bars in the engine's row order (for order-free callers such as Hu's loss): the compiled
    pass and the numpy one give the same rows, and the same bars as the canonical diagrams."""
    from difftda.filtrations.cubical import _host_bars

    rng = np.random.default_rng(9)
    for x in (torch.rand(3, 14, 11, dtype=torch.float64), torch.from_numpy(np.round(rng.random((2, 12, 12)) * 4))):
        got = []
        for disabled in (False, True):
            monkeypatch.setattr(difftda._jit, "DISABLED", disabled)
            got.append(_host_bars(x, 1, 2, "V", True, engine, canonical=False)[0])
        for a, b in zip(*got):
            np.testing.assert_array_equal(a, b)
        monkeypatch.setattr(difftda._jit, "DISABLED", False)
        canon = _host_bars(x, 1, 2, "V", True, engine)[0]
        for bars in (got[0], canon):
            assert (np.diff(bars.group) >= 0).all()
        rows = [sorted(zip(b.group.tolist(), b.birth.tolist(), b.death.tolist())) for b in (got[0], canon)]
        assert rows[0] == rows[1]


@pytest.mark.skipif(not difftda._jit.enabled(), reason="needs numba")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_canonical_order_from_sorted_reversed_and_shuffled_groups(dtype):
    """Engines list some dimensions already in order, some in reverse order of birth (tied births
    in any order) and some in neither: the compiled canonical order takes each path and gives what
    ``normalize`` gives, bit for bit."""
    from difftda.backends._cubical import CubicalPairing
    from difftda.filtrations import cubical
    from difftda.gather import normalize

    rng = np.random.default_rng(17)
    B, n = 2, 400
    values = (np.round(rng.random(B * n) * 60) / 60).astype(dtype)  # many ties
    births, deaths, groups = [], [], []
    for g, how in enumerate(["ascending", "descending", "shuffled", "descending"]):
        b = rng.integers(0, n, 150)
        d = rng.integers(0, n, 150)
        val = values[(g % B) * n + b]
        order = {"ascending": np.lexsort((np.arange(150), val)), "descending": np.argsort(-val, kind="stable"),
                 "shuffled": rng.permutation(150)}[how]
        births.append(b[order]), deaths.append(d[order]), groups.append(np.full(150, g))
    bp = CubicalPairing(np.concatenate(births), np.concatenate(deaths), np.concatenate(groups),
                        np.array([3, 5]), np.array([0, 1]))
    raw = values.view(np.uint32 if dtype == np.float32 else np.uint64)
    wide = dtype == np.float64
    keys, ends, trend = np.empty(600, np.uint64), np.zeros(4, np.int64), np.zeros(4, np.int8)
    cubical._keys(keys, ends, trend, raw, np.uint64(1 << (63 if wide else 31)),
                  np.uint64(2**64 - 1 if wide else 2**32 - 1), values, bp.birth, bp.death, bp.group,
                  (np.arange(4) % B) * n, np.uint64(32 if wide else 0))
    assert trend.tolist() == [cubical._ASCENDING, cubical._DESCENDING, cubical._UNSORTED, cubical._DESCENDING]
    assert cubical._sorted_finite(values, bp, B, n) is not None  # the compiled path, not the fallback
    got = cubical.canonical_bars(values, bp, B, n)
    want = normalize(values, cubical.pixel_bars(bp, B, n))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    # Rows that do not come grouped: the compiled path declines and normalize orders them.
    shuffled = CubicalPairing(bp.birth[::-1].copy(), bp.death[::-1].copy(), bp.group[::-1].copy(),
                              bp.ess_birth, bp.ess_group)
    assert cubical._sorted_finite(values, shuffled, B, n) is None
    for a, b in zip(cubical.canonical_bars(values, shuffled, B, n), want):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("jit", [True, False])
def test_engine_positions_are_checked(monkeypatch, jit):
    """An engine whose positions fall outside the image is caught with a clear error (compiled check
    or numpy's), also when it returns rows above maxdim, which are dropped."""
    from difftda.backends._cubical import CubicalEngine, CubicalPairing

    if jit and not difftda._jit.enabled():
        pytest.skip("needs numba")
    monkeypatch.setattr(difftda._jit, "DISABLED", not jit)

    class Faulty(CubicalEngine):
        name = "faulty"

        def __init__(self, rows, ess=((0, 0),)):
            self.rows, self.ess = rows, ess

        def pairing(self, image, *, maxdim, construction):
            birth, death, dim = (np.array(c, np.int64) for c in zip(*self.rows))
            ess_birth, ess_dim = (np.array(c, np.int64) for c in zip(*self.ess))
            return CubicalPairing(birth, death, dim, ess_birth, ess_dim)

    x = torch.rand(4, 5)
    good = [(0, 3, 0), (1, 19, 1)]
    for rows in ([(0, 20, 0)], [(-1, 3, 0)], [(0, 3, -1)], [(2, 3, 0), (1, 25, 1)], [(0, 3, 2), (0, 20, 1)]):
        with pytest.raises(RuntimeError, match="outside the image"):
            difftda.cubical_persistence(x, 1, backend=Faulty(good + rows))
    for ess in ([(20, 0)], [(0, -1)], [(-3, 0)]):
        for rows in (good, good + [(0, 3, 2)]):
            with pytest.raises(RuntimeError, match="outside the image"):
                difftda.cubical_persistence(x, 1, backend=Faulty(rows, ess))
    out = difftda.cubical_persistence(x, 1, backend=Faulty(good + [(0, 99, 2)]))  # H2 is above maxdim: dropped
    assert [len(d.pairs) for d in out] == [1, 1]


def test_batch_of_one_item_numbers():
    """A batch of one image: ``cloud_of`` gives ordinary zero tensors, one entry per bar, also after
    a pickle round trip made before they were built."""
    import pickle

    out = pickle.loads(pickle.dumps(difftda.cubical_persistence(torch.rand(1, 9, 7), 1, spatial_dims=2)))
    for k in range(2):
        fin, ess = out.cloud_of(k)
        assert fin.shape == out.cat()[k].pairs.shape[:1] and ess.shape == out.cat()[k].essential.shape
        assert fin.dtype == torch.int64 and fin.is_contiguous() and not fin.any() and not ess.any()
        fin += 1  # a tensor of its own, not a broadcast view
