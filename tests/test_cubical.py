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
