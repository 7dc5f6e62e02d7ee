"""``nn.Module`` twins of the functions in :mod:`difftda.losses`: arguments fixed at construction."""

from __future__ import annotations

import torch
from torch import nn

from . import losses
from .diagrams import Diagram
from .persistence import Persistence

__all__ = ["Persistence", "ConnectivityLoss"]


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
