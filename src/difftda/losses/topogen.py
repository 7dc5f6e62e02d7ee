"""The regularizers of Topo-GEN (Benarroch Jedlicki, "TopoGEN: topology-informed generative models",
2024), written as tensor operations on diagrams.

Each function compares the diagram of a generated cloud with a target diagram (the target gets no
special treatment: it may carry gradients too, and it is moved to the diagram's device and dtype).
Topo-GEN loops in Python over pairs of bars (11-16 s for its kernel losses on 128 points); here every
term is a few broadcast operations. :func:`topogen_loss` / :class:`TopoGenLoss` combine them
with Topo-GEN's parameter names and defaults. Each function has its ``nn.Module`` twin below it, which
checks the same arguments at construction.

Differences from Topo-GEN, on purpose:

* ``bottleneck_loss`` sums the costs of the whole bottleneck matching by default (Topo-GEN keeps only
  the largest one, so one bar moves per step); ``reduction="max"`` gives the bottleneck distance.
* bars are measured by ``|death - birth|`` (entropy, push, density), so superlevel diagrams work too;
  the density is taken over these lengths, which are Topo-GEN's deaths on H0 of a Rips filtration.
* Topo-GEN returns 0 and skips a term when it "does not depend on x" (for example when the largest
  matched cost is a target bar sent to the diagonal, or the generated diagram is empty). Here the term
  keeps its value (a constant, with zero gradient), so the total is a continuous function of the diagram.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..diagrams import Diagram, Diagrams
from ._common import (
    TargetLoss,
    _is_diagram_list,
    _misplaced,
    as_diagram,
    as_target,
    bar_lengths,
    check_backend,
    check_choice,
    check_count,
    check_flag,
    check_positive,
    zero,
)
from .diagram_distances import _bottleneck_costs, bottleneck_distance
from .statistics import entropy_of_lengths, total_persistence

__all__ = [
    "bottleneck_loss",
    "persistent_entropy_loss",
    "pss_kernel",
    "dsigma_loss",
    "density_loss",
    "push_loss",
    "topogen_loss",
    "TOPOGEN_TERMS",
    "BottleneckLoss",
    "PersistentEntropyLoss",
    "DsigmaLoss",
    "DensityLoss",
    "PushLoss",
    "TopoGenLoss",
]

#: What the losses accept for one diagram.
DiagramLike = Diagram | torch.Tensor | np.ndarray

#: The terms of :func:`topogen_loss`, in the order of Topo-GEN's ``topo_weights`` (plus ``push0``).
TOPOGEN_TERMS = ("bottleneck0", "bottleneck1", "persentropy0", "persentropy1", "dsigma0", "dsigma1", "density", "push0")


def _bottleneck_loss_args(reduction: object) -> str:
    return check_choice(reduction, "reduction", ("sum", "max"), " (whole matching / bottleneck distance)")


def bottleneck_loss(dgm: DiagramLike, target: object, reduction: str = "sum") -> torch.Tensor:
    r"""Topo-GEN's bottleneck regularizer (``loss_bottleneck0/1``), with the whole matching pulling.

    A bottleneck matching :math:`\gamma` between the finite bars of ``dgm`` and of ``target`` is computed
    without gradient (L-inf ground metric; among the matchings of least largest cost, the one of least
    total cost: see :func:`~difftda.losses.bottleneck_distance`). Then

    * ``reduction="sum"`` (default): :math:`\sum_{p} \|p - \gamma(p)\|_\infty` over all matched pairs and
      all bars sent to the diagonal (at :math:`(d - b)/2`), so that every bar moves toward its partner;
    * ``reduction="max"``: :math:`\max_p \|p - \gamma(p)\|_\infty`, the bottleneck distance itself,
      which is Topo-GEN's value; its gradient reaches only the bar(s) realizing the maximum. It is
      exactly ``bottleneck_distance(dgm, target, keep_essential_parts=False)`` (this calls it), with
      ``target`` first moved to ``dgm``'s dtype and device.

    The "sum" form is the cost of the bottleneck-optimal matching, an upper bound of the order-1
    Wasserstein distance (L-inf ground metric) and zero exactly when the diagrams are equal.
    Essential bars are left out, as Topo-GEN does (it drops the infinite H0 bar).

    Args:
        dgm: the generated :class:`~difftda.Diagram` (or ``(k, 2)`` tensor or numpy array).
        target: the reference diagram (Diagram, tensor, numpy array or None for empty).
        reduction: ``"sum"`` or ``"max"``.

    Returns:
        A 0-dim tensor on ``dgm``'s device.

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(30, 2, requires_grad=True)
        >>> target = difftda.persistence(torch.randn(30, 2) * 2, maxdim=0)[0]
        >>> loss = difftda.losses.bottleneck_loss(difftda.persistence(x, maxdim=0)[0], target)
        >>> loss.backward()
    """
    reduction = _bottleneck_loss_args(reduction)
    pairs, _ = as_diagram(dgm)
    tp, _ = as_target(target, pairs)
    if reduction == "max":
        return bottleneck_distance(pairs, tp, keep_essential_parts=False)
    base = zero(pairs, tp)
    for cost in _bottleneck_costs(pairs, tp):
        base = base + cost.sum()
    return base


def _thresholded_entropy(pairs: torch.Tensor, delta: float) -> torch.Tensor:
    length = bar_lengths(pairs)
    keep = length > delta
    return entropy_of_lengths(torch.where(keep, length, torch.zeros_like(length)))


def _entropy_loss_args(delta: object) -> float:
    return check_positive(delta, "delta", allow_zero=True)


def persistent_entropy_loss(dgm: DiagramLike, target: object, delta: float = 0.001) -> torch.Tensor:
    r"""Topo-GEN's entropy regularizer (``loss_persentropy0/1``): :math:`(E_\delta(D) - E_\delta(D^*))^2`.

    :math:`E_\delta(D) = -\sum_{\ell_i > \delta} (\ell_i / L) \ln(\ell_i / L)`,
    :math:`L = \sum_{\ell_i > \delta} \ell_i`, :math:`\ell_i = |d_i - b_i|`,
    over the finite bars (natural log, as Topo-GEN). With ``delta=0`` it is
    ``(persistent_entropy(dgm) - persistent_entropy(target)) ** 2`` (both use the same entropy code).
    The test :math:`\ell_i > \delta` is made anew at each call and has no gradient. An empty diagram
    (or :math:`L = 0`) has entropy 0.

    Args:
        dgm: the generated :class:`~difftda.Diagram` (or ``(k, 2)`` tensor).
        target: the reference diagram (Diagram, tensor, numpy array or None for empty).
        delta: bars of length <= delta are ignored (Topo-GEN's ``pers0_delta`` / ``pers1_delta``).

    Returns:
        A 0-dim tensor.

    Example:
        >>> import torch, difftda
        >>> dgm = torch.tensor([[0.0, 1.0], [0.0, 1.0]], requires_grad=True)   # entropy ln 2
        >>> target = torch.tensor([[0.0, 2.0]])                                   # entropy 0
        >>> loss = difftda.losses.persistent_entropy_loss(dgm, target)
        >>> round(loss.item(), 6) == round(torch.log(torch.tensor(2.0)).item() ** 2, 6)
        True
    """
    delta = _entropy_loss_args(delta)
    pairs, _ = as_diagram(dgm)
    tp, _ = as_target(target, pairs)
    return (_thresholded_entropy(pairs, delta) - _thresholded_entropy(tp, delta)) ** 2


def _sigma_args(sigma: object) -> float:
    return check_positive(sigma, "sigma")


def pss_kernel(a: DiagramLike, b: object, sigma: float = 0.05) -> torch.Tensor:
    r"""The persistence scale-space kernel of Reininghaus, Huber, Bauer and Kwitt (CVPR 2015):

    :math:`k_\sigma(F, G) = \frac{1}{8\pi\sigma}\sum_{p \in F}\sum_{q \in G}
    \Big[e^{-\|p - q\|^2 / (8\sigma)} - e^{-\|p - \bar q\|^2 / (8\sigma)}\Big]`,
    :math:`\bar q = (d_q, b_q)` the mirror image of q across the diagonal; finite bars only. The value
    is unchanged when both diagrams are negated (superlevel diagrams) or mirrored.

    Example:
        >>> import math, torch, difftda
        >>> k = difftda.losses.pss_kernel(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 1.0]]), sigma=0.5)
        >>> bool(torch.isclose(k, torch.tensor((1 - math.exp(-0.5)) / (4 * math.pi))))
        True
    """
    sigma = _sigma_args(sigma)
    pa, _ = as_diagram(a, "a")
    pb, _ = as_target(b, pa, "b")
    db = pa[:, None, 0] - pb[None, :, 0]
    dd = pa[:, None, 1] - pb[None, :, 1]
    mb = pa[:, None, 0] - pb[None, :, 1]  # against the mirrored q = (d_q, b_q)
    md = pa[:, None, 1] - pb[None, :, 0]
    s = 8.0 * sigma
    k = torch.exp(-(db * db + dd * dd) / s) - torch.exp(-(mb * mb + md * md) / s)
    return zero(pa, pb) + k.sum() / (math.pi * s)


def dsigma_loss(dgm: DiagramLike, target: object, sigma: float = 0.05) -> torch.Tensor:
    r"""Topo-GEN's kernel regularizer (``loss_dsigma0/1``): :math:`k_\sigma(D, D) - 2\,k_\sigma(D, D^*)`.

    The squared kernel distance :math:`d_\sigma^2 = k_\sigma(D, D) + k_\sigma(D^*, D^*) - 2 k_\sigma(D, D^*)`
    without its constant term (as Topo-GEN), so the value may be negative; add
    ``pss_kernel(target, target, sigma)`` for the distance itself. See :func:`pss_kernel`.

    Args:
        dgm: the generated :class:`~difftda.Diagram` (or ``(k, 2)`` tensor or numpy array).
        target: the reference diagram (Diagram, tensor, numpy array or None for empty).
        sigma: the kernel scale (Topo-GEN's ``dsigma0_sigma`` / ``dsigma1_sigma``).

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(40, 2, requires_grad=True)
        >>> target = difftda.persistence(torch.randn(40, 2), maxdim=1)[1]
        >>> loss = difftda.losses.dsigma_loss(difftda.persistence(x, maxdim=1)[1], target, sigma=0.05)
        >>> loss.backward()
    """
    pairs, _ = as_diagram(dgm)
    tp, _ = as_target(target, pairs)
    return pss_kernel(pairs, pairs, sigma) - 2.0 * pss_kernel(pairs, tp, sigma)


def _density(lengths: torch.Tensor, grid: torch.Tensor, sigma: float, scale: float) -> torch.Tensor:
    z = (lengths[:, None] - grid[None, :]) / sigma
    return scale * ((lengths**4)[:, None] * torch.exp(-z * z)).sum(dim=0)


def _density_args(sigma: object, scale: object, maxrange: object, npoints: object) -> tuple[float, float, float, int]:
    return (
        check_positive(sigma, "sigma"),
        check_positive(scale, "scale"),
        check_positive(maxrange, "maxrange"),
        check_count(npoints, "npoints", 1, " (the number of grid values)"),
    )


def density_loss(
    dgm: DiagramLike,
    target: object,
    sigma: float = 0.2,
    scale: float = 0.002,
    maxrange: float = 35.0,
    npoints: int = 30,
) -> torch.Tensor:
    r"""Topo-GEN's density regularizer (``loss_density``, "4SGDE"), on the lengths
    :math:`\ell_i = |d_i - b_i|` of the finite bars:

    :math:`f_D(t) = \text{scale} \sum_i \ell_i^4\, e^{-((\ell_i - t)/\sigma)^2}`, and the loss is
    :math:`\frac{1}{\text{npoints}} \sum_{t} (f_D(t) - f_{D^*}(t))^2` over ``npoints`` values of t evenly
    spaced in ``[0, maxrange]``. Topo-GEN applies it to the deaths of H0 of a Rips filtration, where
    every birth is 0 and the lengths are the deaths (the minimum spanning tree edges), so the values
    agree there; measuring lengths makes it work on superlevel diagrams too.

    Args:
        dgm: the generated :class:`~difftda.Diagram` (or ``(k, 2)`` tensor or numpy array).
        target: the reference diagram (Diagram, tensor, numpy array or None for empty).
        sigma, scale, maxrange, npoints: Topo-GEN's ``density_*`` parameters (same defaults).

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(40, 2, requires_grad=True)
        >>> target = difftda.persistence(torch.randn(40, 2) * 3, maxdim=0)[0]
        >>> loss = difftda.losses.density_loss(difftda.persistence(x, maxdim=0)[0], target, maxrange=5.0)
        >>> loss.backward()
    """
    sigma, scale, maxrange, npoints = _density_args(sigma, scale, maxrange, npoints)
    pairs, _ = as_diagram(dgm)
    tp, _ = as_target(target, pairs)
    grid = torch.linspace(0.0, maxrange, npoints, dtype=pairs.dtype, device=pairs.device)
    diff = _density(bar_lengths(pairs), grid, sigma, scale) - _density(bar_lengths(tp), grid, sigma, scale)
    return zero(pairs, tp) + (diff * diff).mean()


def push_loss(dgm: DiagramLike) -> torch.Tensor:
    r"""Topo-GEN's ``loss_push0``: :math:`-\sum_i |d_i - b_i| / 2`, minus the total L-inf distance of the
    finite bars to the diagonal. Minimizing it pushes clusters apart (on H0) or grows loops (on H1).

    It is exactly ``-0.5 * total_persistence(dgm)`` (this calls it).

    Example:
        >>> import torch, difftda
        >>> float(difftda.losses.push_loss(torch.tensor([[0.0, 1.0], [0.0, 3.0]])))
        -2.0
    """
    return -0.5 * total_persistence(dgm)


# ----------------------------------------------------------------------------------------------
# the combination


def _topogen_weights(weights: object) -> dict[str, float]:
    kinds = "a sequence of 7 (or 8) numbers or a dict {term: weight}"
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(TOPOGEN_TERMS)
        if unknown:
            raise ValueError(f"weights has unknown terms {sorted(unknown)}; the terms are {', '.join(TOPOGEN_TERMS)}")
        raw = [weights.get(k, 0.0) for k in TOPOGEN_TERMS]
    elif isinstance(weights, (torch.Tensor, np.ndarray)) and weights.ndim == 1 or (
        isinstance(weights, Sequence) and not isinstance(weights, str) and not _is_diagram_list(weights)
    ):
        raw = list(weights)  # type: ignore[arg-type]
        if len(raw) not in (7, 8):
            raise ValueError(
                "weights must have 7 entries [bottleneck0, bottleneck1, persentropy0, persentropy1, dsigma0, "
                f"dsigma1, density] (Topo-GEN's topo_weights), or 8 with push0; got {len(raw)}"
            )
        raw += [0.0] * (8 - len(raw))
    else:
        raise TypeError(f"weights must be {kinds}" + _misplaced(weights))
    ws = []
    for w in raw:
        try:
            ws.append(float(w))
        except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor of more than one element
            raise TypeError(f"weights must be {kinds}" + _misplaced(weights)) from None
    out = dict(zip(TOPOGEN_TERMS, ws))
    bad = [k for k, w in out.items() if not math.isfinite(w)]
    if bad:
        raise ValueError(f"weights must be finite; got {bad}")
    return out


_H1_TERMS = ("bottleneck1", "persentropy1", "dsigma1")


def _topogen_args(
    weights: object,
    deg: object,
    pers0_delta: object,
    pers1_delta: object,
    dsigma0_sigma: object,
    dsigma1_sigma: object,
    density_sigma: object,
    density_scale: object,
    density_maxrange: object,
    density_npoints: object,
    bottleneck_reduction: object,
    backend: object,
) -> dict[str, object]:
    """The checks of :func:`topogen_loss`, shared with :class:`TopoGenLoss`: the checked arguments by name."""
    w = _topogen_weights(weights)
    deg = check_count(deg, "deg", 0, " (Topo-GEN's homology degree: 0 or 1)")
    if deg > 1:
        raise ValueError(f"deg must be 0 or 1 (Topo-GEN's homology degree); got {deg!r}")
    h1 = [k for k in _H1_TERMS if w[k] != 0.0]
    if deg == 0 and h1:
        raise ValueError(f"the terms {h1} are on H1 and need deg=1; set their weights to 0 or pass deg=1")
    density_sigma, density_scale, density_maxrange, density_npoints = _density_args(
        density_sigma, density_scale, density_maxrange, density_npoints
    )
    return dict(
        weights=w,
        deg=deg,
        pers0_delta=_entropy_loss_args(pers0_delta),
        pers1_delta=_entropy_loss_args(pers1_delta),
        dsigma0_sigma=_sigma_args(dsigma0_sigma),
        dsigma1_sigma=_sigma_args(dsigma1_sigma),
        density_sigma=density_sigma,
        density_scale=density_scale,
        density_maxrange=density_maxrange,
        density_npoints=density_npoints,
        bottleneck_reduction=_bottleneck_loss_args(bottleneck_reduction),
        backend=check_backend(backend, 1 if h1 else 0),
    )


def _diagrams_of(x: object, maxdim: int, backend: object, name: str, grad: bool) -> list:
    """Per-dimension diagrams of a point cloud tensor, or the given Diagrams / sequence of diagrams."""
    from ..filtrations import persistence

    if isinstance(x, torch.Tensor):
        if x.dim() < 2:
            raise ValueError(
                f"{name} must be a point cloud (n, ...) with one point per row; got shape {tuple(x.shape)}"
            )
        cloud = x.reshape(x.shape[0], -1)  # Topo-GEN flattens each sample (images) to one point
        if not grad:
            with torch.no_grad():
                return list(persistence(cloud.detach(), maxdim, backend=backend))
        return list(persistence(cloud, maxdim, backend=backend))
    if isinstance(x, (Diagrams, list, tuple)):
        if len(x) <= maxdim:
            raise ValueError(f"{name} has diagrams for H0..H{len(x) - 1}; the weights need H{maxdim}")
        return list(x)
    raise TypeError(
        f"{name} must be a point cloud tensor (n, ...) or the Diagrams of one (difftda.persistence(...)); "
        f"got {type(x).__name__}"
    )


def topogen_loss(
    x: torch.Tensor | Diagrams,
    target: torch.Tensor | Diagrams | Sequence[object],
    weights: Sequence[float] | Mapping[str, float] = (15.0, 15.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    deg: int = 1,
    pers0_delta: float = 0.001,
    pers1_delta: float = 0.001,
    dsigma0_sigma: float = 0.05,
    dsigma1_sigma: float = 0.05,
    density_sigma: float = 0.2,
    density_scale: float = 0.002,
    density_maxrange: float = 35.0,
    density_npoints: int = 30,
    *,
    bottleneck_reduction: str = "sum",
    backend: str = "auto",
    return_terms: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    r"""Topo-GEN's ``TopologicalLoss``: :math:`\sum_k w_k\, L_k(D(x), D(\text{target}))` over the terms
    ``bottleneck0, bottleneck1, persentropy0, persentropy1, dsigma0, dsigma1, density`` (and ``push0``).

    Parameter names and defaults are Topo-GEN's (``topo_weights`` is ``weights`` here). Terms with weight
    0 are not computed. ``x`` of any shape ``(n, ...)`` is flattened to ``n`` points, as Topo-GEN does.

    Args:
        x: the generated points ``(n, ...)`` (their diagrams are computed with gradients), or their
            Diagrams.
        target: the reference points ``(n*, ...)`` (diagrams computed without gradient), or their
            Diagrams / a sequence of per-dimension diagrams (Diagram, tensor or numpy array).
        weights: 7 numbers in Topo-GEN's order, an 8th for ``push0``, or a dict ``{term: weight}``.
        deg: the top homology dimension (0 or 1); H1 terms need ``deg=1``.
        pers0_delta, pers1_delta: see :func:`persistent_entropy_loss`.
        dsigma0_sigma, dsigma1_sigma: see :func:`dsigma_loss`.
        density_sigma, density_scale, density_maxrange, density_npoints: see :func:`density_loss`.
        bottleneck_reduction: ``"sum"`` (the whole matching pulls) or ``"max"`` (Topo-GEN's value).
        backend: the persistence backend for point inputs.
        return_terms: also return the dict of the (unweighted) terms that were computed.

    Returns:
        The 0-dim total, or ``(total, terms)``.

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(32, 2, requires_grad=True)
        >>> y = torch.randn(40, 2) * 2
        >>> loss = difftda.losses.topogen_loss(x, y, weights=[1, 1, 0, 0, 0, 0, 0])
        >>> loss.backward()
    """
    args = _topogen_args(
        weights, deg, pers0_delta, pers1_delta, dsigma0_sigma, dsigma1_sigma, density_sigma, density_scale,
        density_maxrange, density_npoints, bottleneck_reduction, backend,
    )
    return_terms = check_flag(return_terms, "return_terms")
    w: dict[str, float] = args["weights"]  # type: ignore[assignment]
    maxdim = 1 if any(w[k] != 0.0 for k in _H1_TERMS) else 0
    dx = _diagrams_of(x, maxdim, backend, "x", grad=True)
    dt = _diagrams_of(target, maxdim, backend, "target", grad=False)
    d0, t0 = dx[0], dt[0]
    d1, t1 = (dx[1], dt[1]) if maxdim >= 1 else (None, None)
    terms_fn = {
        "bottleneck0": lambda: bottleneck_loss(d0, t0, bottleneck_reduction),
        "bottleneck1": lambda: bottleneck_loss(d1, t1, bottleneck_reduction),
        "persentropy0": lambda: persistent_entropy_loss(d0, t0, pers0_delta),
        "persentropy1": lambda: persistent_entropy_loss(d1, t1, pers1_delta),
        "dsigma0": lambda: dsigma_loss(d0, t0, dsigma0_sigma),
        "dsigma1": lambda: dsigma_loss(d1, t1, dsigma1_sigma),
        "density": lambda: density_loss(d0, t0, density_sigma, density_scale, density_maxrange, density_npoints),
        "push0": lambda: push_loss(d0),
    }
    pairs0, _ = as_diagram(d0, "x diagram H0")
    total = zero(pairs0)
    terms: dict[str, torch.Tensor] = {}
    for name in TOPOGEN_TERMS:  # eight named terms, not a loop over bars
        if w[name] == 0.0:
            continue
        terms[name] = terms_fn[name]()
        total = total + w[name] * terms[name]
    return (total, terms) if return_terms else total


# ----------------------------------------------------------------------------------------------
# Modules: arguments checked at construction, a fixed target kept in buffers (it follows .to(device))


class BottleneckLoss(TargetLoss):
    """Module form of :func:`bottleneck_loss` (Topo-GEN's bottleneck regularizer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.BottleneckLoss(target=difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, reduction: str = "sum", *, target: object = None) -> None:
        super().__init__()
        self.reduction = _bottleneck_loss_args(reduction)
        self._set_target(target)

    def forward(self, dgm: DiagramLike, target: object = None) -> torch.Tensor:
        return bottleneck_loss(dgm, self._targets(target, True), self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class PersistentEntropyLoss(TargetLoss):
    """Module form of :func:`persistent_entropy_loss` (Topo-GEN's entropy regularizer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.PersistentEntropyLoss(delta=0.001, target=torch.tensor([[0.0, 1.0]]))
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, delta: float = 0.001, *, target: object = None) -> None:
        super().__init__()
        self.delta = _entropy_loss_args(delta)
        self._set_target(target)

    def forward(self, dgm: DiagramLike, target: object = None) -> torch.Tensor:
        return persistent_entropy_loss(dgm, self._targets(target, True), self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}"


class DsigmaLoss(TargetLoss):
    """Module form of :func:`dsigma_loss` (Topo-GEN's scale-space kernel regularizer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.DsigmaLoss(sigma=0.05, target=torch.tensor([[0.2, 1.0]]))
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=1)[1])
    """

    def __init__(self, sigma: float = 0.05, *, target: object = None) -> None:
        super().__init__()
        self.sigma = _sigma_args(sigma)
        self._set_target(target)

    def forward(self, dgm: DiagramLike, target: object = None) -> torch.Tensor:
        return dsigma_loss(dgm, self._targets(target, True), self.sigma)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class DensityLoss(TargetLoss):
    """Module form of :func:`density_loss` (Topo-GEN's 4SGDE density regularizer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.DensityLoss(maxrange=5.0, target=torch.tensor([[0.0, 1.0], [0.0, 2.0]]))
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(
        self,
        sigma: float = 0.2,
        scale: float = 0.002,
        maxrange: float = 35.0,
        npoints: int = 30,
        *,
        target: object = None,
    ) -> None:
        super().__init__()
        self.sigma, self.scale, self.maxrange, self.npoints = _density_args(sigma, scale, maxrange, npoints)
        self._set_target(target)

    def forward(self, dgm: DiagramLike, target: object = None) -> torch.Tensor:
        target = self._targets(target, True)
        return density_loss(dgm, target, self.sigma, self.scale, self.maxrange, self.npoints)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, scale={self.scale}, maxrange={self.maxrange}, npoints={self.npoints}"


class PushLoss(nn.Module):
    """Module form of :func:`push_loss` (Topo-GEN's ``loss_push0``).

    Example:
        >>> import torch, difftda
        >>> loss = difftda.nn.PushLoss()(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def forward(self, dgm: DiagramLike) -> torch.Tensor:
        return push_loss(dgm)


class TopoGenLoss(TargetLoss):
    """Module form of :func:`topogen_loss`: Topo-GEN's ``TopologicalLoss`` with its parameter names and
    defaults, every argument checked at construction. ``forward(x, target)`` takes the generated
    points (or their Diagrams) and the reference points (or Diagrams); a ``target`` given at
    construction is turned into diagrams once and kept in buffers (``target_h0``, ``target_h1``).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.TopoGenLoss(weights=[1, 1, 0, 0, 0, 0, 0], target=torch.randn(40, 2))
        >>> x = torch.randn(32, 2, requires_grad=True)
        >>> crit(x).backward()
    """

    def __init__(
        self,
        weights: Sequence[float] | Mapping[str, float] = (15.0, 15.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        deg: int = 1,
        pers0_delta: float = 0.001,
        pers1_delta: float = 0.001,
        dsigma0_sigma: float = 0.05,
        dsigma1_sigma: float = 0.05,
        density_sigma: float = 0.2,
        density_scale: float = 0.002,
        density_maxrange: float = 35.0,
        density_npoints: int = 30,
        *,
        bottleneck_reduction: str = "sum",
        backend: str = "auto",
        target: object = None,
    ) -> None:
        super().__init__()
        params = _topogen_args(
            weights, deg, pers0_delta, pers1_delta, dsigma0_sigma, dsigma1_sigma, density_sigma, density_scale,
            density_maxrange, density_npoints, bottleneck_reduction, backend,
        )
        self.weights: dict[str, float] = params.pop("weights")  # type: ignore[assignment]
        self.bottleneck_reduction = params.pop("bottleneck_reduction")
        self.backend = params.pop("backend")
        self.params = params
        fixed = None
        if target is not None:
            deg = self.params["deg"]
            fixed = _diagrams_of(target, deg, self.backend, "target", grad=False)[: deg + 1]  # type: ignore[misc]
        self._set_targets(fixed)

    def forward(self, x: torch.Tensor | Sequence[DiagramLike], target: object = None) -> torch.Tensor:
        return topogen_loss(  # type: ignore[return-value]
            x, self._targets(target, False), self.weights, **self.params,  # type: ignore[arg-type]
            bottleneck_reduction=self.bottleneck_reduction, backend=self.backend,
        )

    def extra_repr(self) -> str:
        w = {k: v for k, v in self.weights.items() if v}
        return f"weights={w}, deg={self.params['deg']}, bottleneck_reduction={self.bottleneck_reduction!r}"
