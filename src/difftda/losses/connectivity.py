"""The connectivity loss of Hofer, Kwitt, Dixit and Niethammer (ICML 2019)."""

from __future__ import annotations

import torch

from ..diagrams import Diagram
from ._common import as_diagram


def connectivity_loss(dgm: Diagram | torch.Tensor, eta: float = 2.0) -> torch.Tensor:
    r"""Pull every finite H0 death toward ``eta``: :math:`\sum_t |\eta - \varepsilon_t|`.

    The deaths :math:`\varepsilon_t` of the finite H0 bars of a batch are the edge lengths of its
    minimum spanning tree; the loss asks the batch to be "eta-connected" (COREL, Hofer et al.,
    ICML'19). Essential bars are ignored; zero-length bars (duplicates) are already dropped.

    Args:
        dgm: the H0 :class:`~difftda.Diagram`, or a ``(k, 2)`` tensor.
        eta: the target death time (COREL: ``2 * ball_radius``).

    Returns:
        A 0-dim tensor on the diagram's device (a differentiable 0 for an empty diagram).

    Example:
        >>> import torch, difftda
        >>> z = torch.randn(50, 2, requires_grad=True)
        >>> loss = difftda.losses.connectivity_loss(difftda.persistence(z, maxdim=0)[0], eta=2.0)
        >>> loss.backward()
    """
    pairs, _ = as_diagram(dgm)
    return (eta - pairs[:, 1]).abs().sum()
