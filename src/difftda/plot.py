"""Pictures of diagrams and training: diagrams, barcodes, matchings, critical edges, animations.

matplotlib is an optional extra (``pip install matplotlib pillow``, or ``pip install -e '.[plot]'`` in
a checkout of difftda); it is imported only when a function here is called, so ``import difftda.plot``
works without it. Every function draws on the ``ax`` it is given (or on a new figure) and returns it,
the way seaborn and persim do, so pictures compose with the rest of a matplotlib figure.

Inputs are taken in every form difftda and its neighbours produce:

* a :class:`~difftda.Diagrams` (all homology dimensions), a :class:`~difftda.Diagram` (one),
* a ``(k, 2)`` tensor or array whose rows with death ``inf`` are essential bars,
* a list of such arrays, one per dimension (ripser's, giotto-ph's and persim's ``dgms``).

Essential bars are drawn on a dashed line labelled ``∞`` above every finite value.

Example:
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch, difftda
    >>> from difftda.plot import plot_diagram
    >>> dgms = difftda.persistence(torch.randn(40, 2), maxdim=1)
    >>> ax = plot_diagram(dgms)
    >>> ax.get_xlabel()
    'birth'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .diagrams import Diagram, Diagrams

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes

__all__ = ["plot_diagram", "plot_barcode", "plot_matching", "plot_critical_edges", "animate_snapshots"]

_INSTALL = "pip install matplotlib pillow (or, from a difftda checkout, pip install -e '.[plot]')"


def _pyplot():
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - exercised by monkeypatching sys.modules
        raise ImportError(f"difftda.plot needs matplotlib, which is not installed: {_INSTALL}") from err
    return plt


# ----------------------------------------------------------------------------------------------
# Input normalisation
# ----------------------------------------------------------------------------------------------


def _one_array(dgm: object, name: str) -> np.ndarray:
    """A ``(k, 2)`` float64 array, essential rows with death ``inf``."""
    if isinstance(dgm, Diagram):
        return dgm.to_numpy()
    if isinstance(dgm, torch.Tensor):
        dgm = dgm.detach().cpu().double().numpy()
    try:
        arr = np.asarray(dgm, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a difftda Diagram, a (k, 2) tensor/array of (birth, death), or a list of them; "
            f"got {type(dgm).__name__}"
        ) from err
    if arr.size == 0:
        return arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (k, 2) (birth, death); got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; a diagram needs finite births and finite or inf deaths")
    if np.isinf(arr[:, 0]).any():
        raise ValueError(f"{name} has an infinite birth; only deaths may be inf (essential bars)")
    if (arr[:, 1] == -np.inf).any():
        raise ValueError(f"{name} has a death of -inf; essential bars are written with death +inf")
    return arr


def _is_single(dgms: object) -> bool:
    if isinstance(dgms, Diagrams):
        return False
    if isinstance(dgms, (Diagram, torch.Tensor, np.ndarray)):
        return True
    if isinstance(dgms, (list, tuple)):
        return not (len(dgms) and all(isinstance(d, (Diagram, torch.Tensor, np.ndarray, list, tuple)) and
                                      not _looks_like_row(d) for d in dgms))
    return True


def _looks_like_row(d: object) -> bool:
    """A plain (birth, death) pair: two numbers in a list, a tuple or a 1-D array."""
    if isinstance(d, (np.ndarray, torch.Tensor)):
        return d.ndim == 1 and d.shape[0] == 2
    return isinstance(d, (list, tuple)) and len(d) == 2 and all(isinstance(v, (int, float)) for v in d)


def _as_dimensions(
    dgms: object, homology_dimensions: int | Sequence[int] | None, labels: str | Sequence[str] | None, name: str
) -> list[tuple[str | None, np.ndarray]]:
    """``[(label, (k, 2) array), ...]``, one entry per diagram to draw."""
    if _is_single(dgms):
        if homology_dimensions is not None and not isinstance(homology_dimensions, int):
            raise ValueError(
                f"{name} is a single diagram; homology_dimensions must be None or the int it belongs to"
            )
        label = f"H{homology_dimensions}" if isinstance(homology_dimensions, int) else None
        items = [(label, _one_array(dgms, name))]
    else:
        arrays = [_one_array(d, f"{name}[{k}]") for k, d in enumerate(dgms)]  # type: ignore[arg-type]
        if homology_dimensions is None:
            dims = list(range(len(arrays)))
        else:
            dims = [homology_dimensions] if isinstance(homology_dimensions, int) else list(homology_dimensions)
        for k in dims:
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(arrays):
                raise ValueError(
                    f"homology_dimensions must hold ints in 0..{len(arrays) - 1} (the dimensions of {name}); got {k!r}"
                )
        items = [(f"H{k}", arrays[k]) for k in dims]
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != len(items):
            raise ValueError(f"labels has {len(labels)} entries for {len(items)} diagrams; give one per diagram")
        items = [(lab, arr) for lab, (_, arr) in zip(labels, items)]
    return items


def _colors(n: int, colors: Sequence[Any] | None) -> list[Any]:
    if colors is None:
        return [f"C{k % 10}" for k in range(n)]
    colors = list(colors)
    if len(colors) < n:
        raise ValueError(f"colors has {len(colors)} entries for {n} diagrams; give one per diagram")
    return colors


def _value_range(arrays: Sequence[np.ndarray]) -> tuple[float, float, bool]:
    """``(lo, hi, has_essential)`` over every finite value of the arrays."""
    vals = [a[np.isfinite(a)] for a in arrays if a.size]
    flat = np.concatenate(vals) if vals else np.zeros(0)
    has_ess = any(np.isinf(a[:, 1]).any() for a in arrays if a.size)
    if flat.size == 0:
        return 0.0, 1.0, has_ess
    lo, hi = float(min(flat.min(), 0.0)), float(flat.max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi, has_ess


def _inf_ticks(ticks: np.ndarray, lo: float, hi: float, inf_pos: float) -> tuple[list[float], list[str]]:
    keep = [float(t) for t in ticks if lo - 1e-12 <= t <= hi + 1e-12 and t < inf_pos - 0.04 * (hi - lo)]
    return keep + [inf_pos], [f"{t:g}" for t in keep] + ["∞"]


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    plt = _pyplot()
    _, ax = plt.subplots(figsize=figsize)
    return ax


# ----------------------------------------------------------------------------------------------
# Diagrams and barcodes
# ----------------------------------------------------------------------------------------------


def plot_diagram(
    dgms: Diagrams | Diagram | torch.Tensor | np.ndarray | Sequence[Any],
    *,
    homology_dimensions: int | Sequence[int] | None = None,
    ax: Axes | None = None,
    labels: str | Sequence[str] | None = None,
    colors: Sequence[Any] | None = None,
    title: str | None = None,
    size: float = 18.0,
    alpha: float = 0.8,
    legend: bool = True,
) -> Axes:
    """Scatter a persistence diagram: one colour per homology dimension, essential bars on an ``∞`` line.

    Args:
        dgms: a :class:`~difftda.Diagrams`, a :class:`~difftda.Diagram`, a ``(k, 2)`` tensor/array
            (rows with death ``inf`` are essential), or a list of arrays, one per dimension.
        homology_dimensions: the dimensions to draw (default: all). For a single diagram, the int
            it belongs to (used for its label).
        ax: the matplotlib Axes to draw on (default: a new figure).
        labels: legend names, one per drawn diagram (default ``"H0"``, ``"H1"``, ...).
        colors: one matplotlib colour per drawn diagram.
        title: the Axes title.
        size, alpha: marker size and opacity.
        legend: draw a legend when there is something to name.

    Returns:
        The Axes.

    Raises:
        ImportError: matplotlib is missing (``pip install matplotlib pillow``).
        ValueError: a diagram is not ``(k, 2)``, holds NaN or an infinite birth, or a dimension is unknown.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from difftda.plot import plot_diagram
        >>> ax = plot_diagram([np.array([[0.0, 1.0], [0.0, np.inf]]), np.array([[0.5, 0.8]])])
        >>> [t.get_text() for t in ax.get_legend().get_texts()]
        ['H0', 'H1']
    """
    items = _as_dimensions(dgms, homology_dimensions, labels, "dgms")
    ax = _new_axes(ax, (4.5, 4.5))
    cols = _colors(len(items), colors)
    lo, hi, has_ess = _value_range([a for _, a in items])
    span = hi - lo
    inf_pos = hi + 0.12 * span
    top = inf_pos + 0.06 * span if has_ess else hi + 0.06 * span
    bottom = lo - 0.06 * span
    ax.plot([bottom, top], [bottom, top], color="0.55", lw=0.9, zorder=1)
    if has_ess:
        ax.axhline(inf_pos, color="0.55", lw=0.9, ls="--", zorder=1)
    for (label, arr), color in zip(items, cols):
        ess = np.isinf(arr[:, 1])
        ys = np.where(ess, inf_pos, arr[:, 1])
        ax.scatter(arr[:, 0], ys, s=size, alpha=alpha, color=color, label=label, zorder=3,
                   edgecolors="none")
    ax.set_xlim(bottom, top)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal", adjustable="box")
    if has_ess:
        ticks, names = _inf_ticks(ax.get_yticks(), lo, hi, inf_pos)
        ax.set_yticks(ticks, names)
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    if title is not None:
        ax.set_title(title)
    if legend and any(label is not None for label, _ in items):
        ax.legend(loc="lower right", fontsize="small", markerscale=1.3)
    return ax


def plot_barcode(
    dgms: Diagrams | Diagram | torch.Tensor | np.ndarray | Sequence[Any],
    *,
    homology_dimensions: int | Sequence[int] | None = None,
    ax: Axes | None = None,
    labels: str | Sequence[str] | None = None,
    colors: Sequence[Any] | None = None,
    title: str | None = None,
    max_bars: int | None = None,
    linewidth: float | None = None,
    legend: bool = True,
) -> Axes:
    """Draw each bar as a horizontal segment from birth to death, grouped by homology dimension.

    Within a dimension the bars are sorted by birth, then death. Essential bars run to an ``∞``
    mark at the right, ending in an arrow head.

    Args:
        dgms: as for :func:`plot_diagram`.
        homology_dimensions: the dimensions to draw (default: all).
        ax: the Axes to draw on (default: a new figure).
        labels: legend names, one per drawn diagram.
        colors: one colour per drawn diagram.
        title: the Axes title.
        max_bars: keep only the ``max_bars`` longest bars of each dimension (essential bars count
            as longest); None keeps all.
        linewidth: bar thickness in points (default: shrinks as the number of bars grows).
        legend: draw a legend when there is something to name.

    Returns:
        The Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import torch, difftda
        >>> from difftda.plot import plot_barcode
        >>> ax = plot_barcode(difftda.persistence(torch.randn(30, 2), maxdim=1), max_bars=10)
        >>> ax.get_xlabel()
        'filtration value'
    """
    if max_bars is not None and (isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < 1):
        raise ValueError(f"max_bars must be None or an int >= 1; got {max_bars!r}")
    items = _as_dimensions(dgms, homology_dimensions, labels, "dgms")
    ax = _new_axes(ax, (6.0, 4.0))
    cols = _colors(len(items), colors)
    lo, hi, has_ess = _value_range([a for _, a in items])
    span = hi - lo
    inf_pos = hi + 0.12 * span
    kept = []
    for label, arr in items:
        length = np.where(np.isinf(arr[:, 1]), np.inf, arr[:, 1] - arr[:, 0])
        if max_bars is not None and len(arr) > max_bars:
            arr = arr[np.argsort(-length, kind="stable")[:max_bars]]
        arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
        kept.append((label, arr))
    total = sum(len(a) for _, a in kept)
    lw = linewidth if linewidth is not None else float(np.clip(120.0 / max(total, 1), 0.6, 6.0))
    y0 = 0
    for (label, arr), color in zip(kept, cols):
        ys = y0 + np.arange(len(arr))
        ess = np.isinf(arr[:, 1])
        ends = np.where(ess, inf_pos, arr[:, 1])
        ax.hlines(ys, arr[:, 0], ends, colors=color, lw=lw, label=label)
        if ess.any():
            ax.scatter(np.full(int(ess.sum()), inf_pos), ys[ess], marker=">", s=4 * lw**2 + 6, color=color,
                       zorder=3)
        y0 += len(arr) + max(1, total // 25)
    ax.set_ylim(y0, -1)  # first dimension on top
    ax.set_yticks([])
    ax.set_xlim(lo - 0.04 * span, (inf_pos if has_ess else hi) + 0.05 * span)
    if has_ess:
        ax.axvline(inf_pos, color="0.55", lw=0.9, ls="--", zorder=1)
        ticks, names = _inf_ticks(ax.get_xticks(), lo, hi, inf_pos)
        ax.set_xticks(ticks, names)
    ax.set_xlabel("filtration value")
    if title is not None:
        ax.set_title(title)
    if legend and any(label is not None for label, _ in kept):
        ax.legend(loc="lower right", fontsize="small")
    return ax


# ----------------------------------------------------------------------------------------------
# Matchings
# ----------------------------------------------------------------------------------------------


def _matching(
    a: np.ndarray, b: np.ndarray, metric: str, order: float, internal_p: float
) -> tuple[float, np.ndarray]:
    """An optimal matching of two diagrams and its cost, from the solvers of :mod:`difftda.losses`.

    Returns ``(distance, rows)``; ``rows`` is ``(r, 2)`` int: ``(i, j)`` pairs point ``a[i]`` with
    ``b[j]``, ``(i, -1)`` and ``(-1, j)`` send a point to the diagonal. Essential bars are matched by
    sorted births (optimal in one dimension); if their numbers differ the distance is inf and the
    extra ones are left out. Finite points are matched as :func:`difftda.losses.wasserstein_distance`
    and :func:`difftda.losses.bottleneck_distance` match them (for the bottleneck: the least total
    cost among the matchings of smallest largest cost).
    """
    from .losses.diagram_distances import _bottleneck_matching, _np_to_diagonal, _wasserstein_matching

    if metric == "bottleneck":
        internal_p = math.inf
    fa, fb = np.flatnonzero(np.isfinite(a[:, 1])), np.flatnonzero(np.isfinite(b[:, 1]))
    ea, eb = np.flatnonzero(np.isinf(a[:, 1])), np.flatnonzero(np.isinf(b[:, 1]))
    ea, eb = ea[np.argsort(a[ea, 0], kind="stable")], eb[np.argsort(b[eb, 0], kind="stable")]
    n_ess = min(len(ea), len(eb))
    ess_cost = np.abs(a[ea[:n_ess], 0] - b[eb[:n_ess], 0])
    ess_rows = np.stack([ea[:n_ess], eb[:n_ess]], axis=1)
    A, B = a[fa].astype(np.float64), b[fb].astype(np.float64)
    if len(A) + len(B) == 0:
        ra = cb = da = db = np.zeros(0, np.int64)
    elif metric == "bottleneck":
        ra, cb, da, db = _bottleneck_matching(A, B)
    else:
        ra, cb, da, db = _wasserstein_matching(A, B, order, internal_p)
    diff = np.abs(A[ra] - B[cb])
    pair_cost = diff.max(-1, initial=0.0) if math.isinf(internal_p) else (diff**internal_p).sum(-1) ** (1 / internal_p)
    none = np.full(len(da) + len(db), -1)
    pairs = np.concatenate([
        np.stack([fa[ra], fb[cb]], axis=1),
        np.stack([np.concatenate([fa[da], none[len(da):]]), np.concatenate([none[: len(da)], fb[db]])], axis=1),
        ess_rows,
    ]).astype(np.int64)
    costs = np.concatenate([pair_cost, _np_to_diagonal(A[da], internal_p), _np_to_diagonal(B[db], internal_p),
                            ess_cost])
    if len(ea) != len(eb):
        dist = math.inf
    elif metric == "bottleneck":
        dist = float(costs.max()) if costs.size else 0.0
    else:
        dist = float((costs**order).sum() ** (1.0 / order)) if costs.size else 0.0
    return dist, pairs


def plot_matching(
    dgm_a: Diagram | torch.Tensor | np.ndarray,
    dgm_b: Diagram | torch.Tensor | np.ndarray,
    matching: np.ndarray | torch.Tensor | None = None,
    *,
    metric: str = "bottleneck",
    order: float = 1.0,
    internal_p: float = math.inf,
    ax: Axes | None = None,
    labels: Sequence[str] = ("a", "b"),
    colors: Sequence[Any] = ("C0", "C3"),
    title: str | None = None,
    size: float = 22.0,
) -> Axes:
    """Draw two diagrams and the lines of a matching between them.

    A point matched to the diagonal gets a dashed line to its projection. For the bottleneck the
    longest line (the one that sets the distance) is drawn thicker.

    Args:
        dgm_a, dgm_b: one diagram each (a :class:`~difftda.Diagram` or a ``(k, 2)`` tensor/array,
            rows with death ``inf`` essential).
        matching: an optional ``(r, 2)`` int array of row pairs ``(i, j)`` into ``dgm_a`` /
            ``dgm_b`` (as given, essential rows included; for a Diagram, the rows of
            ``to_numpy()``), with ``-1`` for the diagonal, e.g. gudhi's ``matching=True`` output.
            When None an optimal matching is computed (scipy's assignment solver).
        metric: ``"bottleneck"`` or ``"wasserstein"`` (when the matching is computed).
        order: the Wasserstein order q.
        internal_p: the ground metric L_p between points for Wasserstein (the bottleneck uses L_inf).
        ax: the Axes to draw on (default: a new figure).
        labels: legend names of the two diagrams.
        colors: their colours.
        title: the Axes title (default: the distance of the computed matching).
        size: marker size.

    Returns:
        The Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from difftda.plot import plot_matching
        >>> a = np.array([[0.0, 2.0], [1.0, 1.5]])
        >>> b = np.array([[0.1, 2.2]])
        >>> plot_matching(a, b).get_title()
        'bottleneck distance = 0.25'
    """
    from matplotlib.collections import LineCollection

    if metric not in ("bottleneck", "wasserstein"):
        raise ValueError(f"metric must be 'bottleneck' or 'wasserstein'; got {metric!r}")
    if not (isinstance(order, (int, float)) and order >= 1):
        raise ValueError(f"order must be a number >= 1; got {order!r}")
    if not (isinstance(internal_p, (int, float)) and internal_p >= 1):
        raise ValueError(f"internal_p must be a number >= 1 or math.inf; got {internal_p!r}")
    a, b = _one_array(dgm_a, "dgm_a"), _one_array(dgm_b, "dgm_b")
    dist = None
    if matching is None:
        dist, pairs = _matching(a, b, metric, float(order), float(internal_p))
    else:
        if isinstance(matching, torch.Tensor):
            matching = matching.detach().cpu().numpy()
        pairs = np.asarray(matching).reshape(-1, 2).astype(np.int64)
        if ((pairs[:, 0] >= len(a)) | (pairs[:, 1] >= len(b)) | (pairs < -1).any(1)
                | ((pairs[:, 0] == -1) & (pairs[:, 1] == -1))).any():
            raise ValueError(
                f"matching rows must be (i, j) with -1 <= i < {len(a)}, -1 <= j < {len(b)}, not both -1"
            )
    ax = _new_axes(ax, (4.5, 4.5))
    lo, hi, has_ess = _value_range([a, b])
    span = hi - lo
    inf_pos = hi + 0.12 * span

    def place(arr: np.ndarray) -> np.ndarray:
        return np.stack([arr[:, 0], np.where(np.isinf(arr[:, 1]), inf_pos, arr[:, 1])], axis=1)

    pa, pb = place(a), place(b)
    i, j = pairs[:, 0], pairs[:, 1]
    both = (i >= 0) & (j >= 0)
    seg_both = np.stack([pa[i[both]], pb[j[both]]], axis=1)
    lone_pts = np.concatenate([pa[i[(i >= 0) & (j < 0)]], pb[j[(j >= 0) & (i < 0)]]])
    mid = lone_pts.mean(axis=1, keepdims=True) if len(lone_pts) else np.zeros((0, 1))
    proj = np.concatenate([mid, mid], axis=1)
    seg_diag = np.stack([lone_pts, proj], axis=1) if len(lone_pts) else np.zeros((0, 2, 2))
    ax.add_collection(LineCollection(seg_both, colors="0.35", lw=1.0, zorder=2))
    ax.add_collection(LineCollection(seg_diag, colors="0.35", lw=0.9, linestyles="dashed", zorder=2))
    if metric == "bottleneck" and len(pairs):
        # The line that sets the bottleneck distance, in the L_inf cost of this picture.
        full = np.concatenate([np.abs(seg_both[:, 0] - seg_both[:, 1]).max(-1),
                               np.abs(seg_diag[:, 0] - seg_diag[:, 1]).max(-1)])
        ends = np.concatenate([seg_both, seg_diag])
        k = int(np.argmax(full))
        ax.plot(ends[k, :, 0], ends[k, :, 1], color="black", lw=2.2, zorder=2)
    bottom, top = lo - 0.06 * span, (inf_pos if has_ess else hi) + 0.06 * span
    ax.plot([bottom, top], [bottom, top], color="0.55", lw=0.9, zorder=1)
    if has_ess:
        ax.axhline(inf_pos, color="0.55", lw=0.9, ls="--", zorder=1)
    # The second diagram (often a target) as larger open diamonds, the first filled and on top: where
    # they coincide both stay visible.
    ax.scatter(pb[:, 0], pb[:, 1], s=2.2 * size, facecolors="none", edgecolors=colors[1], linewidths=1.3,
               label=labels[1], zorder=3, marker="D")
    ax.scatter(pa[:, 0], pa[:, 1], s=size, color=colors[0], label=labels[0], zorder=4, edgecolors="none")
    ax.set_xlim(bottom, top)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal", adjustable="box")
    if has_ess:
        ticks, names = _inf_ticks(ax.get_yticks(), lo, hi, inf_pos)
        ax.set_yticks(ticks, names)
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    if title is None and dist is not None:
        title = f"{metric} distance = {dist:.3g}"
    if title is not None:
        ax.set_title(title)
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], names[::-1], loc="lower right", fontsize="small")  # the first diagram first
    return ax


# ----------------------------------------------------------------------------------------------
# Point clouds
# ----------------------------------------------------------------------------------------------


def _points2d(x: object, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(
            f"{name} must be (n, d) points with d >= 2 (the first two coordinates are drawn); got {arr.shape}"
        )
    return arr[:, :2]


def plot_critical_edges(
    x: torch.Tensor | np.ndarray,
    dgm: Diagram,
    *,
    top: int = 3,
    ax: Axes | None = None,
    c: Any = "0.3",
    size: float = 8.0,
    title: str | None = None,
) -> Axes:
    """Scatter a cloud and draw the birth and death edges of its ``top`` longest bars.

    These edges are where the gradient of a loss on those bars enters the points: a bar's birth is
    the length of its birth edge, its death the length of its death edge (:attr:`Diagram.index`).

    Args:
        x: ``(n, d)`` points (the first two coordinates are drawn).
        dgm: a :class:`~difftda.Diagram` of ``x`` (it carries the edges).
        top: how many of the longest finite bars to show.
        ax: the Axes to draw on (default: a new figure).
        c: colour(s) of the points (anything ``scatter`` takes).
        size: marker size.
        title: the Axes title.

    Returns:
        The Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import torch, difftda
        >>> from difftda.plot import plot_critical_edges
        >>> x = torch.randn(30, 2)
        >>> ax = plot_critical_edges(x, difftda.persistence(x, maxdim=1)[1], top=1)
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if not isinstance(dgm, Diagram):
        raise TypeError(f"dgm must be a difftda Diagram (it carries the critical edges); got {type(dgm).__name__}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ValueError(f"top must be an int >= 0; got {top!r}")
    pts = _points2d(x, "x")
    idx = dgm.index.detach().cpu().numpy()
    if idx.size and idx.max() >= len(pts):
        raise ValueError(f"dgm has edges of a cloud with more than {len(pts)} points; pass the x it was computed from")
    pairs = dgm.pairs.detach().cpu().double().numpy()
    order = np.argsort(-(pairs[:, 1] - pairs[:, 0]), kind="stable")[:top]
    ax = _new_axes(ax, (4.5, 4.5))
    ax.scatter(pts[:, 0], pts[:, 1], s=size, c=c, zorder=2, edgecolors="none")
    birth = idx[order][:, :2]
    death = idx[order][:, 2:]
    birth = birth[birth[:, 0] != birth[:, 1]]  # H0 births are vertices, not edges
    ax.add_collection(LineCollection(pts[birth], colors="C2", lw=2.0, zorder=3))
    ax.add_collection(LineCollection(pts[death], colors="C3", lw=2.0, zorder=3))
    ax.legend(handles=[Line2D([], [], color="C2", lw=2, label="birth edge"),
                       Line2D([], [], color="C3", lw=2, label="death edge")], loc="best", fontsize="small")
    ax.set_aspect("equal", adjustable="datalim")
    if title is not None:
        ax.set_title(title)
    return ax


def animate_snapshots(
    snapshots: Sequence[Any],
    path: str | Path | None = None,
    *,
    draw: Callable[[list[Axes], Any, int], None] | None = None,
    c: Any = None,
    panel_titles: Sequence[str] | None = None,
    frame_titles: Sequence[str] | None = None,
    fixed_limits: bool = True,
    size: float = 6.0,
    cmap: str = "viridis",
    panel_size: float = 3.0,
    fps: float = 6.0,
    dpi: int = 80,
) -> FuncAnimation:
    """Animate training snapshots, one frame per snapshot, and optionally save them as a GIF.

    By default each snapshot is one ``(n, 2)`` cloud, or a list of clouds drawn side by side
    (e.g. the 2-D view of each layer of a network), coloured by ``c``. Pass ``draw`` to draw
    anything else.

    Args:
        snapshots: one entry per frame: a ``(n, 2)`` tensor/array, a list of them (one per panel),
            or anything ``draw`` understands.
        path: where to write the animation (``.gif`` through pillow; another suffix uses
            matplotlib's writer for it). None only builds it.
        draw: ``draw(axes, snapshot, t)`` draws frame ``t`` on the (already cleared and titled) list
            of Axes; with it, the number of panels comes from ``panel_titles`` (default 1).
        c: colours or labels of the points (one array for all panels, or a list, one per panel).
        panel_titles: a title per panel.
        frame_titles: a figure title per frame (e.g. ``"epoch 3"``).
        fixed_limits: keep each panel's axis limits fixed over the frames (motion stays visible).
        size: marker size; cmap: colour map for numeric ``c``.
        panel_size: the width and height of one panel, in inches (the figure adds 0.6 inch for the titles).
        fps: frames per second; dpi: resolution of the saved file.

    Returns:
        The :class:`matplotlib.animation.FuncAnimation` (its figure is closed once saved).

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from difftda.plot import animate_snapshots
        >>> import os, tempfile, torch
        >>> frames = [torch.randn(20, 2) * (1 + t) for t in range(3)]
        >>> path = os.path.join(tempfile.mkdtemp(), "grow.gif")
        >>> _ = animate_snapshots(frames, path, frame_titles=["t=0", "t=1", "t=2"])
        >>> os.path.exists(path)
        True
    """
    plt = _pyplot()
    from matplotlib.animation import FuncAnimation

    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("snapshots is empty; pass at least one frame")
    if frame_titles is not None and len(frame_titles) != len(snapshots):
        raise ValueError(f"frame_titles has {len(frame_titles)} entries for {len(snapshots)} snapshots")
    if draw is None:
        def panels_of(s: Any) -> list[np.ndarray]:
            if isinstance(s, (list, tuple)):
                return [_points2d(p, "snapshots[t][k]") for p in s]
            return [_points2d(s, "snapshots[t]")]

        frames = [panels_of(s) for s in snapshots]
        n_panels = len(frames[0])
        if any(len(f) != n_panels for f in frames):
            raise ValueError("every snapshot must have the same number of panels")
    else:
        frames = snapshots
        n_panels = len(panel_titles) if panel_titles is not None else 1
    if panel_titles is not None and len(panel_titles) != n_panels:
        raise ValueError(f"panel_titles has {len(panel_titles)} entries for {n_panels} panels")
    colours = c if isinstance(c, (list, tuple)) and len(c) == n_panels and n_panels > 1 else [c] * n_panels
    # Constrained layout is recomputed for every frame, so a longer tick label or title is never clipped.
    fig, axes = plt.subplots(1, n_panels, figsize=(panel_size * n_panels, panel_size + 0.6), squeeze=False,
                             layout="constrained")
    axes = list(axes[0])
    limits = None
    if draw is None and fixed_limits:
        limits = []
        for k in range(n_panels):
            allp = np.concatenate([f[k] for f in frames])
            lo, hi = allp.min(0), allp.max(0)
            pad = 0.05 * np.maximum(hi - lo, 1e-9)
            limits.append((lo - pad, hi + pad))

    def update(t: int):
        for k, ax in enumerate(axes):
            ax.clear()
            if panel_titles is not None:  # before ``draw``, which may replace them
                ax.set_title(panel_titles[k], fontsize="medium")
        if draw is not None:
            draw(axes, frames[t], t)
        else:
            for k, ax in enumerate(axes):
                pts = frames[t][k]
                numeric = colours[k] is not None and not isinstance(colours[k], str)
                ax.scatter(pts[:, 0], pts[:, 1], s=size, c=colours[k], edgecolors="none",
                           **({"cmap": cmap} if numeric else {}))
                if limits is not None:
                    ax.set_xlim(limits[k][0][0], limits[k][1][0])
                    ax.set_ylim(limits[k][0][1], limits[k][1][1])
                ax.set_xticks([])
                ax.set_yticks([])
        if frame_titles is not None:
            fig.suptitle(frame_titles[t])
        return []

    update(0)
    anim = FuncAnimation(fig, update, frames=len(frames), interval=1000.0 / fps, blit=False)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".gif":
            from matplotlib.animation import PillowWriter

            anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
        else:
            anim.save(path, fps=fps, dpi=dpi)
        plt.close(fig)
    return anim
