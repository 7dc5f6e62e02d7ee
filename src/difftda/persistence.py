"""The front door: ``persistence(x, maxdim)`` runs distances -> backend -> gather."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import (
    check_cloud,
    check_coeff,
    check_distance_matrix,
    check_maxdim,
    check_metric,
    check_scale,
    check_thresh,
)
from .backends import Backend, get_backend
from .diagrams import DiagramBatch, Diagrams
from .distances import distances
from .gather import gather, normalize

__all__ = ["persistence", "Persistence"]


def _as_batch(x: object, metric: str) -> tuple[list[torch.Tensor] | torch.Tensor, bool]:
    """``(batch, single)``: a (B, n, .) tensor or a list of 2-D tensors, and whether x was one cloud."""
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError("x is an empty list; pass at least one point cloud")
        clouds = [check_cloud(c, f"x[{b}]") for b, c in enumerate(x)]
        first = clouds[0]
        for b, c in enumerate(clouds):
            if c.dim() != 2:
                raise ValueError(f"x[{b}] must be a 2-D tensor (n, d); got shape {tuple(c.shape)}")
            if c.dtype != first.dtype or c.device != first.device:
                raise ValueError(f"x[{b}] has dtype/device {c.dtype}/{c.device}, x[0] has {first.dtype}/{first.device}")
            if metric != "precomputed" and c.shape[1] != first.shape[1]:
                raise ValueError(f"x[{b}] has dimension {c.shape[1]}, x[0] has {first.shape[1]}")
        return clouds, False
    check_cloud(x, finite=False)  # the scale or matrix check below reads every entry anyway
    assert isinstance(x, torch.Tensor)
    if x.dim() == 2:
        return x.unsqueeze(0), True
    if x.dim() == 3:
        if x.shape[0] == 0:
            raise ValueError("x is an empty batch (B = 0); pass at least one point cloud")
        return x, False
    kind = "(n, n) or (B, n, n) distance matrices" if metric == "precomputed" else "(n, d) or (B, n, d) points"
    raise ValueError(f"x must be {kind}, or a list of 2-D tensors; got shape {tuple(x.shape)}")


def _engine(backend: str | Backend, maxdim: int, coeff: object) -> tuple[Backend, int]:
    """The backend for ``maxdim``, and ``coeff`` checked against what that engine handles."""
    engine = get_backend(backend, maxdim=maxdim)
    coeff = check_coeff(coeff, engine.max_coeff, engine.name)
    if engine.max_maxdim is not None and maxdim > engine.max_maxdim:
        raise ValueError(
            f"backend {engine.name!r} computes up to maxdim={engine.max_maxdim}; got maxdim={maxdim}. "
            "Use backend='giotto', 'gudhi' or 'ripser' for higher dimensions"
        )
    return engine, coeff


def _pad_matrices(mats: list[torch.Tensor]) -> torch.Tensor:
    N = max(m.shape[-1] for m in mats)
    return torch.stack([nn.functional.pad(m, (0, N - m.shape[-1], 0, N - m.shape[-2])) for m in mats])


def persistence(
    x: torch.Tensor | list[torch.Tensor],
    maxdim: int = 1,
    *,
    backend: str | Backend = "auto",
    metric: str = "euclidean",
    thresh: float = math.inf,
    coeff: int = 2,
) -> Diagrams | DiagramBatch:
    """Differentiable Vietoris-Rips persistence diagrams of H_0 .. H_maxdim.

    Args:
        x: points ``(n, d)``; or with ``metric="precomputed"`` a distance matrix ``(n, n)`` (symmetric,
            zero diagonal, non-negative; gradients flow into it). A batch ``(B, n, d)`` / ``(B, n, n)``
            or a list of 2-D tensors of different sizes gives a list of results, one per cloud.
        maxdim: the top homology dimension (0: components, 1: loops, 2: voids).
        backend: ``"auto"``, ``"giotto"``, ``"gudhi"``, ``"ripser"``, a spec with options such as
            ``"giotto:n_threads=2"``, or a :class:`~difftda.backends.Backend`.
        metric: ``"euclidean"``, ``"manhattan"``, ``"chebyshev"`` or ``"precomputed"``.
        thresh: edges longer than this are never added; bars alive at ``thresh`` become essential.
        coeff: the prime field Z/coeff Z of the homology (the same for every backend).

    Returns:
        :class:`Diagrams` (``dgms[k]`` is H_k) on x's device and dtype; for a batch a list of them
        (a :class:`DiagramBatch`, whose ``cat()`` holds the bars of all clouds at once).
        Bars with ``death == birth`` are dropped; the order of rows is unspecified.

    Example:
        >>> import torch, difftda
        >>> x = torch.randn(50, 2, requires_grad=True)
        >>> dgms = difftda.persistence(x, maxdim=1)
        >>> loss = (dgms[1].pairs[:, 1] - dgms[1].pairs[:, 0]).sum()
        >>> loss.backward()
        >>> x.grad.shape
        torch.Size([50, 2])
    """
    maxdim = check_maxdim(maxdim)
    metric = check_metric(metric)
    thresh = check_thresh(thresh)
    engine, coeff = _engine(backend, maxdim, coeff)
    batch, single = _as_batch(x, metric)
    if metric == "precomputed":
        mats = list(batch)
        sizes = [m.shape[-1] for m in mats]
        for b, m in enumerate(mats):
            check_distance_matrix(m, "x" if single else f"x[{b}]")
        dist = batch if isinstance(batch, torch.Tensor) else _pad_matrices(mats)
        upper = torch.triu(dist, diagonal=1)  # the values: the upper triangle, mirrored
        exact = upper + upper.transpose(-1, -2)
        if dist.requires_grad:  # the gradient: split evenly between D[i, j] and D[j, i]
            half = (dist + dist.transpose(-1, -2)) / 2
            exact = exact.detach() + (half - half.detach())
        dist = exact
        points = None
    else:
        points = batch if isinstance(batch, torch.Tensor) else nn.utils.rnn.pad_sequence(batch, batch_first=True)
        sizes = [c.shape[0] for c in batch]
        check_scale(points)
        dist = distances(points.detach(), metric)  # no graph and no forward-mode tangent: values only
    if min(sizes) == 0:
        raise ValueError("x has a cloud with no points; persistence needs at least one point")
    # One detached host copy, in the input's precision (none at all for a CPU tensor in float32 or
    # float64), for the CPU engines; a device-native engine pairs the matrix where it is.
    in_place = engine.on_device and dist.device.type != "cpu"
    host_dtype = dist.dtype if dist.dtype in (torch.float32, torch.float64) else torch.float32
    src = dist.detach() if in_place else dist.detach().to("cpu", host_dtype)
    try:
        bp = engine.pairing_batch(src, sizes, maxdim=maxdim, thresh=thresh, coeff=coeff)
    except (RuntimeError, ValueError, TypeError, MemoryError) as err:
        raise RuntimeError(
            f"backend {str(engine)!r} failed on a {max(sizes)} x {max(sizes)} matrix with maxdim={maxdim}: {err}"
        ) from err
    bp = normalize(None if engine.canonical else src.numpy(), sizes, bp)
    out = gather(dist, sizes, bp, maxdim=maxdim, points=points, metric=metric)
    return out[0] if single else out


class Persistence(nn.Module):
    """:func:`persistence` as a module, its arguments fixed at construction.

    Example:
        >>> import torch, difftda
        >>> layer = difftda.Persistence(maxdim=0)
        >>> dgms = layer(torch.randn(20, 2))
        >>> dgms[0].pairs.shape
        torch.Size([19, 2])
    """

    def __init__(
        self,
        maxdim: int = 1,
        *,
        backend: str | Backend = "auto",
        metric: str = "euclidean",
        thresh: float = math.inf,
        coeff: int = 2,
    ) -> None:
        super().__init__()
        self.maxdim = check_maxdim(maxdim)
        self.metric = check_metric(metric)
        self.thresh = check_thresh(thresh)
        self.backend, self.coeff = _engine(backend, self.maxdim, coeff)

    def forward(self, x: torch.Tensor | list[torch.Tensor]) -> Diagrams | DiagramBatch:
        return persistence(
            x, self.maxdim, backend=self.backend, metric=self.metric, thresh=self.thresh, coeff=self.coeff
        )

    def extra_repr(self) -> str:
        return (
            f"maxdim={self.maxdim}, backend={str(self.backend)!r}, metric={self.metric!r}, "
            f"thresh={self.thresh}, coeff={self.coeff}"
        )
