"""difftda.plot: pictures render with Agg, draw exactly the bars they are given, and the matching
behind ``plot_matching`` has the cost gudhi computes for the same diagrams."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

import difftda  # noqa: E402
from difftda import plot  # noqa: E402
from difftda.datasets import noisy_circle  # noqa: E402

gudhi = pytest.importorskip("gudhi")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _save(ax, path, dpi=60):
    fig = ax.figure
    fig.savefig(path, dpi=dpi)
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
        fw, fh = fig.get_size_inches()
        assert (w, h) == (round(fw * dpi), round(fh * dpi))
        pixels = np.asarray(im.convert("RGB"))
    # Something was drawn: more than background and a few greys.
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10
    return pixels


def _random_diagram(rng, k, n_ess=0):
    b = rng.uniform(0, 1, k)
    d = b + rng.uniform(0.01, 1, k)
    fin = np.stack([b, d], 1)
    ess = np.stack([rng.uniform(0, 1, n_ess), np.full(n_ess, np.inf)], 1)
    out = np.concatenate([fin, ess])
    return out[rng.permutation(len(out))]  # essential rows anywhere


# ----------------------------------------------------------------------------- plot_diagram


def test_plot_diagram_draws_every_point(tmp_path):
    x = noisy_circle(80, seed=3)
    dgms = difftda.persistence(x, maxdim=1)
    ax = plot.plot_diagram(dgms, title="circle")
    pixels = _save(ax, tmp_path / "dgm.png")
    # The blue of H0 (C0) and the orange of H1 (C1) are in the picture.
    blue, orange = np.array([31, 119, 180]), np.array([255, 127, 14])
    for colour in (blue, orange):
        assert (np.abs(pixels.astype(int) - colour).sum(-1) < 40).any()
    sets = [c for c in ax.collections if len(c.get_offsets())]
    assert [c.get_label() for c in sets] == ["H0", "H1"]
    assert ax.get_yticklabels()[-1].get_text() == "∞"
    inf_y = ax.get_yticks()[-1]
    ref = dgms.to_numpy()
    assert inf_y > max(r[np.isfinite(r)].max() for r in ref)
    for coll, r in zip(sets, ref):
        off = np.asarray(coll.get_offsets())
        fin = np.isfinite(r[:, 1])
        on_line = np.isclose(off[:, 1], inf_y)
        assert len(off) == len(r) and on_line.sum() == (~fin).sum()
        # finite bars at their (birth, death), essential ones at their birth on the line
        np.testing.assert_allclose(_rows(off[~on_line]), _rows(r[fin]))
        np.testing.assert_allclose(np.sort(off[on_line, 0]), np.sort(r[~fin, 0]))


def _rows(a):
    return a[np.lexsort(a.T[::-1])]


def test_plot_diagram_matches_gudhi_intervals():
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    st = gudhi.RipsComplex(points=x.numpy()).create_simplex_tree(max_dimension=2)
    st.compute_persistence(homology_coeff_field=2)
    ref = np.asarray(st.persistence_intervals_in_dimension(1)).reshape(-1, 2)
    ax = plot.plot_diagram(difftda.persistence(x, maxdim=1), homology_dimensions=1)
    (coll,) = [c for c in ax.collections if len(c.get_offsets())]
    off = np.asarray(coll.get_offsets())
    np.testing.assert_allclose(off[np.lexsort(off.T[::-1])], ref[np.lexsort(ref.T[::-1])], rtol=1e-6)
    assert coll.get_label() == "H1"


def test_plot_diagram_input_forms_and_labels():
    rng = np.random.default_rng(0)
    a, b = _random_diagram(rng, 5, 1), _random_diagram(rng, 3)
    ax = plot.plot_diagram([a, b], labels=["first", "second"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["first", "second"]
    ax = plot.plot_diagram(torch.tensor(a), homology_dimensions=2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["H2"]
    ax = plot.plot_diagram([[0.0, 1.0], [0.5, 2.0]])  # one diagram written as rows
    (coll,) = [c for c in ax.collections if len(c.get_offsets())]
    np.testing.assert_allclose(coll.get_offsets(), [[0.0, 1.0], [0.5, 2.0]])
    assert ax.get_legend() is None
    # empty diagrams draw an empty picture, not an error
    ax = plot.plot_diagram([np.zeros((0, 2)), np.zeros((0, 2))])
    assert all(len(c.get_offsets()) == 0 for c in ax.collections)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[0.0, np.nan]]), "NaN"),
        (np.array([[np.inf, np.inf]]), "infinite birth"),
        (np.zeros((3, 3)), r"shape \(k, 2\)"),
        ("abc", "Diagram"),
    ],
)
def test_plot_diagram_rejects_bad_input(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        plot.plot_diagram(bad)


def test_plot_diagram_rejects_unknown_dimension():
    dgms = difftda.persistence(torch.randn(10, 2), maxdim=1)
    with pytest.raises(ValueError, match="homology_dimensions"):
        plot.plot_diagram(dgms, homology_dimensions=2)
    with pytest.raises(ValueError, match="labels"):
        plot.plot_diagram(dgms, labels=["only one"])


# ----------------------------------------------------------------------------- plot_barcode


def test_plot_barcode_draws_every_bar(tmp_path):
    dgms = difftda.persistence(noisy_circle(60, seed=5), maxdim=1)
    ax = plot.plot_barcode(dgms)
    _save(ax, tmp_path / "bars.png")
    ref = dgms.to_numpy()
    lines = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert len(lines) == 2
    inf_x = ax.get_xticks()[-1]
    assert ax.get_xticklabels()[-1].get_text() == "∞"
    for coll, r in zip(lines, ref):
        seg = np.asarray(coll.get_segments())  # (bars, 2 ends, xy)
        assert len(seg) == len(r)
        ends = np.where(np.isinf(r[:, 1]), inf_x, r[:, 1])
        got = np.stack([seg[:, 0, 0], seg[:, 1, 0]], 1)
        want = np.stack([r[:, 0], ends], 1)
        np.testing.assert_allclose(got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])])
        np.testing.assert_array_equal(seg[:, 0, 1], seg[:, 1, 1])  # horizontal


def test_plot_barcode_max_bars_keeps_the_longest():
    rng = np.random.default_rng(1)
    dgm = _random_diagram(rng, 40, 1)
    ax = plot.plot_barcode(dgm, max_bars=5)
    (coll,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    seg = np.asarray(coll.get_segments())
    assert len(seg) == 5
    fin = dgm[np.isfinite(dgm[:, 1])]
    longest = np.sort(fin[:, 1] - fin[:, 0])[-4:]  # the essential bar takes the fifth place
    drawn = seg[:, 1, 0] - seg[:, 0, 0]
    np.testing.assert_allclose(np.sort(drawn)[:4], longest)
    with pytest.raises(ValueError, match="max_bars"):
        plot.plot_barcode(dgm, max_bars=0)


# ----------------------------------------------------------------------------- matchings


@pytest.mark.parametrize("n_ess", [0, 2])
def test_bottleneck_matching_cost_equals_gudhi(n_ess):
    rng = np.random.default_rng(10 + n_ess)
    for _ in range(15):
        a = _random_diagram(rng, rng.integers(0, 9), n_ess)
        b = _random_diagram(rng, rng.integers(0, 9), n_ess)
        dist, rows = plot._matching(a, b, "bottleneck", 1.0, math.inf)
        assert dist == pytest.approx(gudhi.bottleneck_distance(a, b, e=0), abs=1e-12)
        _check_matching(a, b, rows)


@pytest.mark.parametrize("order", [1.0, 2.0])
@pytest.mark.parametrize("internal_p", [1.0, 2.0, math.inf])
def test_wasserstein_matching_cost_equals_gudhi(order, internal_p):
    from gudhi.wasserstein import wasserstein_distance

    rng = np.random.default_rng(int(order * 10 + (internal_p if internal_p < 9 else 9)))
    for _ in range(10):
        a = _random_diagram(rng, rng.integers(0, 8), 1)
        b = _random_diagram(rng, rng.integers(0, 8), 1)
        dist, rows = plot._matching(a, b, "wasserstein", order, internal_p)
        ref = wasserstein_distance(a, b, order=order, internal_p=internal_p, keep_essential_parts=True)
        assert dist == pytest.approx(ref, rel=1e-9, abs=1e-12)
        _check_matching(a, b, rows)


def test_matching_with_different_essential_counts_is_infinite():
    a = np.array([[0.0, 1.0], [0.0, np.inf]])
    b = np.array([[0.0, 1.2]])
    dist, _ = plot._matching(a, b, "bottleneck", 1.0, math.inf)
    assert dist == gudhi.bottleneck_distance(a, b, e=0) == math.inf


def _check_matching(a, b, rows):
    """Every finite point is used exactly once; essential bars only meet essential bars, once."""
    for arr, col in ((a, 0), (b, 1)):
        used = rows[rows[:, col] >= 0, col]
        assert len(np.unique(used)) == len(used)
        np.testing.assert_array_equal(np.isin(np.flatnonzero(np.isfinite(arr[:, 1])), used), True)
    for i, j in rows:
        assert i >= 0 or j >= 0
        if i >= 0 and j >= 0:
            assert np.isinf(a[i, 1]) == np.isinf(b[j, 1])
        else:
            assert np.isfinite(a[i, 1]) if i >= 0 else np.isfinite(b[j, 1])


def test_plot_matching_draws_lines_and_title(tmp_path):
    a = np.array([[0.0, 2.0], [1.0, 1.5], [0.2, np.inf]])
    b = np.array([[0.1, 2.2], [0.0, np.inf]])
    ax = plot.plot_matching(a, b)
    _save(ax, tmp_path / "match.png")
    assert ax.get_title() == f"bottleneck distance = {gudhi.bottleneck_distance(a, b, e=0):.3g}"
    lines = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    n_pairs = sum(len(c.get_segments()) for c in lines)
    assert n_pairs == 3  # (0,2)-(0.1,2.2), the essential pair, (1,1.5) to the diagonal
    ax = plot.plot_matching(torch.tensor(a), torch.tensor(b), metric="wasserstein", order=2.0)
    from gudhi.wasserstein import wasserstein_distance

    ref = wasserstein_distance(a, b, order=2.0, internal_p=math.inf)
    assert ax.get_title() == f"wasserstein distance = {ref:.3g}"


def test_plot_matching_takes_a_given_matching():
    from gudhi.wasserstein import wasserstein_distance

    rng = np.random.default_rng(4)
    a, b = _random_diagram(rng, 6), _random_diagram(rng, 4)
    _, match = wasserstein_distance(a, b, matching=True, order=1.0, internal_p=2.0)
    ax = plot.plot_matching(a, b, match, title="given")
    lines = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert sum(len(c.get_segments()) for c in lines) == len(match)
    with pytest.raises(ValueError, match="matching rows"):
        plot.plot_matching(a, b, np.array([[7, 0]]))
    with pytest.raises(ValueError, match="metric"):
        plot.plot_matching(a, b, metric="energy")


# ----------------------------------------------------------------------------- critical edges


def test_plot_critical_edges_draws_the_bar_edges(tmp_path):
    x = noisy_circle(50, seed=7, outliers=0.0)
    dgm = difftda.persistence(x, maxdim=1)[1]
    ax = plot.plot_critical_edges(x, dgm, top=1, title="loop")
    _save(ax, tmp_path / "edges.png")
    k = int(torch.argmax(dgm.pairs[:, 1] - dgm.pairs[:, 0]))
    bi, bj, di, dj = dgm.index[k].tolist()
    lines = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    birth, death = (np.asarray(c.get_segments()) for c in lines)
    np.testing.assert_allclose(birth[0], x[[bi, bj]].numpy(), rtol=1e-6)
    np.testing.assert_allclose(death[0], x[[di, dj]].numpy(), rtol=1e-6)
    # their lengths are the bar's birth and death
    assert np.linalg.norm(death[0][0] - death[0][1]) == pytest.approx(float(dgm.pairs[k, 1]), rel=1e-5)
    with pytest.raises(TypeError, match="Diagram"):
        plot.plot_critical_edges(x, dgm.pairs)
    with pytest.raises(ValueError, match="more than"):
        plot.plot_critical_edges(x[:5], dgm)


# ----------------------------------------------------------------------------- animation


def test_animate_snapshots_writes_a_gif(tmp_path):
    g = torch.Generator().manual_seed(0)
    frames = [[torch.randn(30, 2, generator=g) * (t + 1), torch.randn(30, 2, generator=g)] for t in range(4)]
    path = tmp_path / "sub" / "train.gif"
    plot.animate_snapshots(frames, path, c=np.arange(30), panel_titles=["layer 1", "layer 2"],
                           frame_titles=[f"step {t}" for t in range(4)], dpi=50, panel_size=2.0)
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == 4
        assert im.size == (200, round(2.6 * 50))  # 2 panels of 2 in, plus 0.6 in for the titles
        first = np.asarray(im.convert("RGB")).copy()
        im.seek(3)
        last = np.asarray(im.convert("RGB"))
    assert not np.array_equal(first, last)  # the frames differ
    assert path.stat().st_size < 1_000_000


def test_animate_snapshots_custom_draw(tmp_path):
    seen = []

    def draw(axes, snap, t):
        seen.append((len(axes), snap, t))
        axes[0].plot([0, snap], [0, 1])

    plot.animate_snapshots([1.0, 2.0, 3.0], tmp_path / "c.gif", draw=draw, panel_titles=["a", "b"], dpi=30)
    assert [(n, snap, t) for n, snap, t in seen if t == 2][-1] == (2, 3.0, 2)
    assert {t for _, _, t in seen} == {0, 1, 2}
    with pytest.raises(ValueError, match="frame_titles"):
        plot.animate_snapshots([np.zeros((3, 2))], frame_titles=["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        plot.animate_snapshots([])


# ----------------------------------------------------------------------------- optional extra


def test_missing_matplotlib_names_the_extra():
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"
        "import numpy as np, difftda.plot as p\n"  # importing the module needs no matplotlib
        "try:\n    p.plot_diagram(np.zeros((0, 2)))\nexcept ImportError as e:\n    print('ERR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ERR" in out.stdout and "pip install matplotlib" in out.stdout and "pip install -e '.[plot]'" in out.stdout


@pytest.mark.gpu
def test_plots_take_cuda_tensors(tmp_path):
    x = torch.randn(40, 2, device="cuda")
    dgms = difftda.persistence(x, maxdim=1)
    plot.plot_diagram(dgms)
    plot.plot_barcode(dgms)
    plot.plot_matching(dgms[1], difftda.persistence(torch.randn(40, 2, device="cuda"), maxdim=1)[1])
    plot.plot_critical_edges(x, dgms[1], top=1)
    plot.animate_snapshots([x, 2 * x], tmp_path / "cuda.gif", dpi=30)
    assert (tmp_path / "cuda.gif").stat().st_size > 0
