"""Alpha, Delaunay-Cech and weak alpha persistence of 2-D and 3-D point clouds.

All three live on the Delaunay triangulation, so they stay small (O(n) simplices) where the
Vietoris-Rips complex explodes: they reach 10^5 points and more, with H1 (and H2 in 3-D).

An engine pairs a detached float64 copy of each cloud and returns, for every bar, the simplex that
*defines* its birth and its death value. The values are then recomputed in torch from the points
(:class:`Circumradii`): the circumradius of that simplex (alpha, Delaunay-Cech) or the length of
that edge (weak alpha). Gradients reach only the few points of those simplices.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .._checks import check_cloud, check_cloud_list, check_maxdim
from ..backends import get_backend
from ..backends._alpha import KINDS, AlphaEngine, AlphaPairing
from ..diagrams import DiagramBatch, Diagrams
from ..gather import Bars, Values, gather, normalize

__all__ = ["alpha_persistence", "AlphaPersistence", "Circumradii", "circumradius"]


def _check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    return str(kind)


def _engine(backend: str | AlphaEngine, kind: str, maxdim: int) -> AlphaEngine:
    """The engine for ``kind``: ``"auto"`` takes giotto-ph for weak alpha when it is installed, else gudhi."""
    return get_backend(backend, maxdim=maxdim, filtration="alpha", kind=kind)  # type: ignore[return-value]


def _as_points(x: object) -> tuple[torch.Tensor, list[int], bool]:
    """``(padded (B, N, D), sizes, single)`` from one cloud, a batch tensor or a list of clouds."""
    hint = "alpha_persistence takes 2-D or 3-D points; for other dimensions use difftda.persistence() (Rips)"
    if isinstance(x, (list, tuple)):
        clouds = check_cloud_list(x)
        sizes = [c.shape[0] for c in clouds]
        points = nn.utils.rnn.pad_sequence(clouds, batch_first=True) if len(set(sizes)) > 1 else torch.stack(clouds)
        single = False
    else:
        points = check_cloud(x)
        if points.dim() == 2:
            points, single = points.unsqueeze(0), True
        elif points.dim() == 3:
            if points.shape[0] == 0:
                raise ValueError("x is an empty batch (B = 0); pass at least one point cloud")
            single = False
        else:
            raise ValueError(f"x must be points (n, D), a batch (B, n, D) or a list of clouds; got shape "
                             f"{tuple(points.shape)}")
        sizes = [points.shape[1]] * points.shape[0]
    if points.shape[-1] not in (2, 3):
        raise ValueError(f"x has points in dimension {points.shape[-1]}; {hint}")
    if min(sizes) == 0:
        raise ValueError("x has a cloud with no points; alpha persistence needs at least one point")
    return points, sizes, single


def alpha_persistence(
    x: torch.Tensor | list[torch.Tensor],
    maxdim: int = 1,
    *,
    kind: str = "alpha",
    squared: bool = False,
    backend: str | AlphaEngine = "auto",
) -> Diagrams | DiagramBatch:
    """Differentiable persistence diagrams of the alpha, Delaunay-Cech or weak alpha filtration.

    Args:
        x: points ``(n, 2)`` or ``(n, 3)``; a batch ``(B, n, D)`` or a list of clouds of different
            sizes gives a :class:`~difftda.DiagramBatch` (one gather for the whole batch).
        maxdim: the top homology dimension (H_k for k >= D is empty for alpha and Delaunay-Cech).
        kind: ``"alpha"``: the alpha complex; a value is the radius of the smallest empty sphere
            through a simplex (gudhi's ``AlphaComplex``). ``"cech"``: the Delaunay-Cech complex;
            a value is the radius of the minimal enclosing ball of a Delaunay simplex (gudhi's
            ``DelaunayCechComplex``). ``"weak"``: the Vietoris-Rips filtration restricted to the
            Delaunay graph; values are edge lengths, so H0 equals the Rips H0 of the cloud.
        squared: return squared values: gudhi's default (``output_squared_values=True``) for
            ``"alpha"`` and ``"cech"``; squared lengths for ``"weak"``.
        backend: ``"auto"`` (giotto-ph for weak alpha when installed, else gudhi), ``"gudhi"``
            (every kind), ``"giotto"`` (weak alpha only), a spec such as ``"gudhi:precision=exact"``
            or an engine object.

    Returns:
        :class:`~difftda.Diagrams` on x's device and dtype (a :class:`~difftda.DiagramBatch` for a
        batch). H0 bars are born at 0. ``Diagram.index`` is ``(k, 2 * (D + 1))``: the vertices of
        the simplex that defines the birth value, padded with -1, then those of the simplex that
        defines the death value; ``essential_index`` is ``(m, D + 1)``. An H0 birth is its vertex
        ``[v, -1, ...]``; a defining simplex can be a coface of the critical simplex (alpha: a
        simplex attached to a coface takes its value) or a face (Cech: the face whose circumball is
        the minimal enclosing ball). Bars with ``death == birth`` are dropped.

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(200, 2, requires_grad=True)
        >>> dgms = difftda.alpha_persistence(x, maxdim=1)
        >>> loss = (dgms[1].pairs[:, 1] - dgms[1].pairs[:, 0]).sum()
        >>> loss.backward()
        >>> dgms[1].index.shape[1], x.grad.shape
        (6, torch.Size([200, 2]))
    """
    maxdim = check_maxdim(maxdim)
    kind = _check_kind(kind)
    if not isinstance(squared, bool):
        raise TypeError(f"squared must be True or False; got {squared!r}")
    engine = _engine(backend, kind, maxdim)
    points, sizes, single = _as_points(x)
    B, N, D = points.shape
    host = points.detach().to("cpu", torch.float64).numpy()
    # Radii are products of up to 8 coordinates: far from 1 they overflow or underflow. Every value
    # scales with the cloud, so the engine pairs, and the reader computes, on the cloud times a power
    # of two that brings its largest coordinate near 1 (exact), and the values are scaled back.
    top = float(np.abs(host).max()) if host.size else 0.0
    exponent = -math.frexp(top)[1] if top > 0 else 0
    if exponent:
        host = np.ldexp(host, exponent)
    pairings = []
    for b, n in enumerate(sizes):
        cloud = np.ascontiguousarray(host[b, :n])
        if n == 1:
            pairings.append(_one_point(D))
            continue
        try:
            pairings.append(engine.pairing(cloud, maxdim=maxdim, kind=kind))
        except (RuntimeError, ValueError, TypeError) as err:
            raise RuntimeError(
                f"backend {str(engine)!r} failed on a cloud of {n} points (kind={kind!r}): {err}"
            ) from err
    bars, table, values = _bars(pairings, B, N, maxdim)
    bars = normalize(values, bars)
    reader = Circumradii(points, torch.from_numpy(table).to(points.device), kind=kind, squared=squared,
                         exponent=exponent)
    out = gather(reader, bars, B, maxdim)
    return out[0] if single else out


def _one_point(D: int) -> AlphaPairing:
    table = np.full((1, D + 1), -1, np.int64)
    table[0, 0] = 0
    e = np.zeros(0, np.int64)
    return AlphaPairing(table, np.zeros(1), np.zeros((0, 2), np.int64), e, np.zeros(1, np.int64), np.zeros(1, np.int64))


def _bars(pairings: list[AlphaPairing], B: int, N: int, maxdim: int) -> tuple[Bars, np.ndarray, np.ndarray]:
    """Concatenate per-cloud pairings: positions are rows of the batch's table of defining simplices
    (vertex rows read as the constant 0, position -1)."""
    rows = np.array([len(p.table) for p in pairings], np.int64)
    offset = np.cumsum(rows) - rows
    item_f = np.repeat(np.arange(B), [len(p.finite) for p in pairings])
    item_e = np.repeat(np.arange(B), [len(p.essential) for p in pairings])
    local = np.concatenate([p.table for p in pairings])
    values = np.concatenate([p.values for p in pairings]).astype(np.float64)
    item_row = np.repeat(np.arange(B), rows)
    table = np.where(local >= 0, local + item_row[:, None] * N, -1)
    vertex = (local >= 0).sum(1) <= 1
    fin = np.concatenate([p.finite for p in pairings]).reshape(-1, 2) + offset[item_f][:, None]
    ess = np.concatenate([p.essential for p in pairings]) + offset[item_e]
    fdim = np.concatenate([p.finite_dim for p in pairings]).astype(np.int64)
    edim = np.concatenate([p.essential_dim for p in pairings]).astype(np.int64)
    if (fdim > maxdim).any() or (edim > maxdim).any() or (local >= N).any():
        raise RuntimeError("backend returned a dimension above maxdim or a vertex outside the cloud")
    birth = np.where(vertex[fin[:, 0]], -1, fin[:, 0])
    ess_birth = np.where(vertex[ess], -1, ess)
    index = np.concatenate([local[fin[:, 0]], local[fin[:, 1]]], axis=1)
    bars = Bars(birth, fin[:, 1], fdim * B + item_f, index, ess_birth, edim * B + item_e, local[ess])
    return bars, table, values


def circumradius(points: torch.Tensor, simplices: torch.Tensor, *, squared: bool = False) -> torch.Tensor:
    """Circumradius of simplices given by vertex ids, differentiable in ``points``.

    Closed forms for edges, triangles (2-D and 3-D) and tetrahedra (3-D); a row with one vertex
    (or only -1 padding after its first vertex) is a vertex, radius 0. Degenerate simplices
    (collinear triangles, flat tetrahedra, zero-length edges) give finite values and gradients.

    Args:
        points: ``(n, D)`` points, D = 2 or 3.
        simplices: ``(m, k)`` int64 vertex ids, padded with -1, k <= D + 1.
        squared: return squared radii.

    Example:
        >>> import torch
        >>> from difftda.filtrations.alpha import circumradius
        >>> pts = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
        >>> circumradius(pts, torch.tensor([[0, 1, -1], [0, 1, 2]])).tolist()
        [1.0, 1.4142135381698608]
    """
    size = (simplices >= 0).sum(1)
    v = points[simplices.clamp_min(0)]  # (m, k, D)
    k, D = v.shape[1], v.shape[2]
    zero = v.new_zeros(())
    if k < 2:
        r2 = v.new_zeros(len(v))
    else:
        a = v[:, 1] - v[:, 0]
        aa = (a * a).sum(-1)
        r2 = torch.where(size >= 2, aa / 4, zero)  # a vertex row (one id, then -1) has radius 0
    if k >= 3:
        b = v[:, 2] - v[:, 0]
        c = a - b
        bb, cc = (b * b).sum(-1), (c * c).sum(-1)
        if D == 2:
            cross2 = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]) ** 2
        else:
            cross2 = (torch.linalg.cross(a, b) ** 2).sum(-1)
        ok = (size == 3) & (cross2 > 0)
        tri = aa * bb * cc / torch.where(ok, 4 * cross2, torch.ones_like(cross2))
        r2 = torch.where(size == 3, torch.where(ok, tri, zero), r2)
    if k >= 4 and D == 3:
        c3 = v[:, 3] - v[:, 0]
        bxc, cxa, axb = torch.linalg.cross(b, c3), torch.linalg.cross(c3, a), torch.linalg.cross(a, b)
        det = (a * bxc).sum(-1)
        ok = (size == 4) & (det != 0)
        num = aa[:, None] * bxc + bb[:, None] * cxa + (c3 * c3).sum(-1)[:, None] * axb
        off = num / (2 * torch.where(ok, det, torch.ones_like(det)))[:, None]
        r2 = torch.where(size == 4, torch.where(ok, (off * off).sum(-1), zero), r2)
    if squared:
        return r2
    pos = r2 > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, r2, torch.ones_like(r2))), zero)


class Circumradii(Values):
    """Alpha-type values from points: the value at position ``r`` is the circumradius (alpha,
    Cech) or the length (weak alpha) of row ``r`` of a table of simplices, recomputed in torch.

    Args:
        points: ``(B, N, D)`` padded points (the table's vertex ids are rows of ``points.reshape(-1, D)``).
        table: ``(R, D + 1)`` int64 vertex rows, padded with -1, on the points' device.
        kind: ``"alpha"``, ``"cech"`` (circumradius) or ``"weak"`` (edge length).
        squared: square the values.
        exponent: compute on ``points * 2**exponent`` and scale the values back (exact), so that
            radii of clouds far from unit scale neither overflow nor underflow.
    """

    def __init__(self, points: torch.Tensor, table: torch.Tensor, *, kind: str = "alpha", squared: bool = False,
                 exponent: int = 0):
        super().__init__(points.reshape(-1, points.shape[-1]))
        self.table, self.kind, self.squared, self.exponent = table, kind, squared, exponent

    def read(self, positions: torch.Tensor) -> torch.Tensor:
        simp = self.table[positions]
        flat = _times_pow2(self.flat, self.exponent)
        back = -self.exponent * (2 if self.squared else 1)
        if self.kind != "weak":
            return _times_pow2(circumradius(flat, simp, squared=self.squared), back)
        # Weak alpha: the length of the edge (twice its circumradius).
        r2 = circumradius(flat, simp[:, :2], squared=True)
        if self.squared:
            return _times_pow2(4 * r2, back)
        pos = r2 > 0
        length = torch.where(pos, 2 * torch.sqrt(torch.where(pos, r2, torch.ones_like(r2))), r2.new_zeros(()))
        return _times_pow2(length, back)


def _times_pow2(t: torch.Tensor, exponent: int) -> torch.Tensor:
    """``t * 2**exponent``, exact, in steps that a float32 scalar can hold."""
    while exponent:
        step = max(-100, min(100, exponent))
        t = t * 2.0**step
        exponent -= step
    return t


class AlphaPersistence(nn.Module):
    """:func:`alpha_persistence` as a module, its arguments fixed at construction.

    Example:
        >>> import torch, difftda
        >>> layer = difftda.AlphaPersistence(maxdim=1, kind="weak")
        >>> layer(torch.randn(30, 2))[0].pairs.shape
        torch.Size([29, 2])
    """

    def __init__(self, maxdim: int = 1, *, kind: str = "alpha", squared: bool = False,
                 backend: str | AlphaEngine = "auto") -> None:
        super().__init__()
        self.maxdim = check_maxdim(maxdim)
        self.kind = _check_kind(kind)
        if not isinstance(squared, bool):
            raise TypeError(f"squared must be True or False; got {squared!r}")
        self.squared = squared
        self.backend = _engine(backend, self.kind, self.maxdim)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> Diagrams | DiagramBatch:
        return alpha_persistence(x, self.maxdim, kind=self.kind, squared=self.squared, backend=self.backend)

    def extra_repr(self) -> str:
        return f"maxdim={self.maxdim}, kind={self.kind!r}, squared={self.squared}, backend={str(self.backend)!r}"
