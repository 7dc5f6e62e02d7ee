"""Alpha and weak alpha persistence at 10^4-10^5 points: difftda (forward + backward) next to the raw
engine calls it wraps, and Vietoris-Rips on the same kind of cloud for contrast.

    python benchmarks/bench_alpha.py                         # n = 10000, 100000 in R^2 and R^3, 3 rounds
    python benchmarks/bench_alpha.py --sizes 10000 --dims 2 --rounds 5
    python benchmarks/bench_alpha.py --rips 1000,2000,4000   # the Rips contrast (A2)

Workloads: uniform points in the unit square / cube (float32, fixed seed), loss = H0 + H1 total
persistence.

Rows:

- ``raw_weak``: scipy ``Delaunay`` -> unique edges -> sparse matrix of their lengths -> giotto-ph
  ``ripser_parallel(..., metric="precomputed", return_generators=True)`` (one thread);
- ``weak``: ``difftda.alpha_persistence(x, 1, kind="weak")`` forward + backward;
- ``raw_alpha``: gudhi ``AlphaComplex(points).create_simplex_tree()`` (pruned to dimension 2 in R^3),
  ``compute_persistence()``, ``persistence_pairs()``;
- ``alpha``: ``difftda.alpha_persistence(x, 1)`` forward + backward;
- ``rips`` (``--rips``): ``difftda.persistence(x, 1)`` forward + backward on the first n points.

Timing: every row runs once per round, in a new random order each round, in this one process
(torch on one thread, garbage collector on as in user code); the report gives medians and the
ratio difftda / raw paired round by round, of wall-clock time and of the process's CPU time (the
second is steadier on a machine shared with other jobs; every row is single-threaded). Peak memory:
each row runs once more in a fresh subprocess that reports the largest RSS seen during the call
(sampled every 2 ms) above its RSS just before the call (Linux).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import threading
import time

import numpy as np


def make_points(n: int, d: int) -> np.ndarray:
    return np.random.default_rng([n, d]).random((n, d)).astype(np.float32)


def _raw_weak(x: np.ndarray):
    from gph import ripser_parallel
    from scipy.sparse import coo_matrix
    from scipy.spatial import Delaunay

    def step():
        p = x.astype(np.float64)
        s = Delaunay(p).simplices
        k = s.shape[1]
        e = np.sort(np.concatenate([s[:, [i, j]] for i in range(k) for j in range(i + 1, k)]), axis=1)
        n = len(p)
        code = np.unique(e[:, 0].astype(np.int64) * n + e[:, 1])
        i, j = code // n, code % n
        length = np.linalg.norm(p[i] - p[j], axis=1)
        ripser_parallel(coo_matrix((length, (i, j)), shape=(n, n)), maxdim=1, metric="precomputed",
                        return_generators=True, n_threads=1)

    return step


def _raw_alpha(x: np.ndarray):
    import gudhi

    def step():
        st = gudhi.AlphaComplex(points=x.astype(np.float64)).create_simplex_tree()
        if st.dimension() > 2:
            st.prune_above_dimension(2)
        st.compute_persistence()
        st.persistence_pairs()

    return step


def _difftda(x: np.ndarray, call):
    import torch

    t = torch.tensor(x, requires_grad=True)

    def step():
        t.grad = None
        dgms = call(t)
        loss = sum((d.pairs[:, 1] - d.pairs[:, 0]).sum() for d in dgms)
        loss.backward()

    return step


def make_step(row: str, x: np.ndarray):
    import difftda

    if row == "raw_weak":
        return _raw_weak(x)
    if row == "raw_alpha":
        return _raw_alpha(x)
    if row == "weak":
        return _difftda(x, lambda t: difftda.alpha_persistence(t, 1, kind="weak"))
    if row == "alpha":
        return _difftda(x, lambda t: difftda.alpha_persistence(t, 1, kind="alpha"))
    if row == "rips":
        return _difftda(x, lambda t: difftda.persistence(t, 1))
    raise ValueError(f"unknown row {row!r}")


def current_rss_mb() -> float:
    """RSS now, in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def one(row: str, n: int, d: int) -> None:
    """Subprocess: one call of ``row``; prints the peak RSS above the RSS before the call."""
    import torch

    torch.set_num_threads(1)
    x = make_points(n, d)
    small = make_step(row, make_points(50, d))
    small()  # imports and first-call costs before the baseline
    step = make_step(row, x)
    before = current_rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:  # ru_maxrss may still hold the peak of the imports: sample the RSS instead
        while not done.wait(0.002):
            peak[0] = max(peak[0], current_rss_mb())

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    t = time.perf_counter()
    step()
    seconds = time.perf_counter() - t
    done.set()
    watcher.join()
    peak[0] = max(peak[0], current_rss_mb())
    print(json.dumps({"row": row, "n": n, "d": d, "seconds": seconds, "peak_mb": peak[0] - before}))


def memory(row: str, n: int, d: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", row, "--sizes", str(n), "--dims", str(d)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(n: int, d: int, rounds: int, rows: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and CPU seconds (``time.process_time``) of every row, round by round."""
    import torch

    torch.set_num_threads(1)
    x = make_points(n, d)
    steps = {r: make_step(r, x) for r in rows}
    for r in rows:  # warm-up: imports, first-call costs
        make_step(r, make_points(50, d))()
    times: dict[str, list[float]] = {r: [] for r in rows}
    cpu: dict[str, list[float]] = {r: [] for r in rows}
    rng = random.Random(n * 10 + d)
    for _ in range(rounds):
        order = rows[:]
        rng.shuffle(order)
        for r in order:
            t, c = time.perf_counter(), time.process_time()
            steps[r]()
            times[r].append(time.perf_counter() - t)
            cpu[r].append(time.process_time() - c)
    return times, cpu


def _paired(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over rounds of ``a / b`` (both timed in the same round)."""
    return statistics.median([p / q for p, q in zip(times[a], times[b])])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--dims", default="2,3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rips", default="", help="point counts for the Rips contrast rows, e.g. 1000,2000")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="only the peak-memory subprocesses")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    dims = [int(s) for s in args.dims.split(",") if s]
    if args.one:
        one(args.one, sizes[0], dims[0])
        return 0
    for d in dims:
        for n in sizes:
            rows = ["raw_weak", "weak", "raw_alpha", "alpha"]
            if args.memory_only:
                print(json.dumps({"n": n, "d": d, "peak_mb_above_start": {
                    r: round(memory(r, n, d)["peak_mb"], 1) for r in rows}}), flush=True)
                continue
            times, cpu = interleaved(n, d, args.rounds, rows)
            pairs = (("weak", "raw_weak"), ("alpha", "raw_alpha"))
            mem = {} if args.no_memory else {r: round(memory(r, n, d)["peak_mb"], 1) for r in rows}
            print(json.dumps({"n": n, "d": d, "rounds": args.rounds,
                              "median_s": {r: round(statistics.median(v), 3) for r, v in times.items()},
                              "paired_ratio": {f"{a}/{b}": round(_paired(times, a, b), 3) for a, b in pairs},
                              "median_cpu_s": {r: round(statistics.median(v), 3) for r, v in cpu.items()},
                              "paired_cpu_ratio": {f"{a}/{b}": round(_paired(cpu, a, b), 3) for a, b in pairs},
                              "peak_mb_above_start": mem}), flush=True)
        for n in [int(s) for s in args.rips.split(",") if s]:
            times, _ = interleaved(n, d, args.rounds, ["rips"])
            mem = {} if args.no_memory else {"rips": round(memory("rips", n, d)["peak_mb"], 1)}
            print(json.dumps({"n": n, "d": d, "rows": "rips", "median_s": round(statistics.median(times["rips"]), 3),
                              "peak_mb_above_start": mem}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
