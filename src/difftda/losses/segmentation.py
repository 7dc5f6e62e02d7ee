r"""Topology losses and a topology metric for image segmentation, and their Modules.

* :func:`hu_topological_loss` (Hu, Li, Samaras and Chen, "Topology-Preserving Deep Image
  Segmentation", NeurIPS 2019): the squared 2-Wasserstein distance between the superlevel
  persistence diagram of the predicted likelihood map and that of the ground truth.
* :func:`betti_matching_loss` (Stucki, Paetzold, Shit, Menze and Bauer, "Topologically Faithful
  Image Segmentation via Induced Matching of Persistence Barcodes", ICML 2023): bars are matched by
  the matching that the two images induce through their union, computed by Betti-Matching-3D.
* :func:`betti_number_error`: the per-dimension Betti number error of thresholded maps (a metric).

Every function takes probabilities in ``[0, 1]`` of shape ``(B, C, *spatial)`` (apply
``torch.sigmoid`` or ``torch.softmax`` to logits first), treats each of the ``B * C`` channels as
its own image and, for the losses, returns the mean over them. The diagrams of a whole batch come
from one :func:`~difftda.cubical_persistence` call (or one Betti-Matching-3D call); the gradient
reaches ``pred`` through one gather of the critical pixels' values.
"""

from __future__ import annotations

import glob
import importlib
import importlib.machinery
import importlib.util
import itertools
import os
import sys
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from .. import _jit
from .._checks import check_int
from ..gather import _is_sorted
from ._common import _misplaced, check_choice, check_flag, check_positive

__all__ = [
    "hu_topological_loss",
    "betti_matching_loss",
    "betti_number_error",
    "HuTopologicalLoss",
    "BettiMatchingLoss",
]

CONSTRUCTIONS = ("T", "V")
MATCHINGS = ("optimal", "persistence")


# ----------------------------------------------------------------------------------------------
# argument checks, shared by the functions and their Modules


def _check_spatial_dims(spatial_dims: object) -> int:
    d = check_int(spatial_dims, "spatial_dims", minimum=1, hint=" (2 for (B, C, H, W) images, 3 for volumes)")
    return d


def _hu_args(maxdim: object, construction: object, spatial_dims: object, matching: object) -> tuple[int, str, int, str]:
    d = _check_spatial_dims(spatial_dims)
    md = check_int(maxdim, "maxdim", hint=" (0: components, 1: loops, 2: cavities)")
    if md >= d:
        raise ValueError(
            f"maxdim must be < spatial_dims (an image with {d} spatial dimensions has no H{md}); got maxdim={md}"
        )
    c = check_choice(construction, "construction", CONSTRUCTIONS,
                     " ('T': pixels are top cells, as Hu et al.; 'V': pixels are vertices, as Betti-Matching-3D)")
    m = check_choice(matching, "matching", MATCHINGS)
    return md, c, d, m


def _bm_args(spatial_dims: object, superlevel: object, topology_weights: object,
             barcode_length_threshold: object) -> tuple[int, bool, tuple[float, float], float]:
    d = _check_spatial_dims(spatial_dims)
    sup = check_flag(superlevel, "superlevel")
    if isinstance(topology_weights, (str, bytes)) or not isinstance(topology_weights, Sequence) \
            or len(topology_weights) != 2:
        raise TypeError("topology_weights must be a pair (matched weight, unmatched-prediction weight) such as "
                        "(1.0, 1.0)" + _misplaced(topology_weights))
    w = (check_positive(topology_weights[0], "topology_weights[0]", allow_zero=True),
         check_positive(topology_weights[1], "topology_weights[1]", allow_zero=True))
    thr = check_positive(barcode_length_threshold, "barcode_length_threshold", allow_zero=True)
    return d, sup, w, thr


def _check_maps(pred: object, target: object, spatial_dims: int, *, check_range: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pred, target)`` reshaped to ``(B * C, *spatial)``; target detached, in pred's dtype and device."""
    if not isinstance(pred, torch.Tensor):
        raise TypeError("pred must be a torch.Tensor of probabilities of shape (B, C, *spatial)" + _misplaced(pred))
    if not pred.is_floating_point():
        raise TypeError(f"pred must be a floating-point tensor (float32 or float64); got {pred.dtype}")
    if isinstance(target, np.ndarray):
        target = torch.from_numpy(target)
    if not isinstance(target, torch.Tensor):
        raise TypeError("target must be a torch.Tensor (or numpy array) of shape (B, C, *spatial)"
                        + _misplaced(target))
    if pred.ndim != spatial_dims + 2:
        raise ValueError(
            f"pred must have shape (B, C, *spatial) with {spatial_dims} spatial dimensions "
            f"(spatial_dims={spatial_dims}); got shape {tuple(pred.shape)}. Add the batch and channel axes, "
            "e.g. x[None, None], or set spatial_dims"
        )
    if tuple(target.shape) != tuple(pred.shape):
        raise ValueError(f"target must have the shape of pred {tuple(pred.shape)}; got {tuple(target.shape)}")
    if pred.numel() == 0:
        raise ValueError(f"pred is empty (shape {tuple(pred.shape)})")
    target = target.detach().to(device=pred.device, dtype=pred.dtype)
    if check_range:
        for name, t in (("pred", pred), ("target", target)):
            lo, hi = torch.aminmax(t.detach())
            if not (float(lo) >= 0.0 and float(hi) <= 1.0):
                raise ValueError(
                    f"{name} must hold probabilities in [0, 1] (no NaN); got values in [{float(lo):g}, {float(hi):g}]. "
                    "Pass torch.sigmoid(logits) (or torch.softmax(logits, dim=1)) for network outputs"
                )
    spatial = tuple(pred.shape[2:])
    return pred.reshape(-1, *spatial), target.reshape(-1, *spatial)


def _cubical(x: torch.Tensor, maxdim: int, spatial_dims: int, construction: str, canonical: bool = True):
    """The superlevel diagrams of the ``(N, *spatial)`` batch ``x``: one call for every image. With
    ``canonical=False`` the rows of each diagram keep the engine's order (for order-free uses)."""
    from ..filtrations.cubical import _persistence

    return _persistence(x, maxdim, spatial_dims, construction, True, "auto", canonical)


def _dim_bars(out, k: int, n_items: int) -> tuple[torch.Tensor, np.ndarray]:
    """The finite pairs of H_k of every item of the batch ``out`` and each bar's item (host int64)."""
    whole = out.cat()[k]
    item = out.cloud_of(k)[0]
    return whole.pairs, item.detach().cpu().numpy().astype(np.int64, copy=False)


def _label_counts(mask: np.ndarray, full: bool) -> np.ndarray:
    """Connected components of each image of the boolean batch ``mask`` ``(N, *spatial)``: faces
    only (4-connectivity in 2-D, 6 in 3-D) or ``full`` (8, 26). One labelling for the whole batch."""
    from scipy import ndimage

    d = mask.ndim - 1
    structure = np.zeros((3,) * (d + 1), bool)
    structure[1] = ndimage.generate_binary_structure(d, d if full else 1)  # no link between images
    labels, _ = ndimage.label(mask, structure=structure)
    top = np.maximum.accumulate(labels.reshape(len(mask), -1).max(axis=1))  # labels grow image by image
    return np.diff(top, prepend=0)


def _euler(fg: np.ndarray, construction: str) -> np.ndarray:
    """Euler characteristic of each image's foreground complex, counted cell by cell: a cell of the
    ``"T"`` complex is present when a pixel around it is foreground, of the ``"V"`` complex when all
    its vertices are."""
    d = fg.ndim - 1
    N = len(fg)
    if construction == "T":
        fg = np.pad(fg, [(0, 0)] + [(1, 1)] * d)
    chi = np.zeros(N, np.int64)
    for span in itertools.product((0, 1), repeat=d):  # span[a] = 1: the cell is an interval along axis a
        acc = None
        # "T": a cell spanning axis a touches one pixel along it (two otherwise); "V": two vertices (one).
        window = [(1 if s else 2) if construction == "T" else (2 if s else 1) for s in span]
        for corner in itertools.product(*[range(w) for w in window]):
            sl = (slice(None),) + tuple(slice(c + (1 if construction == "T" and w == 1 else 0),
                                              n - (w - 1 - c) - (1 if construction == "T" and w == 1 else 0))
                                        for c, w, n in zip(corner, window, fg.shape[1:]))
            part = fg[sl]
            acc = part if acc is None else (acc | part if construction == "T" else acc & part)
        chi += (-1) ** sum(span) * acc.reshape(N, -1).sum(axis=1)
    return chi


def _binary_bar_counts(target: np.ndarray, maxdim: int, construction: str) -> np.ndarray:
    """For a batch of 0/1 images ``(N, *spatial)`` (1 to 3 spatial axes): the number of finite bars
    of each image's superlevel diagram in each dimension, ``(maxdim + 1, N)``.

    Every such bar is born at 1 and dies at 0: the foreground's components but the one that lives
    for ever (H0), its holes and tunnels (H1 and up: the whole grid, reached at 0, has none). They
    are the Betti numbers of the foreground complex: components by labelling (8-connected in 2-D and
    26 in 3-D for ``"T"``, 4 and 6 for ``"V"``); the holes of an image from the Euler characteristic
    (``beta_1 = beta_0 - chi``); the cavities of a volume as background regions that do not reach
    the border (the complementary connectivity), and its tunnels from the Euler characteristic.
    """
    fg = target
    d = fg.ndim - 1
    t_construction = construction == "T"
    if d == 2 and _jit.enabled():  # components and Euler characteristic of each image in one compiled pass
        b0, chi = np.zeros(len(fg), np.int64), np.zeros(len(fg), np.int64)
        _betti_2d(np.ascontiguousarray(fg, np.bool_), t_construction, b0, chi)
    else:
        b0 = _label_counts(fg, full=t_construction)
        chi = _euler(fg, construction) if d == 2 else None
    betti = [b0]
    if d == 2:  # loops: beta_1 = beta_0 - chi (a planar complex has no beta_2), no second labelling
        betti.append(b0 - chi)
    elif d == 3:
        outside = np.pad(~fg, [(0, 0)] + [(1, 1)] * d, constant_values=True)  # the border joins the outside
        top = _label_counts(outside, full=not t_construction) - 1
        betti.append(b0 + top - _euler(fg, construction))
        betti.append(top)
    counts = np.stack(betti[: maxdim + 1])
    counts[0] = np.maximum(b0 - 1, 0)
    return counts


@_jit.kernel
def _betti_2d(fg, t_construction, b0, chi):  # pragma: no cover - compiled
    """For each 2-D image ``fg[i]``: ``b0[i]``, its foreground components (8-connected for the ``"T"``
    complex, 4-connected for ``"V"``) by union-find, and ``chi[i]``, the Euler characteristic of its
    foreground complex (what :func:`_label_counts` and :func:`_euler` give) from the 2 x 2 windows of
    the image padded with background: ``(q1 - q3 -+ 2 qd) / 4`` with ``q1`` / ``q3`` the windows with
    one / three foreground pixels and ``qd`` those with two on a diagonal (``-`` for ``"T"``)."""
    N, H, W = fg.shape
    Wp = W + 2
    pad = np.zeros((H + 2) * Wp, np.uint8)  # the image inside a frame of background
    parent = np.empty((H + 2) * Wp, np.int64)  # union-find over padded positions
    for i in range(N):
        for y in range(H):
            for x in range(W):
                pad[(y + 1) * Wp + x + 1] = fg[i, y, x]
        comps = 0
        for y in range(1, H + 1):
            for x in range(1, W + 1):
                p = y * Wp + x
                if pad[p] == 0:
                    continue
                parent[p] = p
                root = p
                comps += 1
                # Neighbours visited before p (0: none). With the pixel above present, the others
                # that touch p also touch it (8-connectivity): one union is enough.
                up, left = pad[p - Wp] != 0, pad[p - 1] != 0
                q0 = p - Wp if up else 0
                q1 = p - 1 if left and not (t_construction and up) else 0
                q2 = p - Wp - 1 if t_construction and not up and not left and pad[p - Wp - 1] != 0 else 0
                q3 = p - Wp + 1 if t_construction and not up and pad[p - Wp + 1] != 0 else 0
                for q in (q0, q1, q2, q3):
                    if q == 0:
                        continue
                    r = q
                    while parent[r] != r:  # the root of q, halving the path on the way
                        parent[r] = parent[parent[r]]
                        r = parent[r]
                    if r != root:
                        lo, hi = min(r, root), max(r, root)
                        parent[hi] = lo
                        root = lo
                        comps -= 1
        b0[i] = comps
        q1 = 0
        q3 = 0
        qd = 0
        for y in range(H + 1):
            for x in range(W + 1):
                a, b = pad[y * Wp + x], pad[y * Wp + x + 1]
                c, d = pad[(y + 1) * Wp + x], pad[(y + 1) * Wp + x + 1]
                n = a + b + c + d
                q1 += n == 1
                q3 += n == 3
                qd += (n == 2) & (a == d)
        chi[i] = (q1 - q3 - 2 * qd) // 4 if t_construction else (q1 - q3 + 2 * qd) // 4


# ----------------------------------------------------------------------------------------------
# Hu et al.: squared 2-Wasserstein matching of the prediction's and the target's diagrams


def _segment_rank(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """For rows grouped by ``group``: the rank of each row by decreasing ``score`` inside its group
    (ties: the earlier row first)."""
    n = len(group)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((-score, group))  # stable: equal scores keep their row order
    g_sorted = group[order]
    starts = np.r_[0, np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - run_start
    return rank


def _diag2(p: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of each (birth, death) row to the diagonal."""
    return 0.5 * (p[:, 0] - p[:, 1]) ** 2


def _exact_matching(P: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An optimal matching of the squared 2-Wasserstein distance between the finite diagrams ``P``
    and ``T`` (rows that are not returned go to the diagonal): ``(pred rows, target rows)``."""
    n, m = len(P), len(T)
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    big = np.inf
    cost = np.zeros((n + m, m + n))
    cost[:n, :m] = ((P[:, None, :] - T[None, :, :]) ** 2).sum(-1)
    cost[:n, m:] = big
    cost[np.arange(n), m + np.arange(n)] = _diag2(P)
    cost[n:, :m] = big
    cost[n + np.arange(m), np.arange(m)] = _diag2(T)
    rows, cols = linear_sum_assignment(cost)
    keep = (rows < n) & (cols < m)
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


def _hu_matching(P: np.ndarray, pi: np.ndarray, T: np.ndarray, ti: np.ndarray, n_items: int,
                 matching: str) -> tuple[np.ndarray, np.ndarray]:
    """Matched ``(pred rows, target rows)`` for every item at once; the other rows go to the diagonal.

    ``P`` / ``T``: finite pairs (host float64) of the prediction / target bars of one dimension,
    ``pi`` / ``ti`` their items (rows grouped by item, as the diagrams come).
    """
    n_t = np.bincount(ti, minlength=n_items)
    t_start = np.r_[0, np.cumsum(n_t)[:-1]]
    if matching == "persistence":
        # The k most persistent predicted bars go to the target's bars by decreasing persistence.
        rp = _segment_rank(pi, np.abs(P[:, 0] - P[:, 1]))
        rt = _segment_rank(ti, np.abs(T[:, 0] - T[:, 1]))
        t_row_by_rank = np.empty(len(T), np.int64)
        t_row_by_rank[t_start[ti] + rt] = np.arange(len(T))
        sel = rp < n_t[pi]
        pr = np.flatnonzero(sel)
        return pr, t_row_by_rank[t_start[pi[pr]] + rp[pr]]
    # Optimal matching. Where all the target's bars of an item are one point c (a binary target: every
    # bar is born at 1 and dies at 0), matching bar p to c instead of sending both to the diagonal
    # saves gain(p) = |p - diag|^2 + |c - diag|^2 - |p - c|^2, so the optimum keeps the k bars with the
    # largest positive gains: one sort for the whole batch. Other items are solved exactly one by one.
    uniform = np.ones(n_items, bool)
    if len(T):
        first = T[t_start[ti]]
        differs = (T != first).any(axis=1)
        uniform[ti[differs]] = False
    c = np.zeros((n_items, 2))
    has = n_t > 0
    c[has] = T[t_start[has]]
    cp = c[pi]
    gain = np.where(uniform[pi], _diag2(P) + _diag2(cp) - ((P - cp) ** 2).sum(1), 0.0)
    # The rows come in the canonical order, so a row's number breaks the ties that remain after
    # birth and death; each kept bar takes one of its item's (equal) target bars.
    rows = np.arange(len(P))
    pr = _top_gains(gain, pi, n_t, n_items, P, np.stack([rows, rows], 1))
    ip = pi[pr]
    tr = t_start[ip] + (np.arange(len(pr)) - np.searchsorted(ip, ip))
    rows_p, rows_t = [pr], [tr]
    for i in np.flatnonzero(~uniform):  # soft targets: an exact assignment per image and dimension
        p_rows, t_rows = np.flatnonzero(pi == i), np.flatnonzero(ti == i)
        a, b = _exact_matching(P[p_rows], T[t_rows])
        rows_p.append(p_rows[a])
        rows_t.append(t_rows[b])
    return np.concatenate(rows_p), np.concatenate(rows_t)


def _hu_binary(out, t_counts: np.ndarray, n: int, maxdim: int, like: torch.Tensor) -> torch.Tensor:
    """Hu's loss against 0/1 targets, whose ``t_counts[k, i]`` bars of H_k of image ``i`` all sit at
    ``c = (1, 0)``: every bar starts on the diagonal (``|c - diag|^2 = 1/2`` for each target bar) and
    each predicted bar kept by the optimal matching (:func:`_top_gains`) trades its diagonal cost and
    ``1/2`` for its distance to ``c``."""
    whole = out.cat()
    per_item = like.new_zeros(n)
    anchor = like.new_zeros(())
    for k in range(maxdim + 1):
        pairs = whole[k].pairs
        item = out.cloud_of(k)[0].detach().cpu().numpy().astype(np.int64, copy=False)
        P = pairs.detach().cpu().double().numpy()
        b, d = P[:, 0], P[:, 1]
        gain = 0.5 * (b - d) ** 2 + 0.5 - ((b - 1.0) ** 2 + d ** 2)
        sel = _top_gains(gain, item, np.asarray(t_counts[k], np.int64), n, P, whole[k].index.cpu().numpy())
        dev = pairs.device
        Pm = pairs[torch.from_numpy(sel).to(dev)]
        diag = 0.5 * (pairs[:, 0] - pairs[:, 1]) ** 2
        swap = (Pm[:, 0] - 1.0) ** 2 + Pm[:, 1] ** 2 - 0.5 * (Pm[:, 0] - Pm[:, 1]) ** 2 - 0.5
        items = torch.from_numpy(np.concatenate([item, item[sel]])).to(dev)
        per_item = per_item.index_add(0, items, torch.cat([diag, swap]))
        anchor = anchor + pairs.sum() * 0
    const = torch.from_numpy(0.5 * t_counts[: maxdim + 1].sum(0)).to(per_item.device, per_item.dtype)
    return (per_item + const).mean() + anchor


def _fused(x: torch.Tensor) -> bool:
    """Whether :func:`_hu_binary_fused` takes ``x``: compiled kernels, a contiguous float32 or float64
    CPU tensor."""
    return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and x.is_contiguous()
            and _jit.enabled())


def _hu_binary_fused(x: torch.Tensor, t_counts: np.ndarray, n: int, maxdim: int, construction: str,
                     d: int) -> torch.Tensor:
    """:func:`_hu_binary` in one node of the graph, compiled, from the critical pixels of the batch
    ``x`` ``(n, *spatial)``: the same bars and gains, the value summed in float64, and a backward that
    adds each bar's derivative into the image in one pass."""
    from ..filtrations.cubical import _host_bars

    bars = _host_bars(x, maxdim, d, construction, True, "auto", canonical=False)[0]
    flat = x.reshape(-1)
    host = flat.detach().numpy()
    K = len(bars.birth)
    P, gain = np.empty((K, 2)), np.empty(K)
    _hu_gains(host, bars.birth, bars.death, P, gain)
    groups = (maxdim + 1) * n
    bounds = np.searchsorted(bars.group, np.arange(groups + 1))
    out = np.empty(K, np.int64)
    sel = out[: _top_gains_kernel(gain, bounds, np.ascontiguousarray(t_counts[: maxdim + 1], np.int64).reshape(-1),
                                  P, np.ascontiguousarray(bars.index), out)]
    per_item, coef = 0.5 * t_counts[: maxdim + 1].sum(0).astype(np.float64), np.empty((K, 2))
    _hu_terms(P, bars.group, sel, np.arange(groups) % n, per_item, coef)
    chosen = np.zeros(K, bool)
    chosen[sel] = True
    positions = torch.from_numpy(np.concatenate([bars.birth, bars.death]))
    return _HuBinary.apply(flat, float(per_item.mean()), positions, torch.from_numpy(coef.T.reshape(-1)),
                           torch.from_numpy(chosen), n)


class _HuBinary(torch.autograd.Function):
    """Hu's loss against 0/1 targets from the pixels: forward returns the value computed on the host;
    backward adds ``coef`` (each bar's derivative by its birth and death value, over ``n``) into the
    image at ``positions`` (births then deaths). With ``create_graph`` the derivative is recomputed
    from the pixels in differentiable operations; ``jvp`` gives forward-mode AD."""

    @staticmethod
    def forward(ctx, flat, value, positions, coef, chosen, n):
        ctx.n = n
        ctx.save_for_backward(flat, positions, coef, chosen)
        ctx.save_for_forward(flat, positions, coef, chosen)
        return torch.tensor(value, dtype=flat.dtype)

    @staticmethod
    def jvp(ctx, t_flat, *_):
        flat, positions, coef, chosen = ctx.saved_tensors
        return (coef.to(t_flat.dtype) * t_flat.index_select(0, positions)).sum() / ctx.n

    @staticmethod
    def backward(ctx, grad):
        flat, positions, coef, chosen = ctx.saved_tensors
        if not torch.is_grad_enabled():
            from ..filtrations.cubical import _scatter_bars

            out = np.zeros(len(flat))
            scaled = coef.numpy() * (float(grad) / ctx.n)  # births' then deaths' coefficients
            _scatter_bars(out, positions.numpy(), np.ascontiguousarray(scaled.reshape(2, -1).T), scaled[:0])
            return torch.from_numpy(out).to(flat.dtype), None, None, None, None, None
        K = len(chosen)
        b, dd = flat[positions[:K]], flat[positions[K:]]
        cb, cd = torch.where(chosen, 2 * (b - 1), b - dd), torch.where(chosen, 2 * dd, dd - b)
        change = torch.zeros_like(flat).index_add(0, positions, torch.cat([cb, cd]))
        return change * (grad / ctx.n), None, None, None, None, None


@_jit.kernel
def _hu_gains(flat, birth, death, P, gain):  # pragma: no cover - compiled
    """``P = [flat[birth], flat[death]]`` in float64 and each bar's gain of going to ``(1, 0)``
    (the formula of :func:`_hu_binary`, operation for operation)."""
    for r in range(len(birth)):
        b, d = np.float64(flat[birth[r]]), np.float64(flat[death[r]])
        P[r, 0], P[r, 1] = b, d
        gain[r] = 0.5 * (b - d) ** 2 + 0.5 - ((b - 1.0) ** 2 + d ** 2)


@_jit.kernel
def _hu_terms(P, group, sel, item_of, per_item, coef):  # pragma: no cover - compiled
    """Add each bar's cost to ``per_item[item_of[group]]`` (its distance to the diagonal, or for the
    ``sel`` rows to ``(1, 0)``, less the target bar's distance to the diagonal) and write its
    derivative ``coef``."""
    for r in range(len(group)):
        b, d = P[r, 0], P[r, 1]
        per_item[item_of[group[r]]] += 0.5 * (b - d) ** 2
        coef[r, 0], coef[r, 1] = b - d, d - b
    for j in range(len(sel)):
        r = sel[j]
        b, d = P[r, 0], P[r, 1]
        per_item[item_of[group[r]]] += (b - 1.0) ** 2 + d ** 2 - 0.5 * (b - d) ** 2 - 0.5
        coef[r, 0], coef[r, 1] = 2.0 * (b - 1.0), 2.0 * d


def _top_gains(gain: np.ndarray, item: np.ndarray, k: np.ndarray, n_items: int, pairs: np.ndarray,
               index: np.ndarray) -> np.ndarray:
    """The rows (ascending) that the optimal matching keeps: in each item ``i`` the ``k[i]`` rows with
    the largest positive ``gain``. ``item`` is each row's item. Tied gains go by the canonical order
    of the superlevel diagram: larger birth first, then larger death, then smaller birth and death
    positions (``pairs`` and ``index`` of the rows), so the choice does not depend on the row order."""
    if _jit.enabled() and _is_sorted(item):
        bounds = np.searchsorted(item, np.arange(n_items + 1))
        out = np.empty(len(gain), np.int64)
        pairs, index = np.ascontiguousarray(pairs, np.float64), np.ascontiguousarray(index, np.int64)
        return out[: _top_gains_kernel(gain, bounds, k, pairs, index, out)]
    cand = np.flatnonzero(gain > 0)
    c_item, c_pairs, c_index = item[cand], pairs[cand], index[cand]
    order = np.lexsort((c_index[:, 1], c_index[:, 0], -c_pairs[:, 1], -c_pairs[:, 0], -gain[cand], c_item))
    g_sorted = c_item[order]
    starts = np.r_[0, np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1] if len(order) else np.zeros(0, np.int64)
    rank = np.empty(len(cand), np.int64)
    rank[order] = np.arange(len(cand)) - np.repeat(starts, np.diff(np.r_[starts, len(cand)]))
    return cand[rank < k[c_item]]


@_jit.kernel
def _top_gains_kernel(gain, bounds, k, pairs, index, out):  # pragma: no cover - compiled
    """:func:`_top_gains` for rows grouped by item (item ``i``: rows ``bounds[i]:bounds[i + 1]``): one
    pass per item keeps the best ``k[i]`` rows seen so far, by decreasing gain, tied gains in the
    canonical order (larger birth, larger death, smaller birth position, smaller death position)."""

    def ahead(r, s):  # whether row r ranks before row s
        if gain[r] != gain[s]:
            return gain[r] > gain[s]
        if pairs[r, 0] != pairs[s, 0]:
            return pairs[r, 0] > pairs[s, 0]
        if pairs[r, 1] != pairs[s, 1]:
            return pairs[r, 1] > pairs[s, 1]
        if index[r, 0] != index[s, 0]:
            return index[r, 0] < index[s, 0]
        return index[r, 1] < index[s, 1]

    m = 0
    for i in range(len(bounds) - 1):
        want = k[i]
        if want <= 0:
            continue
        best = np.empty(want, np.int64)
        c = 0
        for r in range(bounds[i], bounds[i + 1]):
            g = gain[r]
            if g <= 0 or (c == want and not ahead(r, best[c - 1])):
                continue
            j = c if c < want else want - 1  # the slot it enters from (the last one drops out when full)
            while j > 0 and ahead(r, best[j - 1]):
                best[j] = best[j - 1]
                j -= 1
            if c < want:
                c += 1
            best[j] = r
        chosen = np.sort(best[:c])
        for j in range(c):
            out[m] = chosen[j]
            m += 1
    return m


def hu_topological_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    maxdim: int = 1,
    construction: str = "T",
    spatial_dims: int = 2,
    matching: str = "optimal",
) -> torch.Tensor:
    r"""The topological loss of Hu et al. (NeurIPS 2019), for a batch of likelihood maps.

    For each image and each homology dimension :math:`k \le` ``maxdim``, the superlevel persistence
    diagram of the prediction :math:`f` is matched with that of the target :math:`g` and

    .. math::

        L_k(f, g) = \sum_{p \in \mathrm{Dgm}_k(f)} \big(b(p) - b(\gamma^*(p))\big)^2
                  + \big(d(p) - d(\gamma^*(p))\big)^2
                  + \sum_{q \in \mathrm{Dgm}_k(g)\ \text{unmatched}} \frac{(b(q) - d(q))^2}{2},

    where :math:`\gamma^*` is the optimal matching of the squared 2-Wasserstein distance (a bar may
    go to its closest point on the diagonal instead), so :math:`\sum_k L_k` is
    :math:`W_2^2(\mathrm{Dgm}(f), \mathrm{Dgm}(g))`. The last sum does not depend on ``pred``: it
    makes the value a distance (it is what topolosses' ``HutopoLoss`` adds) and has no gradient.
    Only finite bars enter; the bar of the whole image, which never dies, is left out on both sides.

    For a binary target every target bar sits at :math:`(1, 0)`, and the optimal matching keeps the
    predicted bars that gain most by going there (a sort for the whole batch). Non-binary targets are
    matched exactly, one image and dimension at a time (scipy's ``linear_sum_assignment``).
    ``matching="persistence"`` instead sends the :math:`k` most persistent predicted bars to the
    target's :math:`k` bars, as in the authors' reference code; the two agree unless a less
    persistent bar sits closer to :math:`(1, 0)`.

    Args:
        pred: probabilities in ``[0, 1]``, shape ``(B, C, *spatial)``, float32 or float64, any device.
            For logits pass ``torch.sigmoid(logits)``.
        target: the ground truth, same shape, values in ``[0, 1]`` (usually 0/1); no gradient.
        maxdim: the largest homology dimension (1: components and loops; 2 adds cavities of volumes).
        construction: ``"T"`` (default, as Hu et al.): pixels are the top cells, so foreground is
            8-connected in 2-D (26 in 3-D); ``"V"``: pixels are vertices, foreground 4-connected (6),
            as Betti-Matching-3D and topolosses. With ``"V"`` the value equals the topological term of
            topolosses' ``HutopoLoss(use_base_loss=False, alpha=1)``; with the default it is the
            paper's loss on the T construction, which topolosses does not offer.
        spatial_dims: the number of trailing spatial axes (2 for ``(B, C, H, W)``, 3 for volumes).
        matching: ``"optimal"`` (the paper's :math:`\gamma^*`) or ``"persistence"`` (see above).

    Returns:
        A 0-dim tensor: the mean over the ``B * C`` images of :math:`\sum_{k \le \text{maxdim}} L_k`.

    Example:
        >>> import torch, difftda
        >>> target = torch.zeros(2, 1, 16, 16); target[:, :, 4:12, 4:12] = 1; target[:, :, 7:9, 7:9] = 0
        >>> pred = (0.8 * target + 0.1 * torch.rand(2, 1, 16, 16)).requires_grad_()
        >>> loss = difftda.losses.hu_topological_loss(pred, target)
        >>> loss.backward()
    """
    maxdim, construction, d, matching = _hu_args(maxdim, construction, spatial_dims, matching)
    p_flat, t_flat = _check_maps(pred, target, d)
    n = p_flat.shape[0]
    # A 0/1 target's bars all sit at (1, 0): their numbers come from labelling, without persistence.
    binary = d <= 3 and bool(((t_flat == 0) | (t_flat == 1)).all())  # checked where the target is
    if binary:
        t_counts = _binary_bar_counts(t_flat.cpu().numpy() > 0.5, maxdim, construction)
        if matching == "optimal" and _fused(p_flat):
            return _hu_binary_fused(p_flat, t_counts, n, maxdim, construction, d)
        # The direct path's value and choice of bars do not depend on the order of the rows.
        out = _cubical(p_flat, maxdim, d, construction, canonical=matching != "optimal")
    else:
        out = _cubical(torch.cat([p_flat, t_flat]), maxdim, d, construction)
    if binary and matching == "optimal":
        return _hu_binary(out, t_counts, n, maxdim, pred)
    per_item = pred.new_zeros(n)
    anchor = pred.new_zeros(())
    for k in range(maxdim + 1):
        if binary:
            pairs, pi = _dim_bars(out, k, n)
            p_rows = np.arange(len(pi))
            ti = np.repeat(np.arange(n), t_counts[k])
            P, T = pairs.detach().cpu().double().numpy(), np.zeros((len(ti), 2))
            T[:, 0] = 1.0
        else:
            pairs, item = _dim_bars(out, k, 2 * n)
            is_p = item < n
            p_rows, t_rows = np.flatnonzero(is_p), np.flatnonzero(~is_p)
            pi, ti = item[p_rows], item[t_rows] - n
            host = pairs.detach().cpu().double().numpy()
            P, T = host[p_rows], host[t_rows]
        mp, mt = _hu_matching(P, pi, T, ti, n, matching)
        dev = pairs.device
        if binary:
            idx = torch.from_numpy(np.concatenate([p_rows, mp])).to(dev)
            Pt, Pm = pairs[idx].split([len(p_rows), len(mp)])
            Tt, Tm = (torch.from_numpy(T[:m]).to(dev, pairs.dtype) for m in (len(ti), len(mt)))
        else:
            idx = torch.from_numpy(np.concatenate([p_rows, t_rows, p_rows[mp], t_rows[mt]])).to(dev)
            Pt, Tt, Pm, Tm = pairs[idx].split([len(p_rows), len(t_rows), len(mp), len(mt)])
            Tt, Tm = Tt.detach(), Tm.detach()
        anchor = anchor + Pt.sum() * 0
        # Every bar starts on the diagonal; a matched pair replaces both diagonal costs by their distance.
        p_diag = 0.5 * (Pt[:, 0] - Pt[:, 1]) ** 2
        t_diag = 0.5 * (Tt[:, 0] - Tt[:, 1]) ** 2
        matched = ((Pm - Tm) ** 2).sum(1) - 0.5 * (Pm[:, 0] - Pm[:, 1]) ** 2 - 0.5 * (Tm[:, 0] - Tm[:, 1]) ** 2
        items = torch.from_numpy(np.concatenate([pi, ti, pi[mp]])).to(dev)
        per_item = per_item.index_add(0, items, torch.cat([p_diag, t_diag, matched]))
    return per_item.mean() + anchor


class HuTopologicalLoss(nn.Module):
    """Module form of :func:`hu_topological_loss`; the options are checked at construction.

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.HuTopologicalLoss(maxdim=1)
        >>> target = torch.zeros(1, 1, 12, 12); target[..., 3:9, 3:9] = 1
        >>> loss = crit(torch.rand(1, 1, 12, 12), target)
    """

    def __init__(self, *, maxdim: int = 1, construction: str = "T", spatial_dims: int = 2,
                 matching: str = "optimal") -> None:
        super().__init__()
        self.maxdim, self.construction, self.spatial_dims, self.matching = _hu_args(
            maxdim, construction, spatial_dims, matching)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return hu_topological_loss(pred, target, maxdim=self.maxdim, construction=self.construction,
                                   spatial_dims=self.spatial_dims, matching=self.matching)

    def extra_repr(self) -> str:
        return (f"maxdim={self.maxdim}, construction={self.construction!r}, spatial_dims={self.spatial_dims}, "
                f"matching={self.matching!r}")


# ----------------------------------------------------------------------------------------------
# Betti matching (Stucki et al.): the matching induced through the union, from Betti-Matching-3D

_ENGINE: ModuleType | None = None
_TOPOLOSSES_NAME = "topolosses.losses.betti_matching.src.betti_matching"


def _betti_matching_engine() -> ModuleType:
    """The compiled Betti-Matching-3D module: the build that ships inside the topolosses wheel (loaded
    on its own, without importing topolosses and its dependencies) or a standalone ``betti_matching``."""
    global _ENGINE
    if _ENGINE is not None:
        return _ENGINE
    mod = sys.modules.get(_TOPOLOSSES_NAME)
    if mod is None:
        spec = importlib.util.find_spec("topolosses")
        found = []
        if spec is not None and spec.submodule_search_locations:
            for root in spec.submodule_search_locations:
                found += glob.glob(os.path.join(root, "losses", "betti_matching", "src", "betti_matching*.so"))
                found += glob.glob(os.path.join(root, "losses", "betti_matching", "src", "betti_matching*.pyd"))
        if found:
            loader = importlib.machinery.ExtensionFileLoader(_TOPOLOSSES_NAME, found[0])
            mspec = importlib.util.spec_from_file_location(_TOPOLOSSES_NAME, found[0], loader=loader)
            assert mspec is not None
            mod = importlib.util.module_from_spec(mspec)
            loader.exec_module(mod)
            sys.modules[_TOPOLOSSES_NAME] = mod  # topolosses, if imported later, reuses this one
        else:
            try:
                mod = importlib.import_module("betti_matching")
            except ImportError:
                from ..backends import BackendUnavailableError

                raise BackendUnavailableError(
                    "betti_matching_loss needs the Betti-Matching-3D engine. Install it with "
                    "`pip install --no-deps topolosses` (Linux wheels; --no-deps keeps your torch: difftda "
                    "loads only the compiled engine), or build nstucki/Betti-Matching-3D and put its "
                    "`betti_matching` module on the path"
                ) from None
    _ENGINE = mod
    return mod


def _coords_to_flat(coords: np.ndarray, shape: tuple[int, ...], offset: int) -> np.ndarray:
    """Engine coordinates (rows of pixel indices) -> flat C-order positions in the batch."""
    c = np.asarray(coords, dtype=np.int64).reshape(-1, len(shape))
    return np.ravel_multi_index(tuple(c.T), shape) + offset if len(c) else np.zeros(0, np.int64)


def betti_matching_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    spatial_dims: int = 2,
    superlevel: bool = True,
    topology_weights: tuple[float, float] = (1.0, 1.0),
    barcode_length_threshold: float = 0.0,
) -> torch.Tensor:
    r"""The Betti matching loss of Stucki et al. (ICML 2023), for a batch of likelihood maps.

    The bars of the prediction and of the target are matched by the matching that both images
    induce through their pixel-wise union (Betti-Matching-3D computes it; pixels are vertices of the
    cubical complex, the V-construction). For each image, summed over every homology dimension,

    .. math::

        L = 2 w_0 \sum_{(p, q)\ \text{matched}} \|p - q\|^2
          + w_1 \sum_{p\ \text{unmatched in pred}} (b(p) - d(p))^2
          + \sum_{q\ \text{unmatched in target}} (b(q) - d(q))^2,

    that is twice the squared distance of each pair, and of each unmatched bar to the diagonal. The
    last sum is a constant of the target. The value is the mean over the ``B * C`` images, as the
    topological term of topolosses' ``BettiMatchingLoss``. The gradient reaches ``pred`` through one
    gather of the values at the matched bars' birth and death pixels.

    Args:
        pred: probabilities in ``[0, 1]``, shape ``(B, C, *spatial)``; for logits pass
            ``torch.sigmoid(logits)``.
        target: the ground truth, same shape, values in ``[0, 1]``; no gradient.
        spatial_dims: the number of trailing spatial axes (1, 2 or 3; Betti-Matching-3D also takes more).
        superlevel: True (default): foreground is where values are high (the superlevel filtration);
            False: the sublevel filtration of the values.
        topology_weights: ``(w_0, w_1)``, the weights of the matched pairs and of the prediction's
            unmatched bars.
        barcode_length_threshold: unmatched predicted bars no longer than this are ignored.

    Returns:
        A 0-dim tensor.

    Raises:
        BackendUnavailableError: when Betti-Matching-3D is not installed (``pip install --no-deps
            topolosses`` provides it).

    Example:
        >>> import torch, difftda
        >>> target = torch.zeros(2, 1, 16, 16); target[:, :, 4:12, 4:12] = 1
        >>> pred = torch.rand(2, 1, 16, 16, requires_grad=True)
        >>> loss = difftda.losses.betti_matching_loss(pred, target)  # doctest: +SKIP
    """
    d, superlevel, (w0, w1), thr = _bm_args(spatial_dims, superlevel, topology_weights, barcode_length_threshold)
    p_flat, t_flat = _check_maps(pred, target, d)
    engine = _betti_matching_engine()
    n, shape = p_flat.shape[0], tuple(p_flat.shape[1:])
    numel = int(np.prod(shape))

    def host(x: torch.Tensor) -> list[np.ndarray]:
        x = x.detach()
        x = 1 - x if superlevel else x  # the engine pairs the sublevel filtration, as topolosses calls it
        return list(np.ascontiguousarray(x.cpu().numpy().astype(np.float64)))

    results = engine.compute_matching(host(p_flat), host(t_flat))
    # Flat positions of every bar's birth and death, by kind: matched (pred and target side),
    # unmatched in pred, unmatched in target; and each bar's item.
    kinds = ("input1_matched", "input2_matched", "input1_unmatched", "input2_unmatched")
    births: dict[str, list[np.ndarray]] = {kd: [] for kd in kinds}
    deaths: dict[str, list[np.ndarray]] = {kd: [] for kd in kinds}
    owners: dict[str, list[np.ndarray]] = {kd: [] for kd in kinds}
    for i, res in enumerate(results):
        for kd in kinds:
            b_all, d_all = getattr(res, kd + "_birth_coordinates"), getattr(res, kd + "_death_coordinates")
            for b, dd in zip(b_all, d_all):
                fb = _coords_to_flat(b, shape, i * numel)
                births[kd].append(fb)
                deaths[kd].append(_coords_to_flat(dd, shape, i * numel))
                owners[kd].append(np.full(len(fb), i, np.int64))
    cat = {kd: (np.concatenate(births[kd] or [np.zeros(0, np.int64)]),
                np.concatenate(deaths[kd] or [np.zeros(0, np.int64)]),
                np.concatenate(owners[kd] or [np.zeros(0, np.int64)])) for kd in kinds}
    sizes = [len(cat[kd][0]) for kd in kinds]
    pos = np.concatenate([np.concatenate([cat[kd][0], cat[kd][1]]) for kd in kinds])
    pos_t = torch.from_numpy(pos).to(pred.device)
    p_vals = p_flat.reshape(-1)[pos_t]
    t_vals = t_flat.reshape(-1)[pos_t]
    chunks_p = p_vals.split([2 * s for s in sizes])
    chunks_t = t_vals.split([2 * s for s in sizes])
    pm, tm = chunks_p[0].view(2, -1), chunks_t[1].view(2, -1)
    pu, tu = chunks_p[2].view(2, -1), chunks_t[3].view(2, -1)
    matched = 2 * w0 * ((pm - tm) ** 2).sum(0)
    unmatched_p = w1 * (pu[0] - pu[1]) ** 2
    if thr > 0:
        unmatched_p = unmatched_p * ((pu[0] - pu[1]).abs() > thr).to(unmatched_p.dtype)
    unmatched_t = (tu[0] - tu[1]) ** 2
    owners_t = torch.from_numpy(np.concatenate([cat[kinds[0]][2], cat[kinds[2]][2], cat[kinds[3]][2]])).to(pred.device)
    per_item = pred.new_zeros(n).index_add(0, owners_t, torch.cat([matched, unmatched_p, unmatched_t]))
    return per_item.mean() + p_vals.sum() * 0


class BettiMatchingLoss(nn.Module):
    """Module form of :func:`betti_matching_loss`; the options are checked at construction.

    Example:
        >>> import difftda
        >>> crit = difftda.nn.BettiMatchingLoss(topology_weights=(1.0, 0.5))
    """

    def __init__(self, *, spatial_dims: int = 2, superlevel: bool = True,
                 topology_weights: tuple[float, float] = (1.0, 1.0), barcode_length_threshold: float = 0.0) -> None:
        super().__init__()
        self.spatial_dims, self.superlevel, self.topology_weights, self.barcode_length_threshold = _bm_args(
            spatial_dims, superlevel, topology_weights, barcode_length_threshold)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return betti_matching_loss(pred, target, spatial_dims=self.spatial_dims, superlevel=self.superlevel,
                                   topology_weights=self.topology_weights,
                                   barcode_length_threshold=self.barcode_length_threshold)

    def extra_repr(self) -> str:
        return (f"spatial_dims={self.spatial_dims}, superlevel={self.superlevel}, "
                f"topology_weights={self.topology_weights}, barcode_length_threshold={self.barcode_length_threshold}")


# ----------------------------------------------------------------------------------------------
# The Betti number error (a metric)


def betti_number_error(
    pred: torch.Tensor,
    target: torch.Tensor,
    threshold: float = 0.5,
    *,
    construction: str = "T",
    spatial_dims: int = 2,
) -> torch.Tensor:
    r"""The Betti number error of thresholded maps: :math:`|\beta_k(\{pred \ge t\}) - \beta_k(\{target \ge t\})|`.

    A metric, not differentiable. Both maps are binarized with ``>= threshold``; the Betti numbers
    :math:`\beta_0` (components), :math:`\beta_1` (loops, i.e. holes in 2-D, tunnels in 3-D) and, for
    volumes, :math:`\beta_2` (cavities) of the foreground are counted on the cubical complex of
    ``construction``: ``"T"`` (default) counts 8-connected foreground components in 2-D (26 in 3-D)
    and holes as 4-connected (6) background regions that do not touch the border; ``"V"`` counts
    4-connected (6) components and 8-connected (26) holes. Use the construction your loss uses.

    Args:
        pred: values in ``[0, 1]``, shape ``(B, C, *spatial)``.
        target: same shape.
        threshold: the level; foreground is ``>= threshold``.
        construction: ``"T"`` or ``"V"`` (see above).
        spatial_dims: the number of trailing spatial axes.

    Returns:
        An int64 tensor of shape ``(B, C, spatial_dims)`` on pred's device: the error of
        :math:`\beta_0, \ldots, \beta_{d-1}` of every image. ``err.float().mean((0, 1))`` is the mean
        error per dimension, ``err.sum(-1)`` the total per image.

    Example:
        >>> import torch, difftda
        >>> target = torch.zeros(1, 1, 9, 9); target[..., 1:8, 1:8] = 1; target[..., 4, 4] = 0  # a ring
        >>> pred = target.clone(); pred[..., 4, 1] = 0                                        # cut open
        >>> difftda.losses.betti_number_error(pred, target).tolist()
        [[[0, 0]]]
        >>> pred[..., 4, 1:4] = 0                                                            # hole opens
        >>> difftda.losses.betti_number_error(pred, target).tolist()
        [[[0, 1]]]
    """
    d = _check_spatial_dims(spatial_dims)
    construction = check_choice(construction, "construction", CONSTRUCTIONS)
    t = float(check_positive(threshold, "threshold", allow_zero=True))
    p_flat, t_flat = _check_maps(pred, target, d, check_range=False)
    n = p_flat.shape[0]
    binary = torch.cat([p_flat.detach() >= t, t_flat >= t]).to(torch.float64)
    out = _cubical(binary, d - 1, d, construction)
    counts = np.zeros((d, 2 * n), np.int64)
    whole = out.cat()
    for k in range(d):
        fin_item, ess_item = (c.detach().cpu().numpy() for c in out.cloud_of(k))
        alive = whole[k].pairs[:, 0].detach().cpu().numpy() >= 0.5
        alive_e = whole[k].essential.detach().cpu().numpy() >= 0.5
        counts[k] = np.bincount(fin_item[alive], minlength=2 * n) + np.bincount(ess_item[alive_e], minlength=2 * n)
    err = np.abs(counts[:, :n] - counts[:, n:]).T.reshape(*pred.shape[:2], d)
    return torch.from_numpy(np.ascontiguousarray(err)).to(pred.device)
