"""The lower-star filtration of vertex values on a simplicial complex: graphs, meshes, signals.

Values are the vertex values ``f`` themselves; an engine returns critical *vertices*, which are the
positions of ``f``, so the gather reads ``f[index]`` by plain indexing and autograd does the rest.
A batch (a ``torch_geometric`` style ``batch`` vector) is paired as one disjoint union and split by
graph id.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._checks import check_cloud, check_maxdim
from ..backends import get_backend
from ..backends._lower_star import LowerStarEngine, LowerStarPairing
from ..diagrams import DiagramBatch, Diagrams
from ..gather import Bars, Values, gather, normalize

__all__ = ["lower_star_persistence", "LowerStarPersistence"]


def _check_values(f: object) -> torch.Tensor:
    f = check_cloud(f, "f")
    if f.dim() != 1:
        raise ValueError(
            f"f must be a 1-D tensor of vertex values (n,); got shape {tuple(f.shape)}. "
            "For features of several channels, reduce them to one value per vertex first"
        )
    if f.numel() == 0:
        raise ValueError("f is empty; the complex needs at least one vertex")
    return f


def _as_int_array(a: object, name: str) -> np.ndarray:
    """A numpy integer array from a numpy array, a tensor (any device) or a nested list."""
    if isinstance(a, torch.Tensor):
        if a.dtype.is_floating_point or a.dtype.is_complex or a.dtype == torch.bool:
            raise TypeError(f"{name} must hold integers (vertex numbers); got {a.dtype}. Use {name}.long()")
        return a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if arr.size == 0 and arr.dtype == np.float64:  # an empty list
            return arr.astype(np.int64)
        raise TypeError(f"{name} must hold integers (vertex numbers); got dtype {arr.dtype}. Use .astype(np.int64)")
    return arr


def _check_simplices(simplices: object, n: int) -> np.ndarray:
    s = _as_int_array(simplices, "simplices")
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(
            f"simplices must be a 2-D integer array (m, q), one simplex of q vertices per row (edges (m, 2), "
            f"triangles (m, 3)); got shape {s.shape}. A torch_geometric edge_index (2, E) is passed as edge_index.T"
        )
    if s.size:
        low, high = int(s.min()), int(s.max())
        if low < 0:
            raise ValueError(f"simplices has a negative vertex number ({low}); vertices are numbered 0 .. n-1")
        if high >= n:
            raise ValueError(f"simplices has vertex number {high}, but f has only n = {n} vertices (0 .. {n - 1})")
    s = s.astype(np.int64, copy=False)
    if s.shape[1] == 2:  # each row in increasing order (min/max: cheaper than a row sort)
        return np.stack([np.minimum(s[:, 0], s[:, 1]), np.maximum(s[:, 0], s[:, 1])], axis=1)
    return np.ascontiguousarray(np.sort(s, axis=1))


def _check_batch(batch: object, n: int, simplices: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``(graph id per vertex, first vertex of each graph, B)``."""
    b = _as_int_array(batch, "batch")
    if b.shape != (n,):
        raise ValueError(f"batch must be a 1-D array with one graph id per vertex, shape ({n},); got shape {b.shape}")
    b = b.astype(np.int64, copy=False)
    if b.min() < 0:
        raise ValueError(f"batch has a negative graph id ({int(b.min())}); graph ids are 0 .. B-1")
    if (b[1:] < b[:-1]).any():
        raise ValueError(
            "batch must be sorted (non-decreasing), with the vertices of each graph contiguous, as "
            "torch_geometric writes it; reorder the vertices (and renumber the simplices) by graph id"
        )
    B = int(b[-1]) + 1
    if len(simplices) and simplices.shape[1] > 1:
        g = b[simplices]
        if (g != g[:, :1]).any():
            row = int(np.flatnonzero((g != g[:, :1]).any(axis=1))[0])
            raise ValueError(
                f"simplices row {row} ({simplices[row].tolist()}) joins vertices of different graphs "
                f"({sorted(set(g[row].tolist()))}) in the batch; every simplex must lie in one graph"
            )
    start = np.searchsorted(b, np.arange(B))
    return b, start, B


def _engine(backend: str | LowerStarEngine, maxdim: int, graph: bool) -> LowerStarEngine:
    """The engine; ``"auto"`` takes the graph engine for graphs up to H1 and gudhi otherwise."""
    return get_backend(backend, maxdim=maxdim, filtration="lower_star", graph=graph)  # type: ignore[return-value]


def lower_star_persistence(
    f: torch.Tensor,
    simplices: np.ndarray | torch.Tensor,
    maxdim: int = 1,
    *,
    batch: np.ndarray | torch.Tensor | None = None,
    superlevel: bool = False,
    backend: str | LowerStarEngine = "auto",
) -> Diagrams | DiagramBatch:
    """Differentiable persistence diagrams of the lower-star filtration of vertex values.

    Every vertex ``0 .. n-1`` is in the complex (a vertex in no simplex is a component of its own),
    with the simplices given and all their faces. A simplex enters at the largest value of its
    vertices (``superlevel=True``: at the smallest, the filtration running from high to low values).

    Args:
        f: ``(n,)`` vertex values, float32 or float64, on any device; gradients flow into it.
        simplices: ``(m, q)`` integer array (numpy or torch), one simplex of ``q`` vertices per row:
            the edges ``(E, 2)`` of a graph, the triangles ``(T, 3)`` of a mesh, ... Faces are implied;
            a row that repeats a vertex is the simplex on its distinct vertices (a self-loop
            ``(i, i)`` is the vertex ``i``). A torch_geometric ``edge_index`` ``(2, E)`` is its
            transpose: pass ``edge_index.T``. May be empty, e.g. ``(0, 2)``.
        maxdim: the top homology dimension (0: components, 1: loops, 2: voids).
        batch: optional ``(n,)`` graph id per vertex, as torch_geometric writes a batch: ids
            ``0 .. B-1``, sorted (the vertices of each graph contiguous); no simplex may join two
            graphs. The batch is paired as one complex and split by graph; ``index`` is then local to
            each graph (a vertex's position among the vertices of its graph).
        superlevel: use the superlevel filtration (``f`` from high to low). Diagrams stay in the units
            of ``f``: a bar is born at the higher value, so ``birth >= death``.
        backend: ``"auto"`` (the ``graph`` engine for graphs with ``maxdim <= 1``, else ``"gudhi"``),
            ``"gudhi"`` (any complex), ``"graph"`` (graphs only, ``maxdim <= 1``), or an engine object.

    Returns:
        :class:`~difftda.diagrams.Diagrams` (``dgms[k]`` is H_k) on ``f``'s device and dtype, or with
        ``batch`` a :class:`~difftda.diagrams.DiagramBatch` with one entry per graph. ``index`` is
        ``(k, 2)`` ``[birth_vertex, death_vertex]`` with ``pairs == f[index]`` exactly (for a batch,
        vertex numbers within the graph), ``essential_index`` is ``(m, 1)``. Bars with
        ``death == birth`` are dropped. The homology is over Z/11Z for ``"gudhi"`` (gudhi's
        default; graphs and surfaces without torsion give the same bars over any field).

    Example:
        >>> import torch, difftda
        >>> f = torch.tensor([0.0, 2.0, 1.0, 3.0], requires_grad=True)
        >>> edges = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0]])  # a square: one loop
        >>> dgms = difftda.lower_star_persistence(f, edges, maxdim=1)
        >>> dgms[0].pairs.tolist(), dgms[0].index.tolist()
        ([[1.0, 2.0]], [[2, 1]])
        >>> dgms[1].essential.tolist()
        [3.0]
        >>> (dgms[0].pairs[:, 1] - dgms[0].pairs[:, 0]).sum().backward()
        >>> f.grad.tolist()
        [0.0, 1.0, -1.0, 0.0]
    """
    maxdim = check_maxdim(maxdim)
    if not isinstance(superlevel, bool):
        raise TypeError(f"superlevel must be True or False; got {superlevel!r}")
    f = _check_values(f)
    n = f.numel()
    s = _check_simplices(simplices, n)
    engine = _engine(backend, maxdim, s.shape[1] <= 2)
    if batch is None:
        gid, start, B = np.zeros(n, np.int64), np.zeros(1, np.int64), 1
    else:
        gid, start, B = _check_batch(batch, n, s)
    # One detached host copy, in float64 (exact for float32), oriented as the engine pairs it.
    host = f.detach().to("cpu", torch.float64).numpy()
    if superlevel:
        host = -host
    try:
        result = engine.pairing(host, s, maxdim=maxdim)
    except (RuntimeError, ValueError, TypeError) as err:
        raise RuntimeError(
            f"backend {str(engine)!r} failed on {n} vertices and {len(s)} simplices with maxdim={maxdim}: {err}"
        ) from err
    bars = normalize(host, vertex_bars(result, gid, start, B, maxdim, n))
    out = gather(Values(f), bars, B, maxdim)
    return out[0] if batch is None else out


def vertex_bars(result: LowerStarPairing, gid: np.ndarray, start: np.ndarray, B: int, maxdim: int, n: int) -> Bars:
    """Critical vertices of the disjoint union -> :class:`~difftda.gather.Bars`: positions are the
    vertex numbers (``f`` is the values), groups ``dim * B + graph``, ``index`` local to the graph."""
    fin = list(result.finite[: maxdim + 1])
    ess = list(result.essential[: maxdim + 1])
    if len(fin) != maxdim + 1 or len(ess) != maxdim + 1:
        raise RuntimeError(f"backend returned {len(fin)} dimensions, expected maxdim + 1 = {maxdim + 1}")
    fin_all = np.concatenate(fin).reshape(-1, 2)
    ess_all = np.concatenate(ess).reshape(-1)
    if fin_all.size and (fin_all.min() < 0 or fin_all.max() >= n) or ess_all.size and (
        ess_all.min() < 0 or ess_all.max() >= n
    ):
        raise RuntimeError("backend returned a vertex number outside 0 .. n-1")
    dims_f = np.repeat(np.arange(maxdim + 1), [len(a) for a in fin])
    dims_e = np.repeat(np.arange(maxdim + 1), [len(a) for a in ess])
    birth, death = fin_all[:, 0], fin_all[:, 1]
    if B == 1:
        return Bars(birth, death, dims_f, fin_all, ess_all, dims_e, ess_all[:, None])
    g_f, g_e = gid[birth], gid[ess_all]
    index = fin_all - start[g_f][:, None]
    return Bars(birth, death, dims_f * B + g_f, index, ess_all, dims_e * B + g_e, (ess_all - start[g_e])[:, None])


class LowerStarPersistence(nn.Module):
    """:func:`lower_star_persistence` as a module, its options fixed at construction.

    Example:
        >>> import torch, difftda
        >>> layer = difftda.LowerStarPersistence(maxdim=0)
        >>> f = torch.tensor([0.0, 3.0, 1.0])
        >>> layer(f, torch.tensor([[0, 1], [1, 2]]))[0].pairs.tolist()
        [[1.0, 3.0]]
    """

    def __init__(self, maxdim: int = 1, *, superlevel: bool = False, backend: str | LowerStarEngine = "auto") -> None:
        super().__init__()
        self.maxdim = check_maxdim(maxdim)
        self.superlevel = superlevel
        self.backend = backend
        if not isinstance(backend, str) or backend.strip().lower() != "auto":
            _engine(backend, self.maxdim, graph=True)  # fail early on an unknown engine

    def forward(
        self, f: torch.Tensor, simplices: np.ndarray | torch.Tensor, batch: np.ndarray | torch.Tensor | None = None
    ) -> Diagrams | DiagramBatch:
        return lower_star_persistence(
            f, simplices, self.maxdim, batch=batch, superlevel=self.superlevel, backend=self.backend
        )

    def extra_repr(self) -> str:
        return f"maxdim={self.maxdim}, superlevel={self.superlevel}, backend={str(self.backend)!r}"
