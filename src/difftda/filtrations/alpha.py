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

from .. import _jit
from .._checks import check_cloud, check_cloud_list, check_maxdim
from ..backends import get_backend
from ..backends._alpha import KINDS, AlphaEngine, AlphaPairing
from ..diagrams import DiagramBatch, Diagrams
from ..gather import Bars, Values, gather, normalize, place, unplace

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
    if B == 1:  # one cloud: its own arrays, no copies
        p = pairings[0]
        local, values, fin, ess = p.table, p.values, p.finite, p.essential
        fdim, edim = p.finite_dim.astype(np.int64, copy=False), p.essential_dim.astype(np.int64, copy=False)
        group, ess_group = fdim, edim
        table = local
    else:
        rows = np.array([len(p.table) for p in pairings], np.int64)
        offset = np.cumsum(rows) - rows
        item_f = np.repeat(np.arange(B), [len(p.finite) for p in pairings])
        item_e = np.repeat(np.arange(B), [len(p.essential) for p in pairings])
        local = np.concatenate([p.table for p in pairings])
        values = np.concatenate([p.values for p in pairings])
        table = np.where(local >= 0, local + np.repeat(np.arange(B) * N, rows)[:, None], -1)
        fin = np.concatenate([p.finite for p in pairings]).reshape(-1, 2) + offset[item_f][:, None]
        ess = np.concatenate([p.essential for p in pairings]) + offset[item_e]
        fdim = np.concatenate([p.finite_dim for p in pairings]).astype(np.int64)
        edim = np.concatenate([p.essential_dim for p in pairings]).astype(np.int64)
        group, ess_group = fdim * B + item_f, edim * B + item_e
    values = values.astype(np.float64, copy=False)
    if fdim.max(initial=0) > maxdim or edim.max(initial=0) > maxdim or local.max(initial=0) >= N:
        raise RuntimeError("backend returned a dimension above maxdim or a vertex outside the cloud")
    vertex = local[:, 1] < 0  # rows are padded at the end: one vertex, value 0
    fb, fd = fin[:, 0], fin[:, 1]
    birth = np.where(vertex[fb], -1, fb)
    ess_birth = np.where(vertex[ess], -1, ess)
    index = np.concatenate([local[fb], local[fd]], axis=1)
    bars = Bars(birth, fd, group, index, ess_birth, ess_group, local[ess])
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

    :meth:`bars` reads and places every value of the batch in one autograd node whose backward
    applies the closed-form derivative of each radius (one ``index_add`` into the points); it
    supports double backward and forward-mode AD. :meth:`read` is the plain differentiable formula.

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

    def bars(
        self, positions: torch.Tensor, pair_pos: torch.Tensor, ess_pos: torch.Tensor, extra: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        simp = self.table.index_select(0, positions)
        if self.kind == "weak":
            simp = simp[:, :2]
        return _RadiusBars.apply(self.flat, simp, pair_pos, ess_pos, self)

    def values_and_slopes(self, flat: torch.Tensor, simp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(values (m,), slopes (m, k, D))``: the value of each row of ``simp`` and its derivative
        in each vertex of the row (zero for -1 padding): a compiled kernel on the CPU when numba is
        there and no graph is recorded, else differentiable torch operations."""
        deg = 2 if self.squared else 1
        factor = 2.0**deg if self.kind == "weak" else 1.0  # the length is twice the circumradius
        if flat.device.type == "cpu" and not torch.is_grad_enabled() and _jit.enabled():
            value, slope = flat.new_zeros(len(simp)), flat.new_zeros(*simp.shape, flat.shape[1])
            x = _times_pow2(flat.detach(), self.exponent).contiguous()
            _radius_kernel(x.numpy(), simp.contiguous().numpy(), self.squared, factor, value.numpy(), slope.numpy())
        else:
            value, slope = _radius_and_slope(_times_pow2(flat, self.exponent), simp, squared=self.squared)
            if factor != 1.0:
                value, slope = value * factor, slope * factor
        # A value of degree ``deg`` in the points: its derivative has degree ``deg - 1``.
        return _times_pow2(value, -self.exponent * deg), _times_pow2(slope, -self.exponent * (deg - 1))


def _radius_and_slope(x: torch.Tensor, simp: torch.Tensor, *, squared: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Circumradius (or its square) of each row of ``simp`` and its derivative in each vertex.

    Edges: ``r^2 = |a|^2 / 4``. Triangles: ``r^2 = |a|^2 |b|^2 |a - b|^2 / (4 |a x b|^2)`` (the formula
    of :func:`circumradius`) and its derivative, with ``|a x b|^2`` differentiated through the cross
    product (accurate for thin triangles). Tetrahedra: with the circumcenter ``o = sum_i lam_i p_i``
    (barycentric), the derivative in vertex ``p_i`` is ``2 lam_i (p_i - o)``. Vertex rows, zero-length
    edges and flat simplices have value 0 and derivative 0 (as :func:`circumradius`).
    """
    m, k = simp.shape
    D = x.shape[1]
    if k < 2:
        return x.new_zeros(m), x.new_zeros(m, k, D)
    size = (simp >= 0).sum(1)
    v = x[simp.clamp_min(0)]  # (m, k, D)
    zero = x.new_zeros(())
    a = v[:, 1] - v[:, 0]
    aa = (a * a).sum(-1)
    edge = size == 2
    r2 = torch.where(edge, aa / 4, zero)
    pad = [x.new_zeros(m, D)] * (k - 2)
    slope = torch.where(edge[:, None, None], torch.stack([-a / 2, a / 2, *pad], 1), zero)
    if k >= 3:
        b = v[:, 2] - v[:, 0]
        c = a - b
        bb, cc = (b * b).sum(-1), (c * c).sum(-1)
        if D == 2:
            cr = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
            cross2 = cr**2
            ds_a = 2 * cr[:, None] * torch.stack([b[:, 1], -b[:, 0]], 1)
            ds_b = 2 * cr[:, None] * torch.stack([-a[:, 1], a[:, 0]], 1)
        else:
            axb = torch.linalg.cross(a, b)
            cross2 = (axb**2).sum(-1)
            ds_a, ds_b = 2 * torch.linalg.cross(b, axb), 2 * torch.linalg.cross(axb, a)
        tri = (size == 3) & (cross2 > 0)
        one = torch.ones_like(cross2)
        s, sa, sb, sc = (torch.where(tri, t, one)[:, None] for t in (cross2, aa, bb, cc))
        rt = torch.where(tri, aa * bb * cc / (4 * s[:, 0]), zero)
        g_a = rt[:, None] * (2 * a / sa + 2 * c / sc - ds_a / s)
        g_b = rt[:, None] * (2 * b / sb - 2 * c / sc - ds_b / s)
        r2 = torch.where(size == 3, rt, r2)
        slope = torch.where((size == 3)[:, None, None], torch.stack([-(g_a + g_b), g_a, g_b, *pad[1:]], 1), slope)
    if k >= 4 and D == 3:
        c3 = v[:, 3] - v[:, 0]
        bxc, cxa, axb = torch.linalg.cross(b, c3), torch.linalg.cross(c3, a), torch.linalg.cross(a, b)
        det = (a * bxc).sum(-1)
        tet = (size == 4) & (det != 0)
        safe = torch.where(tet, det, torch.ones_like(det))
        num = aa[:, None] * bxc + bb[:, None] * cxa + (c3 * c3).sum(-1)[:, None] * axb
        off = num / (2 * safe)[:, None]
        lam = torch.stack([(bxc * off).sum(-1), (cxa * off).sum(-1), (axb * off).sum(-1)], 1) / safe[:, None]
        lam = torch.cat([1 - lam.sum(1, keepdim=True), lam], 1)
        r2 = torch.where(size == 4, torch.where(tet, (off * off).sum(-1), zero), r2)
        s4 = 2 * lam[:, :, None] * (v - (v[:, 0] + off)[:, None, :])
        slope = torch.where((size == 4)[:, None, None], torch.where(tet[:, None, None], s4, zero), slope)
    if squared:
        return r2, slope
    pos = r2 > 0
    r = torch.where(pos, torch.sqrt(torch.where(pos, r2, torch.ones_like(r2))), zero)
    return r, slope / torch.where(pos, 2 * r, torch.ones_like(r))[:, None, None]


class _RadiusBars(torch.autograd.Function):
    """The bars of a batch from points, in one node: forward computes the radii of the defining
    simplices and places them; backward sends each value's gradient to the vertices of its simplex
    through the closed-form derivative (first order: one ``index_add``; with ``create_graph``, the
    same formula in differentiable operations); ``jvp`` gives forward-mode AD."""

    @staticmethod
    def forward(ctx, flat, simp, pair_pos, ess_pos, reader):
        values, slope = reader.values_and_slopes(flat, simp)
        ctx.reader = reader
        ctx.save_for_backward(flat, simp, pair_pos, ess_pos, slope)
        ctx.save_for_forward(flat, simp, pair_pos, ess_pos, slope)
        return place(values, pair_pos, ess_pos)

    @staticmethod
    def jvp(ctx, t_flat, *_):
        flat, simp, pair_pos, ess_pos, slope = ctx.saved_tensors
        change = (slope * t_flat[simp.clamp_min(0)]).sum((1, 2))
        return place(change, pair_pos, ess_pos)

    @staticmethod
    def backward(ctx, grad_pairs, grad_births):
        flat, simp, pair_pos, ess_pos, slope = ctx.saved_tensors
        grad = unplace(grad_pairs, grad_births, pair_pos, ess_pos, len(simp))
        if torch.is_grad_enabled():  # create_graph: the derivative in differentiable operations
            slope = ctx.reader.values_and_slopes(flat, simp)[1]
        elif flat.device.type == "cpu" and _jit.enabled():
            out = torch.zeros_like(flat)
            _scatter_slopes(simp.contiguous().numpy(), slope.contiguous().numpy(), grad.contiguous().numpy(),
                            out.numpy())
            return out, None, None, None, None
        step = (slope * grad[:, None, None]).reshape(-1, flat.shape[1])
        out = torch.zeros_like(flat).index_add(0, simp.clamp_min(0).reshape(-1), step)
        return out, None, None, None, None


@_jit.kernel
def _radius_kernel(x, simp, squared, factor, value, slope):  # pragma: no cover - compiled by numba
    """The compiled twin of :func:`_radius_and_slope` on the host, times ``factor``: fills ``value``
    ``(m,)`` and ``slope`` ``(m, k, D)`` (both zero on entry). It computes in float64, so for float32
    points it rounds once where the torch twin rounds at each step: the two agree within float32
    rounding there, and to the last bits in float64."""
    m, k = simp.shape
    D = x.shape[1]
    p = np.zeros((4, 3))
    e = np.zeros((3, 3))
    g = np.zeros((4, 3))
    off = np.zeros(3)
    lam = np.zeros(4)
    cr = np.zeros((3, 3))  # b x c, c x a, a x b
    for r in range(m):
        s = 0
        while s < k and simp[r, s] >= 0:
            s += 1
        if s < 2:
            continue
        for j in range(s):
            for d in range(D):
                p[j, d] = x[simp[r, j], d]
        for j in range(1, s):
            for d in range(D):
                e[j - 1, d] = p[j, d] - p[0, d]
        aa = 0.0
        for d in range(D):
            aa += e[0, d] * e[0, d]
        if s == 2:
            r2 = aa / 4
            for d in range(D):
                g[0, d] = -e[0, d] / 2
                g[1, d] = e[0, d] / 2
        elif s == 3:
            bb = 0.0
            cc = 0.0
            for d in range(D):
                bb += e[1, d] * e[1, d]
                cc += (e[0, d] - e[1, d]) * (e[0, d] - e[1, d])
            if D == 2:
                c2 = e[0, 0] * e[1, 1] - e[0, 1] * e[1, 0]
                cross2 = c2**2
                # derivatives of |a x b|^2 in a and in b (rows 0 and 1 of cr)
                cr[0, 0], cr[0, 1] = 2 * c2 * e[1, 1], 2 * c2 * -e[1, 0]
                cr[1, 0], cr[1, 1] = 2 * c2 * -e[0, 1], 2 * c2 * e[0, 0]
            else:
                c0 = e[0, 1] * e[1, 2] - e[0, 2] * e[1, 1]
                c1 = e[0, 2] * e[1, 0] - e[0, 0] * e[1, 2]
                c2 = e[0, 0] * e[1, 1] - e[0, 1] * e[1, 0]
                cross2 = c0**2 + c1**2 + c2**2
                cr[0, 0] = 2 * (e[1, 1] * c2 - e[1, 2] * c1)  # 2 b x (a x b)
                cr[0, 1] = 2 * (e[1, 2] * c0 - e[1, 0] * c2)
                cr[0, 2] = 2 * (e[1, 0] * c1 - e[1, 1] * c0)
                cr[1, 0] = 2 * (c1 * e[0, 2] - c2 * e[0, 1])  # 2 (a x b) x a
                cr[1, 1] = 2 * (c2 * e[0, 0] - c0 * e[0, 2])
                cr[1, 2] = 2 * (c0 * e[0, 1] - c1 * e[0, 0])
            if not cross2 > 0:
                continue
            r2 = aa * bb * cc / (4 * cross2)
            for d in range(D):
                cd = e[0, d] - e[1, d]
                g[1, d] = r2 * (2 * e[0, d] / aa + 2 * cd / cc - cr[0, d] / cross2)
                g[2, d] = r2 * (2 * e[1, d] / bb - 2 * cd / cc - cr[1, d] / cross2)
                g[0, d] = -(g[1, d] + g[2, d])
        else:
            for q in range(3):
                u, w = (q + 1) % 3, (q + 2) % 3  # b x c, c x a, a x b
                cr[q, 0] = e[u, 1] * e[w, 2] - e[u, 2] * e[w, 1]
                cr[q, 1] = e[u, 2] * e[w, 0] - e[u, 0] * e[w, 2]
                cr[q, 2] = e[u, 0] * e[w, 1] - e[u, 1] * e[w, 0]
            det = e[0, 0] * cr[0, 0] + e[0, 1] * cr[0, 1] + e[0, 2] * cr[0, 2]
            if det == 0:
                continue
            sq1 = e[1, 0] * e[1, 0] + e[1, 1] * e[1, 1] + e[1, 2] * e[1, 2]
            sq2 = e[2, 0] * e[2, 0] + e[2, 1] * e[2, 1] + e[2, 2] * e[2, 2]
            for d in range(3):
                off[d] = (aa * cr[0, d] + sq1 * cr[1, d] + sq2 * cr[2, d]) / (2 * det)
            total = 0.0
            for q in range(3):
                lam[q + 1] = (cr[q, 0] * off[0] + cr[q, 1] * off[1] + cr[q, 2] * off[2]) / det
                total += lam[q + 1]
            lam[0] = 1 - total
            r2 = off[0] * off[0] + off[1] * off[1] + off[2] * off[2]
            for j in range(4):
                for d in range(3):
                    g[j, d] = 2 * lam[j] * (p[j, d] - (p[0, d] + off[d]))
        div = 1.0
        if squared:
            value[r] = r2 * factor
        elif r2 > 0:
            rad = np.sqrt(r2)
            value[r] = rad * factor
            div = 2 * rad
        for j in range(s):
            for d in range(D):
                slope[r, j, d] = g[j, d] / div * factor


@_jit.kernel
def _scatter_slopes(simp, slope, grad, out):  # pragma: no cover - compiled by numba
    """First-order backward: ``out[simp[r, j]] += grad[r] * slope[r, j]``, in row order (the order
    of the torch path's ``index_add``)."""
    m, k = simp.shape
    D = out.shape[1]
    for r in range(m):
        c = grad[r]
        for j in range(k):
            i = simp[r, j]
            if i < 0:
                break
            for d in range(D):
                out[i, d] += slope[r, j, d] * c


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
