"""What every loss needs: accept a Diagram or a (k, 2) tensor, split finite and essential bars."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
import torch

from ..diagrams import Diagram, Diagrams


def as_diagram(dgm: Diagram | torch.Tensor, name: str = "dgm") -> tuple[torch.Tensor, torch.Tensor]:
    """``(pairs, essential)`` of a :class:`Diagram`, or of a ``(k, 2)`` tensor whose rows with
    ``death == inf`` are essential bars.

    Returns the finite ``(k, 2)`` pairs and the ``(m,)`` essential births, sharing dtype and device.

    Example:
        >>> import math, torch
        >>> pairs, ess = as_diagram(torch.tensor([[0.0, 1.0], [0.5, math.inf]]))
        >>> pairs.tolist(), ess.tolist()
        ([[0.0, 1.0]], [0.5])
    """
    if isinstance(dgm, Diagram):
        return dgm.pairs, dgm.essential
    if isinstance(dgm, (Diagrams, list, tuple)):
        raise TypeError(
            f"{name} must be the Diagram of one homology dimension (for example dgms[0]) or a (k, 2) tensor; "
            f"got a {type(dgm).__name__} of {len(dgm)} diagrams"
        )
    if not isinstance(dgm, torch.Tensor):
        raise TypeError(
            f"{name} must be a difftda Diagram or a (k, 2) tensor of (birth, death); got {type(dgm).__name__}"
            + (". Wrap arrays with torch.as_tensor(...)" if isinstance(dgm, np.ndarray) else "")
        )
    if not dgm.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype; got {dgm.dtype}")
    if dgm.numel() == 0:
        dgm = dgm.reshape(0, 2)
    if dgm.dim() != 2 or dgm.shape[1] != 2:
        raise ValueError(f"{name} must have shape (k, 2); got {tuple(dgm.shape)}")
    if bool(torch.isnan(dgm).any()):
        raise ValueError(f"{name} contains NaN")
    if bool(torch.isinf(dgm[:, 0]).any()):
        raise ValueError(f"{name} has an infinite birth; only deaths may be inf (essential bars)")
    if bool((dgm[:, 1] == -math.inf).any()):
        raise ValueError(f"{name} has a death equal to -inf; essential bars are written (birth, +inf)")
    inf = torch.isinf(dgm[:, 1])
    return dgm[~inf], dgm[inf, 0]


def as_target(target: object, like: torch.Tensor, name: str = "target") -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`as_diagram` for a reference diagram, moved to ``like``'s device and dtype.

    Besides a Diagram or a tensor it takes a numpy array or a nested list of (birth, death) rows (for
    example a diagram from ripser, gudhi or persim); ``None`` is the empty diagram.
    """
    if target is None:
        empty = like.new_zeros((0, 2))
        return empty, like.new_zeros((0,))
    if isinstance(target, (np.ndarray, list)) and not (
        isinstance(target, list) and target and isinstance(target[0], (Diagram, torch.Tensor))
    ):
        arr = np.asarray(target, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(0, 2)
        target = torch.as_tensor(arr)
    pairs, ess = as_diagram(target, name)  # type: ignore[arg-type]
    return pairs.to(like), ess.to(like)


def diagram_rows(dgm: object, name: str = "dgm") -> torch.Tensor:
    """One ``(k + m, 2)`` tensor: the finite pairs, then the essential bars as ``(birth, inf)`` rows."""
    if isinstance(dgm, (np.ndarray, list)):
        arr = np.asarray(dgm, dtype=np.float64)
        dgm = torch.as_tensor(arr.reshape(0, 2) if arr.size == 0 else arr)
    pairs, ess = as_diagram(dgm, name)  # type: ignore[arg-type]
    inf = torch.full_like(ess, math.inf)
    return torch.cat([pairs, torch.stack([ess, inf], dim=1)], dim=0)


def zero(*tensors: torch.Tensor) -> torch.Tensor:
    """A 0-dim zero connected to the graph of every tensor given (gradient exactly 0, never NaN)."""
    out = None
    for t in tensors:
        s = (t * 0).sum()  # t is finite here, so t * 0 is an exact 0 with a zero gradient
        out = s if out is None else out + s
    assert out is not None
    return out


def safe_pow(x: torch.Tensor, p: float) -> torch.Tensor:
    """``x ** p`` for ``x >= 0`` with a finite gradient at 0 (0, the subgradient, where ``p < 1``)."""
    if p == 1.0:
        return x
    pos = x > 0
    return torch.where(pos, torch.where(pos, x, torch.ones_like(x)) ** p, torch.zeros_like(x))


def safe_root(total: torch.Tensor, q: float) -> torch.Tensor:
    """``total ** (1 / q)`` of a 0-dim sum of non-negative terms, with gradient 0 (not NaN) at 0."""
    if q == 1.0:
        return total
    pos = total > 0
    return torch.where(pos, torch.where(pos, total, torch.ones_like(total)) ** (1.0 / q), torch.zeros_like(total))


def check_positive(value: object, name: str, *, allow_zero: bool = False, allow_inf: bool = False) -> float:
    """A real number > 0 (or >= 0); a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number; got {value!r}")
    v = float(value)
    bad = math.isnan(v) or (v < 0 if allow_zero else v <= 0) or (math.isinf(v) and not allow_inf)
    if bad:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}{'' if allow_inf else ' and finite'}; got {value!r}")
    return v


def check_dims(homology_dimensions: object, name: str = "homology_dimensions") -> tuple[int, ...]:
    """A non-empty tuple of distinct ints >= 0."""
    if isinstance(homology_dimensions, int) and not isinstance(homology_dimensions, bool):
        homology_dimensions = (homology_dimensions,)
    if not isinstance(homology_dimensions, Sequence) or isinstance(homology_dimensions, str):
        raise TypeError(f"{name} must be a tuple of ints such as (0, 1); got {homology_dimensions!r}")
    dims = tuple(homology_dimensions)
    if not dims or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in dims):
        raise ValueError(f"{name} must be a non-empty tuple of ints >= 0 such as (0, 1); got {homology_dimensions!r}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"{name} has repeated dimensions: {homology_dimensions!r}")
    return dims
