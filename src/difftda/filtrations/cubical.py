"""The cubical filtration of images and volumes: ``cubical_persistence(x)`` runs pixels -> engine -> gather.

The values are the pixels themselves. An engine pairs a detached float64 host copy of the batch
(negated for a superlevel filtration) and returns, for every bar, the flat C-order position of the
pixel whose value is its birth and of the pixel whose value is its death; the diagrams are read from
``x`` at those positions by plain indexing, so every bar value is a pixel of ``x`` bit for bit and
its gradient goes to that pixel.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
from torch import nn

from .. import _jit
from .._checks import check_maxdim
from ..backends import get_backend
from ..backends._cubical import CONSTRUCTIONS, CubicalEngine, CubicalPairing
from ..diagrams import DiagramBatch, Diagrams
from ..gather import Bars, Values, _is_sorted, gather, normalize

__all__ = ["cubical_persistence", "CubicalPersistence"]


def _check_input(x: object, spatial_dims: object) -> tuple[torch.Tensor, int]:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}. Wrap arrays with torch.as_tensor(...)")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating point tensor (float32 or float64); got {x.dtype}. Use x.float()")
    if x.dim() == 0:
        raise ValueError("x must have at least one axis (a 1-D signal, 2-D image, 3-D volume, ...); got a scalar")
    if spatial_dims is None:
        sd = x.dim()
    elif isinstance(spatial_dims, bool) or not isinstance(spatial_dims, Integral):
        raise TypeError(f"spatial_dims must be None or an int; got {spatial_dims!r}")
    else:
        sd = int(spatial_dims)
        if not 1 <= sd <= x.dim():
            raise ValueError(
                f"spatial_dims must be between 1 and x.dim() = {x.dim()} (the last spatial_dims axes are one "
                f"image, the leading ones a batch); got {spatial_dims}"
            )
    if x.numel() == 0:
        raise ValueError(f"x has no pixels (shape {tuple(x.shape)}); every image needs at least one pixel")
    return x, sd


def _check_construction(construction: object) -> str:
    if isinstance(construction, str) and construction.upper() in CONSTRUCTIONS:
        return construction.upper()
    raise ValueError(
        f"construction must be 'T' (values on the pixels as top-dimensional cells) or 'V' (values on the "
        f"vertices of the grid); got {construction!r}"
    )


def _engine(backend: object, maxdim: int, sd: int) -> CubicalEngine:
    """The engine for images of ``sd`` axes: ``"auto"`` skips engines that do not take that many."""
    return get_backend(backend, maxdim=maxdim, filtration="cubical", spatial_dims=sd)  # type: ignore[return-value,arg-type]


def cubical_persistence(
    x: torch.Tensor,
    maxdim: int | None = None,
    *,
    spatial_dims: int | None = None,
    construction: str = "T",
    superlevel: bool = False,
    backend: str | CubicalEngine = "auto",
) -> Diagrams | DiagramBatch:
    """Differentiable persistence diagrams of the cubical filtration of an image, a volume or a batch.

    Args:
        x: a float tensor whose last ``spatial_dims`` axes are one image (1-D signal, 2-D image,
            3-D volume); leading axes are a batch, e.g. ``(B, C, H, W)`` with ``spatial_dims=2``.
            Gradients flow into ``x``; every pixel must be finite.
        maxdim: the top homology dimension; None means ``spatial_dims - 1`` (components and loops
            of a 2-D image, and voids of a volume). Dimensions from ``spatial_dims`` up are empty.
        spatial_dims: how many trailing axes form one image. None: the whole tensor is one image
            (so a 3-D tensor is one volume, never a batch of 2-D images).
        construction: ``"T"``: the pixels are the top-dimensional cells (squares, cubes) and a lower
            cell takes the smallest value of the pixels around it, so pixels touching at a corner
            are connected (8-connectivity of sublevel sets in 2-D, 26 in 3-D). ``"V"``: the pixels are
            the vertices of the grid and a cell takes the largest value of its vertices, so only
            pixels sharing a side are connected (4-connectivity in 2-D, 6 in 3-D).
        superlevel: the superlevel-set filtration (``{x >= t}`` for decreasing ``t``): bars are in the
            input's units with ``birth >= death``, and the essential H0 bar is born at the maximum.
            For a sublevel filtration ``birth <= death`` and it is born at the minimum.
        backend: ``"auto"`` (cripser when installed, else gudhi), ``"cripser"``, ``"gudhi"``, a spec
            with options such as ``"gudhi:n_threads=2"``, or an engine object.

    Returns:
        :class:`Diagrams` (``dgms[k]`` is H_k) on ``x``'s device and dtype for one image; otherwise a
        :class:`DiagramBatch` with one entry per image, the leading axes flattened in C order.
        ``Diagram.index`` is ``(k, 2)`` ``[birth_position, death_position]``, flat C-order positions
        in the image, so ``pairs[:, 0] == image.flatten()[index[:, 0]]`` (and likewise for deaths)
        exactly; ``essential_index`` is ``(m, 1)``. Bars with ``death == birth`` are dropped. A
        2-D or 3-D image has one essential bar, in H0.

    Example:
        >>> import torch, difftda
        >>> img = torch.rand(2, 16, 16, dtype=torch.float64, requires_grad=True)
        >>> out = difftda.cubical_persistence(img, spatial_dims=2)
        >>> len(out), out[0][0].essential.shape, out[0][1].index.shape[1]
        (2, torch.Size([1]), 2)
        >>> h1 = out.cat()[1].pairs
        >>> (h1[:, 1] - h1[:, 0]).sum().backward()
        >>> img.grad.shape
        torch.Size([2, 16, 16])
    """
    return _persistence(x, maxdim, spatial_dims, construction, superlevel, backend)


def _persistence(
    x: torch.Tensor, maxdim: int | None, spatial_dims: int | None, construction: str, superlevel: bool,
    backend: str | CubicalEngine, canonical: bool = True,
) -> Diagrams | DiagramBatch:
    """:func:`cubical_persistence`; with ``canonical=False`` the bars of each diagram keep the
    engine's (deterministic) order instead of the canonical one, for callers whose result does not
    depend on the order of the rows. Empty bars are dropped either way."""
    bars, B, maxdim, sd = _host_bars(x, maxdim, spatial_dims, construction, superlevel, backend, canonical)
    out = gather(PixelValues(x.reshape(-1)), bars, B, maxdim)
    return out[0] if x.dim() == sd else out


def _host_bars(
    x: torch.Tensor, maxdim: int | None, spatial_dims: int | None, construction: str, superlevel: bool,
    backend: str | CubicalEngine, canonical: bool = True,
) -> tuple[Bars, int, int, int]:
    """The checks and the pairing of :func:`_persistence`: ``(bars, B, maxdim, spatial_dims)``, the bars
    as positions into ``x.reshape(-1)``, before any value is read."""
    x, sd = _check_input(x, spatial_dims)
    maxdim = sd - 1 if maxdim is None else check_maxdim(maxdim)
    construction = _check_construction(construction)
    if not isinstance(superlevel, (bool, np.bool_)):
        raise TypeError(f"superlevel must be True or False; got {superlevel!r}")
    shape = tuple(x.shape[x.dim() - sd:])
    # Axes of length 1 change neither the homology nor the C-order positions; dropping them keeps
    # every engine on the grids it handles (cripser miscounts components along a length-1 axis).
    grid = tuple(n for n in shape if n > 1) or (1,)
    engine = _engine(backend, maxdim, len(grid))
    B = math.prod(x.shape[: x.dim() - sd])
    if B == 0:
        raise ValueError(f"x is an empty batch (shape {tuple(x.shape)}); pass at least one image")
    # One detached host copy in x's precision (float16 and bfloat16 widened to float32, exactly), in
    # the orientation the engine pairs; the engine gets it in float64 (exact too). The bars are
    # ordered on the narrower copy: float32 values sort with one integer key.
    values = x.detach().to("cpu", torch.float64 if x.dtype == torch.float64 else torch.float32)
    values = (-values if superlevel else values).reshape(-1).numpy()
    if _jit.enabled() and values.dtype == np.float32:  # the float64 copy and the check in one pass
        host = np.empty(values.shape, np.float64)
        finite = _widen(values, host)
    else:
        host, finite = values.astype(np.float64, copy=False), bool(np.isfinite(values).all())
    if not finite:
        raise ValueError("x contains NaN or inf pixels; cubical persistence needs finite values")
    host = host.reshape(B, *grid)
    try:
        bp = engine.pairing_batch(host, maxdim=maxdim, construction=construction)
    except (RuntimeError, ValueError, TypeError) as err:
        raise RuntimeError(f"backend {str(engine)!r} failed on images of shape {shape}: {err}") from err
    bars = (canonical_bars if canonical else _engine_bars)(values, bp, B, math.prod(shape))
    return bars, B, maxdim, sd


@_jit.kernel
def _widen(values, out):  # pragma: no cover - compiled
    """``out[:] = values`` (float32 -> float64, exact); whether every value is finite."""
    finite = True
    for i in range(len(values)):
        v = values[i]
        finite = finite and (v - v == 0)  # False for NaN and +-inf
        out[i] = v
    return finite


def _engine_bars(values: np.ndarray, bp: CubicalPairing, B: int, n_pixels: int) -> Bars:
    """The engine's non-empty bars grouped by dimension and image, each group in the engine's order."""
    if not (_is_sorted(bp.group) and _is_sorted(bp.ess_group)):
        return canonical_bars(values, bp, B, n_pixels)
    if _jit.enabled() and values.dtype in (np.float32, np.float64):
        K = len(bp.birth)
        birth, death, group, index = np.empty(K, np.int64), np.empty(K, np.int64), np.empty(K, np.int64), np.empty(
            (K, 2), np.int64)
        offset = (np.arange(int(bp.group[-1]) + 1 if K else 0) % B) * n_pixels  # of each group's image
        m = _engine_rows(values, bp.birth, bp.death, bp.group, offset, birth, death, group, index)
        ess_birth = bp.ess_birth + (bp.ess_group % B) * n_pixels if B > 1 else bp.ess_birth
        return Bars(birth[:m], death[:m], group[:m], index[:m], ess_birth, bp.ess_group, bp.ess_birth[:, None])
    bars = pixel_bars(bp, B, n_pixels)
    keep = values.take(bars.birth) != values.take(bars.death)
    if keep.all():
        return bars
    return Bars(bars.birth[keep], bars.death[keep], bars.group[keep], bars.index[keep], *bars[4:])


@_jit.kernel
def _engine_rows(values, birth, death, group, offset, out_b, out_d, out_g, index):  # pragma: no cover
    """:func:`_engine_bars` in one pass: the non-empty rows, positions moved into the batch by the
    ``offset`` of their group's image."""
    m = 0
    for r in range(len(birth)):
        off = offset[group[r]]
        b, d = birth[r] + off, death[r] + off
        if values[b] != values[d]:
            out_b[m], out_d[m], out_g[m] = b, d, group[r]
            index[m, 0], index[m, 1] = birth[r], death[r]
            m += 1
    return m


def canonical_bars(values: np.ndarray, bp: CubicalPairing, B: int, n_pixels: int) -> Bars:
    """The engine's bars in the canonical order, without the empty ones: what
    ``normalize(values, pixel_bars(bp, B, n_pixels))`` returns, bit for bit.

    With compiled kernels, each group's rows are ordered by 64-bit keys that hold the birth value's
    order (its top 32 bits for float64) above the row number: left as they are when the engine lists
    the group in order, reversed when it lists it by decreasing birth, else sorted by one
    :func:`numpy.sort`; a kernel then orders the runs of rows whose keys tie by death value and
    positions. Where a group has long runs of tied birth values (images with few distinct values),
    or rows that do not come grouped, :func:`~difftda.gather.normalize` does it.
    """
    if _jit.enabled() and values.dtype in (np.float32, np.float64) and 0 < len(bp.birth) < 2**32:
        fin = _sorted_finite(values, bp, B, n_pixels)
        if fin is not None:
            birth, death, group, index, ess_at = fin
            eb, eg = bp.ess_birth, bp.ess_group
            if len(eg) < 2 or bool((eg[1:] > eg[:-1]).all()):  # one essential bar a group: in order already
                ess_at[:] = eb + (eg % B) * n_pixels if B > 1 else eb
                return Bars(birth, death, group, index, ess_at, eg, eb[:, None])
            ess = normalize(values, pixel_bars(CubicalPairing(eb[:0], eb[:0], eg[:0], eb, eg), B, n_pixels))
            return Bars(birth, death, group, index, ess.ess_birth, ess.ess_group, ess.ess_index)
    return normalize(values, pixel_bars(bp, B, n_pixels))


#: A run of rows of one group with tied birth values longer than this goes to ``normalize``.
_MAX_TIES = 48


def _sorted_finite(values: np.ndarray, bp: CubicalPairing, B: int, n_pixels: int) -> tuple[np.ndarray, ...] | None:
    """``(birth, death, group, index, ess)`` of the finite bars in the canonical order, or None
    (rows not grouped, or a long run of tied births). ``birth``, ``death`` and ``ess`` (room for the
    essential births) lie back to back in one buffer, the layout in which the gather reads them."""
    wide = values.dtype == np.float64
    raw = values.view(np.uint64 if wide else np.uint32)
    top = np.uint64(1 << (63 if wide else 31))
    mask, shift = np.uint64(2**64 - 1 if wide else 2**32 - 1), np.uint64(32 if wide else 0)
    n_groups = int(bp.group[-1]) + 1
    # The offset of each group's image in the batch.
    offset = (np.arange(n_groups) % B) * n_pixels if B > 1 else np.zeros(n_groups, np.int64)
    keys, ends, trend = np.empty(len(bp.birth), np.uint64), np.zeros(n_groups, np.int64), np.zeros(n_groups, np.int8)
    m = _keys(keys, ends, trend, raw, top, mask, values, bp.birth, bp.death, bp.group, offset, shift)
    if m < 0:  # rows not grouped
        return None
    keys = keys[:m]
    start = 0
    for end, how in zip(ends.tolist(), trend.tolist()):  # each group on its own
        if how == _UNSORTED:
            keys[start:end].sort()
        elif how == _DESCENDING:  # reversed, only runs of tied birth values are out of order: _finish orders them
            keys[start:end] = keys[start:end][::-1].copy()
        start = end
    joint, index = np.empty(2 * m + len(bp.ess_birth), np.int64), np.empty((m, 2), np.int64)
    group = np.empty(m, np.int64)
    birth, death = joint[:m], joint[m:2 * m]
    if not _finish(birth, death, group, index, keys, ends, raw, top, mask, bp.birth, bp.death, offset, _MAX_TIES):
        return None
    return birth, death, group, index, joint[2 * m:]


#: How a group's keys come out of :func:`_keys`: in order, in reverse order of their birth values,
#: or neither (engines list some dimensions by death, others by decreasing birth).
_ASCENDING, _DESCENDING, _UNSORTED = 0, 1, 2


@_jit.kernel
def _keys(keys, ends, trend, raw, top, mask, values, birth, death, group, offset, shift):  # pragma: no cover
    """Fill ``keys[:m]`` for the ``m`` non-empty bars, in row order: ``(birth key >> shift) << 32 | r``
    for row ``r``, where a value's key orders like the values (-0.0 as 0.0); set ``ends[g]`` to the
    end of group ``g``'s keys (zeros on entry) and ``trend`` of each group to whether its keys
    ascend, descend in their birth part, or neither; return ``m``, or -1 if the rows do not come
    grouped (``group`` sorted)."""
    sign = np.uint64(63) if mask == np.uint64(0xFFFFFFFFFFFFFFFF) else np.uint64(31)

    def okey(u):  # float bits -> a key that orders like the values (-0.0 as 0.0), with no branch
        u = u & (mask * np.uint64(u != top))
        return u ^ (((np.uint64(0) - (u >> sign)) & mask) | top)

    m = 0
    hi_shift = np.uint64(32)
    n = len(birth)
    r = 0
    last = -1
    while r < n:  # one group at a time: its offset, count and trend stay in registers
        g = group[r]
        if g <= last or g >= len(ends):  # not grouped (a later group has a smaller number)
            return -1
        last = g
        off = offset[g]
        end = r
        while end < n and group[end] == g:
            end += 1
        first = m
        prev = np.uint64(0)
        up = True
        down = True
        for q in range(r, end):
            b = birth[q] + off
            if values[b] != values[death[q] + off]:
                k = ((okey(np.uint64(raw[b])) >> shift) << hi_shift) | np.uint64(q)
                keys[m] = k
                if m > first:
                    up = up & (k > prev)
                    down = down & ((k >> hi_shift) <= (prev >> hi_shift))
                prev = k
                m += 1
        ends[g] = m
        trend[g] = _ASCENDING if up else (_DESCENDING if down else _UNSORTED)
        r = end
    for g in range(len(ends)):  # the end of each group, empty ones included
        if g > 0 and ends[g] == 0:
            ends[g] = ends[g - 1]
    return m


@_jit.kernel
def _finish(out_b, out_d, out_g, index, keys, ends, raw, top, mask, birth, death, offset, max_ties):  # pragma: no cover
    """Write the bars (and their group) in the order of the sorted ``keys`` (whose low 32 bits are
    the rows), group by group; then order each run of equal keys in a group (bars born at one
    pixel) by (birth value, death value, birth, death), by insertion on keys read once, and write it
    again. False (nothing to use) when such a run is longer than ``max_ties``."""
    sign = np.uint64(63) if mask == np.uint64(0xFFFFFFFFFFFFFFFF) else np.uint64(31)

    def okey(u):  # as in _keys
        u = u & (mask * np.uint64(u != top))
        return u ^ (((np.uint64(0) - (u >> sign)) & mask) | top)

    low = np.uint64(0xFFFFFFFF)
    hi_shift = np.uint64(32)
    i = 0
    for g in range(len(ends)):  # every row where its key puts it; the group's offset in a register
        off = offset[g]
        while i < ends[g]:
            r = np.int64(keys[i] & low)
            b, d = birth[r], death[r]
            out_g[i] = g
            index[i, 0] = b
            index[i, 1] = d
            out_b[i] = b + off
            out_d[i] = d + off
            i += 1
    perm = np.empty(max_ties, np.int64)  # a run's rows, and their birth and death keys
    run_b = np.empty(max_ties, np.uint64)
    run_d = np.empty(max_ties, np.uint64)
    start = 0
    for g in range(len(ends)):
        off = offset[g]
        end = ends[g]
        i = start
        while i + 1 < end:
            hi = keys[i] >> hi_shift
            if (keys[i + 1] >> hi_shift) != hi:
                i += 1
                continue
            j = i + 2
            while j < end and (keys[j] >> hi_shift) == hi:
                j += 1
            n = j - i
            if n > max_ties:
                return False
            for a in range(n):
                r = np.int64(keys[i + a] & low)
                perm[a] = r
                run_b[a] = okey(np.uint64(raw[birth[r] + off]))
                run_d[a] = okey(np.uint64(raw[death[r] + off]))
            for a in range(1, n):  # insertion sort by (birth key, death key, birth, death)
                p, kb, kd = perm[a], run_b[a], run_d[a]
                c = a - 1
                while c >= 0:
                    q, qb, qd = perm[c], run_b[c], run_d[c]
                    if kb != qb:
                        go = kb < qb
                    elif kd != qd:
                        go = kd < qd
                    elif birth[p] != birth[q]:
                        go = birth[p] < birth[q]
                    else:
                        go = death[p] < death[q]
                    if not go:
                        break
                    perm[c + 1], run_b[c + 1], run_d[c + 1] = q, qb, qd
                    c -= 1
                perm[c + 1], run_b[c + 1], run_d[c + 1] = p, kb, kd
            for a in range(n):
                r = perm[a]
                b, d = birth[r], death[r]
                index[i + a, 0] = b
                index[i + a, 1] = d
                out_b[i + a] = b + off
                out_d[i + a] = d + off
            i = j
        start = end
    return True


class PixelValues(Values):
    """The pixels of a batch, read into the bars by one node of the autograd graph on the CPU.

    Forward indexes the flat pixels at the bars' positions into the ``(K, 2)`` pairs and the
    essential births; backward adds each bar's gradients into a zeroed image, births first, then
    deaths, then essential births: the order in which :class:`~difftda.gather.Values` (plain
    indexing) adds them, so both give the same gradient bit for bit. First-order backward of float32
    and float64 pixels runs compiled when kernels are enabled; with ``create_graph`` it is made of
    differentiable operations. ``jvp`` gives forward-mode AD. Other devices and inputs with
    constant positions (-1) use the plain reader.
    """

    uses_slots = False  # every position is a pixel: the values come in slot order

    def bars(
        self, positions: torch.Tensor, pair_pos: torch.Tensor | None, ess_pos: torch.Tensor,
        extra: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        M = ess_pos.numel()
        K = (positions.numel() - M) // 2 if pair_pos is None else pair_pos.numel() // 2
        if self.flat.device.type != "cpu" or self.flat.dim() != 1 or positions.numel() != 2 * K + M:
            return super().bars(positions, pair_pos, ess_pos, extra)
        return _PixelBars.apply(self.flat, positions, K)


class _PixelBars(torch.autograd.Function):
    """``flat`` at ``positions = [births, deaths, essential births]`` as ``(pairs (K, 2), births (M,))``."""

    @staticmethod
    def forward(ctx, flat, positions, K):
        ctx.K, ctx.n = K, flat.numel()
        ctx.save_for_backward(positions)
        ctx.save_for_forward(positions)
        return _read_bars(flat.detach(), positions, K)

    @staticmethod
    def jvp(ctx, t_flat, *_):
        (positions,) = ctx.saved_tensors
        values = t_flat.index_select(0, positions)
        return torch.stack([values[:ctx.K], values[ctx.K:2 * ctx.K]], 1), values[2 * ctx.K:]

    @staticmethod
    def backward(ctx, grad_pairs, grad_births):
        (positions,) = ctx.saved_tensors
        if (not torch.is_grad_enabled() and grad_pairs.dtype in (torch.float32, torch.float64)
                and grad_births.dtype == grad_pairs.dtype and _jit.enabled()):
            out = grad_pairs.new_zeros(ctx.n)
            _scatter_bars(out.numpy(), positions.numpy(), grad_pairs.contiguous().numpy(),
                          grad_births.contiguous().numpy())
            return out, None, None
        grad = torch.cat([grad_pairs[:, 0], grad_pairs[:, 1], grad_births])
        return grad_pairs.new_zeros(ctx.n).scatter_add(0, positions, grad), None, None


def _read_bars(flat: torch.Tensor, positions: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    if flat.dtype in (torch.float32, torch.float64) and flat.is_contiguous() and _jit.enabled():
        pairs, births = flat.new_empty(K, 2), flat.new_empty(positions.numel() - 2 * K)
        _read_bars_kernel(flat.numpy(), positions.numpy(), pairs.numpy(), births.numpy())
        return pairs, births
    values = flat.index_select(0, positions)
    return torch.stack([values[:K], values[K:2 * K]], 1), values[2 * K:]


@_jit.kernel
def _read_bars_kernel(flat, positions, pairs, births):  # pragma: no cover - compiled
    """``pairs[:, 0], pairs[:, 1], births = flat[positions]`` split in three, in one pass."""
    K = len(pairs)
    for k in range(K):
        pairs[k, 0] = flat[positions[k]]
        pairs[k, 1] = flat[positions[K + k]]
    for m in range(len(births)):
        births[m] = flat[positions[2 * K + m]]


@_jit.kernel
def _scatter_bars(out, positions, grad_pairs, grad_births):  # pragma: no cover - compiled
    """``out[positions] += [grad_pairs[:, 0], grad_pairs[:, 1], grad_births]``, in that order."""
    K = len(grad_pairs)
    for k in range(K):
        out[positions[k]] += grad_pairs[k, 0]
    for k in range(K):
        out[positions[K + k]] += grad_pairs[k, 1]
    for m in range(len(grad_births)):
        out[positions[2 * K + m]] += grad_births[m]


def pixel_bars(bp: CubicalPairing, B: int, n_pixels: int) -> Bars:
    """Positions local to each image -> positions in the flattened batch (rows in the engine's order)."""
    offset = (bp.group % B) * n_pixels if B > 1 else 0
    ess_offset = (bp.ess_group % B) * n_pixels if B > 1 else 0
    index = np.stack([bp.birth, bp.death], axis=1)
    return Bars(bp.birth + offset, bp.death + offset, bp.group, index,
                bp.ess_birth + ess_offset, bp.ess_group, bp.ess_birth[:, None])


class CubicalPersistence(nn.Module):
    """:func:`cubical_persistence` as a module (its arguments fixed at construction).

    Example:
        >>> import torch, difftda
        >>> layer = difftda.CubicalPersistence(spatial_dims=2, construction="V", superlevel=True)
        >>> out = layer(torch.rand(3, 1, 8, 8))
        >>> len(out), bool((out.cat()[0].pairs[:, 0] >= out.cat()[0].pairs[:, 1]).all())
        (3, True)
    """

    def __init__(
        self,
        maxdim: int | None = None,
        *,
        spatial_dims: int | None = None,
        construction: str = "T",
        superlevel: bool = False,
        backend: str | CubicalEngine = "auto",
    ) -> None:
        super().__init__()
        self.maxdim = None if maxdim is None else check_maxdim(maxdim)
        self.spatial_dims = spatial_dims
        self.construction = _check_construction(construction)
        self.superlevel = superlevel
        self.backend = backend
        get_backend(backend, maxdim=self.maxdim, filtration="cubical")  # an unknown engine fails here

    def forward(self, x: torch.Tensor) -> Diagrams | DiagramBatch:
        return cubical_persistence(
            x, self.maxdim, spatial_dims=self.spatial_dims, construction=self.construction,
            superlevel=self.superlevel, backend=self.backend,
        )

    def extra_repr(self) -> str:
        return (f"maxdim={self.maxdim}, spatial_dims={self.spatial_dims}, construction={self.construction!r}, "
                f"superlevel={self.superlevel}, backend={str(self.backend)!r}")
