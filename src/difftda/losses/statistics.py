"""Summary statistics of one diagram (total persistence, persistent entropy) and their combinations
over homology dimensions (as torch-topological's ``SummaryStatisticLoss``), with their Modules."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..diagrams import Diagram
from ._common import (
    TargetLoss,
    _misplaced,
    as_diagram,
    as_target,
    bar_lengths,
    check_dims,
    check_number,
    check_positive,
    diagram_rows,
    safe_pow,
    zero,
)

__all__ = [
    "total_persistence",
    "persistent_entropy",
    "summary_statistic_loss",
    "per_dimension_loss",
    "TotalPersistence",
    "PersistentEntropy",
    "SummaryStatisticLoss",
    "PerDimensionLoss",
]

#: What the losses accept for one diagram.
DiagramLike = Diagram | torch.Tensor | np.ndarray


def _lengths(dgm: DiagramLike) -> torch.Tensor:
    pairs, _ = as_diagram(dgm)
    return bar_lengths(pairs)


def _total_persistence_args(p: object) -> float:
    return check_positive(p, "p")


def total_persistence(dgm: DiagramLike, p: float = 1.0) -> torch.Tensor:
    r"""Total persistence :math:`\sum_i |d_i - b_i|^p` over the finite bars.

    Essential bars are left out (their persistence is infinite); their births are in
    ``dgm.essential`` if you want to penalize them. Lengths are taken in absolute value, so a
    superlevel diagram (birth > death) works too.

    Args:
        dgm: a :class:`~difftda.Diagram`, a ``(k, 2)`` tensor or numpy array (rows with ``death == inf``
            are essential).
        p: the exponent, > 0. ``p = 1`` is the sum of bar lengths (TopologyLayer's ``SumBarcodeLengths``).

    Returns:
        A 0-dim tensor on the diagram's device, differentiable (0 for an empty diagram).

    Example:
        >>> import torch, difftda
        >>> difftda.losses.total_persistence(torch.tensor([[0.0, 1.0], [0.5, 2.5]]), p=2.0)
        tensor(5.)
        >>> x = torch.randn(30, 2, requires_grad=True)
        >>> loss = difftda.losses.total_persistence(difftda.persistence(x, maxdim=1)[1])
        >>> loss.backward()
    """
    p = _total_persistence_args(p)
    return safe_pow(_lengths(dgm), p).sum()


def _entropy_args(base: object) -> float:
    base = check_positive(base, "base")
    if base == 1.0:
        raise ValueError("base must be != 1 (use math.e for nats, 2 for bits)")
    return base


def persistent_entropy(dgm: DiagramLike, *, base: float = math.e) -> torch.Tensor:
    r"""Persistent entropy :math:`E = -\sum_i (\ell_i / L) \ln(\ell_i / L)`, :math:`L = \sum_i \ell_i`,
    with :math:`\ell_i = |d_i - b_i|`.

    Uses the **natural logarithm** by default (as Topo-GEN and Atienza et al.); torch-topological
    uses ``log2``: pass ``base=2`` to get its numbers. Only finite bars count; bars of length 0
    contribute 0 (``0 log 0 = 0``, with gradient 0), and an empty diagram (or ``L = 0``) has entropy 0.
    n bars of equal length have entropy :math:`\ln n`.

    Args:
        dgm: a :class:`~difftda.Diagram`, a ``(k, 2)`` tensor or numpy array (rows with ``death == inf``
            are essential).
        base: the base of the logarithm, > 0 and != 1 (default e).

    Returns:
        A 0-dim tensor on the diagram's device, differentiable.

    Example:
        >>> import torch, difftda
        >>> e = difftda.losses.persistent_entropy(torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 3.0]]))
        >>> bool(torch.isclose(e, torch.log(torch.tensor(3.0))))
        True
    """
    base = _entropy_args(base)
    out = entropy_of_lengths(_lengths(dgm))
    return out if base == math.e else out / math.log(base)


def entropy_of_lengths(length: torch.Tensor) -> torch.Tensor:
    """``-sum (l / L) ln(l / L)`` of non-negative lengths; zeros contribute 0 (gradient 0), all-zero -> 0."""
    total = length.sum()
    pos = length > 0
    safe_total = torch.where(total > 0, total, torch.ones_like(total))
    q = torch.where(pos, length / safe_total, torch.ones_like(length))  # masked rows: -1 * ln 1 = 0
    return torch.where(pos, -q * torch.log(q), torch.zeros_like(q)).sum()


#: The statistics :func:`summary_statistic_loss` knows by name.
STATISTICS: dict[str, Callable[..., torch.Tensor]] = {
    "total_persistence": total_persistence,
    "persistent_entropy": persistent_entropy,
}


def _statistic(statistic: object) -> Callable[..., torch.Tensor]:
    if callable(statistic):
        return statistic
    if not isinstance(statistic, str):
        raise TypeError(f"statistic must be a name ({', '.join(map(repr, STATISTICS))}) or a callable"
                        + _misplaced(statistic))
    if statistic not in STATISTICS:
        raise ValueError(
            f"statistic must be one of {', '.join(map(repr, STATISTICS))} or a callable dgm -> 0-dim tensor; "
            f"got {statistic!r}"
        )
    return STATISTICS[statistic]


def _per_dim(dgms: object, dims: tuple[int, ...], name: str) -> list:
    if isinstance(dgms, (Diagram, torch.Tensor, np.ndarray)) or not isinstance(dgms, Sequence):
        raise TypeError(
            f"{name} must be the Diagrams of a cloud (difftda.persistence(x)) or a sequence of one diagram per "
            f"homology dimension; got {type(dgms).__name__}"
        )
    if len(dgms) <= max(dims):
        raise ValueError(
            f"{name} has diagrams for H0..H{len(dgms) - 1} only, homology_dimensions asks for H{max(dims)}; "
            f"compute persistence with maxdim >= {max(dims)}"
        )
    return [dgms[k] for k in dims]


def _weights(weights: object, dims: tuple[int, ...]) -> list[float]:
    if weights is None:
        return [1.0] * len(dims)
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(dims)
        if unknown:
            raise ValueError(f"weights has keys {sorted(unknown)} that are not in homology_dimensions {dims}")
        ws = [weights.get(k, 0.0) for k in dims]
    elif isinstance(weights, Sequence) and not isinstance(weights, str):
        if len(weights) != len(dims):
            raise ValueError(
                f"weights must have one entry per homology dimension {dims}; got {len(weights)} entries"
            )
        ws = list(weights)
    else:
        raise TypeError(
            f"weights must be None, a sequence (one per dimension) or a dict {{dim: weight}}; got {weights!r}"
        )
    return [check_number(w, "each weight") for w in ws]


def _first_tensor(selected: list) -> torch.Tensor:
    pairs, _ = as_diagram(selected[0], "dgms[...]")
    return pairs


def _summary_args(
    statistic: object, p: object, homology_dimensions: object, weights: object, statistic_kwargs: object
) -> tuple[Callable[..., torch.Tensor], float, tuple[int, ...], list[float], dict]:
    """The checks of :func:`summary_statistic_loss`, shared with :class:`SummaryStatisticLoss`."""
    dims = check_dims(homology_dimensions)
    p = check_positive(p, "p", minimum=1.0, hint=" (the outer exponent)")
    stat = _statistic(statistic)
    if statistic_kwargs is not None and not isinstance(statistic_kwargs, Mapping):
        raise TypeError(f"statistic_kwargs must be a dict such as {{'p': 2.0}} or None; got {statistic_kwargs!r}")
    return stat, p, dims, _weights(weights, dims), dict(statistic_kwargs or {})


def summary_statistic_loss(
    dgms: Sequence[DiagramLike],
    target: Sequence[object] | None = None,
    *,
    statistic: str | Callable[..., torch.Tensor] = "total_persistence",
    p: float = 1.0,
    homology_dimensions: Sequence[int] = (0, 1),
    weights: Sequence[float] | Mapping[int, float] | None = None,
    statistic_kwargs: Mapping[str, object] | None = None,
) -> torch.Tensor:
    r"""Match (or penalize) a summary statistic per homology dimension:
    :math:`\sum_{k} w_k\, |s(D_k) - s(D^*_k)|^p`, or :math:`\sum_k w_k\, |s(D_k)|^p` without a target.

    This is torch-topological's ``SummaryStatisticLoss`` with two differences: each homology
    dimension has its own term and weight (torch-topological adds the statistics of all
    dimensions before taking ``|.|^p``), and the outer exponent ``p`` is not passed on to the
    statistic (use ``statistic_kwargs={"p": 2}`` for the statistic's own exponent).

    Args:
        dgms: the diagrams of one cloud, indexed by homology dimension (``difftda.persistence(x)``, or
            a list of Diagrams / ``(k, 2)`` tensors).
        target: the reference diagrams, indexed the same way (Diagrams, tensors, numpy arrays), or None.
        statistic: ``"total_persistence"``, ``"persistent_entropy"`` or a callable ``dgm -> 0-dim tensor``.
        p: the outer exponent, >= 1.
        homology_dimensions: the dimensions that take part, e.g. ``(0, 1)``.
        weights: one weight per dimension (a sequence in the order of ``homology_dimensions``, or a dict
            ``{dim: weight}``); default 1 each.
        statistic_kwargs: keyword arguments for the statistic (for example ``{"p": 2.0}``).

    Returns:
        A 0-dim tensor on the diagrams' device.

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(40, 2, requires_grad=True)
        >>> dgms = difftda.persistence(x, maxdim=1)
        >>> loss = difftda.losses.summary_statistic_loss(dgms, statistic="total_persistence",
        ...                                              homology_dimensions=(0, 1), weights=(0.1, 1.0))
        >>> loss.backward()
    """
    stat, p, dims, ws, kw = _summary_args(statistic, p, homology_dimensions, weights, statistic_kwargs)
    selected = _per_dim(dgms, dims, "dgms")
    like = _first_tensor(selected)
    targets = _per_dim(target, dims, "target") if target is not None else [None] * len(dims)
    total = zero(like)
    for w, dgm, tgt in zip(ws, selected, targets):  # one term per homology dimension, not per bar
        if w == 0.0:
            continue
        s = stat(dgm, **kw)
        if tgt is not None:
            tp, te = as_target(tgt, like, "target")
            s = s - stat(diagram_rows(tgt, "target").to(like), **kw)
        total = total + w * safe_pow(s.abs(), p)
    return total


def _loss_fn(loss: object) -> Callable[..., torch.Tensor]:
    if isinstance(loss, str):
        from .. import losses as _losses

        fn = getattr(_losses, loss, None)
        if fn is None or loss.startswith("_") or not callable(fn) or isinstance(fn, type):
            raise ValueError(f"loss {loss!r} is not a function of difftda.losses; pass a callable instead")
        return fn
    if not callable(loss):
        raise TypeError(f"loss must be a callable or the name of a difftda.losses function; got {loss!r}")
    return loss


def _per_dimension_args(
    loss: object, homology_dimensions: object, weights: object, kwargs: Mapping[str, object]
) -> tuple[Callable[..., torch.Tensor], tuple[int, ...], list[float]]:
    """The checks of :func:`per_dimension_loss`, shared with :class:`PerDimensionLoss`: the loss, the
    dimensions, the weights, and that ``loss`` takes the keyword arguments given."""
    fn = _loss_fn(loss)
    dims = check_dims(homology_dimensions)
    ws = _weights(weights, dims)
    if kwargs and not isinstance(fn, nn.Module):
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # a builtin without a signature: let the call decide
            params = None
        if params is not None and not any(q.kind is inspect.Parameter.VAR_KEYWORD for q in params.values()):
            unknown = sorted(set(kwargs) - set(params))
            if unknown:
                raise TypeError(
                    f"{getattr(fn, '__name__', fn)!r} takes no argument {', '.join(map(repr, unknown))}; "
                    f"its arguments: {', '.join(params)}"
                )
    return fn, dims, ws


def per_dimension_loss(
    loss: str | Callable[..., torch.Tensor],
    dgms: Sequence[DiagramLike],
    target: Sequence[object] | None = None,
    *,
    homology_dimensions: Sequence[int] = (0, 1),
    weights: Sequence[float] | Mapping[int, float] | None = None,
    **kwargs: object,
) -> torch.Tensor:
    r"""Any diagram loss, applied per homology dimension and weighted: :math:`\sum_k w_k\, L(D_k, D^*_k)`.

    Args:
        loss: a function of :mod:`difftda.losses` (or its name, e.g. ``"wasserstein_distance"``), or any
            callable ``(dgm[, target], **kwargs) -> 0-dim tensor`` (an ``nn.Module`` works too).
        dgms: the diagrams of one cloud, indexed by homology dimension.
        target: the reference diagrams indexed the same way; when given, ``loss(dgms[k], target[k])``
            is called, otherwise ``loss(dgms[k])``.
        homology_dimensions: the dimensions that take part, e.g. ``(0, 1)``.
        weights: one weight per dimension (sequence or ``{dim: weight}``); default 1 each. A zero weight
            skips the dimension (its loss is not computed).
        **kwargs: passed on to ``loss``.

    Returns:
        A 0-dim tensor on the diagrams' device.

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(30, 2, requires_grad=True)
        >>> y = torch.randn(30, 2)
        >>> loss = difftda.losses.per_dimension_loss(
        ...     "wasserstein_distance", difftda.persistence(x), difftda.persistence(y),
        ...     homology_dimensions=(0, 1), weights={0: 1.0, 1: 2.0}, order=2.0)
        >>> loss.backward()
    """
    loss, dims, ws = _per_dimension_args(loss, homology_dimensions, weights, kwargs)
    selected = _per_dim(dgms, dims, "dgms")
    like = _first_tensor(selected)
    targets = _per_dim(target, dims, "target") if target is not None else None
    total = zero(like)
    for i, (w, dgm) in enumerate(zip(ws, selected)):  # one term per homology dimension
        if w == 0.0:
            continue
        value = loss(dgm, targets[i], **kwargs) if targets is not None else loss(dgm, **kwargs)
        total = total + w * value
    return total


# ----------------------------------------------------------------------------------------------
# Modules


class TotalPersistence(nn.Module):
    """Module form of :func:`total_persistence`; ``p`` is checked at construction.

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.TotalPersistence(p=2.0)
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=1)[1])
    """

    def __init__(self, p: float = 1.0) -> None:
        super().__init__()
        self.p = _total_persistence_args(p)

    def forward(self, dgm: DiagramLike) -> torch.Tensor:
        return total_persistence(dgm, p=self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class PersistentEntropy(nn.Module):
    """Module form of :func:`persistent_entropy` (natural log unless ``base`` is given).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.PersistentEntropy()
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, base: float = math.e) -> None:
        super().__init__()
        self.base = _entropy_args(base)

    def forward(self, dgm: DiagramLike) -> torch.Tensor:
        return persistent_entropy(dgm, base=self.base)

    def extra_repr(self) -> str:
        return f"base={self.base}"


class SummaryStatisticLoss(TargetLoss):
    """Module form of :func:`summary_statistic_loss`, with the same argument checks at construction;
    an optional fixed target (one diagram per homology dimension) is kept in buffers.

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.SummaryStatisticLoss("persistent_entropy", homology_dimensions=(0, 1))
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=1))
    """

    def __init__(
        self,
        statistic: str | Callable[..., torch.Tensor] = "total_persistence",
        p: float = 1.0,
        homology_dimensions: Sequence[int] = (0, 1),
        weights: Sequence[float] | Mapping[int, float] | None = None,
        statistic_kwargs: Mapping[str, object] | None = None,
        *,
        target: Sequence[object] | None = None,
    ) -> None:
        super().__init__()
        _, self.p, self.homology_dimensions, self.weights, self.statistic_kwargs = _summary_args(
            statistic, p, homology_dimensions, weights, statistic_kwargs
        )
        self.statistic = statistic
        self._set_target_list(target)

    def forward(self, dgms: Sequence[DiagramLike], target: Sequence[object] | None = None) -> torch.Tensor:
        return summary_statistic_loss(
            dgms, self._optional_targets(target), statistic=self.statistic, p=self.p,
            homology_dimensions=self.homology_dimensions, weights=self.weights,
            statistic_kwargs=self.statistic_kwargs,
        )

    def extra_repr(self) -> str:
        return f"statistic={self.statistic!r}, p={self.p}, homology_dimensions={self.homology_dimensions}"


class PerDimensionLoss(TargetLoss):
    """Module form of :func:`per_dimension_loss`: any loss, per homology dimension, weighted. The loss
    (a name is looked up at construction), the dimensions, the weights and the keyword arguments'
    names are checked at construction; an ``nn.Module`` loss becomes a submodule.

    Example:
        >>> import torch, difftda
        >>> y = difftda.persistence(torch.randn(30, 2), maxdim=1)
        >>> crit = difftda.nn.PerDimensionLoss(difftda.nn.WassersteinDistance(order=2.0), weights=(1.0, 2.0), target=y)
        >>> loss = crit(difftda.persistence(torch.randn(30, 2, requires_grad=True), maxdim=1))
        >>> loss.backward()
    """

    def __init__(
        self,
        loss: str | Callable[..., torch.Tensor],
        homology_dimensions: Sequence[int] = (0, 1),
        weights: Sequence[float] | Mapping[int, float] | None = None,
        *,
        target: Sequence[object] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__()
        _, self.homology_dimensions, self.weights = _per_dimension_args(loss, homology_dimensions, weights, kwargs)
        self.loss = loss  # an nn.Module given here becomes a submodule and moves with this one
        self.kwargs = kwargs
        self._set_target_list(target)

    def forward(self, dgms: Sequence[DiagramLike], target: Sequence[object] | None = None) -> torch.Tensor:
        return per_dimension_loss(
            self.loss, dgms, self._optional_targets(target),
            homology_dimensions=self.homology_dimensions, weights=self.weights, **self.kwargs,
        )
