"""Cubical persistence of images: difftda (forward + backward) next to the raw engines it wraps and the
peer libraries, all in one process, interleaved.

    python benchmarks/bench_cubical.py                          # C1 and C2, T construction, 21 rounds
    python benchmarks/bench_cubical.py --workloads C1 --construction V --rounds 31
    python benchmarks/bench_cubical.py --json cubical.json

Workloads (float32, fixed seed, uniform noise in [0, 1)):

- C1: one 256 x 256 image, loss = H0 + H1 total persistence (finite bars);
- C2: a batch of 16 images of 128 x 128, the same loss summed over the batch.

Rows (those whose package is missing are left out):

- ``raw_cripser``: ``cripser.compute_ph(img, filtration=..., maxdim=1)`` on a float64 copy made
  outside the timed region, image by image. It is the reference of every ratio.
- ``raw_gudhi``: gudhi ``CubicalComplex`` (``top_dimensional_cells=`` for T, ``vertices=`` for V),
  ``compute_persistence`` and the critical cells (``cofaces_of_persistence_pairs`` /
  ``vertices_of_persistence_pairs``), image by image.
- ``difftda:cripser``, ``difftda:gudhi``: :func:`difftda.cubical_persistence` forward + the loss +
  backward from a float32 leaf tensor (the engine's default threads: a pool over the images of a
  batch); ``difftda:cripser:n_threads=1`` without a pool.
- ``cripser_torch``: cripser's own ``compute_ph_torch`` forward + backward, image by image.
- ``tt``: torch-topological's ``CubicalComplex(dim=2)`` (T construction only) forward + backward.
- ``oineus``: ``oineus.diff.cube_filtration(values_on="cells" | "vertices")`` + ``persistence_diagram``
  forward + backward, image by image.

A row whose first call raises is left out with the reason (torch-topological 0.1.9 passes torch
objects to gudhi's ``CubicalComplex``, which gudhi 3.13 refuses).

Timing: torch on one thread, every row once per round in a new random order, the garbage collector
on as in user code; the report gives each row's median and the median of its per-round ratio to
``raw_cripser``. Before timing, each differentiable row's finite H0 and H1 diagrams are compared with
raw cripser's (as sorted multisets) and the row is flagged when they differ.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import numpy as np
import torch

WORKLOADS = {"C1": (1, 256, 256), "C2": (16, 128, 128)}


def make_images(workload: str) -> np.ndarray:
    shape = WORKLOADS[workload]
    return np.random.default_rng([7, *shape]).random(shape).astype(np.float32)


def _total(pairs: list[torch.Tensor]) -> torch.Tensor:
    return sum((p[:, 1] - p[:, 0]).abs().sum() for p in pairs)


def _finite(dg: np.ndarray) -> np.ndarray:
    dg = np.asarray(dg, np.float64).reshape(-1, 2)
    dg = dg[np.isfinite(dg).all(1) & (dg[:, 0] != dg[:, 1])]
    return dg[np.lexsort((dg[:, 1], dg[:, 0]))]


def _pairs_of(result) -> list[list[np.ndarray]]:
    """Per image, the finite H0 and H1 pairs of a differentiable row's result."""
    return [[_finite((d.pairs if hasattr(d, "pairs") else d).detach().numpy()) for d in item[:2]] for item in result]


def _cripser_pairs(result) -> list[list[np.ndarray]]:
    return [[_finite(ph[ph[:, 0] == k][:, 1:3]) for k in (0, 1)] for ph in result]


def rows(imgs: np.ndarray, construction: str) -> dict[str, tuple]:
    """Row name -> (step, diagrams): ``step()`` is the timed call; ``diagrams(result)`` turns what it
    returned into the finite H0 and H1 pairs of every image (numpy) for the check, untimed (None: the
    row is not checked)."""
    import difftda

    img64 = [np.ascontiguousarray(im, dtype=np.float64) for im in imgs]
    out: dict[str, tuple] = {}
    try:
        import cripser

        def raw_cripser():
            return [cripser.compute_ph(im, filtration=construction, maxdim=1) for im in img64]

        def cripser_torch():
            res = []
            for im in imgs:
                x = torch.tensor(im, requires_grad=True)
                ph = cripser.compute_ph_torch(x, filtration=construction, maxdim=1)
                fin = torch.isfinite(ph[:, 2])
                (ph[fin, 2] - ph[fin, 1]).abs().sum().backward()
                res.append(ph.detach().numpy())
            return res

        out["raw_cripser"] = (raw_cripser, _cripser_pairs)
        out["cripser_torch"] = (cripser_torch, _cripser_pairs)
    except ImportError:
        pass
    try:
        import gudhi

        def raw_gudhi():
            for im in img64:
                key = "top_dimensional_cells" if construction == "T" else "vertices"
                cc = gudhi.CubicalComplex(**{key: im})
                cc.compute_persistence(homology_coeff_field=2)
                cc.cofaces_of_persistence_pairs() if construction == "T" else cc.vertices_of_persistence_pairs()

        out["raw_gudhi"] = (raw_gudhi, None)
    except ImportError:
        pass
    installed = difftda.list_backends("cubical")
    for spec in installed + (["cripser:n_threads=1"] if "cripser" in installed else []):

        def step(spec=spec):
            x = torch.tensor(imgs, requires_grad=True)
            res = difftda.cubical_persistence(x, 1, spatial_dims=2, construction=construction, backend=spec)
            _total([d.pairs for d in res.cat()]).backward()
            return res

        out[f"difftda:{spec}"] = (step, _pairs_of)
    try:
        import oineus.diff as od

        def oineus_step():
            res = []
            for im in imgs:
                x = torch.tensor(im, dtype=torch.float64, requires_grad=True)
                values_on = "cells" if construction == "T" else "vertices"
                d = od.persistence_diagram(od.cube_filtration(x, values_on=values_on))
                pairs = [d[k] if k in d else x.new_zeros(0, 2) for k in (0, 1)]
                _total(pairs).backward()
                res.append(pairs)
            return res

        out["oineus"] = (oineus_step, _pairs_of)
    except ImportError:
        pass
    if construction == "T":
        try:
            from torch_topological.nn import CubicalComplex

            cubical = CubicalComplex(dim=2)

            def tt_step():
                res = []
                for im in imgs:
                    x = torch.tensor(im, requires_grad=True)
                    info = cubical(x)
                    pairs = [info[k].diagram for k in (0, 1)]
                    _total([p[torch.isfinite(p).all(1)] for p in pairs]).backward()
                    res.append(pairs)
                return res

            out["tt"] = (tt_step, _pairs_of)
        except ImportError:
            pass
    return out


def run(workload: str, construction: str, rounds: int) -> dict:
    torch.set_num_threads(1)
    imgs = make_images(workload)
    table = rows(imgs, construction)
    checks: dict[str, str] = {}
    reference = None
    for name, (step, to_pairs) in list(table.items()):  # warm-up call, and the check (untimed)
        try:
            got = step()
        except Exception as err:  # a peer that fails on this input is left out, with the reason
            print(f"  {name}: left out, its call fails: {type(err).__name__}: {str(err).splitlines()[0]}")
            del table[name]
            continue
        if to_pairs is None:
            continue
        got = to_pairs(got)
        if name == "raw_cripser":
            reference = got
        elif reference is not None:
            same = all(np.array_equal(a, b) for ra, ga in zip(reference, got) for a, b in zip(ra, ga))
            checks[name] = "ok" if same else "DIFFERS from raw cripser"
    times: dict[str, list[float]] = {k: [] for k in table}
    for _ in range(rounds):
        order = list(table)
        random.shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            table[name][0]()
            times[name].append(time.perf_counter() - t0)
    base = times.get("raw_cripser")
    result = {}
    for name, ts in times.items():
        ratio = statistics.median(t / b for t, b in zip(ts, base)) if base else None
        result[name] = {"median_ms": 1e3 * statistics.median(ts), "ratio_to_raw_cripser": ratio,
                        "check": checks.get(name, "reference" if name == "raw_cripser" else "-")}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="C1,C2", help="comma-separated: C1, C2")
    parser.add_argument("--construction", default="T", choices=["T", "V"])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results = {}
    for w in args.workloads.split(","):
        if w not in WORKLOADS:
            parser.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
        shape = WORKLOADS[w]
        print(f"{w}: {shape[0]} image(s) of {shape[1]}x{shape[2]}, construction {args.construction}, "
              f"{args.rounds} interleaved rounds")
        results[w] = run(w, args.construction, args.rounds)
        for name, r in results[w].items():
            ratio = f"{r['ratio_to_raw_cripser']:.2f}x" if r["ratio_to_raw_cripser"] is not None else "-"
            print(f"  {name:28s} {r['median_ms']:9.1f} ms  {ratio:>7s}  {r['check']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"construction": args.construction, "rounds": args.rounds, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
