"""What every engine shares (:class:`Engine`), and the Vietoris-Rips protocol (:class:`Backend`):
a detached distance matrix in, critical edges out."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import numpy as np
import torch

__all__ = [
    "Engine",
    "Backend",
    "BatchPairing",
    "DimPairing",
    "Pairing",
    "BackendUnavailableError",
    "trivial_pairing",
]


class BackendUnavailableError(ImportError):
    """A backend's package is not installed."""


class DimPairing(NamedTuple):
    """Critical edges of one homology dimension, as int64 numpy arrays.

    Attributes:
        finite: ``(k, 4)`` ``[b_i, b_j, d_i, d_j]``: birth edge and death edge of each finite bar.
            In H0 the birth "edge" is ``(v, v)``, ``v`` the vertex whose component is born.
        essential: ``(m, 2)`` ``[b_i, b_j]``: the birth edge of each bar that never dies.
    """

    finite: np.ndarray
    essential: np.ndarray

    @classmethod
    def empty(cls) -> DimPairing:
        return cls(np.zeros((0, 4), np.int64), np.zeros((0, 2), np.int64))


Pairing = tuple[DimPairing, ...]  # element k is H_k, length maxdim + 1


def trivial_pairing(n: int, maxdim: int) -> Pairing:
    """The pairing of a cloud with at most one point: one essential component, nothing else."""
    h0 = DimPairing(np.zeros((0, 4), np.int64), np.zeros((n, 2), np.int64))
    return (h0,) + tuple(DimPairing.empty() for _ in range(maxdim))


def from_generators(gens: tuple, maxdim: int) -> Pairing:
    """The generator layout that giotto-ph and gudhi share, ``(finite_0 (n, 3) [v, i, j], [finite_k
    (m, 4)], essential_0 (l,) [v], [essential_k (e, 2)])``, as a :data:`Pairing` of ``maxdim + 1``
    dimensions (missing dimensions empty)."""
    fin0, fin_hi, ess0, ess_hi = gens
    fin0 = np.asarray(fin0, dtype=np.int64).reshape(-1, 3)
    ess0 = np.asarray(ess0, dtype=np.int64).reshape(-1)
    result = [DimPairing(fin0[:, [0, 0, 1, 2]], np.stack([ess0, ess0], axis=1))]
    for k in range(1, maxdim + 1):
        fin = fin_hi[k - 1] if k - 1 < len(fin_hi) else ()
        ess = ess_hi[k - 1] if k - 1 < len(ess_hi) else ()
        result.append(DimPairing(np.asarray(fin, np.int64).reshape(-1, 4), np.asarray(ess, np.int64).reshape(-1, 2)))
    return tuple(result)


class BatchPairing(NamedTuple):
    """The critical edges of a whole batch, concatenated (what the gather layer consumes).

    Row ``r`` of ``finite`` belongs to homology dimension ``finite_group[r] // B`` of cloud
    ``finite_group[r] % B`` (dimension-major groups, so one dimension of the batch is contiguous
    once sorted by group). Indices are local to their cloud.
    """

    finite: np.ndarray  # (K, 4) int64
    finite_group: np.ndarray  # (K,) int64
    essential: np.ndarray  # (M, 2) int64
    essential_group: np.ndarray  # (M,) int64

    @classmethod
    def concat(cls, pairings: list[Pairing], maxdim: int) -> BatchPairing:
        """Concatenate per-cloud pairings (checking that each has ``maxdim + 1`` dimensions)."""
        B = len(pairings)
        for p in pairings:
            if len(p) != maxdim + 1:
                raise RuntimeError(f"backend returned {len(p)} dimensions, expected maxdim + 1 = {maxdim + 1}")
        fin = [np.asarray(p[k].finite, np.int64).reshape(-1, 4) for k in range(maxdim + 1) for p in pairings]
        ess = [np.asarray(p[k].essential, np.int64).reshape(-1, 2) for k in range(maxdim + 1) for p in pairings]
        groups = np.arange((maxdim + 1) * B)
        return cls(
            np.concatenate(fin), np.repeat(groups, [len(f) for f in fin]),
            np.concatenate(ess), np.repeat(groups, [len(e) for e in ess]),
        )


class Engine(ABC):
    """A persistence engine of one filtration, built from a spec string by :func:`~difftda.get_backend`.

    An engine pairs a detached copy of a filtration's values and returns *critical positions*: where
    in the values each bar is born and dies. It never computes gradients; the shared gather layer
    reads the values at those positions. Each filtration defines an abstract subclass with its own
    ``pairing`` method (:class:`Backend` for Vietoris-Rips).

    Subclasses set ``name`` (the spec name, unique within the filtration), ``filtration``,
    ``requires`` (the import name of their package), ``package`` (its name on the package index) and
    ``extra`` (the difftda extra that installs it), and take their options as explicit keyword-only
    ``__init__`` arguments.
    """

    name: ClassVar[str]
    #: The filtration the engine serves: ``"rips"``, ``"cubical"``, ...
    filtration: ClassVar[str] = "rips"
    requires: ClassVar[str | None] = None
    package: ClassVar[str | None] = None
    extra: ClassVar[str | None] = None
    #: ``"auto"`` takes the installed engine of the filtration with the lowest rank that fits maxdim.
    auto_rank: ClassVar[int] = 100
    #: The options ``"auto"`` gives this engine when it picks it.
    auto_options: ClassVar[dict[str, object]] = {}
    #: The largest ``maxdim`` the engine supports (None: any).
    max_maxdim: ClassVar[int | None] = None

    @classmethod
    def refuses(cls, maxdim: int | None, **request: object) -> str | None:
        """Why the engine cannot serve a call, or None when it can.

        ``request`` is what the filtration's input needs (the number of axes of an image, whether
        the simplices are edges, the kind of alpha filtration); ``"auto"`` takes the installed
        engine of lowest rank that refuses nothing, and a named engine that refuses raises a
        ValueError with this reason. Subclasses extend it for their own keys.
        """
        if maxdim is not None and cls.max_maxdim is not None and maxdim > cls.max_maxdim:
            return f"computes up to maxdim={cls.max_maxdim}; got maxdim={maxdim}"
        return None

    def options(self) -> dict[str, object]:
        """The keyword options of this instance, in signature order."""
        params = inspect.signature(type(self).__init__).parameters
        return {k: getattr(self, k) for k in params if k != "self"}

    def __str__(self) -> str:
        opts = ",".join(f"{k}={_format(v)}" for k, v in self.options().items())
        return f"{self.name}:{opts}" if opts else self.name

    def __repr__(self) -> str:
        if self.filtration == "rips":
            return f"get_backend({str(self)!r})"
        return f"get_backend({str(self)!r}, filtration={self.filtration!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Engine) and (self.filtration, str(self)) == (other.filtration, str(other))

    def __hash__(self) -> int:
        return hash((self.filtration, str(self)))


class Backend(Engine):
    """A persistence engine that pairs simplices of the Vietoris-Rips filtration of a distance matrix.

    Subclasses implement :meth:`pairing` (and may override :meth:`pairing_batch`). They return
    critical edges; the Rips filtration turns them into positions in the distance matrix.
    """

    filtration: ClassVar[str] = "rips"
    #: True when the returned edges are the engine's own critical edges (not found by value lookup).
    exact_indices: ClassVar[bool] = True
    #: The largest prime field the engine handles correctly (checked before it is called).
    max_coeff: ClassVar[int] = 46337
    #: True when :meth:`pairing_batch` works on the matrix's own device: it receives the detached
    #: matrix where it lives (no host copy is made), and must be ``canonical``.
    on_device: ClassVar[bool] = False
    #: True when :meth:`pairing_batch` already drops zero-length bars, so the shared layer need not
    #: read values on the host (rows then keep the backend's order).
    canonical: ClassVar[bool] = False

    @abstractmethod
    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        """Critical edges of each dimension ``0..maxdim`` of the VR filtration of ``dist``.

        ``dist`` is a C-contiguous ``(n, n)`` float32 or float64 matrix (the input's precision; the
        values are exactly those the gather layer reads) with ``n >= 2``, already checked to be
        symmetric, non-negative and zero on the diagonal. Edges longer than ``thresh`` are left out.
        """

    def pairing_batch(
        self, dist: torch.Tensor, sizes: list[int], *, maxdim: int, thresh: float, coeff: int
    ) -> BatchPairing:
        """Pair a padded batch: ``dist`` is a detached ``(B, N, N)`` tensor, cloud ``b`` its top-left
        ``sizes[b]`` square (``sizes[b] >= 1``). It arrives as a float32 or float64 CPU tensor
        unless the backend sets ``on_device``. The default pairs cloud by cloud with
        :meth:`pairing`; a backend overrides this to pair the whole batch at once.
        """
        host = dist.cpu().numpy()
        pairings = [
            self.pairing(np.ascontiguousarray(host[b, :n, :n]), maxdim=maxdim, thresh=thresh, coeff=coeff)
            if n > 1 else trivial_pairing(n, maxdim)
            for b, n in enumerate(sizes)
        ]
        return BatchPairing.concat(pairings, maxdim)


def _format(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    return str(v)
