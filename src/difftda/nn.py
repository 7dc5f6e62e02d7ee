"""``nn.Module`` twins of the functions in :mod:`difftda.losses`: arguments fixed at construction."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from . import losses
from .diagrams import Diagram
from .persistence import Persistence

__all__ = [
    "Persistence",
    "ConnectivityLoss",
    "TotalPersistence",
    "PersistentEntropy",
    "SummaryStatisticLoss",
    "PerDimensionLoss",
    "BottleneckDistance",
    "WassersteinDistance",
    "SlicedWassersteinDistance",
    "BottleneckLoss",
    "PersistentEntropyLoss",
    "DsigmaLoss",
    "DensityLoss",
    "PushLoss",
    "TopoGenLoss",
    "SignatureLoss",
]


class ConnectivityLoss(nn.Module):
    """Module form of :func:`difftda.losses.connectivity_loss`.

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.ConnectivityLoss(eta=2.0)
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, eta: float = 2.0) -> None:
        super().__init__()
        self.eta = float(eta)

    def forward(self, dgm: Diagram | torch.Tensor) -> torch.Tensor:
        return losses.connectivity_loss(dgm, eta=self.eta)

    def extra_repr(self) -> str:
        return f"eta={self.eta}"


# ----------------------------------------------------------------------------------------------
# Helpers: a fixed target diagram lives in a buffer, so ``module.to(device)`` / ``.double()`` move it.


class _TargetModule(nn.Module):
    """Base of the modules that may hold fixed target diagrams (one buffer per homology dimension)."""

    def _set_targets(self, targets: list | None) -> None:
        self._n_targets = 0 if targets is None else len(targets)
        for k in range(self._n_targets):
            assert targets is not None
            rows = None if targets[k] is None else losses._common.diagram_rows(targets[k], f"target[{k}]")
            self.register_buffer(f"target_h{k}", None if rows is None else rows.detach().clone())

    def _targets(self, given: object, single: bool) -> object:
        if given is not None:
            return given
        if self._n_targets == 0:
            raise ValueError(
                f"{type(self).__name__} has no target: pass one to forward(..., target) or at construction "
                f"({type(self).__name__}(target=...))"
            )
        if single:
            return self.target_h0
        return [getattr(self, f"target_h{k}") for k in range(self._n_targets)]


def _one(target: object) -> list | None:
    return None if target is None else [target]


def _many(target: object) -> list | None:
    if target is None:
        return None
    if isinstance(target, (Diagram, torch.Tensor)):
        raise TypeError("target must be a sequence of one diagram per homology dimension (e.g. Diagrams)")
    return list(target)  # type: ignore[call-overload]


# ----------------------------------------------------------------------------------------------
# Statistics


class TotalPersistence(nn.Module):
    """Module form of :func:`difftda.losses.total_persistence`.

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.TotalPersistence(p=2.0)
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=1)[1])
    """

    def __init__(self, p: float = 1.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, dgm: Diagram | torch.Tensor) -> torch.Tensor:
        return losses.total_persistence(dgm, p=self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class PersistentEntropy(nn.Module):
    """Module form of :func:`difftda.losses.persistent_entropy` (natural log unless ``base`` is given).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.PersistentEntropy()
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, base: float = math.e) -> None:
        super().__init__()
        self.base = float(base)

    def forward(self, dgm: Diagram | torch.Tensor) -> torch.Tensor:
        return losses.persistent_entropy(dgm, base=self.base)

    def extra_repr(self) -> str:
        return f"base={self.base}"


class SummaryStatisticLoss(_TargetModule):
    """Module form of :func:`difftda.losses.summary_statistic_loss`; an optional fixed target (one
    diagram per homology dimension) is kept in buffers.

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
        self.statistic, self.p = statistic, float(p)
        self.homology_dimensions, self.weights = tuple(homology_dimensions), weights
        self.statistic_kwargs = dict(statistic_kwargs or {})
        self._set_targets(_many(target))

    def forward(self, dgms: Sequence[Diagram | torch.Tensor], target: Sequence[object] | None = None) -> torch.Tensor:
        return losses.summary_statistic_loss(
            dgms, self._targets(target, False) if (target is not None or self._n_targets) else None,
            statistic=self.statistic, p=self.p, homology_dimensions=self.homology_dimensions,
            weights=self.weights, statistic_kwargs=self.statistic_kwargs,
        )

    def extra_repr(self) -> str:
        return f"statistic={self.statistic!r}, p={self.p}, homology_dimensions={self.homology_dimensions}"


class PerDimensionLoss(_TargetModule):
    """Module form of :func:`difftda.losses.per_dimension_loss`: any loss, per homology dimension, weighted.

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
        self.loss = loss  # an nn.Module given here becomes a submodule and moves with this one
        self.homology_dimensions, self.weights, self.kwargs = tuple(homology_dimensions), weights, kwargs
        self._set_targets(_many(target))

    def forward(self, dgms: Sequence[Diagram | torch.Tensor], target: Sequence[object] | None = None) -> torch.Tensor:
        return losses.per_dimension_loss(
            self.loss, dgms, self._targets(target, False) if (target is not None or self._n_targets) else None,
            homology_dimensions=self.homology_dimensions, weights=self.weights, **self.kwargs,
        )


# ----------------------------------------------------------------------------------------------
# Diagram distances


class BottleneckDistance(_TargetModule):
    """Module form of :func:`difftda.losses.bottleneck_distance`; ``forward(a, b)``, or ``forward(a)``
    against a fixed ``target`` given at construction (kept in a buffer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.BottleneckDistance(target=torch.tensor([[0.0, 1.0]]))
        >>> crit(torch.tensor([[0.0, 2.0]])).item()
        1.0
    """

    def __init__(self, *, target: object = None) -> None:
        super().__init__()
        self._set_targets(_one(target))

    def forward(self, a: Diagram | torch.Tensor, b: Diagram | torch.Tensor | None = None) -> torch.Tensor:
        return losses.bottleneck_distance(a, self._targets(b, True))


class WassersteinDistance(_TargetModule):
    """Module form of :func:`difftda.losses.wasserstein_distance`; ``forward(a, b)``, or ``forward(a)``
    against a fixed ``target`` given at construction (kept in a buffer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.WassersteinDistance(order=2.0, internal_p=2.0)
        >>> d = crit(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 1.0]]))
        >>> d.item()
        0.0
    """

    def __init__(
        self,
        order: float = 1.0,
        internal_p: float = math.inf,
        *,
        keep_essential_parts: bool = True,
        target: object = None,
    ) -> None:
        super().__init__()
        self.order, self.internal_p, self.keep_essential_parts = float(order), float(internal_p), keep_essential_parts
        self._set_targets(_one(target))

    def forward(self, a: Diagram | torch.Tensor, b: Diagram | torch.Tensor | None = None) -> torch.Tensor:
        return losses.wasserstein_distance(
            a, self._targets(b, True), self.order, self.internal_p, keep_essential_parts=self.keep_essential_parts
        )

    def extra_repr(self) -> str:
        return f"order={self.order}, internal_p={self.internal_p}"


class SlicedWassersteinDistance(_TargetModule):
    """Module form of :func:`difftda.losses.sliced_wasserstein_distance`; ``forward(a, b)``, or
    ``forward(a)`` against a fixed ``target`` given at construction (kept in a buffer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.SlicedWassersteinDistance(n_directions=20, seed=0)
        >>> d = crit(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 2.0]]))
    """

    def __init__(
        self,
        n_directions: int = 50,
        seed: int | None = None,
        *,
        directions: str | torch.Tensor = "random",
        keep_essential_parts: bool = True,
        target: object = None,
    ) -> None:
        super().__init__()
        self.n_directions, self.seed, self.directions = n_directions, seed, directions
        self.keep_essential_parts = keep_essential_parts
        self._set_targets(_one(target))

    def forward(self, a: Diagram | torch.Tensor, b: Diagram | torch.Tensor | None = None) -> torch.Tensor:
        return losses.sliced_wasserstein_distance(
            a, self._targets(b, True), self.n_directions, self.seed,
            directions=self.directions, keep_essential_parts=self.keep_essential_parts,
        )

    def extra_repr(self) -> str:
        return f"n_directions={self.n_directions}, seed={self.seed}, directions={self.directions!r}"


# ----------------------------------------------------------------------------------------------
# Topo-GEN


class BottleneckLoss(_TargetModule):
    """Module form of :func:`difftda.losses.bottleneck_loss` (Topo-GEN's bottleneck regularizer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.BottleneckLoss(target=difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, reduction: str = "sum", *, target: object = None) -> None:
        super().__init__()
        self.reduction = reduction
        self._set_targets(_one(target))

    def forward(self, dgm: Diagram | torch.Tensor, target: object = None) -> torch.Tensor:
        return losses.bottleneck_loss(dgm, self._targets(target, True), self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class PersistentEntropyLoss(_TargetModule):
    """Module form of :func:`difftda.losses.persistent_entropy_loss` (Topo-GEN's entropy regularizer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.PersistentEntropyLoss(delta=0.001, target=torch.tensor([[0.0, 1.0]]))
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, delta: float = 0.001, *, target: object = None) -> None:
        super().__init__()
        self.delta = float(delta)
        self._set_targets(_one(target))

    def forward(self, dgm: Diagram | torch.Tensor, target: object = None) -> torch.Tensor:
        return losses.persistent_entropy_loss(dgm, self._targets(target, True), self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}"


class DsigmaLoss(_TargetModule):
    """Module form of :func:`difftda.losses.dsigma_loss` (Topo-GEN's scale-space kernel regularizer).

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.DsigmaLoss(sigma=0.05, target=torch.tensor([[0.2, 1.0]]))
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=1)[1])
    """

    def __init__(self, sigma: float = 0.05, *, target: object = None) -> None:
        super().__init__()
        self.sigma = float(sigma)
        self._set_targets(_one(target))

    def forward(self, dgm: Diagram | torch.Tensor, target: object = None) -> torch.Tensor:
        return losses.dsigma_loss(dgm, self._targets(target, True), self.sigma)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class DensityLoss(_TargetModule):
    """Module form of :func:`difftda.losses.density_loss` (Topo-GEN's 4SGDE density regularizer).

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
        self.sigma, self.scale, self.maxrange, self.npoints = float(sigma), float(scale), float(maxrange), npoints
        self._set_targets(_one(target))

    def forward(self, dgm: Diagram | torch.Tensor, target: object = None) -> torch.Tensor:
        target = self._targets(target, True)
        return losses.density_loss(dgm, target, self.sigma, self.scale, self.maxrange, self.npoints)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, scale={self.scale}, maxrange={self.maxrange}, npoints={self.npoints}"


class PushLoss(nn.Module):
    """Module form of :func:`difftda.losses.push_loss` (Topo-GEN's ``loss_push0``).

    Example:
        >>> import torch, difftda
        >>> loss = difftda.nn.PushLoss()(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def forward(self, dgm: Diagram | torch.Tensor) -> torch.Tensor:
        return losses.push_loss(dgm)


class TopoGenLoss(_TargetModule):
    """Module form of :func:`difftda.losses.topogen_loss`: Topo-GEN's ``TopologicalLoss`` with its
    parameter names and defaults. ``forward(x, target)`` takes the generated points (or their
    Diagrams) and the reference points (or Diagrams); a ``target`` given at construction is turned
    into diagrams once and kept in buffers (``target_h0``, ``target_h1``).

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
        self.weights = losses.topogen._topogen_weights(weights)
        if deg not in (0, 1) or isinstance(deg, bool):
            raise ValueError(f"deg must be 0 or 1 (Topo-GEN's homology degree); got {deg!r}")
        self.params = dict(
            deg=deg, pers0_delta=pers0_delta, pers1_delta=pers1_delta, dsigma0_sigma=dsigma0_sigma,
            dsigma1_sigma=dsigma1_sigma, density_sigma=density_sigma, density_scale=density_scale,
            density_maxrange=density_maxrange, density_npoints=density_npoints,
        )
        self.bottleneck_reduction, self.backend = bottleneck_reduction, backend
        fixed = None
        if target is not None:
            fixed = losses.topogen._diagrams_of(target, deg, backend, "target", grad=False)[: deg + 1]
        self._set_targets(fixed)

    def forward(self, x: torch.Tensor | Sequence[Diagram], target: object = None) -> torch.Tensor:
        return losses.topogen_loss(
            x, self._targets(target, False), self.weights, **self.params,
            bottleneck_reduction=self.bottleneck_reduction, backend=self.backend,
        )

    def extra_repr(self) -> str:
        w = {k: v for k, v in self.weights.items() if v}
        return f"weights={w}, deg={self.params['deg']}, bottleneck_reduction={self.bottleneck_reduction!r}"


# ----------------------------------------------------------------------------------------------
# Topological autoencoders


class SignatureLoss(nn.Module):
    """Module form of :func:`difftda.losses.signature_loss` (Moor et al., ICML 2020): ``forward(x, z)``.

    With ``learn_latent_norm=True`` the latent distances are divided by a learnable scalar (initialized
    to 1), as in Moor et al.'s code, instead of by their maximum.

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.SignatureLoss(learn_latent_norm=True)
        >>> z = torch.randn(32, 2, requires_grad=True)
        >>> crit(torch.randn(32, 10), z).backward()
    """

    def __init__(
        self,
        p: float = 2.0,
        squared: bool = True,
        normalize: bool = True,
        homology_dimensions: Sequence[int] = (0,),
        metric: str = "euclidean",
        backend: str = "auto",
        learn_latent_norm: bool = False,
    ) -> None:
        super().__init__()
        self.p, self.squared, self.normalize = float(p), squared, normalize
        self.homology_dimensions, self.metric, self.backend = tuple(homology_dimensions), metric, backend
        self.latent_norm = nn.Parameter(torch.ones(())) if learn_latent_norm else None

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return losses.signature_loss(
            x, z, p=self.p, squared=self.squared, normalize=self.normalize,
            homology_dimensions=self.homology_dimensions, metric=self.metric, backend=self.backend,
            latent_norm=self.latent_norm,
        )

    def extra_repr(self) -> str:
        return (
            f"p={self.p}, squared={self.squared}, normalize={self.normalize}, "
            f"homology_dimensions={self.homology_dimensions}"
        )
