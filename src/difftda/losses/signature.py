"""The topological signature loss of topological autoencoders (Moor, Horn, Rieck, Borgwardt, ICML 2020),
and its Module."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._checks import check_cloud, check_metric
from ..diagrams import Diagrams
from ._common import _misplaced, check_backend, check_dims, check_flag, check_positive, zero

__all__ = ["signature_loss", "SignatureLoss"]


def _flat(t: object, name: str) -> torch.Tensor:
    t = check_cloud(t, name)
    if t.dim() < 2:
        raise ValueError(f"{name} must be a batch (n, ...) with one sample per row; got shape {tuple(t.shape)}")
    return t.reshape(t.shape[0], -1)


def _scaled(a: torch.Tensor, by: torch.Tensor | None) -> torch.Tensor:
    if by is None:
        top = a.max()
        return a / torch.where(top > 0, top, torch.ones_like(top))
    return a / by


def _signature(a: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """The values of the matrix ``a`` at the critical edges of a pairing (death; |death - birth| above H0)."""
    death = a[index[:, 2], index[:, 3]]
    if dim == 0:
        return death
    return (death - a[index[:, 0], index[:, 1]]).abs()


def _signature_args(
    p: object, squared: object, normalize: object, homology_dimensions: object, metric: object, backend: object
) -> tuple[float, bool, bool, tuple[int, ...], str, object]:
    """The checks of :func:`signature_loss`, shared with :class:`SignatureLoss`."""
    p = check_positive(p, "p", minimum=1.0, allow_inf=True, hint=" (the norm of the signature difference)")
    squared, normalize = check_flag(squared, "squared"), check_flag(normalize, "normalize")
    dims = check_dims(homology_dimensions)
    if not isinstance(metric, str):
        raise TypeError("metric must be a string such as 'euclidean'" + _misplaced(metric))
    metric = check_metric(metric)
    if metric == "precomputed":
        raise ValueError("signature_loss takes two batches of points; metric='precomputed' is not supported")
    return p, squared, normalize, dims, metric, check_backend(backend, max(dims))


def signature_loss(
    x: torch.Tensor,
    z: torch.Tensor,
    *,
    p: float = 2.0,
    squared: bool = True,
    normalize: bool = True,
    homology_dimensions: Sequence[int] = (0,),
    metric: str = "euclidean",
    backend: str = "auto",
    latent_norm: torch.Tensor | float | None = None,
    x_diagrams: Diagrams | None = None,
    z_diagrams: Diagrams | None = None,
) -> torch.Tensor:
    r"""Topological signature loss between an input batch ``x`` and its latent codes ``z``.

    With :math:`A^X, A^Z` the distance matrices of the two batches and :math:`\pi^X, \pi^Z` their
    persistence pairings (the critical edges; for H0 the edges of the minimum spanning tree), the
    signature :math:`A[\pi]` is the vector of the entries of A at the death edges of :math:`\pi` (above
    H0: |death entry - birth entry|). Each batch's pairing is read in both matrices:

    * ``squared=True`` (Moor et al.'s code):
      :math:`\|A^X[\pi^X] - A^Z[\pi^X]\|_p^2 + \|A^Z[\pi^Z] - A^X[\pi^Z]\|_p^2`;
    * ``squared=False`` (torch-topological's ``SignatureLoss``):
      :math:`\tfrac12 \|A^X[\pi^X] - A^Z[\pi^X]\|_p + \tfrac12 \|A^Z[\pi^Z] - A^X[\pi^Z]\|_p`;

    summed over ``homology_dimensions``. Moor et al. then divide by the batch size (do it yourself).

    Args:
        x: the input batch ``(n, ...)``; each sample is flattened to one point.
        z: the latent batch ``(n, ...)``, same ``n``.
        p: the norm of the signature difference (``p = 2`` in both references).
        squared: the squared original (True) or the p-norm variant (False).
        normalize: divide :math:`A^X` by its largest entry and :math:`A^Z` by its own (or by
            ``latent_norm`` when given), as both references do.
        homology_dimensions: the pairings used; Moor et al. use ``(0,)``.
        metric: ``"euclidean"``, ``"manhattan"`` or ``"chebyshev"``.
        backend: the persistence backend that computes the pairings.
        latent_norm: divide :math:`A^Z` by this (Moor et al. learn it: see
            :class:`SignatureLoss` with ``learn_latent_norm=True``); a number must be > 0 and finite.
        x_diagrams, z_diagrams: the pairings if you have them already (``difftda.persistence`` of x / z).

    Returns:
        A 0-dim tensor, differentiable in ``x``, ``z`` (and ``latent_norm``).

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(32, 10)
        >>> z = torch.randn(32, 2, requires_grad=True)
        >>> loss = difftda.losses.signature_loss(x, z)
        >>> loss.backward()
    """
    from ..distances import pairwise_distances
    from ..filtrations import persistence

    p, squared, normalize, dims, metric, backend = _signature_args(
        p, squared, normalize, homology_dimensions, metric, backend
    )
    xf, zf = _flat(x, "x"), _flat(z, "z")
    if xf.shape[0] != zf.shape[0]:
        raise ValueError(f"x and z must have the same number of samples; got {xf.shape[0]} and {zf.shape[0]}")
    if xf.device != zf.device:
        raise ValueError(f"x is on {xf.device} and z on {zf.device}; put both batches on one device")
    by = None
    if latent_norm is not None:
        if not isinstance(latent_norm, torch.Tensor):
            latent_norm = check_positive(latent_norm, "latent_norm")
        by = torch.as_tensor(latent_norm, dtype=zf.dtype, device=zf.device)
    ax = pairwise_distances(xf, metric)
    az = pairwise_distances(zf, metric)
    if normalize:
        ax = _scaled(ax, None)
    if normalize or by is not None:
        az = _scaled(az, by)
    maxdim = max(dims)
    px = x_diagrams if x_diagrams is not None else persistence(xf.detach(), maxdim, backend=backend, metric=metric)
    pz = z_diagrams if z_diagrams is not None else persistence(zf.detach(), maxdim, backend=backend, metric=metric)
    for name, d in (("x_diagrams", px), ("z_diagrams", pz)):
        if len(d) <= maxdim:
            raise ValueError(f"{name} has diagrams for H0..H{len(d) - 1}; homology_dimensions asks for H{maxdim}")
    total = zero(ax, az)
    for k in dims:  # one term per homology dimension
        ix, iz = px[k].index.to(ax.device), pz[k].index.to(ax.device)
        dx = _signature(ax, ix, k) - _signature(az, ix, k)
        dz = _signature(az, iz, k) - _signature(ax, iz, k)
        if squared and p == 2.0:
            total = total + (dx * dx).sum() + (dz * dz).sum()
        elif squared:
            total = total + torch.linalg.vector_norm(dx, ord=p) ** 2 + torch.linalg.vector_norm(dz, ord=p) ** 2
        else:
            total = total + 0.5 * (torch.linalg.vector_norm(dx, ord=p) + torch.linalg.vector_norm(dz, ord=p))
    return total


class SignatureLoss(nn.Module):
    """Module form of :func:`signature_loss` (Moor et al., ICML 2020): ``forward(x, z)``, with the same
    argument checks at construction.

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
        self.p, self.squared, self.normalize, self.homology_dimensions, self.metric, self.backend = _signature_args(
            p, squared, normalize, homology_dimensions, metric, backend
        )
        learn = check_flag(learn_latent_norm, "learn_latent_norm")
        self.latent_norm = nn.Parameter(torch.ones(())) if learn else None

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return signature_loss(
            x, z, p=self.p, squared=self.squared, normalize=self.normalize,
            homology_dimensions=self.homology_dimensions, metric=self.metric, backend=self.backend,  # type: ignore[arg-type]
            latent_norm=self.latent_norm,
        )

    def extra_repr(self) -> str:
        return (
            f"p={self.p}, squared={self.squared}, normalize={self.normalize}, "
            f"homology_dimensions={self.homology_dimensions}"
        )
