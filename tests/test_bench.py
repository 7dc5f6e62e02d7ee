"""The benchmark harness (``benchmarks/run.py``): data, the independent reference, the checks, a smoke run.

The reference of the benchmark's correctness checks is tested against tools that share no code with
it or with difftda: scipy's minimum spanning tree and ripser.py, and central finite differences.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

gph = pytest.importorskip("gph")


def _load_harness():
    """benchmarks/run.py is a script of the checkout, not part of the installed package."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    spec = importlib.util.spec_from_file_location("difftda_benchmarks_run", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


bench = _load_harness()
WORKLOADS, compare, make_data = bench.WORKLOADS, bench.compare, bench.make_data
parse_tool, reference_for = bench.parse_tool, bench.reference_for


def test_data_is_deterministic_float32_with_the_baseline_shapes():
    for key, w in WORKLOADS.items():
        for size_set, sizes in w.sizes.items():
            if w.input != "points" and size_set != "smoke":
                continue  # the large images, volumes and meshes: their shapes are checked below
            for shape in sizes:
                x, aux = bench.split_data(make_data(key, shape))
                assert x.dtype == np.float32
                if w.input != "complex":
                    assert x.shape == shape
                x2, aux2 = bench.split_data(make_data(key, shape))
                for a, b in zip((x, *aux), (x2, *aux2)):
                    np.testing.assert_array_equal(a, b)
    assert WORKLOADS["C1"].sizes["full"] == ((256, 256),)
    assert WORKLOADS["C2"].sizes["full"] == ((8, 1, 128, 128),)
    assert WORKLOADS["C3"].sizes["full"] == ((2, 1, 64, 64, 64),)
    assert WORKLOADS["A1"].sizes["full"] == ((10000, 2), (10000, 3), (100000, 2), (100000, 3))
    assert WORKLOADS["L1"].sizes["full"] == ((225, 225), (1000,))
    values, tris = make_data("L1", (225, 225))
    assert len(tris) == 100352 and tris.max() == len(values) - 1
    values, edges, batch = make_data("L1", (1000,))
    assert batch.max() == 999 and np.all(batch[edges[:, 0]] == batch[edges[:, 1]])  # no edge between graphs
    pred, target = make_data("C2", (2, 1, 16, 16))
    assert set(np.unique(target)) == {0.0, 1.0} and pred.min() >= 0 and pred.max() <= 1
    assert WORKLOADS["W1"].sizes["full"] == ((50, 2), (200, 2), (1000, 2))
    assert WORKLOADS["W2"].sizes["full"] == ((50, 2), (200, 2), (500, 2))
    assert WORKLOADS["W3"].sizes["full"] == ((32, 64, 16),)
    assert WORKLOADS["W4"].sizes["full"] == ((256, 128),)
    x = make_data("W2", (500, 2)).astype(np.float64)
    r = np.linalg.norm(x[:400], axis=1)
    assert abs(np.median(r) - 1.0) < 0.05 and np.mean(np.abs(r - 1) < 0.3) > 0.95  # noisy unit circle
    assert np.abs(x[400:]).max() <= 1.5 and np.std(x[400:]) > 0.6  # uniform in the box


def _mst_loss(x: np.ndarray) -> float:
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    w = minimum_spanning_tree(cdist(x, x)).data
    return float(np.abs(w - 2.0).sum())


def _h1_total_persistence(x: np.ndarray) -> float:
    """H1 total persistence by gudhi, in float64 (ripser.py rounds to float32: too coarse here)."""
    gudhi = pytest.importorskip("gudhi")
    st = gudhi.RipsComplex(points=x).create_simplex_tree(max_dimension=2)
    st.compute_persistence(homology_coeff_field=2)
    d = st.persistence_intervals_in_dimension(1)
    return float((d[:, 1] - d[:, 0]).sum())


def _central_differences(f, x: np.ndarray, h: float) -> np.ndarray:
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_reference_h0_matches_scipy_mst_and_finite_differences():
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    x = make_data("W1", (30, 2))
    dgms, grad = reference_for(WORKLOADS["W1"], x)
    x64 = x.astype(np.float64)
    mst = np.sort(minimum_spanning_tree(cdist(x64, x64)).data)
    np.testing.assert_allclose(np.sort(dgms[0][0][:, 1]), mst, rtol=1e-6)
    assert np.all(dgms[0][0][:, 0] == 0)
    np.testing.assert_allclose(grad, _central_differences(_mst_loss, x64, 1e-5), atol=1e-6)


def test_reference_h1_matches_ripser_and_finite_differences():
    ripser = pytest.importorskip("ripser")
    x = make_data("W2", (40, 2))
    dgms, grad = reference_for(WORKLOADS["W2"], x)
    x64 = x.astype(np.float64)
    want = ripser.ripser(x64, maxdim=1)["dgms"][1]
    got = dgms[0][1]
    assert len(got) == len(want) > 0
    key = lambda a: a[np.lexsort((a[:, 1], a[:, 0]))]  # noqa: E731
    np.testing.assert_allclose(key(got), key(want), rtol=1e-6)
    np.testing.assert_allclose(grad, _central_differences(_h1_total_persistence, x64, 1e-5), atol=1e-6)


def test_compare_flags_wrong_diagrams_and_gradients():
    w = WORKLOADS["W4"]
    x = make_data("W4", (40, 8))
    ref = reference_for(w, x)
    good = {f"c0_h{k}": ref[0][0][k].copy() for k in range(2)} | {"grad": ref[1].copy()}
    ok = compare(ref, good, 1, True)
    assert ok["diagram_ok"] and ok["grad_ok"] and ok["diagram_dev"] == 0 and ok["grad_dev"] == 0

    shifted = dict(good, c0_h1=good["c0_h1"] + np.array([0.0, 1e-3]))
    assert not compare(ref, shifted, 1, True)["diagram_ok"]
    dropped = dict(good, c0_h0=good["c0_h0"][1:])
    res = compare(ref, dropped, 1, True)
    assert not res["diagram_ok"] and res["diagram_mismatch"]
    births = dict(good, c0_h0=good["c0_h0"] + np.array([1e-3, 1e-3]))  # non-zero H0 births (sqrt(eps) bias)
    assert not compare(ref, births, 1, True)["diagram_ok"]
    wrong_grad = dict(good, grad=good["grad"] * 1.01)
    assert not compare(ref, wrong_grad, 1, True)["grad_ok"]


def test_tool_keys():
    assert parse_tool("gph2").threads == 2 and parse_tool("gph2").raw
    assert parse_tool("tt2").base == "tt1"
    t = parse_tool("difftda:giotto:n_threads=2")
    assert (t.kind, t.spec, t.threads) == ("difftda", "giotto:n_threads=2", 2)
    assert parse_tool("difftda:torch@2").threads == 2 and parse_tool("difftda:torch@2").spec == "torch"
    for bad in ("gph0", "difftda:", "difftda:giotto@x", "tda"):
        with pytest.raises(ValueError, match="tool"):
            parse_tool(bad)
    with pytest.raises(ValueError, match="workload"):
        bench.run_benchmark(["W9"], "smoke", ["gph1"])
    keys = bench.expand_tools("gph,peers", [2])
    assert keys[:8] == ["gph1", "gph2", "tt1", "tt2", "oin1", "oin2", "pers1", "pers2"]
    # Per workload: only the rows that take its input, one row per kind that is not on points.
    assert bench.expand_tools("all", [2], WORKLOADS["C1"]) == [
        "crip1", "gcub1", "difftda:auto", "difftda:cripser", "difftda:gudhi", "tt1", "oin1", "cript1"]
    assert bench.expand_tools("raw", [2], WORKLOADS["A1"]) == ["wraw1", "araw1"]


def test_smoke_run_times_checks_and_measures_memory():
    res = bench.run_benchmark(["W1"], "smoke", ["gph1", "difftda:auto"], reps=2, log=lambda s: None)
    cells = {c["tool"]: c for c in res["cells"]}
    assert set(cells) == {"gph1", "difftda:auto"}
    for c in cells.values():
        assert c["status"] == "ok", c
        assert len(c["times_ms"]) == 2 and all(t > 0 for t in c["times_ms"])
        assert c["check"]["diagram_ok"], c["check"]
        assert c["rss_mb"] >= c["rss_base_mb"] > 0
    assert cells["difftda:auto"]["check"]["grad_ok"], cells["difftda:auto"]["check"]
    # The raw worker never imports torch and does not inherit this process's peak RSS.
    assert cells["gph1"]["rss_mb"] < cells["difftda:auto"]["rss_base_mb"]
    text = bench.format_report(res)
    assert "| gph1 | " in text and "**1.00x**" in text and "difftda:auto" in text
    assert "torch-topological" in text  # the versions line names the peers, installed or not
    assert "### Summary" in text and "gph1" in text.split("### Summary")[1]
    json.dumps(res)


def test_cli_kills_a_call_past_the_time_limit(tmp_path, capsys):
    main = bench.main
    out = tmp_path / "b.json"
    # W1 n=1000 takes tens of ms for giotto-ph: it cannot return within 5 ms.
    assert main(["--workloads", "W1", "--sizes", "full", "--tools", "gph1", "--threads", "1",
                 "--time-limit", "0.005", "--reps", "1", "--no-check", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    status = [c["status"] for c in res["cells"]]
    assert len(status) == 3 and status[-1] != "ok" and "timeout" in status
    first = status.index("timeout")
    assert all(s == "skipped" for s in status[first + 1:])
    assert "killed" in capsys.readouterr().out


def test_interleaved_smoke_run_pairs_each_round_with_gph1(capsys):
    main = bench.main
    res = bench.run_interleaved(["W1", "W3"], "smoke", ["difftda:auto"], rounds=3, log=lambda s: None)
    assert res["mode"] == "interleaved"
    cells = {(c["workload"], c["tool"]): c for c in res["cells"]}
    assert set(cells) == {(w, t) for w in ("W1", "W3") for t in ("gph1", "difftda:auto")}  # gph1 is added
    for c in cells.values():
        assert len(c["times_ms"]) == 3 and all(t > 0 for t in c["times_ms"])
    # The ratio is the median of the per-round ratios, not the ratio of the medians.
    a, g = (np.asarray(cells[("W1", k)]["times_ms"]) for k in ("difftda:auto", "gph1"))
    assert cells[("W1", "difftda:auto")]["ratio"] == pytest.approx(float(np.median(a / g)))
    assert cells[("W1", "gph1")]["ratio"] == 1.0
    text = bench.format_report(res)
    assert "interleaved in one process, 3 rounds" in text and "peak RSS" not in text and "**1.00x**" in text
    json.dumps(res)
    # A step slower than slow_s is left out with a note instead of stalling the rounds.
    slow = bench.run_interleaved(["W1"], "smoke", ["difftda:auto"], rounds=1, slow_s=0.0, log=lambda s: None)
    assert [c["status"] for c in slow["cells"]] == ["slow", "slow"] and len(slow["notes"]) == 2
    assert "over 0 s" in bench.format_report(slow)
    assert main(["--interleave", "--rounds", "2", "--workloads", "W1", "--sizes", "smoke",
                 "--tools", "difftda:auto"]) == 0
    assert "interleaved" in capsys.readouterr().out
    assert main(["--interleave", "--rounds", "0", "--workloads", "W1", "--sizes", "smoke"]) == 2
    assert "rounds must be >= 1" in capsys.readouterr().err


def test_a_new_workload_and_tool_kind_plug_in(monkeypatch):
    """The registries are the only place a new workload or row needs: rows that do not take its input skip."""
    import torch

    def forward(tool, workload, x, aux):
        # A stand-in differentiable tool: H0 deaths from scipy's minimum spanning tree, rebuilt with torch.
        from scipy.sparse.csgraph import minimum_spanning_tree

        def f():
            d = torch.cdist(x, x)
            mst = minimum_spanning_tree(d.detach().double().numpy()).tocoo()
            deaths = d[torch.as_tensor(mst.row), torch.as_tensor(mst.col)]
            return [[torch.stack([torch.zeros_like(deaths), deaths], 1)]]

        return f

    w1 = WORKLOADS["W1"]
    new = bench.Workload("X1", "test workload", 0, {"smoke": ((20, 3),)}, w1.data, w1.loss, w1.reference,
                         input="points-3d", baseline="mst1")
    monkeypatch.setitem(bench.WORKLOADS, "X1", new)
    monkeypatch.setitem(bench.TOOL_KINDS, "mst", bench.ToolKind("mst", "scipy", "scipy", inputs=("points-3d",),
                                                                forward=forward))
    assert bench.default_tools([1], "peers")[-1] == "mst1"
    res = bench.run_interleaved(["X1"], "smoke", ["gph1", "mst1"], rounds=2, log=lambda s: None)
    assert [c["tool"] for c in res["cells"]] == ["mst1"] and res["cells"][0]["ratio"] == 1.0
    assert any("gph1 skipped" in n and "points-3d" in n for n in res["notes"])
    x = make_data("X1", (20, 3))
    assert x.shape == (20, 3) and np.array_equal(x, make_data("X1", (20, 3)))
    step, outputs = bench._make_step(parse_tool("mst1"), new, x)
    step()
    dgms, grad = outputs()
    ref_dgms, ref_grad = reference_for(new, x)
    assert compare((ref_dgms, ref_grad), {"c0_h0": dgms[0][0], "grad": grad}, 0, True)["grad_ok"]


def test_cubical_reference_matches_gudhi_and_finite_differences():
    """C1's reference (raw cripser) against gudhi's diagrams and central differences of the loss."""
    gudhi = pytest.importorskip("gudhi")
    pytest.importorskip("cripser")
    img = make_data("C1", (16, 16))
    dgms, grad = bench.cubical_reference(img)

    def total(im):
        cc = gudhi.CubicalComplex(top_dimensional_cells=im)
        cc.compute_persistence(homology_coeff_field=2)
        out = 0.0
        for k in (0, 1):
            d = cc.persistence_intervals_in_dimension(k)
            d = d[np.isfinite(d[:, 1])]
            out += float((d[:, 1] - d[:, 0]).sum())
        return out

    cc = gudhi.CubicalComplex(top_dimensional_cells=img.astype(np.float64))
    cc.compute_persistence(homology_coeff_field=2)
    for k in (0, 1):
        want = cc.persistence_intervals_in_dimension(k)
        want = want[np.isfinite(want[:, 1]) & (want[:, 1] > want[:, 0])]
        key = lambda a: a[np.lexsort((a[:, 1], a[:, 0]))]  # noqa: E731
        np.testing.assert_allclose(key(dgms[0][k]), key(want), rtol=1e-6)
    # Uniform noise has no ties, so the loss is linear near img: differences with a small step are exact.
    np.testing.assert_allclose(grad, _central_differences(total, img.astype(np.float64), 1e-7), atol=1e-5)


def test_cubical_rows_pass_the_check_against_the_reference():
    """The C1 rows the per-process mode checks: their diagrams and gradient against raw cripser's."""
    pytest.importorskip("cripser")
    for wk, shape in (("C1", (16, 16)), ("C4", (2, 12, 16))):
        w = WORKLOADS[wk]
        img = make_data(wk, shape)
        ref = bench.cubical_reference(img)
        for key in ("crip1", "gcub1", "difftda:auto", "difftda:gudhi", "cript1"):
            tool = parse_tool(key)
            if bench._tool_unavailable(tool, w):
                continue
            step, outputs = bench._make_step(tool, w, img)
            step()
            dgms, grad = outputs()
            got = {f"c{b}_h{k}": np.asarray(dgms[b][k], np.float64).reshape(-1, 2)
                   for b in range(len(dgms)) for k in (0, 1)}
            assert len(dgms) == len(ref[0])
            if grad is not None:
                got["grad"] = grad
            res = compare(ref, got, 1, grad is not None)
            assert res["diagram_ok"] and res.get("grad_ok", True), (wk, key, res)
    # A wrong gradient is caught.
    got["grad"] = -ref[1]
    assert not compare(ref, got, 1, True)["grad_ok"]


def test_quick_interleaved_run_of_the_new_workloads_reports_targets_and_memory(capsys):
    pytest.importorskip("gudhi")
    res = bench.run_interleaved(["L1", "A1"], "smoke", None, rounds=2, memory=False, log=lambda s: None)
    by = {(c["workload"], c["tool"], c["size"]): c for c in res["cells"]}
    assert by[("L1", "gls1", "20 graphs")]["ratio"] == 1.0
    assert by[("L1", "difftda:graph", "mesh 162 tri")]["status"] == "error"  # graphs only: shown with the reason
    assert by[("A1", "difftda:weak", "n=200 R^3")]["status"] == "ok"
    targets = bench.evaluate_targets(res)
    assert {(t["workload"], t["row"]) for t in targets} == {
        ("L1", "difftda:auto"), ("A1", "difftda:weak"), ("A1", "difftda:alpha")}
    for t in targets:
        assert t["status"] in ("met", "NOT met") and t["value"] > 0
        got = by[(t["workload"], t["row"], t["size"])]
        versus = by[(t["workload"], {"L1": "gls1", "A1": "wraw1" if "weak" in t["row"] else "araw1"}[t["workload"]],
                     t["size"])]
        assert t["value"] == pytest.approx(float(np.median(np.asarray(got["times_ms"]) / versus["times_ms"])))
    text = bench.format_report(res)
    assert "### Targets" in text and "fails: ValueError" in text
    json.dumps(res)
    # Peak memory of one step, in a fresh process.
    peak = bench.measure_peak(WORKLOADS["C3"], parse_tool("difftda:hu"), (1, 1, 8, 8, 8))
    assert peak["peak_mb"] >= 0 and peak["seconds"] > 0, peak
    assert bench.main(["--interleave", "--quick", "--workloads", "L1", "--tools", "gls1", "--no-memory"]) == 0
    assert "### Targets" in capsys.readouterr().out


def test_help_lists_workloads_and_rows(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    out = capsys.readouterr().out
    for key in ("W1", "C1", "C2", "C3", "C4", "C5", "A1", "A2", "L1", "L2", "floor1", "crip1", "tlhu1", "araw1",
                "gls1", "--quick"):
        assert key in out
