"""Result types: one :class:`Diagram` per homology dimension, gathered in :class:`Diagrams`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = ["Diagram", "Diagrams"]


class Diagram(NamedTuple):
    """The persistence diagram of one homology dimension, differentiable.

    Attributes:
        pairs: ``(k, 2)`` finite ``(birth, death)`` values, on the input's device and dtype.
        essential: ``(m,)`` births of the bars that never die.
        index: ``(k, 4)`` int64 ``[b_i, b_j, d_i, d_j]``: the vertex pair of each bar's birth edge and
            of its death edge, so ``pairs[:, 0] == D[b_i, b_j]`` and ``pairs[:, 1] == D[d_i, d_j]``.
            In H0 ``b_i == b_j`` is the vertex whose component is born.
        essential_index: ``(m, 2)`` int64, the birth edge of each essential bar.
    """

    pairs: torch.Tensor
    essential: torch.Tensor
    index: torch.Tensor
    essential_index: torch.Tensor

    def to_numpy(self) -> np.ndarray:
        """The ripser/persim convention: a ``(k + m, 2)`` float array, essential bars with death ``inf``."""
        finite = self.pairs.detach().cpu().double().numpy().reshape(-1, 2)
        births = self.essential.detach().cpu().double().numpy().reshape(-1)
        ess = np.stack([births, np.full_like(births, np.inf)], axis=1)
        return np.concatenate([finite, ess], axis=0)

    def __repr__(self) -> str:
        return (
            f"Diagram(finite={tuple(self.pairs.shape)[0]}, essential={tuple(self.essential.shape)[0]}, "
            f"dtype={self.pairs.dtype}, device={self.pairs.device})"
        )


class Diagrams(tuple):
    """The diagrams of H_0 .. H_maxdim of one point cloud: ``dgms[k]`` is the :class:`Diagram` of H_k."""

    __slots__ = ()

    def to_numpy(self) -> list[np.ndarray]:
        """A list of ``(k, 2)`` float arrays (ripser's ``dgms``), which persim and gudhi take directly."""
        return [dgm.to_numpy() for dgm in self]

    @property
    def maxdim(self) -> int:
        return len(self) - 1

    def __repr__(self) -> str:
        return "Diagrams(" + ", ".join(f"H{k}: {d!r}" for k, d in enumerate(self)) + ")"
