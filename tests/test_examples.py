"""Small seeded runs of the shipped examples: each must show the trend its paper reports.

The assertions are about directions and about facts fixed by the data's construction (how many
holes were cut, how many clusters the target has), never about numbers our own code printed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    """Import ``examples/<name>.py`` as a module (the folder is not a package)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"difftda_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _few_threads():
    # Tiny models: thread start-up costs more than it saves, and CI has 2 cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- COREL toy


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_corel_toy_trend(metric):
    """Hofer et al.: eps moves toward eta and the [alpha, beta] interval tightens (relative to eps:
    the untrained map squeezes the data to a small scale, so absolute widths are not comparable)."""
    corel = _load("corel_toy")
    eta = 2.0
    r = corel.run(n_per=100, epochs=10, lr_drops=(7, 9), passes=3, eta=eta, metric=metric, seed=0,
                  progress=False, verbose=False)
    before, after = r["before"], r["after"]
    for s in (before, after):
        assert 0 <= s["alpha"] <= s["eps"] <= s["beta"]
    assert abs(after["eps"] - eta) < 0.5 * abs(before["eps"] - eta)
    spread = lambda s: (s["beta"] - s["alpha"]) / s["eps"]  # noqa: E731
    assert spread(after) < spread(before)
    assert r["history"][-1]["loss"] < r["history"][0]["loss"]


def test_corel_death_stats_against_mst():
    """alpha/eps/beta of one batch are the min/mean/max edge of its minimum spanning tree (scipy)."""
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    corel = _load("corel_toy")
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for metric, scipy_metric in (("manhattan", "cityblock"), ("euclidean", "euclidean")):
        s = corel.death_stats(z, batch_size=50, passes=1, metric=metric)
        edges = minimum_spanning_tree(cdist(z.numpy(), z.numpy(), scipy_metric)).data
        assert s["alpha"] == pytest.approx(edges.min())
        assert s["eps"] == pytest.approx(edges.mean())
        assert s["beta"] == pytest.approx(edges.max())
    with pytest.raises(ValueError, match="batch_size"):
        corel.death_stats(z[:10], batch_size=50)


def test_corel_toy_script_writes_pictures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    corel = _load("corel_toy")
    assert corel.main(["--n-per", "40", "--epochs", "2", "--passes", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "before: alpha=" in out and "after: alpha=" in out
    for name in ("corel_latent.png", "corel_deaths.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


# ----------------------------------------------------------------------------- detangling


def test_detangle_betti_numbers_of_the_input_match_the_construction():
    """Before any layer, class 0 has one loop per hole cut out, class 1 one component per hole."""
    det = _load("detangle")
    for n_holes in (1, 3):
        x, y = det.make_data("holes", n_points=1000, n_holes=n_holes, seed=1)
        picks = det.landmarks(x, y, 250)
        b = det.betti_numbers(det.layer_diagrams([x], picks), tau=0.08)[0]
        assert b.tolist() == [[1, n_holes], [n_holes, 0]]


@pytest.mark.slow
def test_detangle_trend(tmp_path):
    """Training separates the classes, and their topology is simpler after the last layer than in
    the input; the pictures are written."""
    pytest.importorskip("matplotlib")
    det = _load("detangle")
    r = det.run(dataset="holes", n_points=800, n_holes=3, steps=800, frames=3, max_points=200, seed=0,
                out=tmp_path, progress=False, verbose=False)
    log = r["log"]
    assert log["accuracy"][-1] > log["accuracy"][0] + 0.1
    betti = log["betti"][-1]  # (layers, classes, 2) after training
    assert betti[0].tolist() == [[1, 3], [3, 0]]
    assert int(betti[-1].sum()) < int(betti[0].sum())
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["detangle_holes.gif", "detangle_holes_betti.png", "detangle_holes_layers.png"]
    from PIL import Image

    with Image.open(tmp_path / "detangle_holes.gif") as im:
        assert im.n_frames == 3
    assert (tmp_path / "detangle_holes.gif").stat().st_size < 1_000_000


def test_detangle_lines_data_and_errors():
    det = _load("detangle")
    x, y = det.make_data("lines", n_points=200, n_lines=4, seed=0)
    assert x.shape == (200, 2) and int(y.sum()) == 100
    with pytest.raises(ValueError, match="dataset"):
        det.make_data("spirals")
    with pytest.raises(ValueError, match="activation"):
        det.NarrowNet(activation="gelu")


# ----------------------------------------------------------------------------- Topo-GEN synthetic tests


@pytest.mark.slow
@pytest.mark.parametrize(
    "test, steps, lr",
    [(1, 900, 0.1), (2, 500, 0.1)],
    ids=["5-clusters-to-3", "2-clusters-to-4"],
)
def test_topogen_cluster_counts_reach_the_target(test, steps, lr):
    """The number of clusters (long H0 bars) goes from the start's to the target's: 5 -> 3, 2 -> 4.
    Both numbers are fixed by how the clouds are built."""
    tg = _load("topogen_synthetic")
    r = tg.run(test, steps=steps, lr=lr, frames=2, progress=False, verbose=False)
    start_clusters, target_clusters = {1: (5, 3), 2: (2, 4)}[test]
    assert r["start"][0] == start_clusters
    assert r["target"][0] == target_clusters
    assert r["final"][0] == target_clusters


@pytest.mark.slow
def test_topogen_segments_become_a_loop():
    """Two segments have no loop; training toward a circle's diagram makes a long H1 bar appear."""
    tg = _load("topogen_synthetic")
    r = tg.run(3, steps=500, lr=0.1, frames=2, progress=False, verbose=False)
    assert r["start"][1] == 0 and r["target"][1] == 1
    assert r["final"][1] >= 1


def test_topogen_script_writes_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    tg = _load("topogen_synthetic")
    assert tg.main(["--test", "3", "--steps", "3", "--frames", "2", "--out", str(tmp_path)]) == 0
    from PIL import Image

    with Image.open(tmp_path / "topogen_test3.gif") as im:
        assert im.n_frames == 2
    assert (tmp_path / "topogen_test3.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="test"):
        tg.make_clouds(4)


# ----------------------------------------------------------------------------- topological autoencoder


@pytest.mark.slow
def test_topo_autoencoder_keeps_the_h0_pattern_better():
    """With the signature term the latent batches merge into clusters more like the inputs do."""
    pytest.importorskip("sklearn")
    ae = _load("topo_autoencoder")
    r = ae.run(term="signature", weight=10.0, epochs=40, seed=0, progress=False, verbose=False)
    assert r["topo"]["topology_gap"] < r["plain"]["topology_gap"]
    for m in (r["plain"], r["topo"]):
        assert 0.0 < m["trustworthiness"] <= 1.0 and m["recon"] > 0


def test_topology_gap_against_scipy_and_gudhi():
    """One batch: the figure is gudhi's Wasserstein distance between the two minimum-spanning-tree
    edge sets (as H0 diagrams), each divided by its mean, per bar."""
    pytest.importorskip("sklearn")
    pytest.importorskip("gudhi")
    pytest.importorskip("ot")  # gudhi's Wasserstein distance runs on POT
    from gudhi.wasserstein import wasserstein_distance
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    ae = _load("topo_autoencoder")
    g = torch.Generator().manual_seed(0)
    x, z = torch.randn(40, 8, generator=g, dtype=torch.float64), torch.randn(40, 2, generator=g, dtype=torch.float64)

    def h0(a):
        d = minimum_spanning_tree(cdist(a.numpy(), a.numpy())).data
        d = d / d.mean()
        return torch.stack([torch.zeros(len(d), dtype=torch.float64), torch.from_numpy(d)], 1).numpy()

    ref = wasserstein_distance(h0(x), h0(z), order=1.0, internal_p=float("inf")) / 39
    assert ae.topology_gap(x, z, batch_size=40, repeats=1) == pytest.approx(ref, rel=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        ae.topology_gap(x[:5], z[:5], batch_size=40)


def test_topo_autoencoder_script(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    ae = _load("topo_autoencoder")
    assert ae.main(["--epochs", "1", "--term", "topogen", "--out", str(tmp_path)]) == 0
    assert "trustworthiness" in capsys.readouterr().out
    assert (tmp_path / "autoencoder_topogen.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="term"):
        ae.train(torch.zeros(10, 64), term="other")


# ----------------------------------------------------------------------------- plot gallery


def test_plot_gallery_script(tmp_path):
    pytest.importorskip("matplotlib")
    gallery = _load("plot_gallery")
    assert gallery.main(["--n", "40", "--steps", "6", "--out", str(tmp_path)]) == 0
    from PIL import Image

    with Image.open(tmp_path / "plot_gallery.png") as im:
        assert im.format == "PNG"
    with Image.open(tmp_path / "grow_loop.gif") as im:
        assert im.n_frames == 7


# ----------------------------------------------------------------------------- the difftda command line


def test_cli_demo_trains_toward_eta(tmp_path, capsys):
    """The demo's statistics move toward eta and its picture is written."""
    pytest.importorskip("matplotlib")
    from difftda.cli import main

    assert main(["demo", "--epochs", "3", "--n-per", "60", "--batch-size", "30", "--passes", "2",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    stats = {}
    for line in out.splitlines():
        if line.startswith(("before", "after")):
            stats[line.split()[0]] = float(line.split("eps=")[1].split()[0])
    assert abs(stats["after"] - 2.0) < abs(stats["before"] - 2.0)
    assert "epoch 3/3" in out and (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_death_stats_against_mst():
    """alpha / eps / beta of one batch are the min / mean / max edge of scipy's minimum spanning tree (L1)."""
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    from difftda.cli import h0_death_stats

    z = torch.randn(40, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    s = h0_death_stats(z, batch_size=40, passes=1, backend="torch")
    edges = minimum_spanning_tree(cdist(z.numpy(), z.numpy(), "cityblock")).data
    assert (s["alpha"], s["eps"], s["beta"]) == pytest.approx((edges.min(), edges.mean(), edges.max()))


@pytest.mark.parametrize("argv, needle", [
    (["demo", "--epochs", "0"], "--epochs"),
    (["demo", "--epochs", "two"], "--epochs"),
    (["demo", "--batch-size", "-3"], "--batch-size"),
    (["demo", "--batch-size", "1000", "--n-per", "10"], "--batch-size"),
    (["demo", "--backend", "no-such-engine", "--no-plot"], "--backend"),
    (["demo", "--eta", "nan"], "--eta"),
    (["bench"], "invalid choice"),
])
def test_cli_bad_argument_is_one_line(argv, needle, capsys):
    from difftda.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


def test_cli_version_and_help(capsys):
    import difftda
    from difftda.cli import main

    with pytest.raises(SystemExit):
        main(["--version"])
    assert difftda.__version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    options = [w for w in text.split() if w.startswith("--")]
    for opt in ("--epochs", "--eta", "--batch-size", "--n-per", "--passes", "--backend", "--seed", "--threads",
                "--out", "--no-plot"):
        assert opt in options
    import argparse

    from difftda.cli import _demo_args

    parser = argparse.ArgumentParser()
    _demo_args(parser)
    assert all(action.help for action in parser._actions)
