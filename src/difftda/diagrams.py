"""Result types: one :class:`Diagram` per homology dimension, gathered in :class:`Diagrams`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = ["Diagram", "Diagrams", "DiagramBatch"]


class Diagram(NamedTuple):
    """The persistence diagram of one homology dimension, differentiable.

    Attributes:
        pairs: ``(k, 2)`` finite ``(birth, death)`` values, on the input's device and dtype.
        essential: ``(m,)`` births of the bars that never die.
        index: int64, where each bar is born and dies; its layout is the filtration's:

            * Vietoris-Rips: ``(k, 4)`` ``[b_i, b_j, d_i, d_j]``, the vertex pair of each bar's birth
              edge and of its death edge, so ``pairs[:, 0] == D[b_i, b_j]`` and
              ``pairs[:, 1] == D[d_i, d_j]``. In H0 ``b_i == b_j`` is the vertex whose component is
              born.
            * cubical: ``(k, 2)`` ``[birth_position, death_position]``, flat C-order positions in
              the image.
            * lower-star: ``(k, 2)`` ``[birth_vertex, death_vertex]``.
            * alpha, Delaunay-Cech and weak alpha: the vertices of the simplices that define the
              birth and the death value, padded with -1 (see :func:`difftda.alpha_persistence`).
        essential_index: int64, the birth of each essential bar in the same layout: ``(m, 2)``
            birth edge for Rips, ``(m, 1)`` for cubical and lower-star.

    Indices are local to their item (cloud, image, graph) of a batch.
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

    def __array__(self, dtype: object = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(dgm)``: :meth:`to_numpy`, a new ``(k + m, 2)`` array (so ``copy=False`` is refused)."""
        if copy is False:
            raise ValueError("a Diagram is converted to numpy by copying its tensors; copy=False is not possible")
        out = self.to_numpy()
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return (
            f"Diagram(finite={tuple(self.pairs.shape)[0]}, essential={tuple(self.essential.shape)[0]}, "
            f"dtype={self.pairs.dtype}, device={self.pairs.device})"
        )


class Diagrams(tuple):
    """The diagrams of H_0 .. H_maxdim of one item (point cloud, image, graph): ``dgms[k]`` is the
    :class:`Diagram` of H_k."""

    __slots__ = ()

    def __getitem__(self, k):  # type: ignore[no-untyped-def]
        """``dgms[k]``, the Diagram of H_k; an index past ``maxdim`` says which dimensions were computed."""
        if isinstance(k, (int, np.integer)) and not -len(self) <= k < len(self):
            if k >= 0:
                raise IndexError(
                    f"dgms[{k}]: homology dimensions H0..H{len(self) - 1} were computed (maxdim={len(self) - 1}); "
                    f"compute persistence with maxdim >= {k} to get H{k}"
                )
            raise IndexError(f"dgms[{k}]: only {len(self)} homology dimensions (H0..H{len(self) - 1}) were computed")
        return super().__getitem__(k)

    def to_numpy(self) -> list[np.ndarray]:
        """A list of ``(k, 2)`` float arrays (ripser's ``dgms``), which persim and gudhi take directly."""
        return [dgm.to_numpy() for dgm in self]

    @property
    def maxdim(self) -> int:
        return len(self) - 1

    def __repr__(self) -> str:
        return "Diagrams(" + ", ".join(f"H{k}: {d!r}" for k, d in enumerate(self)) + ")"


class DiagramBatch(list):
    """What a batch returns: a list of :class:`Diagrams`, one per item (cloud, image, graph), that
    also holds the whole batch at once, so a loss summed over the items needs no Python loop.

    The per-item entries are views of :meth:`cat`, made the first time the list is read (a batched
    loss that only calls :meth:`cat` never pays for splitting it).

    Example:
        >>> import torch, difftda
        >>> out = difftda.persistence(torch.randn(8, 30, 3), maxdim=0)
        >>> len(out), out.cat()[0].pairs.shape
        (8, torch.Size([232, 2]))
    """

    def __init__(
        self,
        per_cloud: list[Diagrams] | Callable[[], list[Diagrams]],
        whole: Diagrams,
        clouds: list[tuple[torch.Tensor, torch.Tensor]] | Callable[[], list[tuple[torch.Tensor, torch.Tensor]]],
        n_items: int | None = None,
    ):
        if callable(per_cloud):  # built on first read
            super().__init__()
            self._pending: Callable[[], list[Diagrams]] | None = per_cloud
            self._n = n_items
        else:
            super().__init__(per_cloud)
            self._pending = None
        self._whole = whole
        self._clouds = clouds

    def _ready(self) -> None:
        if getattr(self, "_pending", None) is not None:  # (unpickling fills the list before __dict__)
            build, self._pending = self._pending, None
            list.extend(self, build())

    def __len__(self) -> int:
        if getattr(self, "_pending", None) is not None and self._n is not None:
            return self._n
        self._ready()
        return list.__len__(self)

    def cat(self) -> Diagrams:
        """The bars of all clouds, dimension by dimension (``index`` stays local to each cloud)."""
        return self._whole

    def cloud_of(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """For dimension ``k`` of :meth:`cat`: the cloud of each finite bar and of each essential bar."""
        return self._clouds_ready()[k]

    def _clouds_ready(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if callable(self._clouds):  # built on first use
            self._clouds = self._clouds()
        return self._clouds


def _building_first(name: str) -> Callable[..., Any]:
    method = getattr(list, name)

    def call(self: DiagramBatch, *args: Any, **kwargs: Any) -> Any:
        self._ready()
        return method(self, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = method.__doc__
    return call


# Every list method reads the entries, so each builds them first (``__len__`` knows the count).
for _name in (
    "__getitem__", "__setitem__", "__delitem__", "__iter__", "__reversed__", "__contains__", "__repr__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__add__", "__iadd__", "__mul__", "__rmul__",
    "__imul__", "__sizeof__", "append", "extend", "insert", "pop", "remove", "index", "count",
    "copy", "sort", "reverse", "clear",
):
    setattr(DiagramBatch, _name, _building_first(_name))
del _name


def _reduce_ex(self: DiagramBatch, protocol: Any) -> Any:
    """Pickling and copying build the entries and the clouds of each bar first (a pending builder
    is a local function, which does not pickle)."""
    self._ready()
    self._clouds_ready()
    return list.__reduce_ex__(self, protocol)


DiagramBatch.__reduce_ex__ = _reduce_ex  # type: ignore[method-assign,assignment]
