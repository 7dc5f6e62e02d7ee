"""What every loss needs: read a diagram in any accepted form, check arguments with one message
style, and keep a fixed target diagram in an ``nn.Module``.

A diagram is accepted as a :class:`~difftda.Diagram`, a ``(k, 2)`` tensor, a ``(k, 2)`` numpy array
(as ripser, persim and gudhi write them) or a list of ``(birth, death)`` rows; rows whose death is
``inf`` are essential bars. A bar is measured by ``|death - birth|`` everywhere, so sublevel
diagrams (``birth <= death``) and superlevel ones (``birth >= death``) give the same losses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
import torch
from torch import nn

from .._checks import check_int
from ..diagrams import Diagram, Diagrams

__all__ = ["as_diagram"]

_DIAGRAM_LIKE = (torch.Tensor, np.ndarray, Diagram, Diagrams, list, tuple)


def _misplaced(value: object) -> str:
    """The end of a TypeError message: a hint when a diagram sits where a parameter was expected."""
    if isinstance(value, _DIAGRAM_LIKE):
        return (
            f"; got a {type(value).__name__}. A diagram given by position? Diagrams go in the call "
            "(loss(dgm, target)) or by keyword (target=...)"
        )
    return f"; got {value!r}"


def _is_diagram_list(obj: object) -> bool:
    """A list/tuple of diagrams (one per homology dimension) rather than a list of (birth, death) rows."""
    if isinstance(obj, Diagrams):
        return True
    if not isinstance(obj, (list, tuple)) or not obj:
        return False
    first = obj[0]
    return isinstance(first, (Diagram, torch.Tensor)) or (isinstance(first, np.ndarray) and first.ndim == 2)


def _from_rows(obj: np.ndarray | list | tuple, name: str) -> torch.Tensor:
    """A float tensor of a numpy array or of a list of (birth, death) rows (float32 stays float32)."""
    try:
        arr = np.asarray(obj)
        if arr.dtype != np.float32:
            arr = arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a (k, 2) array of (birth, death) rows; could not read it: {err}") from None
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    return torch.from_numpy(np.ascontiguousarray(arr))


def as_diagram(dgm: object, name: str = "dgm") -> tuple[torch.Tensor, torch.Tensor]:
    """``(pairs, essential)`` of one diagram: the finite ``(k, 2)`` pairs and the ``(m,)`` essential
    births, sharing dtype and device.

    ``dgm`` is a :class:`~difftda.Diagram`, a ``(k, 2)`` floating tensor, a ``(k, 2)`` numpy array or a
    list of ``(birth, death)`` rows (numpy and lists become float64 CPU tensors, float32 arrays stay
    float32); rows with ``death == inf`` are essential bars.

    Example:
        >>> import math, numpy as np, torch
        >>> pairs, ess = as_diagram(torch.tensor([[0.0, 1.0], [0.5, math.inf]]))
        >>> pairs.tolist(), ess.tolist()
        ([[0.0, 1.0]], [0.5])
        >>> as_diagram(np.array([[0.0, 2.0], [0.0, np.inf]]))[0].dtype
        torch.float64
    """
    if isinstance(dgm, Diagram):
        return dgm.pairs, dgm.essential
    if _is_diagram_list(dgm):
        raise TypeError(
            f"{name} must be the Diagram of one homology dimension (for example dgms[0]) or a (k, 2) tensor or "
            f"array; got a {type(dgm).__name__} of {len(dgm)} diagrams"  # type: ignore[arg-type]
        )
    if isinstance(dgm, (np.ndarray, list, tuple)):
        dgm = _from_rows(dgm, name)
    if not isinstance(dgm, torch.Tensor):
        raise TypeError(
            f"{name} must be a difftda Diagram, a (k, 2) tensor or a (k, 2) numpy array of (birth, death) rows; "
            f"got {type(dgm).__name__}"
        )
    if not dgm.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype; got {dgm.dtype}. Use .float() or .double()")
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
    """:func:`as_diagram` for a reference diagram, moved to ``like``'s device and dtype; ``None`` is
    the empty diagram."""
    if target is None:
        return like.new_zeros((0, 2)), like.new_zeros((0,))
    pairs, ess = as_diagram(target, name)
    return pairs.to(like), ess.to(like)


def diagram_rows(dgm: object, name: str = "dgm") -> torch.Tensor:
    """One ``(k + m, 2)`` tensor: the finite pairs, then the essential bars as ``(birth, inf)`` rows."""
    pairs, ess = as_diagram(dgm, name)
    inf = torch.full_like(ess, math.inf)
    return torch.cat([pairs, torch.stack([ess, inf], dim=1)], dim=0)


def bar_lengths(pairs: torch.Tensor) -> torch.Tensor:
    """``|death - birth|`` of finite ``(k, 2)`` pairs: the size of a bar in a sublevel diagram
    (birth <= death) and in a superlevel one (birth >= death) alike."""
    return (pairs[:, 1] - pairs[:, 0]).abs()


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


# ----------------------------------------------------------------------------------------------
# argument checks: a TypeError for a wrong type, a ValueError for a wrong value


def check_number(value: object, name: str) -> float:
    """A finite real number (bools, NaN and inf rejected)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number" + _misplaced(value))
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return v


def check_positive(
    value: object,
    name: str,
    *,
    allow_zero: bool = False,
    allow_inf: bool = False,
    minimum: float | None = None,
    hint: str = "",
) -> float:
    """A real number > 0 (or >= 0, or >= ``minimum``), finite unless ``allow_inf``; a clear error
    otherwise (``hint``, such as ``" (1, 2, ..., math.inf)"``, follows the bound in the message)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number{hint}" + _misplaced(value))
    v = float(value)
    if minimum is not None:
        bad, bound = math.isnan(v) or v < minimum, f">= {minimum:g}"
    else:
        bad, bound = math.isnan(v) or (v < 0 if allow_zero else v <= 0), ">= 0" if allow_zero else "> 0"
    if bad or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be {bound}{'' if allow_inf else ' and finite'}{hint}; got {value!r}")
    return v


def check_count(value: object, name: str, minimum: int = 0, hint: str = "") -> int:
    """:func:`difftda._checks.check_int` (TypeError for a type, ValueError for a value), with the
    hint for a diagram given by position."""
    if isinstance(value, _DIAGRAM_LIKE):
        raise TypeError(f"{name} must be an int >= {minimum}{hint}" + _misplaced(value))
    return check_int(value, name, minimum, hint)


def check_flag(value: object, name: str) -> bool:
    """True or False (numpy bools too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False" + _misplaced(value))
    return bool(value)


def check_choice(value: object, name: str, choices: Sequence[str], hint: str = "") -> str:
    """One of the strings ``choices``."""
    listed = ", ".join(map(repr, choices))
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}{hint}" + _misplaced(value))
    if value not in choices:
        raise ValueError(f"{name} must be one of {listed}{hint}; got {value!r}")
    return value


def check_dims(homology_dimensions: object, name: str = "homology_dimensions") -> tuple[int, ...]:
    """A non-empty tuple of distinct ints >= 0 (a single int is one dimension)."""
    if isinstance(homology_dimensions, int) and not isinstance(homology_dimensions, bool):
        homology_dimensions = (homology_dimensions,)
    if not isinstance(homology_dimensions, Sequence) or isinstance(homology_dimensions, str):
        raise TypeError(f"{name} must be a tuple of ints such as (0, 1)" + _misplaced(homology_dimensions))
    dims = tuple(check_int(k, f"each of {name}") for k in homology_dimensions)
    if not dims:
        raise ValueError(f"{name} must be a non-empty tuple of ints >= 0 such as (0, 1); got {homology_dimensions!r}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"{name} has repeated dimensions: {homology_dimensions!r}")
    return dims


def check_backend(backend: object, maxdim: int) -> object:
    """A persistence engine spec that :func:`difftda.get_backend` accepts (unknown names, options and
    missing packages fail here, with the registry's message)."""
    from ..backends import Engine, get_backend

    if not isinstance(backend, (str, Engine)):
        raise TypeError("backend must be a spec string such as 'auto' or an engine object" + _misplaced(backend))
    if backend != "auto":  # "auto" is always valid; it fails only when a cloud is paired with no engine installed
        get_backend(backend, maxdim=maxdim)
    return backend


# ----------------------------------------------------------------------------------------------
# Modules: a fixed target diagram lives in a buffer, so ``module.to(device)`` / ``.double()`` move it.


class TargetLoss(nn.Module):
    """Base of the loss Modules that may hold fixed target diagrams (one buffer per homology dimension,
    ``target_h0``, ``target_h1``, ...); ``forward`` uses them when no target is passed."""

    def _set_targets(self, targets: list | None) -> None:
        self._n_targets = 0 if targets is None else len(targets)
        for k in range(self._n_targets):
            assert targets is not None
            rows = None if targets[k] is None else diagram_rows(targets[k], f"target[{k}]")
            self.register_buffer(f"target_h{k}", None if rows is None else rows.detach().clone())

    def _set_target(self, target: object) -> None:
        """One fixed target diagram (or None)."""
        self._set_targets(None if target is None else [target])

    def _set_target_list(self, target: object) -> None:
        """Fixed target diagrams, one per homology dimension (or None)."""
        if target is None:
            self._set_targets(None)
            return
        if isinstance(target, (Diagram, torch.Tensor, np.ndarray)) or not isinstance(target, Sequence):
            raise TypeError(
                "target must be a sequence of one diagram per homology dimension (Diagrams, or a list of "
                f"tensors/arrays); got {type(target).__name__}"
            )
        self._set_targets(list(target))

    def _targets(self, given: object, single: bool) -> object:
        if given is not None:
            return given
        if self._n_targets == 0:
            raise ValueError(
                f"{type(self).__name__} has no target: pass one to forward(..., target) or at construction "
                f"({type(self).__name__}(target=...))"
            )
        if single:
            return self.target_h0
        return [getattr(self, f"target_h{k}") for k in range(self._n_targets)]

    def _optional_targets(self, given: object) -> object:
        """The targets (per homology dimension) when given or fixed, else None."""
        return self._targets(given, False) if (given is not None or self._n_targets) else None
