"""The difftda benchmark: difftda's backends side by side with the raw engines and the peer libraries.

    python benchmarks/run.py                                  # the full run (several minutes on 2 cores)
    python benchmarks/run.py --sizes small --workloads W1,W3 --json bench.json
    python benchmarks/run.py --interleave --rounds 21         # all tools in one process, paired ratios
    python benchmarks/run.py --help

This is a development tool; it is not installed with the package. Run it from a checkout with difftda
installed (``pip install -e '.[all]'``) and, for the peer rows, torch-topological and oineus.

Workloads (see :data:`WORKLOADS`):

- W1: ``randn(n, 2)``, loss = sum over finite H0 bars of ``|death - 2|``;
- W2: 80% noisy unit circle (sigma 0.1) plus 20% uniform points in ``[-1.5, 1.5]^2``, loss = H1 total
  persistence;
- W3: ``randn(32, 64, 16)``, the W1 loss summed over the 32 clouds (one step covers the whole batch);
- W4: ``randn(256, 128)``, loss = H0 total persistence + H1 total persistence.
- W5: ``randn(256, 32, 8)`` and ``randn(8, 1000, 3)``, the W1 loss summed over the clouds (batched H0
  as a training step sees it: many small clouds, or a few large ones).

All data is float32 with a fixed seed per (workload, size). Each (workload, tool) runs in its own
subprocess that goes through the sizes in increasing order, so that the peak RSS (``ru_maxrss``)
belongs to one tool and the parent can kill a call that runs past the time limit. One timed warm-up
call (plus an untimed one when it took under 1 s), then R timed repetitions with the garbage
collector off: R = max(7, min(31, ceil(0.5 s / t_first))) under 2 s, 3 up to 10 s, 1 above.

Tools (row keys):

- ``gph1`` / ``gphK``: raw giotto-ph pairing (``n_threads=K``, generators on) of the exact float32
  distance matrix (computed in float64 with scipy outside the timed region). ``gph1`` is the
  reference of every ratio of the point-cloud workloads.
- ``difftda:SPEC`` (``difftda:SPEC@T`` runs it with ``torch.set_num_threads(T)``, default 1; a
  ``n_threads=K`` option sets T = K unless ``@T`` is given): forward + backward of
  :func:`difftda.persistence` from float32 leaf points.
- ``tt1`` / ``ttK``: torch-topological's ``VietorisRipsComplex(dim=maxdim, n_threads=K)``.
- ``oin1`` / ``oinK``: ``oineus.diff.vr_filtration`` + ``persistence_diagram`` (points mode up to
  dimension 5, else from a differentiable ``torch.cdist`` matrix).
- ``pers1`` / ``persK``: persist0-tda's ``h0_persistence`` (H0 only) on ``torch.cdist`` of the points,
  K rayon threads (``RAYON_NUM_THREADS``, fixed once per process).

After timing, every tool's diagrams and gradient are compared with an independent reference: raw
giotto-ph (one thread) on the exact matrix, and the gradient of the loss written in closed form from
giotto-ph's critical edges (``d|x_i - x_j| / dx_i = (x_i - x_j) / |x_i - x_j|``) in numpy.

Adding a workload: write its data maker (``rng, shape -> float32 array``), its loss (``per_dim ->
scalar tensor``, where ``per_dim[k][b]`` is the ``(m, 2)`` finite pairs of H_k of cloud ``b``), and
optionally an independent reference (``x -> (diagrams, gradient)``), then add a :class:`Workload` to
:data:`WORKLOADS`. A workload on another kind of input (an image, a mesh) sets ``input`` and, if
``difftda.persistence`` needs more than ``maxdim`` and ``backend`` for it, ``difftda_call``.

Adding a tool: write ``forward(tool, workload, x)`` (differentiable: returns ``per_dim`` from the
leaf tensor ``x``) or ``raw(tool, workload, x_np)`` (returns ``(step, outputs)``), and add a
:class:`ToolKind` to :data:`TOOL_KINDS`; its rows are then ``<prefix>1``, ``<prefix>K`` and it joins
the ``peers`` and ``all`` groups on the workloads whose ``input`` it lists.
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
class Workload:
    """One benchmark workload: its data per size set, its loss, its reference and the rows it runs.

    Attributes:
        key: the name on the command line (``W1``).
        title: one line for the report.
        maxdim: the largest homology dimension the loss uses.
        sizes: ``"smoke"`` / ``"small"`` / ``"full"`` -> the data shapes, in increasing order.
        data: ``(rng, shape) -> float32 array``.
        loss: ``per_dim -> scalar tensor``.
        reference: ``x -> (diagrams, gradient)`` computed without difftda, or None (no checks).
        input: the kind of input (``"points"``); a tool kind runs a workload only if it lists its input.
        baseline: the row every ratio is taken against.
        difftda_call: ``(x, spec, maxdim) -> Diagrams or a batch of them``, for the ``difftda:SPEC`` rows.
    """

    key: str
    title: str
    maxdim: int
    sizes: dict[str, tuple[tuple[int, ...], ...]]
    data: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
    loss: Callable[[PerDim], Any]
    reference: Callable[[np.ndarray], Reference] | None = None
    input: str = "points"
    baseline: str = "gph1"
    difftda_call: Callable[[Any, str, int], Any] = _persistence_call

    def label(self, shape: tuple[int, ...]) -> str:
        return f"{shape[0]}x{shape[1]}" if len(shape) == 3 else f"n={shape[0]}"


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

    - ``raw(tool, workload, x_np) -> (step, outputs)``: ``step()`` is the timed call, ``outputs()``
      returns ``(per-cloud per-dim numpy diagrams, None)``; no gradient.
    - ``forward(tool, workload, x) -> f``: ``f()`` returns ``per_dim`` (tensors with a graph to the leaf
      ``x``); the harness adds the workload's loss and the backward pass.
    """

    prefix: str
    module: str  # the import name, to see whether it is installed
    package: str  # the distribution name: the "not installed" note and the versions line
    inputs: tuple[str, ...] = ("points",)
    max_maxdim: int | None = None
    raw: Callable[[Tool, Workload, np.ndarray], tuple[Callable[[], None], Callable[[], Any]]] | None = None
    forward: Callable[[Tool, Workload, Any], Callable[[], PerDim]] | None = None
    group: str = "peers"  # "peers", or "gph" for the reference engine


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


def _tt_forward(tool: Tool, workload: Workload, x):
    from torch_topological.nn import VietorisRipsComplex

    md = workload.maxdim
    vr = VietorisRipsComplex(dim=md, n_threads=tool.threads)

    def forward():
        out = vr(x)
        out = out if x.ndim == 3 else [out]
        return [[o[k].diagram for o in out] for k in range(md + 1)]

    return forward


def _oin_forward(tool: Tool, workload: Workload, x):
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


def _p0_forward(tool: Tool, workload: Workload, x):
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


#: Every tool kind other than difftda, by row prefix.
TOOL_KINDS: dict[str, ToolKind] = {
    "gph": ToolKind("gph", "gph", "giotto-ph", raw=_gph_raw, group="gph"),
    "tt": ToolKind("tt", "torch_topological", "torch-topological", forward=_tt_forward),
    "oin": ToolKind("oin", "oineus", "oineus", forward=_oin_forward),
    "pers": ToolKind("pers", "persist0", "persist0-tda", max_maxdim=0, forward=_p0_forward),
}

_GROUPS = ("all", "gph", "difftda", "peers")


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


def default_tools(threads: list[int], group: str = "all") -> list[str]:
    """The row keys of a tool group for the thread counts ``threads`` (1 is always included).

    Groups: ``all``, ``difftda``, ``peers`` (every kind in the peers group), ``gph``, or a kind's prefix.

    Example:
        >>> default_tools([2], "gph")
        ['gph1', 'gph2']
    """
    ks = [1] + sorted({k for k in threads if k > 1})
    out: list[str] = []
    for prefix, kind in TOOL_KINDS.items():
        if kind.group == "gph" and group in ("all", "gph", prefix):
            out += [f"{prefix}{k}" for k in ks]
    if group in ("all", "difftda"):
        names = [n for n, _ in _difftda_backends()]
        out += ["difftda:auto"] + [f"difftda:{n}" for n in names]
        if "giotto" in names:
            out += [f"difftda:giotto:n_threads={k}" for k in ks if k > 1]
    for prefix, kind in TOOL_KINDS.items():
        if kind.group == "peers" and group in ("all", "peers", prefix):
            out += [f"{prefix}{k}" for k in ks]
    return out


def expand_tools(spec: str, threads: list[int]) -> list[str]:
    out: list[str] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        keys = default_tools(threads, item) if item in _GROUPS or item in TOOL_KINDS else [item]
        for k in keys:
            parse_tool(k)
            if k not in out:
                out.append(k)
    return out


def _tool_unavailable(tool: Tool, workload: Workload) -> str | None:
    """Why ``tool`` cannot run ``workload`` here, or None."""
    if tool.kind == "difftda":
        if importlib.util.find_spec("difftda") is None:
            return "difftda is not installed"
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


def _make_step(tool: Tool, workload: Workload, x_np: np.ndarray):
    """``(step, outputs)``: one timed step, and the last step's (diagrams, gradient) as numpy."""
    md = workload.maxdim
    if tool.raw:
        return TOOL_KINDS[tool.kind].raw(tool, workload, x_np)

    import torch

    torch.set_num_threads(tool.threads)
    x = torch.tensor(x_np, requires_grad=True)
    state: dict[str, Any] = {}
    if tool.kind == "difftda":
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
        forward = TOOL_KINDS[tool.kind].forward(tool, workload, x)

    def step():
        x.grad = None
        per_dim = forward()
        workload.loss(per_dim).backward()
        state["per_dim"] = per_dim

    def outputs():
        per_dim = state["per_cloud"]() if "per_cloud" in state else state["per_dim"]
        n_clouds = len(per_dim[0])
        dg = [[per_dim[k][b].detach().cpu().double().numpy() for k in range(md + 1)] for b in range(n_clouds)]
        return dg, x.grad.detach().cpu().double().numpy()

    return step, outputs


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
    tiny = (2, 8, shapes[0][-1]) if len(shapes[0]) == 3 else (8, shapes[0][-1])
    try:
        _make_step(tool, workload, make_data(workload.key, tiny))[0]()
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
                      for b in range(len(dg)) for k in range(workload.maxdim + 1)}
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
            if k == 0:
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
    keys = tools if tools is not None else default_tools(threads)
    parsed = [parse_tool(k) for k in keys]
    for base in dict.fromkeys(WORKLOADS[w].baseline for w in workloads):  # the references of the ratios
        if not any(t.key == base for t in parsed):
            parsed.insert(0, parse_tool(base))
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
            for tool in parsed:
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
                    ref = reference(w, s)
                    for c in cells:
                        if c.workload == wk and c.size == w.label(s) and c.status == "ok":
                            got = dict(np.load(c.check["out"]))
                            c.check.update(compare(ref, got, w.maxdim, not parse_tool(c.tool).raw))
            for c in cells:
                c.check.pop("out", None)
    settings = {"time_limit_s": time_limit, "reps": reps or "adaptive"}
    return _result(t_start, load_start, workloads, sizes, threads, parsed, settings) | {
        "notes": notes,
        "cells": [vars(c) | {"median_ms": c.median} for c in cells],
    }


def run_interleaved(workloads: list[str], sizes: str = "full", tools: list[str] | None = None,
                    threads: list[int] | None = None, rounds: int = 21, slow_s: float = 1.0,
                    log=None) -> dict[str, Any]:
    """Time the tools in one process, one step of each in turn, round after round.

    The per-process mode gives each tool its own memory peak but times the tools minutes apart, so a
    change of load on a shared machine lands on some rows and not on others. Here every round runs
    one step of every tool back to back (in a new random order each round), so a ratio to ``gph1`` is taken
    within a round, and the reported ratio is the median over the rounds: slow drifts of the load
    cancel out. No memory column (the tools share the process) and no time limit: a tool whose
    warm-up step takes longer than ``slow_s`` seconds is left out with a note.

    Returns a dict like :func:`run_benchmark`'s, with ``"mode": "interleaved"``; each cell has the
    per-round times and ``ratio`` (the median of the per-round ratios to ``gph1``).
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
    keys = tools if tools is not None else default_tools(threads)
    parsed = [parse_tool(k) for k in keys]
    for base in dict.fromkeys(WORKLOADS[w].baseline for w in workloads):
        if not any(t.key == base for t in parsed):
            parsed.insert(0, parse_tool(base))
    notes: list[str] = []
    cells: list[dict[str, Any]] = []
    t_start = time.time()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    for wk in workloads:
        w = WORKLOADS[wk]
        log(f"{wk}: {w.title}")
        for shape in w.sizes[sizes]:
            label = w.label(shape)
            x = make_data(wk, shape)
            steps: dict[str, tuple[Tool, Any]] = {}
            for tool in parsed:
                why = _tool_unavailable(tool, w)
                if why is None:
                    torch.set_num_threads(tool.threads)
                    try:
                        step = _make_step(tool, w, x)[0]
                        step()  # the first call also pays for lazy imports: not timed
                        t0 = time.perf_counter()
                        step()
                        if time.perf_counter() - t0 > slow_s:
                            why = f"a step takes over {slow_s:g} s: left out of the interleaved rounds"
                        else:
                            steps[tool.key] = (tool, step)
                    except Exception as err:  # noqa: BLE001 - the row is left out, the others go on
                        why = f"error: {type(err).__name__}: {err}"[:300]
                if why is not None:
                    note = f"{tool.key} skipped for {wk} {label}: {why}"
                    notes.append(note)
                    log(f"  {note}")
            times: dict[str, list[float]] = {k: [] for k in steps}
            order = list(steps)
            rng = np.random.default_rng(0)
            if not order:
                continue
            gc.collect()
            gc.disable()
            try:
                for _ in range(rounds):
                    # A fresh order every round: each tool follows every other one about equally
                    # often (a step after a two-thread tool can run slower while its threads wind down).
                    for k in rng.permutation(order):
                        tool, step = steps[k]
                        torch.set_num_threads(tool.threads)
                        t0 = time.perf_counter()
                        step()
                        times[k].append((time.perf_counter() - t0) * 1e3)
            finally:
                gc.enable()
            ref = times.get(w.baseline)
            for k, t in times.items():
                ratio = float(np.median(np.asarray(t) / np.asarray(ref))) if ref else None
                cells.append({"workload": wk, "tool": k, "size": label, "status": "ok", "times_ms": t,
                              "median_ms": float(np.median(t)), "ratio": ratio})
                log(f"  {wk} {k:>32} {label:>8}: {np.median(t):9.3f} ms" + (f"  {ratio:.3f}x" if ratio else ""))
    return _result(t_start, load_start, workloads, sizes, threads, parsed, {"rounds": rounds}) | {
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
        "machine": _machine() | {"loadavg_start": load_start,
                                 "loadavg_end": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "versions": _versions(),
        "settings": {"workloads": workloads, "sizes": sizes, "threads": threads, **settings,
                     "tools": [t.key for t in parsed]},
        "auto": _auto_backends(workloads),
    }


def _auto_backends(workloads: list[str]) -> dict[str, str]:
    try:
        import difftda

        # The row that runs backend="auto" itself; the spec it resolves to is shown in the summary.
        return {w: str(difftda.get_backend("auto", maxdim=WORKLOADS[w].maxdim)) for w in workloads}
    except Exception:  # noqa: BLE001 - no difftda backend installed: the summary says so
        return {}


def _fmt(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def format_report(res: dict[str, Any]) -> str:
    """The Markdown tables of a :func:`run_benchmark` result: time, ratio to gph1, memory, checks."""
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
        lines.append(f"- sizes={s['sizes']}, threads={s['threads']}, interleaved in one process, {s['rounds']} rounds")
        lines.append("")
        lines.append("Cells: median [min-max] ms per step over the rounds, then the median over the rounds of the"
                     " ratio to the workload's baseline row (gph1: raw giotto-ph, 1 thread, pairing only) timed in"
                     " the same round.")
    else:
        lines.append(f"- sizes={s['sizes']}, threads={s['threads']}, time limit {s['time_limit_s']} s,"
                     f" reps: {s['reps']}")
        lines.append("")
        lines.append("Cells: median [min-max] ms per step, then the ratio to the workload's baseline row (gph1:"
                     " raw giotto-ph, 1 thread, pairing only) in the same run. (n=R): fewer than 7 repetitions."
                     " !: diagram or gradient differs from the reference (see the checks).")
    for wk in s["workloads"]:
        w = WORKLOADS[wk]
        labels = [w.label(sh) for sh in w.sizes[s["sizes"]]]
        rows: dict[str, dict[str, dict]] = {}
        for c in cells:
            if c["workload"] == wk:
                rows.setdefault(c["tool"], {})[c["size"]] = c
        ref = {lb: rows.get(w.baseline, {}).get(lb, {}).get("median_ms") for lb in labels}
        mem_col = [] if interleaved else ["peak RSS (increase)"]
        lines += ["", f"### {wk}: {w.title} (baseline {w.baseline})", "",
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
                    out.append({"timeout": c["note"], "skipped": "skipped", "error": "error"}[c["status"]])
                    continue
                t = c["times_ms"]
                cell = f"{_fmt(c['median_ms'])} [{_fmt(min(t))}-{_fmt(max(t))}]"
                ratio = c.get("ratio") or (c["median_ms"] / ref[lb] if ref[lb] else None)
                if ratio:
                    cell += f" **{ratio:.2f}x**"
                if len(t) < 7:
                    cell += f" (n={len(t)})"
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
    checked = [c for c in cells if c["status"] == "ok" and c.get("check")]
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
    for c in errors:
        lines.append(f"- error: {c['workload']} {c['tool']} {c['size']}: {c['note']}")
    if res["notes"]:
        lines += ["", "### Notes", ""] + [f"- {n}" for n in res["notes"]]
    lines += ["", "### Summary: difftda:auto against every other row at the largest size", ""]
    for wk in s["workloads"]:
        w = WORKLOADS[wk]
        size = w.label(w.sizes[s["sizes"]][-1])
        get = {c["tool"]: c for c in cells if c["workload"] == wk and c["size"] == size and c["status"] == "ok"}
        mine = get.get("difftda:auto")
        if mine is None:
            lines.append(f"- {wk} {size}: difftda:auto not measured")
            continue
        parts = []
        for tool, c in get.items():
            if tool == "difftda:auto":
                continue
            if interleaved:
                r = float(np.median(np.asarray(mine["times_ms"]) / np.asarray(c["times_ms"])))
            else:
                r = mine["median_ms"] / c["median_ms"]
            parts.append(f"{tool} {r:.2f}x")
        auto = res.get("auto", {}).get(wk, "?")
        lines.append(f"- {wk} {size}, difftda:auto ({auto}), time relative to: " + (", ".join(parts) or "no other row"))
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command-line options of ``python benchmarks/run.py``."""
    keys = ",".join(WORKLOADS)
    p.add_argument("--workloads", default=keys, help=f"comma-separated, from {keys} (default all)")
    p.add_argument("--sizes", default="full", choices=["smoke", "small", "full"],
                   help="full: every size; small: without the largest; smoke: tiny, for the tests")
    p.add_argument("--threads", default="2",
                   help="thread counts of the multithreaded rows, comma-separated (default 2; 1: none)")
    kinds = ", ".join(f"{k}K" for k in TOOL_KINDS)
    p.add_argument("--tools", default="all",
                   help=f"comma-separated row keys or groups: {kinds} (K threads), difftda:SPEC[@T]; groups "
                        f"{', '.join(_GROUPS[1:] + tuple(TOOL_KINDS))}, all (default all)")
    p.add_argument("--time-limit", type=float, default=30.0,
                   help="seconds the first call at a size may take before it is killed (default 30)")
    p.add_argument("--reps", type=int, default=None, help="fixed number of timed repetitions (default: adaptive)")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with the reference")
    p.add_argument("--json", type=Path, default=None, help="write all results to this JSON file")
    p.add_argument("--interleave", action="store_true",
                   help="time all tools in one process, one step of each per round (ratios within a round; "
                        "no memory, no checks, no time limit)")
    p.add_argument("--rounds", type=int, default=21, help="rounds of the interleaved mode (default 21, at least 1)")


def run_cli(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments; prints the report, returns the exit code."""
    try:
        threads = [int(t) for t in str(args.threads).split(",") if t.strip()]
    except ValueError:
        print(f"benchmark: --threads must be comma-separated integers; got {args.threads!r}", file=sys.stderr)
        return 2
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    try:
        tools = expand_tools(args.tools, threads)
        if args.interleave:
            res = run_interleaved(workloads, args.sizes, tools, threads, args.rounds)
        else:
            res = run_benchmark(workloads, args.sizes, tools, threads, args.time_limit, args.reps, not args.no_check)
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
    p = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run_cli(p.parse_args(argv))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        here = str(Path(__file__).resolve().parent)
        sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(here)]  # no shadowing by our modules
        sys.exit(_worker(json.loads(sys.argv[2])))
    sys.exit(main())
