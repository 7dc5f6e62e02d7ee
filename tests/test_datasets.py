"""The synthetic data sets of the examples: shapes, seeds, geometry, and the topology they promise
(checked with gudhi directly, not through difftda)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from difftda import datasets


def _gudhi_intervals(x: torch.Tensor, dim: int) -> np.ndarray:
    gudhi = pytest.importorskip("gudhi")
    st = gudhi.RipsComplex(points=x.double().numpy()).create_simplex_tree(max_dimension=dim + 1)
    st.compute_persistence(homology_coeff_field=2, persistence_dim_max=True)
    return np.asarray(st.persistence_intervals_in_dimension(dim)).reshape(-1, 2)


def test_disk_with_holes_geometry_and_seed():
    x, y = datasets.disk_with_holes(400, 180, n_holes=9, hole_radius=0.15, pos_radius=0.02, seed=3)
    assert x.shape == (580, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert int((y == 1).sum()) == 180
    centers = datasets.hole_centers(9, 1.0).float()
    d = torch.cdist(x, centers)
    neg, pos = d[y == 0], d[y == 1]
    assert bool((neg > 0.15 - 1e-6).all())  # class 0 avoids every hole
    assert bool((x[y == 0].norm(dim=1) <= 1.0 + 1e-6).all())
    assert bool((pos.min(1).values <= 0.02 + 1e-6).all())  # class 1 sits in the holes
    assert torch.bincount(pos.argmin(1), minlength=9).tolist() == [20] * 9  # shared evenly
    x2, y2 = datasets.disk_with_holes(400, 180, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, datasets.disk_with_holes(400, 180, seed=4)[0])
    assert datasets.disk_with_holes(10, 5, dtype=torch.float64)[0].dtype == torch.float64


def test_disk_with_holes_topology():
    """Class 1 has one component per hole; class 0 has one long H1 bar per hole."""
    ripser = pytest.importorskip("ripser").ripser
    x, y = datasets.disk_with_holes(600, 90, n_holes=5, hole_radius=0.15, seed=0)
    comp = _gudhi_intervals(x[y == 1], 0)
    assert (np.isfinite(comp[:, 1]) & (comp[:, 1] > 0.2)).sum() == 5 - 1 and np.isinf(comp[:, 1]).sum() == 1
    loops = ripser(x[y == 0].double().numpy(), maxdim=1)["dgms"][1]  # gudhi's full complex is too big here
    long_loops = (loops[:, 1] - loops[:, 0]) > 0.12
    assert long_loops.sum() == 5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"hole_radius": 0.3}, "too large"),
        ({"n_holes": 1, "hole_radius": 1.0}, "too large"),
        ({"pos_radius": 0.2}, "pos_radius"),
        ({"n_holes": 0}, "n_holes"),
        ({"n_neg": -1}, "n_neg"),
    ],
)
def test_disk_with_holes_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.disk_with_holes(**kwargs)


def test_line_segments_are_segments():
    x, y = datasets.line_segments(4, 3, length=0.2, points_per_line=25, seed=2)
    assert x.shape == (7 * 25, 2) and int((y == 1).sum()) == 3 * 25
    segs = x.double().reshape(7, 25, 2)
    labels = y.reshape(7, 25)
    assert bool((labels == labels[:, :1]).all())  # one label per segment
    centered = segs - segs.mean(1, keepdim=True)
    sv = torch.linalg.svdvals(centered)
    assert bool((sv[:, 1] < 1e-6).all())  # every segment is a straight line (up to float32 rounding)
    extent = torch.cdist(segs, segs).amax((1, 2))
    assert bool((extent <= 0.2 + 1e-6).all()) and bool((extent > 0.1).all())
    with pytest.raises(ValueError, match="length"):
        datasets.line_segments(length=0)


def test_clusters_circle_two_segments():
    x, y = datasets.clusters([[0, 0], [10, 0], [0, 20]], [5, 6, 7], noise=0.5, seed=1)
    assert x.shape == (18, 2) and y.tolist() == [0] * 5 + [1] * 6 + [2] * 7
    centers = torch.tensor([[0, 0], [10, 0], [0, 20]], dtype=torch.float32)
    assert bool(((x - centers[y]).abs() <= 0.5 + 1e-6).all())
    with pytest.raises(ValueError, match="sizes"):
        datasets.clusters([[0, 0]], [1, 2])
    c = datasets.circle(64, radius=5.0, seed=2)
    np.testing.assert_allclose(c.norm(dim=1).numpy(), 5.0, rtol=1e-5)
    h1 = _gudhi_intervals(c, 1)
    assert (h1[:, 1] - h1[:, 0]).max() > 5.0  # one big loop
    s = datasets.two_segments(32, noise=0.1, seed=0)
    assert s.shape == (64, 2)
    i = torch.arange(32, dtype=torch.float32)
    assert bool(((s[:32, 1] - 0.7 * i).abs() <= 0.1 + 1e-5).all())
    assert bool(((s[32:, 0] - 5 - 0.2 * i).abs() <= 0.1 + 1e-5).all())


def test_plot_and_datasets_are_attributes_of_difftda():
    """``difftda.plot`` and ``difftda.datasets`` load on first use; ``import difftda`` loads neither matplotlib."""
    import subprocess
    import sys

    code = (
        "import sys, difftda\n"
        "assert 'matplotlib' not in sys.modules and 'difftda.plot' not in sys.modules\n"
        "assert callable(difftda.plot.plot_diagram) and callable(difftda.datasets.three_gaussians)\n"
        "assert 'plot' in dir(difftda) and 'datasets' in dir(difftda)\n"
        "assert 'matplotlib' not in sys.modules\n"
        "try:\n    difftda.no_such_name\nexcept AttributeError as e:\n    print('OK', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK") and "no_such_name" in out.stdout
