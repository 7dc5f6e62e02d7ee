"""Lower-star persistence (H0 + H1, "L1"): difftda against raw gudhi, side by side in one process.

    python benchmarks/bench_lower_star.py [--rounds 11]

Workloads: a triangulated grid of 100,352 triangles (225 x 225 vertices, random vertex values),
a batch of 1,000 random graphs of 10-40 vertices, and one random geometric graph of 100,000 points
in the unit square (about 200,000 edges, random vertex values: about 19,000 finite H0 bars).
Rows, interleaved round by round in a new random order each round, medians and paired ratios to
``gudhi-raw``:

- ``gudhi-raw``: the plain gudhi calls: a ``SimplexTree`` built with ``insert_batch`` (vertices, then
  the edges and triangles with the largest value of their vertices), ``compute_persistence``,
  ``lower_star_persistence_generators``; one tree for the whole batch of graphs.
- ``gudhi-raw-sorted``: the same calls with the rows sorted first and the faces of the triangles
  valued inside gudhi (``reset_filtration`` + ``make_filtration_non_decreasing``): the engine's recipe.
- ``gudhi-raw-loop`` (graphs only): the same, one tree per graph.
- ``difftda:SPEC``: forward of :func:`difftda.lower_star_persistence` from a float32 leaf tensor,
  plus backward of the sum of all finite pairs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np
import torch

import difftda


def mesh(seed: int = 0):
    rng = np.random.default_rng(seed)
    r = c = 225
    idx = np.arange(r * c).reshape(r, c)
    a, b, cc, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    tris = np.concatenate([np.stack([a, b, d], 1), np.stack([a, cc, d], 1)])
    tris = tris[rng.permutation(len(tris))]
    return rng.standard_normal(r * c).astype(np.float32), tris, None


def graphs(seed: int = 0, count: int = 1000):
    rng = np.random.default_rng(seed)
    edges, batch, off = [], [], 0
    for g in range(count):
        k = int(rng.integers(10, 41))
        e = rng.integers(0, k, (int(1.5 * k), 2))
        path = np.stack([np.arange(k - 1), np.arange(1, k)], 1)
        edges.append(np.concatenate([e, path]) + off)
        batch.append(np.full(k, g))
        off += k
    return rng.standard_normal(off).astype(np.float32), np.concatenate(edges), np.concatenate(batch)


def rgg(seed: int = 0, n: int = 100_000, degree: float = 4.0):
    """One random geometric graph: points in the unit square joined closer than r, mean degree ``degree``."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2))
    edges = cKDTree(pts).query_pairs(np.sqrt(degree / (np.pi * n)), output_type="ndarray").astype(np.int64)
    return rng.standard_normal(n).astype(np.float32), edges, None


def gudhi_raw(f: np.ndarray, simplices: np.ndarray) -> tuple:
    import gudhi

    v = f.astype(np.float64)
    st = gudhi.SimplexTree()
    st.insert_batch(np.arange(len(v))[None, :], v)
    if simplices.shape[1] == 3:
        e = np.concatenate([simplices[:, [0, 1]], simplices[:, [0, 2]], simplices[:, [1, 2]]])
        st.insert_batch(e.T, v[e].max(1))
    st.insert_batch(simplices.T, v[simplices].max(1))
    st.compute_persistence(persistence_dim_max=simplices.shape[1] == 2)
    return st.lower_star_persistence_generators()


def gudhi_raw_sorted(f: np.ndarray, simplices: np.ndarray) -> tuple:
    """The engine's recipe in plain gudhi: rows sorted, faces valued inside gudhi."""
    import gudhi

    v = f.astype(np.float64)
    s = np.sort(simplices, axis=1)
    s = s[np.lexsort(s.T[::-1])]
    st = gudhi.SimplexTree()
    st.insert_batch(np.arange(len(v))[None, :], v)
    st.insert_batch(s.T, v[s].max(1))
    if s.shape[1] == 3:
        st.reset_filtration(-np.inf, 1)
        st.make_filtration_non_decreasing()
    st.compute_persistence(persistence_dim_max=s.shape[1] == 2)
    return st.lower_star_persistence_generators()


def rows(workload: str):
    f_np, simplices, batch = {"mesh": mesh, "graphs": graphs, "rgg": rgg}[workload]()
    out = {
        "gudhi-raw": lambda: gudhi_raw(f_np, simplices),
        "gudhi-raw-sorted": lambda: gudhi_raw_sorted(f_np, simplices),
    }
    if batch is not None:
        starts = np.searchsorted(batch, np.arange(batch[-1] + 1))
        ends = np.append(starts[1:], len(batch))
        gid = batch[simplices[:, 0]]
        order = np.argsort(gid, kind="stable")
        cuts = np.searchsorted(gid[order], np.arange(batch[-1] + 2))
        parts = [(f_np[s:e], simplices[order[cuts[g]:cuts[g + 1]]] - s) for g, (s, e) in enumerate(zip(starts, ends))]
        out["gudhi-raw-loop"] = lambda: [gudhi_raw(a, b) for a, b in parts]
    specs = ["auto", "gudhi"] + (["graph"] if simplices.shape[1] == 2 else [])
    for spec in specs:
        def step(spec=spec):
            f = torch.tensor(f_np, requires_grad=True)
            res = difftda.lower_star_persistence(f, simplices, 1, batch=batch, backend=spec)
            dg = res.cat() if batch is not None else res
            (dg[0].pairs.sum() + dg[1].pairs.sum()).backward()
        out[f"difftda:{spec}"] = step
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=11)
    args = p.parse_args()
    torch.set_num_threads(1)
    for workload in ("mesh", "graphs", "rgg"):
        tools = rows(workload)
        for fn in tools.values():  # warm up: imports, first calls
            fn()
        times = {k: [] for k in tools}
        for _ in range(args.rounds):
            keys = list(tools)
            random.shuffle(keys)
            for k in keys:
                t0 = time.perf_counter()
                tools[k]()
                times[k].append(time.perf_counter() - t0)
        base = times["gudhi-raw"]
        print(f"\n{workload}: median seconds over {args.rounds} interleaved rounds; ratio = median of paired ratios")
        for k, ts in times.items():
            ratio = statistics.median(t / b for t, b in zip(ts, base))
            print(f"  {k:18s} {statistics.median(ts):8.4f} s   x{ratio:5.2f}")


if __name__ == "__main__":
    main()
