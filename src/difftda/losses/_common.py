"""What every loss needs: accept a Diagram or a (k, 2) tensor, split finite and essential bars."""

from __future__ import annotations

import torch

from ..diagrams import Diagram


def as_diagram(dgm: Diagram | torch.Tensor, name: str = "dgm") -> tuple[torch.Tensor, torch.Tensor]:
    """``(pairs, essential)`` of a :class:`Diagram`, or of a ``(k, 2)`` tensor whose rows with
    ``death == inf`` are essential bars.

    Returns the finite ``(k, 2)`` pairs and the ``(m,)`` essential births, sharing dtype and device.
    """
    if isinstance(dgm, Diagram):
        return dgm.pairs, dgm.essential
    if not isinstance(dgm, torch.Tensor):
        raise TypeError(
            f"{name} must be a difftda Diagram or a (k, 2) tensor of (birth, death); got {type(dgm).__name__}"
        )
    if not dgm.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype; got {dgm.dtype}")
    if dgm.numel() == 0:
        dgm = dgm.reshape(0, 2)
    if dgm.dim() != 2 or dgm.shape[1] != 2:
        raise ValueError(f"{name} must have shape (k, 2); got {tuple(dgm.shape)}")
    if bool(torch.isnan(dgm).any()):
        raise ValueError(f"{name} contains NaN")
    inf = torch.isinf(dgm[:, 1])
    if bool(torch.isinf(dgm[:, 0]).any()):
        raise ValueError(f"{name} has an infinite birth; only deaths may be inf (essential bars)")
    return dgm[~inf], dgm[inf, 0]
