"""The difftda benchmark: difftda side by side with the raw engines it wraps and with the peer libraries.

    python benchmarks/run.py --interleave                     # every workload, interleaved rounds
    python benchmarks/run.py --interleave --workloads C1,A1   # a subset
    python benchmarks/run.py --interleave --quick             # tiny sizes: does every row run?
    python benchmarks/run.py --sizes small --workloads W1,W3 --json bench.json   # one process per row
    python benchmarks/run.py --help                           # the workloads and the rows

This is a development tool; it is not installed with the package. Run it from a checkout with difftda
installed (``pip install -e '.[all]'``) and, for the peer rows, torch-topological, oineus, persist0-tda,
cripser and topolosses (rows whose package is missing are left out with a note).

Workloads (see :data:`WORKLOADS`; float32 data, a fixed seed per workload and size):

- W1-W5 (point clouds, Vietoris-Rips; baseline ``gph1``, raw giotto-ph):
  W1 ``randn(n, 2)``, loss = sum over finite H0 bars of ``|death - 2|``; W2 80% noisy unit circle plus
  20% uniform points, H1 total persistence; W3 ``randn(32, 64, 16)``, the W1 loss summed over the
  clouds; W4 ``randn(256, 128)``, H0 + H1 total persistence; W5 ``randn(256, 32, 8)`` and
  ``randn(8, 1000, 3)``, the W1 loss summed over the clouds.
- C1 (image): one 256 x 256 uniform-noise image, H0 + H1 total persistence of the T-construction
  sublevel filtration; baseline ``crip1`` (raw cripser ``compute_ph``).
- C2 (seg-batch): ``8 x 1 x 128 x 128`` predictions (target + noise) and binary targets;
  ``difftda:hu`` / ``difftda:hu:V`` (Hu's loss, T / V construction) and ``difftda:bm`` (Betti matching)
  against topolosses ``HutopoLoss`` (``tlhu1``, the baseline) and ``BettiMatchingLoss`` (``tlbm1``).
- C3 (volume): ``2 x 1 x 64^3``, Hu's loss up to H2; its memory is the point.
- A1 (cloud): 10^4 and 10^5 uniform points in the unit square and cube, H0 + H1 total persistence of
  weak alpha (``difftda:weak`` against ``wraw1``: scipy Delaunay + giotto-ph) and alpha
  (``difftda:alpha`` against ``araw1``: gudhi ``AlphaComplex`` + pairs, the baseline).
- A2 (cloud): the same loss with Rips (``difftda:rips``) at a few thousand points, for contrast.
- L1 (complex): lower-star H0 + H1 on a triangulated 225 x 225 grid (100,352 triangles) and on a
  batch of 1,000 graphs of 10-40 vertices; L2: one random geometric graph of 100,000 vertices.
  Baseline ``gls1``: raw gudhi (one ``SimplexTree``, persistence, lower-star generators).

Rows: ``difftda:SPEC`` (forward + the loss + backward from a float32 leaf tensor; SPEC is a backend
on the Rips, cubical and lower-star workloads, ``hu`` / ``hu:V`` / ``bm`` on C2-C3, ``rips`` / ``weak``
/ ``alpha`` on A1-A2; ``difftda:SPEC@T`` runs it with ``torch.set_num_threads(T)``, default 1, or K
for a ``n_threads=K`` spec), and the rows of :data:`TOOL_KINDS`: raw engines (no autograd) and peer
libraries (forward + backward), ``<prefix>K`` with K threads (one row ``<prefix>1`` off point clouds).
``--help`` lists them. A workload's ``targets`` are checked and reported with every run.

Two modes. The default runs each (workload, tool) in its own subprocess that goes through the sizes in
increasing order, so that the peak RSS (``ru_maxrss``) belongs to one tool and the parent can kill a
call that runs past the time limit: one timed warm-up call (plus an untimed one when it took under
1 s), then R timed repetitions with the garbage collector off, R = max(7, min(31, ceil(0.5 s /
t_first))) under 2 s, 3 up to 10 s, 1 above; then every row's diagrams and gradient are compared with
the workload's independent reference (W1-W5: raw giotto-ph and the closed-form gradient; C1: raw
cripser). ``--interleave`` runs every row in one process, one step of each per round in a new random
order, and reports the median over the rounds of each row's ratio to the baseline timed in the same
round (slow workloads run fewer rounds); the workloads marked ``memory`` (C2, C3, A1, A2) also get
each row's peak memory from one more step in a fresh process.

Adding a workload: write its data maker (``rng, shape -> float32 array``, or a tuple whose first
item is the array the gradient flows to), its loss (``per_dim -> scalar tensor``, where
``per_dim[k][b]`` is the ``(m, 2)`` finite pairs of H_k of item ``b``), optionally an independent
reference (``data -> (diagrams, gradient)``), and for a new kind of input ``difftda_forward`` and
``difftda_rows``; then add a :class:`Workload` to :data:`WORKLOADS`.

Adding a tool: write ``forward(tool, workload, x, aux)`` (differentiable: returns ``per_dim`` or a
scalar loss from the leaf tensor ``x``) or ``raw(tool, workload, data)`` (returns ``(step,
outputs)``), and add a :class:`ToolKind` to :data:`TOOL_KINDS` with the inputs it takes.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import queue
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["WORKLOADS", "TOOL_KINDS", "Workload", "ToolKind", "make_data", "default_tools", "parse_tool",
           "reference_for", "compare", "run_benchmark", "run_interleaved", "format_report", "main"]

#: ``per_dim[k][b]``: the (m, 2) finite pairs of H_k of cloud b (torch tensors or numpy arrays).
PerDim = list[list[Any]]
#: An independent reference: (finite diagrams per cloud per dimension, gradient of the loss w.r.t. x).
Reference = tuple[list[list[np.ndarray]], np.ndarray]


def _persistence_call(x, spec: str, maxdim: int):
    """How the point-cloud workloads call difftda (a workload on other input sets its own)."""
    import difftda

    return difftda.persistence(x, maxdim=maxdim, backend=spec)


@dataclass(frozen=True)
class Target:
    """A goal a workload's row should meet, checked and reported with every run.

    One of: a time ratio (``row`` time / ``versus`` time at most ``max_ratio``; in the interleaved mode
    the median over the rounds of the per-round ratio), a memory bound (``row``'s peak memory above its
    start at most ``max_mb``, measured in a fresh process) or a time bound (``row``'s median step at
    most ``max_s`` seconds).
    """

    row: str
    text: str  # how the report states the goal, e.g. "<= 1.2x raw cripser"
    versus: str | None = None
    max_ratio: float | None = None
    max_mb: float | None = None
    max_s: float | None = None


@dataclass(frozen=True)
class Workload:
    """One benchmark workload: its data per size set, its loss, its reference and the rows it runs.

    Attributes:
        key: the name on the command line (``W1``).
        title: one line for the report.
        maxdim: the largest homology dimension the loss uses.
        sizes: ``"smoke"`` / ``"small"`` / ``"full"`` -> the data shapes, in increasing order.
        data: ``(rng, shape) -> float32 array``, or a tuple whose first item is the float32 array the
            gradient flows to and whose other items are fixed inputs (a target, triangles, a batch vector).
        loss: ``per_dim -> scalar tensor``.
        reference: ``data -> (diagrams, gradient)`` computed without difftda, or None (no checks).
        input: the kind of input (``"points"``, ``"image"``, ...); a tool kind runs a workload only if it
            lists its input.
        baseline: the row every ratio is taken against.
        difftda_call: ``(x, spec, maxdim) -> Diagrams or a batch of them``, for the ``difftda:SPEC`` rows
            of point workloads.
        difftda_forward: for other inputs, ``(x, aux, spec) -> per_dim or a scalar loss tensor`` (``aux``:
            the fixed items of the data); the spec is the workload's own (see ``difftda_rows``).
        difftda_rows: the ``difftda:SPEC`` rows of the ``difftda`` group (None: every Rips backend).
        spec_check: ``(spec, workload) -> why not, or None``: whether a ``difftda:SPEC`` row can run
            (None: the spec must name a Rips backend).
        filtration: the difftda filtration whose engines a spec names (None: the spec is not an engine).
        targets: the goals the report checks.
        rounds: at most this many interleaved rounds (slow workloads); None: as asked.
        rounds_at: a smaller cap on the rounds at some sizes (by shape), for a size whose step is slow.
        slow_s: the interleaved mode leaves out a row whose step takes longer.
        memory: measure each row's peak memory in a fresh process in the interleaved mode too.
        main_row: the row the summary compares with every other row.
        labeler: ``shape -> column label``.
    """

    key: str
    title: str
    maxdim: int
    sizes: dict[str, tuple[tuple[int, ...], ...]]
    data: Callable[[np.random.Generator, tuple[int, ...]], Any]
    loss: Callable[[PerDim], Any]
    reference: Callable[[Any], Reference] | None = None
    input: str = "points"
    baseline: str = "gph1"
    difftda_call: Callable[[Any, str, int], Any] = _persistence_call
    difftda_forward: Callable[[Any, tuple, str], Any] | None = None
    difftda_rows: tuple[str, ...] | None = None
    spec_check: Callable[[str, Any], str | None] | None = None
    filtration: str | None = "rips"
    targets: tuple[Target, ...] = ()
    rounds: int | None = None
    rounds_at: dict[tuple[int, ...], int] | None = None
    slow_s: float = 1.0
    memory: bool = False
    main_row: str = "difftda:auto"
    labeler: Callable[[tuple[int, ...]], str] | None = None

    def label(self, shape: tuple[int, ...]) -> str:
        if self.labeler is not None:
            return self.labeler(shape)
        return f"{shape[0]}x{shape[1]}" if len(shape) == 3 else f"n={shape[0]}"


def split_data(data: Any) -> tuple[np.ndarray, tuple]:
    """``(x, aux)``: the array the gradient flows to, and the fixed rest of a workload's data."""
    if isinstance(data, tuple):
        return data[0], tuple(data[1:])
    return data, ()


# --------------------------------------------------------------------------------------------
# The point-cloud workloads W1-W4: data, losses, reference
# --------------------------------------------------------------------------------------------

def _gaussian(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _circle_and_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    n = shape[0]
    n_in = int(round(0.8 * n))
    theta = rng.uniform(0.0, 2 * math.pi, n_in)
    circle = np.stack([np.cos(theta), np.sin(theta)], 1) + 0.1 * rng.standard_normal((n_in, 2))
    box = rng.uniform(-1.5, 1.5, (n - n_in, 2))
    return np.concatenate([circle, box]).astype(np.float32)


def _cat(ts):
    import torch

    return ts[0] if len(ts) == 1 else torch.cat(ts)


def _h0_deaths_near_2(per_dim: PerDim):
    return (_cat(per_dim[0])[:, 1] - 2.0).abs().sum()


def _h1_total_persistence(per_dim: PerDim):
    p = _cat(per_dim[1])
    return (p[:, 1] - p[:, 0]).sum()


def _h0_h1_total_persistence(per_dim: PerDim):
    p0, p1 = _cat(per_dim[0]), _cat(per_dim[1])
    return (p0[:, 1] - p0[:, 0]).sum() + (p1[:, 1] - p1[:, 0]).sum()


def exact_distances(x: np.ndarray) -> np.ndarray:
    """Euclidean distances in float64 (scipy), cast to float32: the raw tools' input."""
    from scipy.spatial.distance import cdist

    x64 = x.astype(np.float64)
    if x.ndim == 3:
        return np.stack([cdist(c, c) for c in x64]).astype(np.float32)
    return cdist(x64, x64).astype(np.float32)


def vr_reference(x: np.ndarray, maxdim: int, h0_weight: Callable[[np.ndarray], np.ndarray] | None,
                 h1: bool) -> Reference:
    """Finite Vietoris-Rips diagrams and a loss gradient, from raw giotto-ph and numpy only.

    The pairing is giotto-ph with one thread on the exact float32 matrix. The loss is
    ``sum h0_weight-weighted H0 deaths`` (``h0_weight(deaths)`` gives dL/d death; None: H0 not in the
    loss) plus, if ``h1``, the H1 total persistence. Its gradient adds, for each critical edge
    ``(i, j)``, ``dL/dvalue * (x_i - x_j) / |x_i - x_j|`` to point i and the opposite to point j.
    """
    from gph import ripser_parallel

    clouds = x if x.ndim == 3 else x[None]
    mats = exact_distances(clouds)
    dgms: list[list[np.ndarray]] = []
    grad = np.zeros(clouds.shape, np.float64)
    for b, (c, D) in enumerate(zip(clouds.astype(np.float64), mats)):
        r = ripser_parallel(D, maxdim=maxdim, metric="precomputed", return_generators=True, n_threads=1)
        per: list[np.ndarray] = []
        edges: list[np.ndarray] = []  # rows (i, j, dL/dvalue)
        g0 = np.asarray(r["gens"][0], np.int64).reshape(-1, 3)
        deaths = D[g0[:, 1], g0[:, 2]].astype(np.float64)
        keep = deaths > 0
        per.append(np.stack([np.zeros(keep.sum()), deaths[keep]], 1))
        if h0_weight is not None:
            edges.append(np.stack([g0[keep, 1], g0[keep, 2], h0_weight(deaths[keep])], 1))
        if maxdim >= 1:
            g1 = np.asarray(r["gens"][1][0] if len(r["gens"][1]) else np.zeros((0, 4)), np.int64).reshape(-1, 4)
            birth = D[g1[:, 0], g1[:, 1]].astype(np.float64)
            death = D[g1[:, 2], g1[:, 3]].astype(np.float64)
            keep = death > birth
            per.append(np.stack([birth[keep], death[keep]], 1))
            if h1:
                ones = np.ones(keep.sum())
                edges.append(np.stack([g1[keep, 2], g1[keep, 3], ones], 1))
                edges.append(np.stack([g1[keep, 0], g1[keep, 1], -ones], 1))
        dgms.append(per)
        if edges:
            e = np.concatenate(edges)
            i, j, w = e[:, 0].astype(np.int64), e[:, 1].astype(np.int64), e[:, 2]
            diff = c[i] - c[j]
            unit = diff / np.linalg.norm(diff, axis=1, keepdims=True)
            np.add.at(grad[b], i, w[:, None] * unit)
            np.add.at(grad[b], j, -w[:, None] * unit)
    return dgms, grad.reshape(x.shape)


def _sign_minus_2(deaths: np.ndarray) -> np.ndarray:
    return np.sign(deaths - 2.0)


WORKLOADS: dict[str, Workload] = {
    "W1": Workload(
        "W1", "connectivity H0 (COREL loss), n points in R^2", 0,
        {"smoke": ((50, 2),), "small": ((50, 2), (200, 2)), "full": ((50, 2), (200, 2), (1000, 2))},
        _gaussian, _h0_deaths_near_2, lambda x: vr_reference(x, 0, _sign_minus_2, False)),
    "W2": Workload(
        "W2", "H1 total persistence, noisy circle plus uniform noise in R^2", 1,
        {"smoke": ((50, 2),), "small": ((50, 2), (200, 2)), "full": ((50, 2), (200, 2), (500, 2))},
        _circle_and_noise, _h1_total_persistence, lambda x: vr_reference(x, 1, None, True)),
    "W3": Workload(
        "W3", "batched H0, 32 clouds x 64 points in R^16 (one step covers the batch)", 0,
        {"smoke": ((8, 32, 16),), "small": ((32, 64, 16),), "full": ((32, 64, 16),)},
        _gaussian, _h0_deaths_near_2, lambda x: vr_reference(x, 0, _sign_minus_2, False)),
    "W4": Workload(
        "W4", "256 points in R^128, H0 + H1 total persistence", 1,
        {"smoke": ((64, 32),), "small": ((256, 128),), "full": ((256, 128),)},
        _gaussian, _h0_h1_total_persistence, lambda x: vr_reference(x, 1, np.ones_like, True)),
    "W5": Workload(
        "W5", "batched H0 as a training batch: 256 clouds x 32 points in R^8, then 8 clouds x 1000 points in R^3", 0,
        {"smoke": ((16, 32, 8),), "small": ((256, 32, 8),), "full": ((256, 32, 8), (8, 1000, 3))},
        _gaussian, _h0_deaths_near_2, lambda x: vr_reference(x, 0, _sign_minus_2, False)),
}


# --------------------------------------------------------------------------------------------
# Workloads on other inputs: images (C1), segmentation batches (C2, C3), large clouds for the
# Delaunay filtrations (A1, A2), meshes and graphs (L1)
# --------------------------------------------------------------------------------------------

def _uniform_image(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.random(shape).astype(np.float32)


def _segmentation_batch(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, target)``: the target thresholds a smoothed noise field (blobs, loops, voids); the
    prediction is ``0.5 * target + 0.5 * uniform noise`` (a network early in training)."""
    from scipy.ndimage import gaussian_filter

    field = np.stack([gaussian_filter(rng.standard_normal(shape[2:]), 2.0) for _ in range(shape[0])])
    target = (field > 0.05).astype(np.float32)[:, None]
    pred = 0.5 * target + 0.5 * rng.random(shape)
    return pred.astype(np.float32), target


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


def _rings_batch(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, target)``: thin structures as in vessel or membrane segmentation (rings and curves 2
    pixels wide), and the probability map of a noisy segmenter, ``sigmoid(8 (blurred target - 0.25)
    + gaussian noise)`` (a network later in training)."""
    from scipy.ndimage import gaussian_filter

    target = np.stack([_rings(shape[2:], rng) for _ in range(shape[0])]).astype(np.float32)[:, None]
    blurred = np.stack([gaussian_filter(t[0], 1.0) for t in target])[:, None]
    logits = 8.0 * (blurred - 0.25) + rng.standard_normal(shape)
    return (1 / (1 + np.exp(-logits))).astype(np.float32), target


def _uniform_cloud(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.random(shape).astype(np.float32)


def _complex(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """``(r, c)``: a triangulated ``r x c`` grid, triangles in random order, random vertex values:
    ``(values, triangles)``. ``(count,)``: ``count`` random graphs of 10-40 vertices (a path plus
    1.5 k random edges): ``(values, edges, batch)``."""
    if len(shape) == 2:
        r, c = shape
        idx = np.arange(r * c).reshape(r, c)
        a, b, cc, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
        tris = np.concatenate([np.stack([a, b, d], 1), np.stack([a, cc, d], 1)])
        return rng.standard_normal(r * c).astype(np.float32), tris[rng.permutation(len(tris))]
    edges, batch, off = [], [], 0
    for g in range(shape[0]):
        k = int(rng.integers(10, 41))
        e = rng.integers(0, k, (int(1.5 * k), 2))
        path = np.stack([np.arange(k - 1), np.arange(1, k)], 1)
        edges.append(np.concatenate([e, path]) + off)
        batch.append(np.full(k, g))
        off += k
    return rng.standard_normal(off).astype(np.float32), np.concatenate(edges), np.concatenate(batch)


def _geometric_graph(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(n, degree)``: one random geometric graph, ``n`` points in the unit square joined when closer
    than ``sqrt(degree / (pi n))`` (mean degree ``degree``), random vertex values: ``(values, edges)``."""
    from scipy.spatial import cKDTree

    n, degree = shape
    pts = rng.random((n, 2))
    edges = cKDTree(pts).query_pairs(np.sqrt(degree / (np.pi * n)), output_type="ndarray").astype(np.int64)
    return rng.standard_normal(n).astype(np.float32), edges


def _complex_label(shape: tuple[int, ...]) -> str:
    if len(shape) == 2:
        return f"mesh {2 * (shape[0] - 1) * (shape[1] - 1)} tri"
    return f"{shape[0]} graphs"


def _total_persistence_all(per_dim: PerDim):
    return sum((p[:, 1] - p[:, 0]).sum() for per in per_dim for p in per)


def _sum_of_pairs(per_dim: PerDim):
    return sum(p.sum() for per in per_dim for p in per)


def _cubical_forward(x, aux: tuple, spec: str) -> PerDim:
    import difftda

    d = difftda.cubical_persistence(x, 1, spatial_dims=2, backend=spec)
    items = list(d) if x.ndim == 3 else [d]  # a batch of images: a DiagramBatch
    return [[it[k].pairs for it in items] for k in (0, 1)]


def _segmentation_forward(x, aux: tuple, spec: str):
    import torch

    import difftda

    target = torch.from_numpy(aux[0])
    sd = x.ndim - 2
    if spec in ("hu", "hu:T", "hu:V"):
        return difftda.losses.hu_topological_loss(x, target, maxdim=sd - 1, spatial_dims=sd,
                                                  construction="V" if spec == "hu:V" else "T")
    if spec == "bm":
        return difftda.losses.betti_matching_loss(x, target, spatial_dims=sd)
    raise ValueError(f"segmentation row {spec!r}: use hu, hu:V or bm")


def _delaunay_forward(x, aux: tuple, spec: str) -> PerDim:
    import difftda

    kind, _, backend = spec.partition(":")
    if kind == "rips":
        d = difftda.persistence(x, maxdim=1, backend=backend or "auto")
    else:
        d = difftda.alpha_persistence(x, 1, kind=kind, backend=backend or "auto")
    return [[d[0].pairs], [d[1].pairs]]


def _lower_star_forward(x, aux: tuple, spec: str) -> PerDim:
    import difftda

    simplices, batch = aux[0], (aux[1] if len(aux) > 1 else None)
    res = difftda.lower_star_persistence(x, simplices, 1, batch=batch, backend=spec)
    d = res.cat() if batch is not None else res
    return [[d[0].pairs], [d[1].pairs]]


def _engine_check(filtration: str):
    def check(spec: str, workload: Workload) -> str | None:
        import difftda

        try:
            difftda.get_backend(spec, maxdim=workload.maxdim, filtration=filtration)
        except (ImportError, ValueError, TypeError) as err:
            return f"backend {spec!r}: {err}"
        return None

    return check


def _spec_check(allowed: dict[str, str]):
    """A check for workloads whose spec names a loss or a kind: ``allowed`` maps each spec to the
    module it needs."""
    def check(spec: str, workload: Workload) -> str | None:
        head = spec if spec in allowed else spec.partition(":")[0]
        if head not in allowed:
            return f"{workload.key} rows are difftda:{', difftda:'.join(allowed)}; got {spec!r}"
        if importlib.util.find_spec(allowed[head]) is None:
            return f"{allowed[head]} is not installed"
        return None

    return check


def cubical_reference(img: np.ndarray) -> Reference:
    """Finite H0 and H1 of an image's T-construction sublevel filtration by raw cripser, and the
    gradient of their total persistence: +1 at each death pixel, -1 at each birth pixel."""
    import cripser

    dgms, grads = [], []
    for im in _images(img):
        ph = cripser.compute_ph(np.ascontiguousarray(im, np.float64), filtration="T", maxdim=1)
        ph = ph[np.isfinite(ph[:, 2]) & (ph[:, 2] > ph[:, 1])]
        grad = np.zeros(im.shape)
        b, d = ph[:, 3:5].astype(np.int64), ph[:, 6:8].astype(np.int64)
        np.add.at(grad, (d[:, 0], d[:, 1]), 1.0)
        np.add.at(grad, (b[:, 0], b[:, 1]), -1.0)
        dgms.append([ph[ph[:, 0] == k][:, 1:3] for k in (0, 1)])
        grads.append(grad)
    return dgms, np.stack(grads).reshape(img.shape)


def _shape_label(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _cloud_label(shape: tuple[int, ...]) -> str:
    return f"n={shape[0]} R^{shape[1]}"


WORKLOADS.update({
    "C1": Workload(
        "C1", "one image, H0 + H1 total persistence (T construction, sublevel), uniform noise", 1,
        {"smoke": ((16, 16),), "small": ((64, 64),), "full": ((256, 256),)},
        _uniform_image, _h0_h1_total_persistence, cubical_reference, input="image", baseline="crip1",
        difftda_forward=_cubical_forward, difftda_rows=("auto", "cripser", "gudhi"), filtration="cubical",
        spec_check=_engine_check("cubical"),
        targets=(Target("difftda:auto", "<= 1.2x raw cripser", "crip1", 1.2),
                 Target("difftda:auto", "faster than oineus", "oin1", 1.0),
                 Target("difftda:auto", "faster than torch-topological", "tt1", 1.0)),
        rounds=41, slow_s=20.0, labeler=_shape_label),
    "C2": Workload(
        "C2", "segmentation losses on a batch, prediction = target + noise", 1,
        {"smoke": ((2, 1, 16, 16),), "small": ((4, 1, 64, 64),), "full": ((8, 1, 128, 128),)},
        _segmentation_batch, _h0_h1_total_persistence, input="seg-batch", baseline="tlhu1",
        difftda_forward=_segmentation_forward, difftda_rows=("hu", "hu:V", "bm"), filtration=None,
        spec_check=_spec_check({"hu": "difftda", "bm": "topolosses"}),
        targets=(Target("difftda:hu", ">= 10x faster than topolosses HutopoLoss", "tlhu1", 0.1),
                 Target("difftda:hu:V", ">= 10x faster than topolosses HutopoLoss (same complex)", "tlhu1", 0.1),
                 Target("difftda:bm", "<= 1.2x topolosses BettiMatchingLoss", "tlbm1", 1.2)),
        rounds=15, slow_s=60.0, memory=True, main_row="difftda:hu", labeler=_shape_label),
    "C5": Workload(
        "C5", "C2's losses on thin structures (rings, curves) and a noisy segmenter's probability map", 1,
        {"smoke": ((2, 1, 16, 16),), "small": ((4, 1, 64, 64),), "full": ((8, 1, 128, 128),)},
        _rings_batch, _h0_h1_total_persistence, input="seg-batch", baseline="tlhu1",
        difftda_forward=_segmentation_forward, difftda_rows=("hu", "hu:V", "bm"), filtration=None,
        spec_check=_spec_check({"hu": "difftda", "bm": "topolosses"}),
        targets=(Target("difftda:hu", ">= 10x faster than topolosses HutopoLoss", "tlhu1", 0.1),
                 Target("difftda:bm", "<= 1.2x topolosses BettiMatchingLoss", "tlbm1", 1.2)),
        rounds=5, slow_s=60.0, main_row="difftda:hu", labeler=_shape_label),
    "C3": Workload(
        "C3", "Hu's loss on volumes (H0, H1, H2), prediction = target + noise", 2,
        {"smoke": ((1, 1, 8, 8, 8),), "small": ((2, 1, 32, 32, 32),), "full": ((2, 1, 64, 64, 64),)},
        _segmentation_batch, _h0_h1_total_persistence, input="volume", baseline="difftda:hu",
        difftda_forward=_segmentation_forward, difftda_rows=("hu",), filtration=None,
        spec_check=_spec_check({"hu": "difftda"}),
        targets=(Target("difftda:hu", "completes, peak memory < 2 GB", max_mb=2048.0),),
        rounds=1, slow_s=120.0, memory=True, main_row="difftda:hu", labeler=_shape_label),
    "C4": Workload(
        "C4", "a batch of 16 images of 128 x 128, C1's loss summed over the batch", 1,
        {"smoke": ((2, 16, 16),), "small": ((4, 64, 64),), "full": ((16, 128, 128),)},
        _uniform_image, _h0_h1_total_persistence, cubical_reference, input="image", baseline="crip1",
        difftda_forward=_cubical_forward, difftda_rows=("auto", "cripser", "cripser:n_threads=1", "gudhi"),
        filtration="cubical", spec_check=_engine_check("cubical"),
        targets=(Target("difftda:auto", "<= 1.2x raw cripser", "crip1", 1.2),),
        rounds=7, slow_s=20.0, labeler=_shape_label),
    "A1": Workload(
        "A1", "weak alpha and alpha, H0 + H1 total persistence, uniform points in the unit square / cube", 1,
        {"smoke": ((200, 2), (200, 3)), "small": ((10000, 2), (10000, 3)),
         "full": ((10000, 2), (10000, 3), (100000, 2), (100000, 3))},
        _uniform_cloud, _total_persistence_all, input="cloud", baseline="araw1",
        difftda_forward=_delaunay_forward, difftda_rows=("weak", "alpha"), filtration=None,
        spec_check=_spec_check({"weak": "gph", "alpha": "gudhi"}),
        targets=(Target("difftda:weak", "<= 1.2x raw scipy Delaunay + giotto-ph", "wraw1", 1.2),
                 Target("difftda:alpha", "<= 1.2x raw gudhi AlphaComplex + pairs", "araw1", 1.2)),
        rounds=21, rounds_at={(100000, 2): 5, (100000, 3): 3}, slow_s=90.0, memory=True,
        main_row="difftda:alpha", labeler=_cloud_label),
    "A2": Workload(
        "A2", "A1's loss with Rips (H0 + H1) for contrast, uniform points in the unit square", 1,
        {"smoke": ((100, 2),), "small": ((1000, 2),), "full": ((2000, 2), (4000, 2), (5000, 2))},
        _uniform_cloud, _total_persistence_all, input="cloud", baseline="difftda:alpha",
        difftda_forward=_delaunay_forward, difftda_rows=("rips", "weak", "alpha"), filtration=None,
        spec_check=_spec_check({"rips": "gph", "weak": "gph", "alpha": "gudhi"}),
        targets=(Target("difftda:rips", "a step within a minute", max_s=60.0),),
        rounds=1, slow_s=60.0, memory=True, main_row="difftda:rips", labeler=_cloud_label),
    "L1": Workload(
        "L1", "lower-star H0 + H1 (sum of all finite pairs): a triangulated grid, a batch of graphs", 1,
        {"smoke": ((10, 10), (20,)), "small": ((60, 60), (200,)), "full": ((225, 225), (1000,))},
        _complex, _sum_of_pairs, input="complex", baseline="gls1",
        difftda_forward=_lower_star_forward, difftda_rows=("auto", "gudhi", "graph"), filtration="lower_star",
        spec_check=_engine_check("lower_star"),
        targets=(Target("difftda:auto", "<= 1.2x raw gudhi", "gls1", 1.2),),
        rounds=7, slow_s=20.0, labeler=_complex_label),
    "L2": Workload(
        "L2", "lower-star H0 + H1 of one random geometric graph (mean degree 4), sum of all finite pairs", 1,
        {"smoke": ((200, 4),), "small": ((10000, 4),), "full": ((100000, 4),)},
        _geometric_graph, _sum_of_pairs, input="complex", baseline="gls1",
        difftda_forward=_lower_star_forward, difftda_rows=("auto", "gudhi", "graph"), filtration="lower_star",
        spec_check=_engine_check("lower_star"), rounds=7, slow_s=20.0, labeler=lambda s: f"n={s[0]}"),
})

def make_data(workload: str, shape: tuple[int, ...]) -> np.ndarray:
    """The float32 input of ``workload`` at ``shape``; the same array on every call (fixed seed).

    Example:
        >>> make_data("W2", (50, 2)).shape
        (50, 2)
    """
    m = re.fullmatch(r"W(\d+)", workload)
    seed = int(m.group(1)) if m else zlib.crc32(workload.encode())
    return WORKLOADS[workload].data(np.random.default_rng([seed, *shape]), shape)


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tool:
    key: str  # the row key, e.g. "gph1", "difftda:giotto:n_threads=2", "tt2"
    kind: str  # a key of TOOL_KINDS, or "difftda"
    threads: int  # torch threads (and the engine's threads for the other kinds)
    spec: str = ""  # the difftda backend spec
    base: str | None = None  # the one-thread sibling: a size it timed out on is skipped here

    @property
    def raw(self) -> bool:
        return self.kind != "difftda" and TOOL_KINDS[self.kind].raw is not None


@dataclass(frozen=True)
class ToolKind:
    """A family of rows ``<prefix>K`` (K threads) that is not difftda: a raw engine or a peer library.

    Exactly one of ``raw`` and ``forward`` is set:

    - ``raw(tool, workload, data) -> (step, outputs)``: ``step()`` is the timed call, ``outputs()``
      returns ``(per-cloud per-dim numpy diagrams, None)`` (or ``(None, None)``: no check); no gradient.
      ``data`` is the workload's data as its maker returned it.
    - ``forward(tool, workload, x, aux) -> f``: ``f()`` returns ``per_dim`` (tensors with a graph to
      the leaf ``x``; the harness adds the workload's loss) or a scalar loss tensor; the harness adds
      the backward pass. ``aux``: the fixed rest of the workload's data (see :func:`split_data`).

    A kind with ``threaded=False`` has one row, ``<prefix>1``.
    """

    prefix: str
    module: str  # the import name, to see whether it is installed
    package: str  # the distribution name: the "not installed" note and the versions line
    inputs: tuple[str, ...] = ("points",)
    max_maxdim: int | None = None
    raw: Callable[[Tool, Workload, Any], tuple[Callable[[], None], Callable[[], Any]]] | None = None
    forward: Callable[[Tool, Workload, Any, tuple], Callable[[], Any]] | None = None
    group: str = "peers"  # "peers"; "raw" for a raw engine; "gph" for the Rips reference engine
    threaded: bool = True
    title: str = ""  # what the row is, for the report


def _gph_raw(tool: Tool, workload: Workload, x_np: np.ndarray):
    from gph import ripser_parallel

    md = workload.maxdim
    mats = list(exact_distances(x_np)) if x_np.ndim == 3 else [exact_distances(x_np)]
    last: list[Any] = []

    def step():
        last[:] = [ripser_parallel(D, maxdim=md, metric="precomputed", return_generators=True,
                                   n_threads=tool.threads) for D in mats]

    def outputs():
        dg = [[d["dgms"][k][np.isfinite(d["dgms"][k][:, 1])] for k in range(md + 1)] for d in last]
        return dg, None

    return step, outputs


def _tt_forward(tool: Tool, workload: Workload, x, aux: tuple = ()):
    if workload.input == "image":
        return _tt_image_forward(tool, workload, x, aux)
    from torch_topological.nn import VietorisRipsComplex

    md = workload.maxdim
    vr = VietorisRipsComplex(dim=md, n_threads=tool.threads)

    def forward():
        out = vr(x)
        out = out if x.ndim == 3 else [out]
        return [[o[k].diagram for o in out] for k in range(md + 1)]

    return forward


def _oin_forward(tool: Tool, workload: Workload, x, aux: tuple = ()):
    if workload.input == "image":
        return _oin_image_forward(tool, workload, x, aux)
    import oineus.diff as od
    import torch

    md = workload.maxdim
    points_mode = x.shape[-1] <= 5  # oineus builds VR from points only in low dimensions

    def one(c):
        if points_mode:
            fil = od.vr_filtration(c, max_dim=md + 1, n_threads=tool.threads)
        else:
            dist = torch.cdist(c, c, compute_mode="donot_use_mm_for_euclid_dist")
            fil = od.vr_filtration(dist, from_pwdists=True, max_dim=md + 1, n_threads=tool.threads)
        dg = od.persistence_diagram(fil, n_threads=tool.threads)
        have = set(dg.keys()) if hasattr(dg, "keys") else set(range(md + 1))
        return [dg[k] if k in have else c.new_zeros(0, 2) for k in range(md + 1)]

    def forward():
        out = [one(c) for c in x] if x.ndim == 3 else [one(x)]
        return [[o[k] for o in out] for k in range(md + 1)]

    return forward


def _p0_forward(tool: Tool, workload: Workload, x, aux: tuple = ()):
    # persist0's Rust kernel runs the clouds of a batch on a rayon pool, sized once per process from
    # RAYON_NUM_THREADS at its first call. A per-process run gets the row's K; in the interleaved mode
    # the first persist0 row set up sizes the pool of every persist0 row. A RAYON_NUM_THREADS already
    # in the environment wins.
    os.environ.setdefault("RAYON_NUM_THREADS", str(tool.threads))
    import torch
    from persist0 import h0_persistence

    def forward():
        # As its README shows: a differentiable matrix in (torch.cdist, its default mode), the deaths
        # gathered from it at the spanning tree's edges; births are 0.
        clouds = x if x.ndim == 3 else x[None]
        _, deaths = h0_persistence(torch.cdist(clouds, clouds))
        pairs = torch.stack([torch.zeros_like(deaths), deaths], -1)
        return [list(pairs.unbind(0))]

    return forward


def _images(x):
    """The images of an image workload's input, as a list (one 2-D image, or a stack)."""
    return [x] if x.ndim == 2 else list(x)


def _cripser_raw(tool: Tool, workload: Workload, data):
    import cripser

    imgs = [np.ascontiguousarray(im, dtype=np.float64) for im in _images(split_data(data)[0])]
    last: list[Any] = []

    def step():
        last[:] = [cripser.compute_ph(im, filtration="T", maxdim=1) for im in imgs]

    def outputs():
        fin = [ph[np.isfinite(ph[:, 2])] for ph in last]
        return [[ph[ph[:, 0] == k][:, 1:3] for k in (0, 1)] for ph in fin], None

    return step, outputs


def _gudhi_cubical_raw(tool: Tool, workload: Workload, data):
    import gudhi

    imgs = [np.ascontiguousarray(im, dtype=np.float64) for im in _images(split_data(data)[0])]
    last: list[Any] = []

    def step():
        last.clear()
        for im in imgs:
            cc = gudhi.CubicalComplex(top_dimensional_cells=im)
            cc.compute_persistence(homology_coeff_field=2)
            cc.cofaces_of_persistence_pairs()  # the critical cells, as a differentiable wrapper needs
            last.append(cc)

    def outputs():
        dg = [[c.persistence_intervals_in_dimension(k) for k in (0, 1)] for c in last]
        return [[d[np.isfinite(d[:, 1])] for d in per] for per in dg], None

    return step, outputs


def _weak_raw(tool: Tool, workload: Workload, data):
    """Weak alpha without torch: scipy Delaunay, its unique edges, giotto-ph on the sparse lengths."""
    from gph import ripser_parallel
    from scipy.sparse import coo_matrix
    from scipy.spatial import Delaunay

    p = split_data(data)[0].astype(np.float64)

    def step():
        s = Delaunay(p).simplices
        k = s.shape[1]
        e = np.sort(np.concatenate([s[:, [i, j]] for i in range(k) for j in range(i + 1, k)]), axis=1)
        n = len(p)
        code = np.unique(e[:, 0].astype(np.int64) * n + e[:, 1])
        i, j = code // n, code % n
        length = np.linalg.norm(p[i] - p[j], axis=1)
        ripser_parallel(coo_matrix((length, (i, j)), shape=(n, n)), maxdim=1, metric="precomputed",
                        return_generators=True, n_threads=tool.threads)

    return step, lambda: (None, None)


def _alpha_raw(tool: Tool, workload: Workload, data):
    """Alpha without torch: gudhi ``AlphaComplex`` (pruned to triangles in R^3), persistence and pairs."""
    import gudhi

    p = split_data(data)[0].astype(np.float64)

    def step():
        st = gudhi.AlphaComplex(points=p).create_simplex_tree()
        if st.dimension() > 2:
            st.prune_above_dimension(2)
        st.compute_persistence()
        st.persistence_pairs()

    return step, lambda: (None, None)


def _lower_star_raw(tool: Tool, workload: Workload, data):
    """Lower-star without torch: one gudhi ``SimplexTree`` (vertices, then edges and triangles valued by
    their largest vertex; one tree for a whole batch of graphs), persistence, the critical vertices."""
    import gudhi

    f, simplices = data[0].astype(np.float64), data[1]

    def step():
        st = gudhi.SimplexTree()
        st.insert_batch(np.arange(len(f))[None, :], f)
        if simplices.shape[1] == 3:
            e = np.concatenate([simplices[:, [0, 1]], simplices[:, [0, 2]], simplices[:, [1, 2]]])
            st.insert_batch(e.T, f[e].max(1))
        st.insert_batch(simplices.T, f[simplices].max(1))
        st.compute_persistence(persistence_dim_max=simplices.shape[1] == 2)
        st.lower_star_persistence_generators()

    return step, lambda: (None, None)


def _prediction_floor_raw(tool: Tool, workload: Workload, data):
    """cripser alone on the prediction's images (superlevel: negated float64 copies), one after the
    other: the pairing a Hu loss cannot skip."""
    import cripser

    pred = split_data(data)[0]
    sd = pred.ndim - 2
    images = [np.ascontiguousarray(-im, np.float64) for im in pred.reshape(-1, *pred.shape[2:])]

    def step():
        for im in images:
            cripser.computePH_T(im, maxdim=sd - 1, location="yes")

    return step, lambda: (None, None)


def _cripser_torch_forward(tool: Tool, workload: Workload, x, aux: tuple):
    import cripser
    import torch

    def forward():
        per: PerDim = [[], []]
        for im in _images(x):
            ph = cripser.compute_ph_torch(im, filtration="T", maxdim=1)
            fin = torch.isfinite(ph[:, 2])
            for k in (0, 1):
                per[k].append(ph[fin & (ph[:, 0] == k)][:, 1:3])
        return per

    return forward


def _tt_image_forward(tool: Tool, workload: Workload, x, aux: tuple):
    import torch
    from torch_topological.nn import CubicalComplex

    cubical = CubicalComplex(dim=2)

    def forward():
        per: PerDim = [[], []]
        for im in _images(x):
            info = cubical(im)
            for k in (0, 1):
                p = info[k].diagram
                per[k].append(p[torch.isfinite(p).all(1)])
        return per

    return forward


def _oin_image_forward(tool: Tool, workload: Workload, x, aux: tuple):
    import oineus.diff as od

    def forward():
        per: PerDim = [[], []]
        for im in _images(x):
            d = od.persistence_diagram(od.cube_filtration(im.double(), values_on="cells"))
            for k in (0, 1):
                per[k].append(d[k] if k in d else im.new_zeros(0, 2))
        return per

    return forward


def _topolosses_classes():
    """topolosses' two losses without the rest of the package: it imports OpenCV and torchvision for
    losses not measured here; where they are absent, empty stand-ins take their place."""
    import types

    for name in ("cv2", "torchvision"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    from topolosses.losses.betti_matching.src.betti_matching_loss import BettiMatchingLoss
    from topolosses.losses.hutopo.src.hutopo_loss import HutopoLoss

    return HutopoLoss, BettiMatchingLoss


def _topolosses_forward(tool: Tool, workload: Workload, x, aux: tuple):
    import warnings

    import torch

    hu, bm = _topolosses_classes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crit = (hu if tool.kind == "tlhu" else bm)(use_base_loss=False, alpha=1.0)
    target = torch.from_numpy(aux[0])

    def forward():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return crit(x, target)

    return forward


#: Every tool kind other than difftda, by row prefix.
TOOL_KINDS: dict[str, ToolKind] = {
    "gph": ToolKind("gph", "gph", "giotto-ph", raw=_gph_raw, group="gph", title="raw giotto-ph ripser_parallel"),
    "tt": ToolKind("tt", "torch_topological", "torch-topological", inputs=("points", "image"), forward=_tt_forward,
                   title="torch-topological VietorisRipsComplex / CubicalComplex"),
    "oin": ToolKind("oin", "oineus", "oineus", inputs=("points", "image"), forward=_oin_forward,
                    title="oineus.diff vr_filtration / cube_filtration"),
    "pers": ToolKind("pers", "persist0", "persist0-tda", max_maxdim=0, forward=_p0_forward,
                     title="persist0-tda h0_persistence"),
    "crip": ToolKind("crip", "cripser", "cripser", inputs=("image",), raw=_cripser_raw, group="raw",
                     threaded=False, title="raw cripser compute_ph"),
    "gcub": ToolKind("gcub", "gudhi", "gudhi", inputs=("image",), raw=_gudhi_cubical_raw, group="raw",
                     threaded=False, title="raw gudhi CubicalComplex"),
    "cript": ToolKind("cript", "cripser", "cripser", inputs=("image",), forward=_cripser_torch_forward,
                      threaded=False, title="cripser compute_ph_torch"),
    "tlhu": ToolKind("tlhu", "topolosses", "topolosses", inputs=("seg-batch",), forward=_topolosses_forward,
                     threaded=False, title="topolosses HutopoLoss"),
    "tlbm": ToolKind("tlbm", "topolosses", "topolosses", inputs=("seg-batch",), forward=_topolosses_forward,
                     threaded=False, title="topolosses BettiMatchingLoss"),
    "floor": ToolKind("floor", "cripser", "cripser", inputs=("seg-batch", "volume"), raw=_prediction_floor_raw,
                      group="raw", threaded=False, title="raw cripser on the prediction alone (Hu's floor)"),
    "wraw": ToolKind("wraw", "gph", "giotto-ph", inputs=("cloud",), raw=_weak_raw, group="raw", threaded=False,
                     title="raw scipy Delaunay + giotto-ph"),
    "araw": ToolKind("araw", "gudhi", "gudhi", inputs=("cloud",), raw=_alpha_raw, group="raw", threaded=False,
                     title="raw gudhi AlphaComplex + pairs"),
    "gls": ToolKind("gls", "gudhi", "gudhi", inputs=("complex",), raw=_lower_star_raw, group="raw",
                    threaded=False, title="raw gudhi SimplexTree lower-star"),
}

_GROUPS = ("all", "gph", "raw", "difftda", "peers")


def parse_tool(key: str) -> Tool:
    """A row key -> :class:`Tool` (``gph2``, ``tt1``, ``oin1``, ``difftda:giotto``, ``difftda:torch@2``)."""
    key = key.strip()
    m = re.fullmatch(r"([a-z_]+?)(\d+)", key)
    if m and m.group(1) in TOOL_KINDS:
        kind, k = m.group(1), int(m.group(2))
        if k < 1:
            raise ValueError(f"tool {key!r}: the thread count must be at least 1")
        return Tool(key, kind, k, base=f"{kind}1" if k > 1 else None)
    if key.startswith("difftda:"):
        spec, _, t = key[len("difftda:"):].partition("@")
        if not spec:
            raise ValueError(f"tool {key!r} names no backend; write e.g. 'difftda:giotto'")
        if t:
            if not t.isdigit() or int(t) < 1:
                raise ValueError(f"tool {key!r}: the torch thread count after '@' must be a positive integer")
            threads = int(t)
        else:
            m2 = re.search(r"n_threads=(\d+)", spec)
            threads = int(m2.group(1)) if m2 else 1
        return Tool(key, "difftda", max(threads, 1), spec=spec)
    kinds = ", ".join(f"{p}K" for p in TOOL_KINDS)
    raise ValueError(
        f"unknown tool {key!r}; use {kinds} (K threads), difftda:SPEC[@T], or a group: "
        f"{', '.join(_GROUPS[1:] + tuple(TOOL_KINDS))}, all"
    )


def _difftda_backends() -> list[tuple[str, int | None]]:
    import difftda

    return [(name, difftda.get_backend(name).max_maxdim) for name in difftda.list_backends()]


def default_tools(threads: list[int], group: str = "all", workload: Workload | None = None) -> list[str]:
    """The row keys of a tool group for the thread counts ``threads`` (1 is always included).

    Groups: ``all``, ``gph``, ``raw`` (the raw engines of the other inputs), ``difftda``, ``peers``
    (every kind in the peers group), or a kind's prefix. With ``workload``, only the kinds that take
    its input and its own ``difftda`` rows.

    Example:
        >>> default_tools([2], "gph")
        ['gph1', 'gph2']
        >>> default_tools([2], "all", WORKLOADS["C2"])
        ['floor1', 'difftda:hu', 'difftda:hu:V', 'difftda:bm', 'tlhu1', 'tlbm1']
    """
    ks = [1] + sorted({k for k in threads if k > 1})

    def rows(prefix: str, kind: ToolKind) -> list[str]:
        if workload is not None and workload.input not in kind.inputs:
            return []
        threaded = kind.threaded and (workload is None or workload.input == "points")
        return [f"{prefix}{k}" for k in (ks if threaded else [1])]

    out: list[str] = []
    for g in ("gph", "raw"):
        for prefix, kind in TOOL_KINDS.items():
            if kind.group == g and group in ("all", g, prefix):
                out += rows(prefix, kind)
    if group in ("all", "difftda"):
        if workload is not None and workload.difftda_rows is not None:
            out += [f"difftda:{spec}" for spec in workload.difftda_rows]
        else:
            names = [n for n, _ in _difftda_backends()]
            out += ["difftda:auto"] + [f"difftda:{n}" for n in names]
            if "giotto" in names:
                out += [f"difftda:giotto:n_threads={k}" for k in ks if k > 1]
    for prefix, kind in TOOL_KINDS.items():
        if kind.group == "peers" and group in ("all", "peers", prefix):
            out += rows(prefix, kind)
    return out


def expand_tools(spec: str | list[str], threads: list[int], workload: Workload | None = None) -> list[str]:
    """Comma-separated row keys and groups -> row keys (groups expanded for ``workload`` if given)."""
    items = spec.split(",") if isinstance(spec, str) else spec
    out: list[str] = []
    for item in filter(None, (s.strip() for s in items)):
        keys = default_tools(threads, item, workload) if item in _GROUPS or item in TOOL_KINDS else [item]
        for k in keys:
            parse_tool(k)
            if k not in out:
                out.append(k)
    return out


def _rows_for(workload: Workload, tools: list[str] | None, threads: list[int]) -> list[Tool]:
    """The rows of one workload: its baseline first, then ``tools`` (keys or groups; None: all)."""
    keys = expand_tools(tools if tools is not None else ["all"], threads, workload)
    parsed = [parse_tool(k) for k in keys]
    if not any(t.key == workload.baseline for t in parsed):
        parsed.insert(0, parse_tool(workload.baseline))
    else:
        parsed.sort(key=lambda t: t.key != workload.baseline)
    return parsed


def _tool_unavailable(tool: Tool, workload: Workload) -> str | None:
    """Why ``tool`` cannot run ``workload`` here, or None."""
    if tool.kind == "difftda":
        if importlib.util.find_spec("difftda") is None:
            return "difftda is not installed"
        if workload.spec_check is not None:
            return workload.spec_check(tool.spec, workload)
        import difftda

        try:
            engine = difftda.get_backend(tool.spec, maxdim=workload.maxdim)
        except (ImportError, ValueError, TypeError) as err:
            return f"backend {tool.spec!r}: {err}"
        if engine.max_maxdim is not None and workload.maxdim > engine.max_maxdim:
            return (f"backend {engine.name!r} computes up to maxdim={engine.max_maxdim}; "
                    f"{workload.key} needs {workload.maxdim}")
        return None
    kind = TOOL_KINDS[tool.kind]
    if workload.input not in kind.inputs:
        return f"{kind.package} does not take {workload.input} input"
    if kind.max_maxdim is not None and workload.maxdim > kind.max_maxdim:
        return f"{kind.package} computes up to maxdim={kind.max_maxdim}; {workload.key} needs {workload.maxdim}"
    if importlib.util.find_spec(kind.module) is None:
        return f"{kind.package} is not installed"
    return None


# --------------------------------------------------------------------------------------------
# Worker side (a subprocess per (workload, tool)): never imports torch for the raw tools
# --------------------------------------------------------------------------------------------

def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _emit(**msg: Any) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def _make_step(tool: Tool, workload: Workload, data: Any):
    """``(step, outputs)``: one timed step, and the last step's (diagrams, gradient) as numpy."""
    md = workload.maxdim
    if tool.raw:
        return TOOL_KINDS[tool.kind].raw(tool, workload, data)

    import torch

    x_np, aux = split_data(data)
    torch.set_num_threads(tool.threads)
    x = torch.tensor(x_np, requires_grad=True)
    state: dict[str, Any] = {}
    if tool.kind == "difftda" and workload.difftda_forward is not None:
        spec = tool.spec

        def forward():
            return workload.difftda_forward(x, aux, spec)
    elif tool.kind == "difftda":
        spec = tool.spec
        batched = x_np.ndim == 3 and workload.input == "points"

        def forward():
            out = workload.difftda_call(x, spec, md)
            if batched and hasattr(out, "cat"):  # a DiagramBatch: every bar of the batch in one Diagrams
                whole = out.cat()
                state["per_cloud"] = lambda: [[d[k].pairs for d in out] for k in range(md + 1)]
                return [[whole[k].pairs] for k in range(md + 1)]
            out = out if batched else [out]
            return [[d[k].pairs for d in out] for k in range(md + 1)]
    else:
        forward = TOOL_KINDS[tool.kind].forward(tool, workload, x, aux)

    def step():
        x.grad = None
        per_dim = forward()
        loss = per_dim if isinstance(per_dim, torch.Tensor) else workload.loss(per_dim)
        loss.backward()
        state["per_dim"] = per_dim

    def outputs():
        per_dim = state["per_cloud"]() if "per_cloud" in state else state["per_dim"]
        grad = x.grad.detach().cpu().double().numpy()
        if isinstance(per_dim, torch.Tensor):  # a loss: no diagrams to check
            return None, grad
        n_clouds = len(per_dim[0])
        dg = [[per_dim[k][b].detach().cpu().double().numpy() for k in range(md + 1)] for b in range(n_clouds)]
        return dg, grad

    return step, outputs


def _tiny_data(workload: Workload, shape: tuple[int, ...]) -> Any:
    """A tiny input of the workload's kind: one call on it loads what a tool imports lazily."""
    if workload.input == "points":
        return make_data(workload.key, (2, 8, shape[-1]) if len(shape) == 3 else (8, shape[-1]))
    return make_data(workload.key, workload.sizes["smoke"][0])


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _hwm_mb() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _probe(job: dict[str, Any]) -> int:
    """Subprocess: one step of one row at one size; prints its time and its peak RSS above the RSS
    just before the call (imports, data and a call on a tiny input come first)."""
    workload = WORKLOADS[job["workload"]]
    tool = parse_tool(job["tool"])
    shape = tuple(job["shape"])
    _make_step(tool, workload, _tiny_data(workload, shape))[0]()
    step = _make_step(tool, workload, make_data(workload.key, shape))[0]
    gc.collect()
    before = _rss_now_mb()
    try:  # Linux: reset the high-water mark, so that VmHWM becomes this call's own peak
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = (_hwm_mb() or 1e12) <= before + 1.0
    except OSError:
        reset = False
    hwm0 = _hwm_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:  # without the reset, sample the RSS (only while the call releases the GIL)
        while not done.wait(0.002):
            peak[0] = max(peak[0], _rss_now_mb())

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    step()
    seconds = time.perf_counter() - t0
    done.set()
    watcher.join()
    hwm = _hwm_mb()
    if hwm is not None and (reset or (hwm0 is not None and hwm > hwm0)):
        peak[0] = max(peak[0], hwm)
    _emit(ev="probe", seconds=seconds, peak_mb=peak[0] - before, peak_total_mb=peak[0], exact=reset)
    return 0


def measure_peak(workload: Workload, tool: Tool, shape: tuple[int, ...], time_limit: float = 600.0
                 ) -> dict[str, Any]:
    """Peak memory of one step of ``tool`` at ``shape``, in a fresh process: ``{"peak_mb": ...}``
    (the increase over the RSS before the call) or ``{"error": ...}``."""
    job = {"workload": workload.key, "tool": tool.key, "shape": list(shape)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", json.dumps(job)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=time_limit)
    except subprocess.TimeoutExpired:
        return {"error": f"over {time_limit:g} s"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = " | ".join(out.stderr.strip().splitlines()[-2:])
    return {"error": f"exit {out.returncode}: {tail}"[:300]}


def _repetitions(t_first: float) -> int:
    if t_first < 2.0:
        return max(7, min(31, math.ceil(0.5 / max(t_first, 1e-9))))
    return 3 if t_first <= 10.0 else 1


def _worker(job: dict[str, Any]) -> int:
    workload = WORKLOADS[job["workload"]]
    tool = parse_tool(job["tool"])
    shapes = [tuple(s) for s in job["shapes"]]
    out_dir = Path(job["out_dir"])
    reps_override = job.get("reps")
    # One untimed call on a tiny input first, so that packages a tool loads lazily (a backend's engine,
    # scipy.sparse, ...) count as imports and not as the memory of the first real size.
    try:
        _make_step(tool, workload, _tiny_data(workload, shapes[0]))[0]()
    except Exception:  # noqa: BLE001 - the real sizes report the error
        pass
    data = {s: make_data(workload.key, s) for s in shapes}
    made = {}
    for s in shapes:  # imports and data creation before the baseline RSS
        made[s] = _make_step(tool, workload, data[s])
    _emit(ev="ready", rss_mb=_rss_mb())
    for s in shapes:
        label = workload.label(s)
        step, outputs = made[s]
        _emit(ev="start", size=label)
        try:
            t0 = time.perf_counter()
            step()
            t_first = time.perf_counter() - t0
            _emit(ev="first", size=label, t=t_first)
            if reps_override:
                reps = int(reps_override)
            else:
                if t_first < 1.0:
                    step()
                reps = _repetitions(t_first)
            times = []
            gc.collect()
            gc.disable()
            try:
                for _ in range(reps):
                    t0 = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - t0)
            finally:
                gc.enable()
            rss = _rss_mb()
            dg, grad = outputs()
            path = out_dir / f"{workload.key}_{re.sub(r'[^A-Za-z0-9]+', '_', tool.key)}_{label.replace('=', '')}.npz"
            arrays = {f"c{b}_h{k}": np.asarray(dg[b][k], np.float64).reshape(-1, 2)
                      for b in range(len(dg)) for k in range(workload.maxdim + 1)} if dg is not None else {}
            if grad is not None:
                arrays["grad"] = grad
            np.savez(path, **arrays)
            _emit(ev="done", size=label, times=times, rss_mb=rss, out=str(path))
        except Exception as err:  # report and go on with the next size
            _emit(ev="error", size=label, msg=f"{type(err).__name__}: {err}"[:500])
    return 0


# --------------------------------------------------------------------------------------------
# Checks against the workload's independent reference
# --------------------------------------------------------------------------------------------

def reference(workload: Workload, shape: tuple[int, ...]) -> Reference:
    """:func:`reference_for` the workload's own data at ``shape``."""
    return reference_for(workload, make_data(workload.key, shape))


def reference_for(workload: Workload, x: np.ndarray) -> Reference:
    """Finite diagrams (per cloud, per dim) and the gradient of the workload's loss w.r.t. the points.

    Computed without difftda by the workload's ``reference`` (for W1-W4: :func:`vr_reference`).

    Example:
        >>> dgms, grad = reference_for(WORKLOADS["W1"], make_data("W1", (50, 2)))
        >>> dgms[0][0].shape, grad.shape
        ((49, 2), (50, 2))
    """
    if workload.reference is None:
        raise ValueError(f"workload {workload.key} has no reference")
    return workload.reference(x)


def compare(ref: tuple[list[list[np.ndarray]], np.ndarray], got: dict[str, np.ndarray], maxdim: int,
            differentiable: bool) -> dict[str, Any]:
    """Max deviation of diagrams (sorted deaths and |births| in H0, sorted pairs in H1+) and gradient."""
    ref_dgms, ref_grad = ref
    dev, mismatch = 0.0, []
    for b, per in enumerate(ref_dgms):
        for k in range(maxdim + 1):
            a = per[k]
            g = got[f"c{b}_h{k}"]
            g = g[g[:, 1] > g[:, 0]]  # zero-length bars dropped on both sides
            if len(a) != len(g):
                mismatch.append(f"cloud {b} H{k}: {len(g)} bars, reference {len(a)}")
                continue
            if k == 0 and not np.any(a[:, 0]):  # Rips H0: births 0, deaths compared as a sorted list
                dev = max(dev, float(np.abs(np.sort(a[:, 1]) - np.sort(g[:, 1])).max(initial=0.0)),
                          float(np.abs(g[:, 0]).max(initial=0.0)))
            else:
                sa = a[np.lexsort((a[:, 1], a[:, 0]))]
                sg = g[np.lexsort((g[:, 1], g[:, 0]))]
                dev = max(dev, float(np.abs(sa - sg).max(initial=0.0)))
    out: dict[str, Any] = {"diagram_dev": dev, "diagram_mismatch": mismatch}
    scale = max(1.0, max((float(np.abs(p).max(initial=0.0)) for per in ref_dgms for p in per), default=1.0))
    out["diagram_ok"] = not mismatch and dev <= 1e-5 * scale
    if differentiable and "grad" in got:
        gmax = float(np.abs(ref_grad).max(initial=0.0))
        gdev = float(np.abs(got["grad"].reshape(ref_grad.shape) - ref_grad).max(initial=0.0))
        out.update(grad_dev=gdev, grad_max=gmax, grad_ok=bool(np.isfinite(gdev)) and gdev <= 1e-3 * max(gmax, 1.0))
    return out


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------

@dataclass
class Cell:
    workload: str
    tool: str
    size: str
    status: str  # "ok", "timeout", "error", "skipped"
    times_ms: list[float] = field(default_factory=list)
    rss_mb: float | None = None
    rss_base_mb: float | None = None
    note: str = ""
    check: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float | None:
        return float(np.median(self.times_ms)) if self.times_ms else None


def _run_job(workload: Workload, tool: Tool, shapes: list[tuple[int, ...]], time_limit: float,
             out_dir: Path, reps: int | None, log) -> list[Cell]:
    job = {"workload": workload.key, "tool": tool.key, "shapes": [list(s) for s in shapes],
           "out_dir": str(out_dir), "reps": reps}
    script = str(Path(__file__).resolve())
    cmd = [sys.executable, script, "--worker", json.dumps(job)]
    if os.path.exists("/bin/sh"):
        # Linux carries the parent's peak RSS into ru_maxrss across exec; a shell that forks the worker
        # from its own small process gives the worker a clean peak. The new session lets us kill both.
        cmd = ["/bin/sh", "-c", '"$0" "$@"; exit $?'] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    err_tail: list[str] = []

    def pump_out():
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def pump_err():
        assert proc.stderr is not None
        for line in proc.stderr:
            err_tail.append(line.rstrip())
            del err_tail[:-20]

    threading.Thread(target=pump_out, daemon=True).start()
    threading.Thread(target=pump_err, daemon=True).start()
    cells: dict[str, Cell] = {}
    base = None
    current = None
    deadline = time.monotonic() + 300.0  # imports and data
    labels = [workload.label(s) for s in shapes]
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if current is not None:
                    cells[current] = Cell(workload.key, tool.key, current, "timeout",
                                          note=f">{time_limit:g} s (killed)")
                break
            if line is None:
                break
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            ev = msg.get("ev")
            if ev == "ready":
                base = msg["rss_mb"]
            elif ev == "start":
                current = msg["size"]
                deadline = time.monotonic() + time_limit
            elif ev == "first":
                t = float(msg["t"])
                n = reps or (1 if t > 10 else 3 if t >= 2 else max(7, min(31, math.ceil(0.5 / max(t, 1e-9)))))
                deadline = time.monotonic() + 60.0 + 3.0 * (n + 1) * t
            elif ev == "done":
                cell = Cell(workload.key, tool.key, msg["size"], "ok", [1e3 * t for t in msg["times"]],
                            msg["rss_mb"], base)
                cell.check["out"] = msg["out"]
                cells[msg["size"]] = cell
                log(f"  {workload.key} {tool.key:<30} {msg['size']:>8}: {cell.median:10.3f} ms "
                    f"(R={len(cell.times_ms)})")
                current = None
                deadline = time.monotonic() + 300.0
            elif ev == "error":
                cells[msg["size"]] = Cell(workload.key, tool.key, msg["size"], "error", note=msg["msg"])
                log(f"  {workload.key} {tool.key:<30} {msg['size']:>8}: error: {msg['msg']}")
                current = None
                deadline = time.monotonic() + 300.0
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)  # the shell and the worker it started: our own process group
            except ProcessLookupError:
                pass
        proc.wait()
    for label in labels:
        if label not in cells:
            if any(c.status == "timeout" for c in cells.values()):
                cells[label] = Cell(workload.key, tool.key, label, "skipped", note="a smaller size timed out")
            else:
                tail = " | ".join(err_tail[-3:])
                cells[label] = Cell(workload.key, tool.key, label, "error",
                                    note=f"worker exited with code {proc.returncode}: {tail}"[:500])
    for c in cells.values():
        if c.status == "timeout":
            log(f"  {workload.key} {tool.key:<30} {c.size:>8}: {c.note}")
    return [cells[label] for label in labels]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    dists = ["difftda", "torch", "numpy", "scipy", "gudhi", "ripser"]
    dists += [k.package for k in TOOL_KINDS.values() if k.package not in dists]
    for dist in dists:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": usable, "platform": platform.platform()}


#: The usable cores when the harness starts (a library may pin the main thread to one CPU later on).
_MACHINE_AT_IMPORT = {"cores": _machine()["cores"]}


def run_benchmark(workloads: list[str], sizes: str = "full", tools: list[str] | None = None,
                  threads: list[int] | None = None, time_limit: float = 30.0, reps: int | None = None,
                  check: bool = True, log=None) -> dict[str, Any]:
    """Run the benchmark and return its results as a JSON-ready dict (see :func:`format_report`).

    Args:
        workloads: keys of :data:`WORKLOADS`, e.g. ``["W1", "W3"]``.
        sizes: ``"smoke"``, ``"small"`` or ``"full"``.
        tools: row keys (see the module docstring); default: every tool for ``threads``.
        threads: thread counts of the multithreaded rows (default ``[2]``).
        time_limit: seconds the first call at a size may take before the worker is killed.
        reps: a fixed number of timed repetitions (default: the adaptive rule).
        check: compare each tool's diagrams and gradient with the independent reference.
        log: a function taking progress lines (default: print to stderr).
    """
    threads = threads or [2]
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    if sizes not in ("smoke", "small", "full"):
        raise ValueError(f"sizes must be 'smoke', 'small' or 'full'; got {sizes!r}")
    rows = {w: _rows_for(WORKLOADS[w], tools, threads) for w in workloads}
    parsed = list({t.key: t for r in rows.values() for t in r}.values())
    notes: list[str] = []
    cells: list[Cell] = []
    t_start = time.time()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="difftda-bench-") as tmp:
        for wk in workloads:
            w = WORKLOADS[wk]
            shapes = list(w.sizes[sizes])
            labels = [w.label(s) for s in shapes]
            log(f"{wk}: {w.title}")
            by_key: dict[str, list[Cell]] = {}
            for tool in rows[wk]:
                why = _tool_unavailable(tool, w)
                if why:
                    note = f"{tool.key} skipped for {wk}: {why}"
                    if note not in notes:
                        notes.append(note)
                    log(f"  {note}")
                    row = [Cell(wk, tool.key, lb, "skipped", note=why) for lb in labels]
                else:
                    blocked = {c.size for c in by_key.get(tool.base or "", []) if c.status in ("timeout", "skipped")
                               and c.note != "" and "not installed" not in c.note}
                    run_shapes = [s for s in shapes if w.label(s) not in blocked]
                    row = _run_job(w, tool, run_shapes, time_limit, Path(tmp), reps, log) if run_shapes else []
                    done = {c.size for c in row}
                    row += [Cell(wk, tool.key, lb, "skipped", note=f"{tool.base} timed out")
                            for lb in labels if lb not in done]
                    row.sort(key=lambda c: labels.index(c.size))
                by_key[tool.key] = row
                cells += row
            if check and w.reference is not None and _tool_unavailable(parse_tool(w.baseline), w) is None:
                for s in shapes:
                    ref = w.reference(make_data(wk, s))
                    for c in cells:
                        if c.workload == wk and c.size == w.label(s) and c.status == "ok":
                            got = dict(np.load(c.check["out"]))
                            if "c0_h0" not in got:
                                continue
                            c.check.update(compare(ref, got, w.maxdim, not parse_tool(c.tool).raw))
            for c in cells:
                c.check.pop("out", None)
    settings = {"time_limit_s": time_limit, "reps": reps or "adaptive"}
    return _result(t_start, load_start, workloads, sizes, threads, parsed, settings) | {
        "notes": notes,
        "cells": [vars(c) | {"median_ms": c.median} for c in cells],
    }


def run_interleaved(workloads: list[str], sizes: str = "full", tools: list[str] | None = None,
                    threads: list[int] | None = None, rounds: int = 21, slow_s: float | None = None,
                    memory: bool = True, log=None) -> dict[str, Any]:
    """Time the tools in one process, one step of each in turn, round after round.

    The per-process mode gives each tool its own memory peak but times the tools minutes apart, so a
    change of load on a shared machine lands on some rows and not on others. Here every round runs
    one step of every tool back to back (in a new random order each round), so a ratio to the
    workload's baseline is taken within a round, and the reported ratio is the median over the rounds:
    slow drifts of the load cancel out. A slow workload runs at most its ``rounds`` rounds. A tool
    whose warm-up step takes longer than ``slow_s`` seconds (default: the workload's ``slow_s``) is
    left out of the rounds, and so is a tool whose step raises: both get a cell with the reason.
    With ``memory``, each row of a workload marked ``memory`` runs once more in a fresh process that
    measures its peak memory (:func:`measure_peak`).

    Returns a dict like :func:`run_benchmark`'s, with ``"mode": "interleaved"``; each cell has the
    per-round times and ``ratio`` (the median of the per-round ratios to the baseline).
    """
    import torch

    threads = threads or [2]
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1; got {rounds}")
    if sizes not in ("smoke", "small", "full"):
        raise ValueError(f"sizes must be 'smoke', 'small' or 'full'; got {sizes!r}")
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    rows = {w: _rows_for(WORKLOADS[w], tools, threads) for w in workloads}
    parsed = list({t.key: t for r in rows.values() for t in r}.values())
    notes: list[str] = []
    cells: list[dict[str, Any]] = []
    used_rounds: dict[str, int] = {}
    # Some engines pin the calling thread to one CPU; threads started later would inherit that mask.
    # Every step starts from the process's original CPU set.
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None

    def unpin() -> None:
        if cpus is not None and os.sched_getaffinity(0) != cpus:
            os.sched_setaffinity(0, cpus)

    t_start = time.time()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    for wk in workloads:
        w = WORKLOADS[wk]
        slow_at: dict[str, str] = {}  # a row too slow at a size is not tried at the larger ones
        n_rounds = min(rounds, w.rounds) if w.rounds else rounds
        limit = w.slow_s if slow_s is None else slow_s
        used_rounds[wk] = n_rounds
        log(f"{wk}: {w.title} ({n_rounds} rounds)")
        for shape in w.sizes[sizes]:
            label = w.label(shape)
            data = make_data(wk, shape)
            steps: dict[str, tuple[Tool, Any]] = {}
            for tool in rows[wk]:
                why = _tool_unavailable(tool, w)
                if why is None and tool.key in slow_at:
                    why = f"too slow at {slow_at[tool.key]}"
                if why is not None:
                    note = f"{tool.key} skipped for {wk} {label}: {why}"
                    notes.append(note)
                    log(f"  {note}")
                    continue
                unpin()
                torch.set_num_threads(tool.threads)
                status = "ok"
                try:
                    step = _make_step(tool, w, data)[0]
                    t0 = time.perf_counter()
                    step()  # the first call also pays for lazy imports
                    t_first = time.perf_counter() - t0
                    if t_first < limit:  # a second, timed warm-up call when the first one was not slow
                        unpin()
                        t0 = time.perf_counter()
                        step()
                        t_first = time.perf_counter() - t0
                    if t_first > limit:
                        status, why = "slow", f"a step takes over {limit:g} s ({t_first:.0f} s): left out of the rounds"
                        slow_at[tool.key] = label
                    else:
                        steps[tool.key] = (tool, step)
                except Exception as err:  # noqa: BLE001 - the row is left out, the others go on
                    text = " ".join(ln.strip() for ln in str(err).strip().splitlines()[:3])
                    status, why = "error", f"{type(err).__name__}: {text}"[:300]
                if status != "ok":
                    cells.append({"workload": wk, "tool": tool.key, "size": label, "status": status, "note": why,
                                  "times_ms": [], "median_ms": None, "ratio": None})
                    notes.append(f"{tool.key} {wk} {label}: {why}")
                    log(f"  {tool.key} {wk} {label}: {why}")
            times: dict[str, list[float]] = {k: [] for k in steps}
            order = list(steps)
            rng = np.random.default_rng(0)
            if not order:
                continue
            gc.collect()
            gc.disable()
            try:
                for _ in range(min(n_rounds, (w.rounds_at or {}).get(shape, n_rounds))):
                    # A fresh order every round: each tool follows every other one about equally
                    # often (a step after a two-thread tool can run slower while its threads wind down).
                    for k in rng.permutation(order):
                        tool, step = steps[k]
                        unpin()
                        torch.set_num_threads(tool.threads)
                        t0 = time.perf_counter()
                        step()
                        times[k].append((time.perf_counter() - t0) * 1e3)
            finally:
                gc.enable()
            steps.clear()
            gc.collect()
            ref = times.get(w.baseline)
            for k, t in times.items():
                ratio = float(np.median(np.asarray(t) / np.asarray(ref))) if ref else None
                cell = {"workload": wk, "tool": k, "size": label, "status": "ok", "times_ms": t,
                        "median_ms": float(np.median(t)), "ratio": ratio}
                if memory and w.memory:
                    cell["memory"] = measure_peak(w, parse_tool(k), shape)
                cells.append(cell)
                mem = cell.get("memory", {})
                log(f"  {wk} {k:>32} {label:>8}: {np.median(t):9.3f} ms" + (f"  {ratio:.3f}x" if ratio else "")
                    + (f"  peak +{mem['peak_mb']:.0f} MB" if "peak_mb" in mem else ""))
    return _result(t_start, load_start, workloads, sizes, threads, parsed,
                   {"rounds": rounds, "rounds_used": used_rounds}) | {
        "mode": "interleaved",
        "notes": notes,
        "cells": cells,
    }


def _result(t_start: float, load_start, workloads: list[str], sizes: str, threads: list[int],
            parsed: list[Tool], settings: dict[str, Any]) -> dict[str, Any]:
    """The header both modes share: date, machine, versions, settings, what "auto" resolves to."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(t_start)),
        "wall_s": round(time.time() - t_start, 1),
        "machine": _machine() | _MACHINE_AT_IMPORT | {"loadavg_start": load_start,
                                 "loadavg_end": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "versions": _versions(),
        "settings": {"workloads": workloads, "sizes": sizes, "threads": threads, **settings,
                     "tools": [t.key for t in parsed]},
        "auto": _auto_backends(workloads),
    }


def _auto_backends(workloads: list[str]) -> dict[str, str]:
    """What ``backend="auto"`` resolves to on each workload whose rows name engines."""
    try:
        import difftda
    except ImportError:
        return {}
    out = {}
    for w in workloads:
        fil = WORKLOADS[w].filtration
        if fil is None:
            continue
        try:
            out[w] = str(difftda.get_backend("auto", maxdim=WORKLOADS[w].maxdim, filtration=fil))
        except Exception:  # noqa: BLE001 - no engine installed for it: the summary says so
            continue
    return out


def _fmt(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _paired_ratio(a: dict[str, Any], b: dict[str, Any], interleaved: bool) -> float:
    if interleaved and len(a["times_ms"]) == len(b["times_ms"]):
        return float(np.median(np.asarray(a["times_ms"]) / np.asarray(b["times_ms"])))
    return a["median_ms"] / b["median_ms"]


def _peak(c: dict[str, Any]) -> float | None:
    if "peak_mb" in c.get("memory", {}):
        return float(c["memory"]["peak_mb"])
    if c.get("rss_mb") is not None:
        return float(c["rss_mb"] - (c.get("rss_base_mb") or 0.0))
    return None


def evaluate_targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the run's workloads at every size: ``value``, ``status`` ("met", "NOT met",
    "not measured") and ``note``."""
    interleaved = res.get("mode") == "interleaved"
    out = []
    for wk in res["settings"]["workloads"]:
        w = WORKLOADS[wk]
        for shape in w.sizes[res["settings"]["sizes"]]:
            label = w.label(shape)
            get = {c["tool"]: c for c in res["cells"] if c["workload"] == wk and c["size"] == label}
            for t in w.targets:
                row = get.get(t.row)
                rec = {"workload": wk, "size": label, "row": t.row, "target": t.text, "value": None,
                       "status": "not measured", "note": ""}
                out.append(rec)
                if row is None or row["status"] != "ok":
                    rec["note"] = f"{t.row}: " + (row.get("note") or row["status"] if row else "not run")
                    if row is not None and row["status"] == "slow" and t.max_s is not None:
                        rec["status"] = "NOT met"
                    continue
                if t.max_ratio is not None:
                    other = get.get(t.versus)
                    if other is None or other["status"] != "ok":
                        rec["note"] = f"{t.versus}: " + ((other.get("note") or other["status"]) if other else "not run")
                        continue
                    rec["value"] = _paired_ratio(row, other, interleaved)
                    rec["status"] = "met" if rec["value"] <= t.max_ratio else "NOT met"
                    rec["text"] = f"{rec['value']:.2f}x"
                elif t.max_mb is not None:
                    peak = _peak(row)
                    if peak is None:
                        rec["note"] = "no memory measurement"
                        continue
                    rec["value"] = peak
                    rec["status"] = "met" if peak <= t.max_mb else "NOT met"
                    rec["text"] = f"+{peak:.0f} MB, {row['median_ms'] / 1e3:.2f} s"
                elif t.max_s is not None:
                    rec["value"] = row["median_ms"] / 1e3
                    rec["status"] = "met" if rec["value"] <= t.max_s else "NOT met"
                    rec["text"] = f"{rec['value']:.1f} s"
    return out


def format_report(res: dict[str, Any]) -> str:
    """The Markdown tables of a run: targets, time, ratio to the baseline, memory, checks, summary."""
    cells = [dict(c) for c in res["cells"]]
    lines: list[str] = []
    m, v = res["machine"], res["versions"]
    lines.append(f"- difftda benchmark, {res['date']}, {m['cores']} cores ({m['cpu']}), wall {res['wall_s']} s")
    if m.get("loadavg_start"):
        la0, la1 = m["loadavg_start"], m["loadavg_end"] or m["loadavg_start"]
        lines.append(f"- load average (1 min) at the start {la0[0]:.2f}, at the end {la1[0]:.2f}: other work on"
                     " the machine makes the times noisy")
    lines.append("- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    s = res["settings"]
    interleaved = res.get("mode") == "interleaved"
    if interleaved:
        lines.append(f"- sizes={s['sizes']}, threads={s['threads']}, interleaved in one process, {s['rounds']} rounds"
                     " (fewer on the slow workloads: see each table)")
        lines.append("")
        lines.append("Cells: median [min-max] ms per step over the rounds, then the median over the rounds of the"
                     " ratio to the workload's baseline row timed in the same round; peak: the memory one step"
                     " adds, measured in a fresh process.")
    else:
        lines.append(f"- sizes={s['sizes']}, threads={s['threads']}, time limit {s['time_limit_s']} s,"
                     f" reps: {s['reps']}")
        lines.append("")
        lines.append("Cells: median [min-max] ms per step, then the ratio to the workload's baseline row in the"
                     " same run. (n=R): fewer than 7 repetitions. !: diagram or gradient differs from the reference"
                     " (see the checks).")
    targets = evaluate_targets(res)
    if targets:
        lines += ["", "### Targets", "", "| workload | size | row | target | measured | status |",
                  "|---|---|---|---|---|---|"]
        for t in targets:
            note = t.get("text") or (t["note"] if len(t["note"]) <= 90 else t["note"][:87] + "...")
            lines.append(f"| {t['workload']} | {t['size']} | {t['row']} | {t['target']} | "
                         f"{note.replace('|', '/')} | {t['status']} |")
    for wk in s["workloads"]:
        w = WORKLOADS[wk]
        labels = [w.label(sh) for sh in w.sizes[s["sizes"]]]
        rows: dict[str, dict[str, dict]] = {}
        for c in cells:
            if c["workload"] == wk:
                rows.setdefault(c["tool"], {})[c["size"]] = c
        ref = {lb: rows.get(w.baseline, {}).get(lb, {}).get("median_ms") for lb in labels}
        mem_col = [] if interleaved else ["peak RSS (increase)"]
        n_rounds = s.get("rounds_used", {}).get(wk)
        extra = f", {n_rounds} rounds" if interleaved and n_rounds else ""
        # Sizes capped by ``rounds_at`` ran fewer rounds: each cell's count is its number of times.
        fewer = sorted({(c["size"], len(c["times_ms"])) for c in cells if c["workload"] == wk
                        and c.get("times_ms") and n_rounds and len(c["times_ms"]) < n_rounds})
        if interleaved and fewer:
            extra += " (" + ", ".join(f"{r} at {lb}" for lb, r in fewer) + ")"
        lines += ["", f"### {wk}: {w.title} (baseline {w.baseline}{extra})", "",
                  "| tool | " + " | ".join(labels + mem_col) + " |",
                  "|---|" + "---|" * (len(labels) + len(mem_col))]
        for tool, row in rows.items():
            out = []
            mem = ""
            for lb in labels:
                c = row.get(lb)
                if c is None:
                    out.append("")
                    continue
                if c["status"] != "ok":
                    if c["status"] in ("error", "slow"):
                        out.append(("fails: " if c["status"] == "error" else "") + c["note"].replace("|", "/"))
                    else:
                        out.append({"timeout": c.get("note", ""), "skipped": "skipped"}.get(c["status"], c["status"]))
                    continue
                t = c["times_ms"]
                cell = f"{_fmt(c['median_ms'])} [{_fmt(min(t))}-{_fmt(max(t))}]"
                ratio = c.get("ratio") or (c["median_ms"] / ref[lb] if ref[lb] else None)
                if ratio:
                    cell += f" **{ratio:.2f}x**"
                if len(t) < 7:
                    cell += f" (n={len(t)})"
                if interleaved and c.get("memory"):
                    cell += (f", peak +{c['memory']['peak_mb']:.0f} MB" if "peak_mb" in c["memory"]
                             else f", memory: {c['memory'].get('error', '?')}")
                chk = c.get("check", {})
                if chk and (not chk.get("diagram_ok", True) or not chk.get("grad_ok", True)):
                    cell += " !"
                out.append(cell)
                if c.get("rss_mb") is not None:
                    mem = f"{c['rss_mb']:.0f} MB (+{c['rss_mb'] - (c['rss_base_mb'] or 0):.0f})"
            lines.append(f"| {tool} | " + " | ".join(out + ([] if interleaved else [mem])) + " |")
    bad = [c for c in cells if c["status"] == "ok" and c.get("check")
           and (not c["check"].get("diagram_ok", True) or not c["check"].get("grad_ok", True))]
    errors = [c for c in cells if c["status"] == "error"]
    lines += ["", "### Checks against each workload's independent reference", ""]
    checked = [c for c in cells if c["status"] == "ok" and c.get("check") and "diagram_dev" in c["check"]]
    if interleaved:
        lines.append("not run in the interleaved mode (the per-process mode checks every cell)")
    elif not checked:
        lines.append("no checks were run")
    else:
        worst_d = max(c["check"]["diagram_dev"] for c in checked)
        grads = [c["check"]["grad_dev"] / max(c["check"]["grad_max"], 1.0)
                 for c in checked if "grad_dev" in c["check"]]
        text = f"{len(checked)} cells checked; largest diagram deviation {worst_d:.2g}"
        if grads:
            text += f", largest gradient deviation {max(grads):.2g} (relative to max(1, max|grad|))"
        lines.append(text)
        for c in bad:
            ck = c["check"]
            why = "; ".join(ck["diagram_mismatch"]) or f"diagram deviation {ck['diagram_dev']:.2g}"
            if "grad_dev" in ck:
                why += f", gradient deviation {ck['grad_dev']:.2g} (max |grad| {ck['grad_max']:.2g})"
            lines.append(f"- ! {c['workload']} {c['tool']} {c['size']}: {why}")
    for c in errors if not interleaved else []:  # the interleaved mode lists them in the notes
        lines.append(f"- error: {c['workload']} {c['tool']} {c['size']}: {c['note']}")
    if res["notes"]:
        lines += ["", "### Notes", ""] + [f"- {n}" for n in res["notes"]]
    lines += ["", "### Summary: each workload's main difftda row against every other row at the largest size", ""]
    for wk in s["workloads"]:
        w = WORKLOADS[wk]
        size = w.label(w.sizes[s["sizes"]][-1])
        get = {c["tool"]: c for c in cells if c["workload"] == wk and c["size"] == size and c["status"] == "ok"}
        mine = get.get(w.main_row)
        if mine is None:
            lines.append(f"- {wk} {size}: {w.main_row} not measured")
            continue
        parts = [f"{tool} {_paired_ratio(mine, c, interleaved):.2f}x" for tool, c in get.items() if tool != w.main_row]
        auto = res.get("auto", {}).get(wk)
        name = w.main_row + (f" ({auto})" if auto and w.main_row == "difftda:auto" else "")
        lines.append(f"- {wk} {size}, {name}, time relative to: " + (", ".join(parts) or "no other row"))
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command-line options of ``python benchmarks/run.py``."""
    keys = ",".join(WORKLOADS)
    p.add_argument("--workloads", default=keys,
                   help=f"comma-separated, from {keys} (default all; see the list below)")
    p.add_argument("--sizes", default="full", choices=["smoke", "small", "full"],
                   help="full: every size; small: smaller inputs; smoke: tiny, for the tests")
    p.add_argument("--quick", action="store_true",
                   help="a quick look that every row runs: --sizes smoke and at most 2 rounds")
    p.add_argument("--threads", default="2",
                   help="thread counts of the multithreaded rows, comma-separated (default 2; 1: none)")
    p.add_argument("--tools", default="all",
                   help="comma-separated row keys or groups (see the list below; default all: every row that "
                        "takes the workload's input)")
    p.add_argument("--time-limit", type=float, default=30.0,
                   help="seconds the first call at a size may take before it is killed (default 30)")
    p.add_argument("--reps", type=int, default=None, help="fixed number of timed repetitions (default: adaptive)")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with the reference")
    p.add_argument("--json", type=Path, default=None, help="write all results to this JSON file")
    p.add_argument("--interleave", action="store_true",
                   help="time all tools in one process, one step of each per round (ratios within a round; "
                        "no checks, no time limit; peak memory in a fresh process where a workload asks)")
    p.add_argument("--rounds", type=int, default=21,
                   help="rounds of the interleaved mode (default 21, at least 1; slow workloads run fewer)")
    p.add_argument("--no-memory", action="store_true", help="interleaved mode: skip the peak-memory processes")


def _epilog() -> str:
    lines = ["workloads:"]
    for k, w in WORKLOADS.items():
        lines.append(f"  {k:3s} {w.title} [{w.input}; baseline {w.baseline}]")
    lines += ["", "rows (K: a thread count from --threads):"]
    lines.append("  difftda:SPEC[@T]  difftda forward + backward (T torch threads); SPEC: a backend on the")
    lines.append("                    Rips, cubical and lower-star workloads; hu, hu:V, bm on C2-C3;")
    lines.append("                    weak, alpha, rips on A1-A2")
    for prefix, kind in TOOL_KINDS.items():
        what = kind.title or f"{kind.package} ({kind.group})"
        lines.append(f"  {prefix + ('K' if kind.threaded else '1'):<17} {what} [{', '.join(kind.inputs)}]")
    lines += ["", f"groups: {', '.join(_GROUPS)}, or a row prefix"]
    return "\n".join(lines)


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments; prints the report, returns the exit code."""
    try:
        threads = [int(t) for t in str(args.threads).split(",") if t.strip()]
    except ValueError:
        print(f"benchmark: --threads must be comma-separated integers; got {args.threads!r}", file=sys.stderr)
        return 2
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    sizes, rounds = args.sizes, args.rounds
    if getattr(args, "quick", False):
        sizes, rounds = "smoke", min(rounds, 2)
    try:
        tools = [t.strip() for t in args.tools.split(",") if t.strip()]
        for t in tools:
            if t not in _GROUPS and t not in TOOL_KINDS:
                parse_tool(t)
        if args.interleave:
            res = run_interleaved(workloads, sizes, tools, threads, rounds,
                                  memory=not getattr(args, "no_memory", False))
        else:
            res = run_benchmark(workloads, sizes, tools, threads, args.time_limit, args.reps, not args.no_check)
    except ValueError as err:
        print(f"benchmark: {err}", file=sys.stderr)
        return 2
    print(format_report(res))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
        print(f"\nwrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python benchmarks/run.py``."""
    p = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0],
                                epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run_cli(p.parse_args(argv))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--worker", "--probe"):
        here = str(Path(__file__).resolve().parent)
        sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(here)]  # no shadowing by our modules
        sys.exit((_worker if sys.argv[1] == "--worker" else _probe)(json.loads(sys.argv[2])))
    sys.exit(main())
