"""Segmentation losses, forward + backward: difftda next to topolosses on the same batches.

    python benchmarks/bench_segmentation.py                    # C2 (3 rounds) and C3 (memory + 1 round)
    python benchmarks/bench_segmentation.py --workloads C2 --rounds 5 --data uniform
    python benchmarks/bench_segmentation.py --workloads C3 --c3-topolosses   # also topolosses on C3 (> 20 GB!)

Workloads (float32, fixed seed), chosen with ``--data``:

- ``blobs`` (default): the target is a thresholded smoothed noise field (blobs, loops and voids),
  the prediction ``0.5 * target + 0.5 * uniform noise`` in ``[0, 1]`` (a network early in training:
  many short bars besides the target's);
- ``rings``: the target is thin structures as in vessel or membrane segmentation (a few rings and
  curves, 2 pixels wide; in 3-D, tubes), the prediction the probability map of a noisy segmenter,
  ``sigmoid(8 * (blurred target - 0.25) + gaussian noise)`` (a network later in training);
- ``uniform``: the blobs target and a prediction uniform in ``[0, 1]`` (an untrained network: many
  more bars, where an assignment-based matching costs most).

- C2: a batch ``8 x 1 x 128 x 128``;
- C3: ``2 x 1 x 64 x 64 x 64`` volumes (H0, H1 and H2).

Rows (each: loss of the batch, then ``backward()``):

- ``hu``: ``difftda.losses.hu_topological_loss(pred, target)`` (T-construction; ``maxdim=2`` on C3);
- ``hu_v``: the same with ``construction="V"``, the complex topolosses uses (same value as ``tl_hu``);
- ``tl_hu``: topolosses ``HutopoLoss(use_base_loss=False, alpha=1)``;
- ``bm``: ``difftda.losses.betti_matching_loss(pred, target)``;
- ``tl_bm``: topolosses ``BettiMatchingLoss(use_base_loss=False, alpha=1)``;
- ``floor``: cripser alone on the prediction's images, one after the other (``computePH_T`` on
  negated float64 copies made outside the timed region, as ``hu`` pairs them): the pairing that
  ``hu`` cannot skip, so ``tl_hu/floor`` bounds ``tl_hu/hu`` on one thread.

topolosses imports OpenCV and torchvision at package import for losses not measured here; when they
are absent, empty stand-ins take their place (its Betti-Matching-3D engine and the two losses do not
use them).

Timing: every row runs once per round, in a new random order each round, in this one process (torch
on one thread); the report gives the median per row and the ratios paired round by round. Peak
memory: each row runs once more in a fresh subprocess that reports its peak RSS (``ru_maxrss``),
in total and above its RSS just before the call (Linux).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import types
import warnings

import numpy as np

SHAPES = {"C2": (8, 1, 128, 128), "C3": (2, 1, 64, 64, 64)}


def _rings(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A 0/1 image of thin structures: 4 rings (spherical shells in 3-D) and 2 wavy curves (tubes)."""
    grid = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij"))
    out = np.zeros(shape, bool)
    size = min(shape)
    for _ in range(4):
        center = rng.uniform(0.2, 0.8, len(shape)) * np.array(shape)
        radius = rng.uniform(0.06, 0.16) * size
        dist = np.sqrt(((grid - center.reshape(-1, *([1] * len(shape)))) ** 2).sum(0))
        out |= np.abs(dist - radius) < 1.0
    for _ in range(2):
        phase, amp, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.15) * size, rng.uniform(2, 5)
        level = rng.uniform(0.2, 0.8) * shape[0]
        wave = level + amp * np.sin(2 * np.pi * freq * grid[1] / shape[1] + phase)
        near = np.abs(grid[0] - wave) < 1.0
        if len(shape) == 3:
            near &= np.abs(grid[2] - rng.uniform(0.3, 0.7) * shape[2]) < 1.5
        out |= near
    return out


def make_batch(shape: tuple[int, ...], data: str = "blobs") -> tuple[np.ndarray, np.ndarray]:
    """``(pred, target)`` of the kind ``data`` (``"blobs"``, ``"rings"`` or ``"uniform"``), as
    described above."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(list(shape))
    if data == "rings":
        target = np.stack([_rings(shape[2:], rng) for _ in range(shape[0])]).astype(np.float32)[:, None]
        blurred = np.stack([gaussian_filter(t[0], 1.0) for t in target])[:, None]
        logits = 8.0 * (blurred - 0.25) + rng.standard_normal(shape)
        return (1 / (1 + np.exp(-logits))).astype(np.float32), target
    field = np.stack([gaussian_filter(rng.standard_normal(shape[2:]), 2.0) for _ in range(shape[0])])
    target = (field > 0.05).astype(np.float32)[:, None]
    noise = rng.random(shape)
    pred = noise if data == "uniform" else 0.5 * target + 0.5 * noise
    return pred.astype(np.float32), target


def _topolosses():
    for name in ("cv2", "torchvision"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    from topolosses.losses.betti_matching.src.betti_matching_loss import BettiMatchingLoss
    from topolosses.losses.hutopo.src.hutopo_loss import HutopoLoss

    return HutopoLoss, BettiMatchingLoss


def make_step(row: str, shape: tuple[int, ...], data: str = "blobs"):
    import torch

    import difftda

    pred_np, target_np = make_batch(shape, data)
    target = torch.from_numpy(target_np)
    pred = torch.from_numpy(pred_np).requires_grad_(True)
    sd = len(shape) - 2
    if row == "hu":
        f = lambda: difftda.losses.hu_topological_loss(pred, target, maxdim=sd - 1, spatial_dims=sd)  # noqa: E731
    elif row == "hu_v":
        f = lambda: difftda.losses.hu_topological_loss(  # noqa: E731
            pred, target, maxdim=sd - 1, spatial_dims=sd, construction="V")
    elif row == "bm":
        f = lambda: difftda.losses.betti_matching_loss(pred, target, spatial_dims=sd)  # noqa: E731
    elif row == "floor":
        import cripser

        images = [np.ascontiguousarray(-im, np.float64) for im in pred_np.reshape(-1, *shape[2:])]
        f = lambda: [cripser.computePH_T(im, maxdim=sd - 1, location="yes") for im in images]  # noqa: E731
    elif row in ("tl_hu", "tl_bm"):
        hu, bm = _topolosses()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            crit = (hu if row == "tl_hu" else bm)(use_base_loss=False, alpha=1.0)
        f = lambda: crit(pred, target)  # noqa: E731
    else:
        raise ValueError(f"unknown row {row!r}")
    out: dict[str, float] = {}

    def step():
        pred.grad = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = f()
        if isinstance(loss, torch.Tensor):
            loss.backward()
            out["loss"] = float(loss.detach())
        else:
            out["loss"] = float("nan")

    return step, out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def one(row: str, workload: str, data: str) -> None:
    """Subprocess: one call of ``row``; prints its time, value and peak RSS above the RSS before it."""
    import torch

    torch.set_num_threads(1)
    shape = SHAPES[workload]
    make_step(row, shape[:2] + (8,) * (len(shape) - 2), data)[0]()  # imports and first-call costs first
    step, out = make_step(row, shape, data)
    before = current_rss_mb()
    t = time.perf_counter()
    step()
    print(json.dumps({"row": row, "workload": workload, "seconds": time.perf_counter() - t, "loss": out["loss"],
                      "peak_mb": rss_mb() - before, "peak_total_mb": rss_mb()}))


def memory(row: str, workload: str, data: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", row, "--workloads", workload, "--data", data],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": f"exit {out.returncode}: {out.stderr.strip().splitlines()[-1:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(workload: str, rounds: int, rows: list[str], data: str
                ) -> tuple[dict[str, list[float]], dict[str, float]]:
    import torch

    torch.set_num_threads(1)
    steps = {r: make_step(r, SHAPES[workload], data) for r in rows}
    for r in rows:  # warm-up: imports, first-call costs
        steps[r][0]()
    times: dict[str, list[float]] = {r: [] for r in rows}
    rng = random.Random(workload)
    for _ in range(rounds):
        order = rows[:]
        rng.shuffle(order)
        for r in order:
            t = time.perf_counter()
            steps[r][0]()
            times[r].append(time.perf_counter() - t)
    return times, {r: steps[r][1]["loss"] for r in rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="C2,C3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--c3-rounds", type=int, default=1)
    ap.add_argument("--c3-topolosses", action="store_true",
                    help="run topolosses on C3 too (HutopoLoss needed more than 22 GB there)")
    ap.add_argument("--data", choices=["blobs", "rings", "uniform"], default="blobs",
                    help="the pair: blobs target plus noise (default), thin rings and curves with a noisy "
                         "probability map, or uniform noise")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    workloads = [w for w in args.workloads.split(",") if w]
    if args.one:
        one(args.one, workloads[0], args.data)
        return 0
    have_tl = importlib.util.find_spec("topolosses") is not None
    for w in workloads:
        rows = ["hu", "hu_v", "bm"] + (["floor"] if importlib.util.find_spec("cripser") else [])
        if have_tl and (w == "C2" or args.c3_topolosses):
            rows += ["tl_hu", "tl_bm"]
        rounds = args.rounds if w == "C2" else args.c3_rounds
        times, losses = interleaved(w, rounds, rows, args.data)
        med = {r: statistics.median(v) for r, v in times.items()}
        pairs = [("tl_hu", "hu"), ("tl_hu", "hu_v"), ("bm", "tl_bm"), ("hu", "floor"), ("tl_hu", "floor")]
        ratio = {f"{a}/{b}": round(statistics.median([p / q for p, q in zip(times[a], times[b])]), 3)
                 for a, b in pairs if a in times and b in times}
        mem_rows = ["hu", "bm"] + (["tl_hu", "tl_bm"] if have_tl and w == "C2" else [])
        mem = {} if args.no_memory else {r: memory(r, w, args.data) for r in mem_rows}
        print(json.dumps({"workload": w, "data": args.data, "shape": SHAPES[w], "rounds": rounds,
                          "median_s": {r: round(v, 3) for r, v in med.items()},
                          "paired_ratio": ratio, "loss": losses,
                          "peak_mb_above_start": {r: round(m["peak_mb"], 1) if "peak_mb" in m else m["error"]
                                                  for r, m in mem.items()},
                          "peak_mb_total": {r: round(m["peak_total_mb"], 1)
                                            for r, m in mem.items() if "peak_mb" in m}}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
