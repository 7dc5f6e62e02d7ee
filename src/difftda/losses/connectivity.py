"""The connectivity loss of Hofer, Kwitt, Dixit and Niethammer (ICML 2019), and its Module."""

from __future__ import annotations

import torch
from torch import nn

from ..diagrams import Diagram
from ._common import as_diagram, bar_lengths, check_positive

__all__ = ["connectivity_loss", "ConnectivityLoss"]


def _connectivity_args(eta: object) -> float:
    return check_positive(eta, "eta", allow_zero=True)


def connectivity_loss(dgm: Diagram | torch.Tensor, eta: float = 2.0) -> torch.Tensor:
    r"""Pull every finite H0 bar's length toward ``eta``: :math:`\sum_t |\eta - \varepsilon_t|`.

    For the Vietoris-Rips H0 diagram of a batch the lengths :math:`\varepsilon_t = |d_t - b_t|` are the
    deaths (every birth is 0), which are the edge lengths of its minimum spanning tree; the loss asks the
    batch to be "eta-connected" (COREL, Hofer et al., ICML'19). Essential bars are ignored; zero-length
    bars (duplicates) are already dropped.

    Args:
        dgm: the H0 :class:`~difftda.Diagram`, or a ``(k, 2)`` tensor or numpy array.
        eta: the target length, finite and >= 0 (COREL: ``2 * ball_radius``).

    Returns:
        A 0-dim tensor on the diagram's device (a differentiable 0 for an empty diagram).

    Example:
        >>> import torch, difftda
        >>> z = torch.randn(50, 2, requires_grad=True)
        >>> loss = difftda.losses.connectivity_loss(difftda.persistence(z, maxdim=0)[0], eta=2.0)
        >>> loss.backward()
    """
    eta = _connectivity_args(eta)
    pairs, _ = as_diagram(dgm)
    return (eta - bar_lengths(pairs)).abs().sum()


class ConnectivityLoss(nn.Module):
    """Module form of :func:`connectivity_loss`; ``eta`` is checked at construction.

    Example:
        >>> import torch, difftda
        >>> crit = difftda.nn.ConnectivityLoss(eta=2.0)
        >>> loss = crit(difftda.persistence(torch.randn(30, 2), maxdim=0)[0])
    """

    def __init__(self, eta: float = 2.0) -> None:
        super().__init__()
        self.eta = _connectivity_args(eta)

    def forward(self, dgm: Diagram | torch.Tensor) -> torch.Tensor:
        return connectivity_loss(dgm, eta=self.eta)

    def extra_repr(self) -> str:
        return f"eta={self.eta}"
