"""The regularizers of Topo-GEN (Benarroch Jedlicki, "TopoGEN: topology-informed generative models",
2024), written as tensor operations on diagrams.

Each function compares the diagram of a generated cloud with a target diagram (the target gets no
special treatment: it may carry gradients too, and it is moved to the diagram's device and dtype).
Topo-GEN loops in Python over pairs of bars (11-16 s for its kernel losses on 128 points); here every
term is a few broadcast operations. :func:`topogen_loss` / :class:`difftda.nn.TopoGenLoss` combine them
with Topo-GEN's parameter names and defaults.

Differences from Topo-GEN, on purpose:

* ``bottleneck_loss`` sums the costs of the whole bottleneck matching by default (Topo-GEN keeps only
  the largest one, so one bar moves per step); ``reduction="max"`` gives the bottleneck distance.
* Topo-GEN returns 0 and skips a term when it "does not depend on x" (for example when the largest
  matched cost is a target bar sent to the diagonal, or the generated diagram is empty). Here the term
  keeps its value (a constant, with zero gradient), so the total is a continuous function of the diagram.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from ..diagrams import Diagram, Diagrams
from ._common import as_diagram, as_target, check_positive, zero
from .diagram_distances import _bottleneck_matching, _host, _matched_costs
from .statistics import entropy_of_lengths

__all__ = [
    "bottleneck_loss",
    "persistent_entropy_loss",
    "pss_kernel",
    "dsigma_loss",
    "density_loss",
    "push_loss",
    "topogen_loss",
    "TOPOGEN_TERMS",
]

#: The terms of :func:`topogen_loss`, in the order of Topo-GEN's ``topo_weights`` (plus ``push0``).
TOPOGEN_TERMS = ("bottleneck0", "bottleneck1", "persentropy0", "persentropy1", "dsigma0", "dsigma1", "density", "push0")


def bottleneck_loss(
    dgm: Diagram | torch.Tensor, target: object, reduction: str = "sum"
) -> torch.Tensor:
    r"""Topo-GEN's bottleneck regularizer (``loss_bottleneck0/1``), with the whole matching pulling.

    A bottleneck matching :math:`\gamma` between the finite bars of ``dgm`` and of ``target`` is computed
    without gradient (L-inf ground metric; among the matchings of least largest cost, the one of least
    total cost: see :func:`~difftda.losses.bottleneck_distance`). Then

    * ``reduction="sum"`` (default): :math:`\sum_{p} \|p - \gamma(p)\|_\infty` over all matched pairs and
      all bars sent to the diagonal (at :math:`(d - b)/2`), so that every bar moves toward its partner;
    * ``reduction="max"``: :math:`\max_p \|p - \gamma(p)\|_\infty`, the bottleneck distance itself,
      which is Topo-GEN's value; its gradient reaches only the bar(s) realizing the maximum.

    The "sum" form is the cost of the bottleneck-optimal matching, an upper bound of the order-1
    Wasserstein distance (L-inf ground metric) and zero exactly when the diagrams are equal.
    Essential bars are left out, as Topo-GEN does (it drops the infinite H0 bar).

    Args:
        dgm: the generated :class:`~difftda.Diagram` (or ``(k, 2)`` tensor).
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
    if reduction not in ("sum", "max"):
        raise ValueError(f"reduction must be 'sum' (whole matching) or 'max' (bottleneck distance); got {reduction!r}")
    pairs, _ = as_diagram(dgm)
    tp, _ = as_target(target, pairs)
    base = zero(pairs, tp)
    if pairs.shape[0] + tp.shape[0] == 0:
        return base
    costs = torch.cat(_matched_costs(pairs, tp, _bottleneck_matching(_host(pairs), _host(tp)), math.inf))
    if reduction == "sum":
        return base + costs.sum()
    return torch.cat([base.reshape(1), costs]).amax()


def _thresholded_entropy(pairs: torch.Tensor, delta: float) -> torch.Tensor:
    length = pairs[:, 1] - pairs[:, 0]
    keep = length > delta
    return entropy_of_lengths(torch.where(keep, length, torch.zeros_like(length)))


def persistent_entropy_loss(dgm: Diagram | torch.Tensor, target: object, delta: float = 0.001) -> torch.Tensor:
    r"""Topo-GEN's entropy regularizer (``loss_persentropy0/1``): :math:`(E_\delta(D) - E_\delta(D^*))^2`.

    :math:`E_\delta(D) = -\sum_{\ell_i > \delta} (\ell_i / L) \ln(\ell_i / L)`,
    :math:`L = \sum_{\ell_i > \delta} \ell_i`,
    over the finite bars (natural log, as Topo-GEN). The test :math:`\ell_i > \delta` is made anew at each
    call and has no gradient. An empty diagram (or :math:`L = 0`) has entropy 0.

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
    delta = check_positive(delta, "delta", allow_zero=True)
    pairs, _ = as_diagram(dgm)
    tp, _ = as_target(target, pairs)
    return (_thresholded_entropy(pairs, delta) - _thresholded_entropy(tp, delta)) ** 2


def pss_kernel(a: Diagram | torch.Tensor, b: object, sigma: float = 0.05) -> torch.Tensor:
    r"""The persistence scale-space kernel of Reininghaus, Huber, Bauer and Kwitt (CVPR 2015):

    :math:`k_\sigma(F, G) = \frac{1}{8\pi\sigma}\sum_{p \in F}\sum_{q \in G}
    \Big[e^{-\|p - q\|^2 / (8\sigma)} - e^{-\|p - \bar q\|^2 / (8\sigma)}\Big]`,
    :math:`\bar q = (d_q, b_q)` the mirror image of q across the diagonal; finite bars only.

    Example:
        >>> import math, torch, difftda
        >>> k = difftda.losses.pss_kernel(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 1.0]]), sigma=0.5)
        >>> bool(torch.isclose(k, torch.tensor((1 - math.exp(-0.5)) / (4 * math.pi))))
        True
    """
    sigma = check_positive(sigma, "sigma")
    pa, _ = as_diagram(a, "a")
    pb, _ = as_target(b, pa, "b")
    db = pa[:, None, 0] - pb[None, :, 0]
    dd = pa[:, None, 1] - pb[None, :, 1]
    mb = pa[:, None, 0] - pb[None, :, 1]  # against the mirrored q = (d_q, b_q)
    md = pa[:, None, 1] - pb[None, :, 0]
    s = 8.0 * sigma
    k = torch.exp(-(db * db + dd * dd) / s) - torch.exp(-(mb * mb + md * md) / s)
    return zero(pa, pb) + k.sum() / (math.pi * s)


def dsigma_loss(dgm: Diagram | torch.Tensor, target: object, sigma: float = 0.05) -> torch.Tensor:
    r"""Topo-GEN's kernel regularizer (``loss_dsigma0/1``): :math:`k_\sigma(D, D) - 2\,k_\sigma(D, D^*)`.

    The squared kernel distance :math:`d_\sigma^2 = k_\sigma(D, D) + k_\sigma(D^*, D^*) - 2 k_\sigma(D, D^*)`
    without its constant term (as Topo-GEN), so the value may be negative; add
    ``pss_kernel(target, target, sigma)`` for the distance itself. See :func:`pss_kernel`.

    Args:
        dgm: the generated :class:`~difftda.Diagram` (or ``(k, 2)`` tensor).
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


def _density(deaths: torch.Tensor, grid: torch.Tensor, sigma: float, scale: float) -> torch.Tensor:
    z = (deaths[:, None] - grid[None, :]) / sigma
    return scale * ((deaths**4)[:, None] * torch.exp(-z * z)).sum(dim=0)


def density_loss(
    dgm: Diagram | torch.Tensor,
    target: object,
    sigma: float = 0.2,
    scale: float = 0.002,
    maxrange: float = 35.0,
    npoints: int = 30,
) -> torch.Tensor:
    r"""Topo-GEN's density regularizer (``loss_density``, "4SGDE"), on the deaths of the finite bars:

    :math:`f_D(t) = \text{scale} \sum_i d_i^4\, e^{-((d_i - t)/\sigma)^2}`, and the loss is
    :math:`\frac{1}{\text{npoints}} \sum_{t} (f_D(t) - f_{D^*}(t))^2` over ``npoints`` values of t evenly
    spaced in ``[0, maxrange]``. Topo-GEN applies it to H0 (deaths = the minimum spanning tree edges).

    Args:
        dgm: the generated :class:`~difftda.Diagram` (or ``(k, 2)`` tensor).
        target: the reference diagram (Diagram, tensor, numpy array or None for empty).
        sigma, scale, maxrange, npoints: Topo-GEN's ``density_*`` parameters (same defaults).

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(40, 2, requires_grad=True)
        >>> target = difftda.persistence(torch.randn(40, 2) * 3, maxdim=0)[0]
        >>> loss = difftda.losses.density_loss(difftda.persistence(x, maxdim=0)[0], target, maxrange=5.0)
        >>> loss.backward()
    """
    sigma = check_positive(sigma, "sigma")
    scale = check_positive(scale, "scale")
    maxrange = check_positive(maxrange, "maxrange")
    if isinstance(npoints, bool) or not isinstance(npoints, int) or npoints < 1:
        raise ValueError(f"npoints must be an int >= 1; got {npoints!r}")
    pairs, _ = as_diagram(dgm)
    tp, _ = as_target(target, pairs)
    grid = torch.linspace(0.0, maxrange, npoints, dtype=pairs.dtype, device=pairs.device)
    diff = _density(pairs[:, 1], grid, sigma, scale) - _density(tp[:, 1], grid, sigma, scale)
    return zero(pairs, tp) + (diff * diff).mean()


def push_loss(dgm: Diagram | torch.Tensor) -> torch.Tensor:
    r"""Topo-GEN's ``loss_push0``: :math:`-\sum_i (d_i - b_i) / 2`, minus the total L-inf distance of the
    finite bars to the diagonal. Minimizing it pushes clusters apart (on H0) or grows loops (on H1).

    Example:
        >>> import torch, difftda
        >>> float(difftda.losses.push_loss(torch.tensor([[0.0, 1.0], [0.0, 3.0]])))
        -2.0
    """
    pairs, _ = as_diagram(dgm)
    return -(pairs[:, 1] - pairs[:, 0]).sum() / 2


# ----------------------------------------------------------------------------------------------
# the combination


def _topogen_weights(weights: object) -> dict[str, float]:
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(TOPOGEN_TERMS)
        if unknown:
            raise ValueError(f"weights has unknown terms {sorted(unknown)}; the terms are {', '.join(TOPOGEN_TERMS)}")
        out = {k: float(weights.get(k, 0.0)) for k in TOPOGEN_TERMS}
    elif isinstance(weights, (Sequence, torch.Tensor)) and not isinstance(weights, str):
        ws = [float(w) for w in weights]
        if len(ws) not in (7, 8):
            raise ValueError(
                "weights must have 7 entries [bottleneck0, bottleneck1, persentropy0, persentropy1, dsigma0, "
                f"dsigma1, density] (Topo-GEN's topo_weights), or 8 with push0; got {len(ws)}"
            )
        out = dict(zip(TOPOGEN_TERMS, ws + [0.0] * (8 - len(ws))))
    else:
        raise TypeError(f"weights must be a sequence of 7 (or 8) numbers or a dict {{term: weight}}; got {weights!r}")
    bad = [k for k, w in out.items() if not math.isfinite(w)]
    if bad:
        raise ValueError(f"weights must be finite; got {bad}")
    return out


def _diagrams_of(x: object, maxdim: int, backend: object, name: str, grad: bool) -> list:
    """Per-dimension diagrams of a point cloud tensor, or the given Diagrams / sequence of diagrams."""
    from ..persistence import persistence

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
    w = _topogen_weights(weights)
    if deg not in (0, 1) or isinstance(deg, bool):
        raise ValueError(f"deg must be 0 or 1 (Topo-GEN's homology degree); got {deg!r}")
    h1 = [k for k in ("bottleneck1", "persentropy1", "dsigma1") if w[k] != 0.0]
    if deg == 0 and h1:
        raise ValueError(f"the terms {h1} are on H1 and need deg=1; set their weights to 0 or pass deg=1")
    maxdim = 1 if h1 else 0
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
