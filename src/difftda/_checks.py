"""Argument checks shared by the public functions: one place, one message style."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch

METRICS = ("euclidean", "manhattan", "chebyshev", "precomputed")


def check_maxdim(maxdim: object) -> int:
    if isinstance(maxdim, bool) or not isinstance(maxdim, Integral):
        raise TypeError(f"maxdim must be an int >= 0; got {maxdim!r}")
    if maxdim < 0:
        raise ValueError(f"maxdim must be >= 0 (0 for components, 1 for loops, ...); got {maxdim}")
    return int(maxdim)


def check_metric(metric: object) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))}; got {metric!r}")
    return str(metric)


def check_thresh(thresh: object) -> float:
    if isinstance(thresh, bool) or not isinstance(thresh, Real):
        raise TypeError(f"thresh must be a positive number or math.inf; got {thresh!r}")
    thresh = float(thresh)
    if math.isnan(thresh) or thresh <= 0:
        raise ValueError(f"thresh must be > 0 (math.inf keeps every edge); got {thresh}")
    return thresh


#: No engine takes a field larger than this (gudhi's limit; giotto-ph and ripser.py stop at 251).
MAX_COEFF = 46337


def _is_prime(p: int) -> bool:
    if p < 2:
        return False
    return all(p % q for q in range(2, math.isqrt(p) + 1))


def check_coeff(coeff: object, max_coeff: int = MAX_COEFF, backend: str | None = None) -> int:
    if isinstance(coeff, bool) or not isinstance(coeff, Integral):
        raise TypeError(f"coeff must be a prime int (the field Z/pZ); got {coeff!r}")
    coeff = int(coeff)
    if coeff > max_coeff:
        who = f"backend {backend!r}" if backend else "difftda"
        raise ValueError(f"coeff must be a prime <= {max_coeff} for {who}; got {coeff}")
    if not _is_prime(coeff):
        raise ValueError(f"coeff must be a prime number (2, 3, 5, 7, 11, ...); got {coeff}")
    return coeff


_NOT_FINITE = "{} contains NaN or inf; persistence needs finite coordinates/distances"


def check_cloud(x: object, name: str = "x", finite: bool = True) -> torch.Tensor:
    """A floating point tensor (any shape) with finite entries; ``finite=False`` leaves that check to
    :func:`check_scale` or :func:`check_distance_matrix`, which read the tensor anyway."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor; got {type(x).__name__}. Wrap arrays with torch.as_tensor(...)"
        )
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64; got {x.dtype}. Use x.float() or x.double()")
    if finite and x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(_NOT_FINITE.format(name))
    return x


def check_scale(x: torch.Tensor, name: str = "x") -> None:
    """Points that are not finite, or whose distances would overflow (or all underflow) in their
    dtype: a ValueError."""
    if x.numel() == 0:
        return
    top = float(x.detach().abs().max())  # NaN if any entry is NaN
    if not math.isfinite(top):
        raise ValueError(_NOT_FINITE.format(name))
    info = torch.finfo(x.dtype)
    if (2 * top) ** 2 * x.shape[-1] >= info.max:
        raise ValueError(
            f"{name} has coordinates up to {top:g}: squared distances overflow {x.dtype}. "
            "Rescale the points (persistence scales with them) or use float64"
        )
    if 0 < top and (2 * top) ** 2 * x.shape[-1] < info.tiny:
        raise ValueError(
            f"{name} has coordinates below {top:g}: every squared distance underflows {x.dtype}. "
            "Rescale the points (persistence scales with them)"
        )


def check_distance_matrix(d: torch.Tensor, name: str = "x") -> None:
    """Square, non-negative, zero diagonal, symmetric up to rounding; ``d`` is (n, n) or (B, n, n)."""
    if d.shape[-1] != d.shape[-2]:
        raise ValueError(
            f"with metric='precomputed', {name} must be a square (n, n) distance matrix; got shape "
            f"{tuple(d.shape)}. Pass points with metric='euclidean' instead"
        )
    if d.numel() == 0:
        return
    dd = d.detach()
    if bool((dd < 0).any()):
        raise ValueError(f"with metric='precomputed', {name} must be non-negative; found {dd.min().item():g}")
    scale = float(dd.abs().max())  # NaN if any entry is NaN
    if not math.isfinite(scale):
        raise ValueError(_NOT_FINITE.format(name))
    # Rounding is relative to the matrix's scale, whatever that scale is.
    tol = (1e-5 if dd.dtype != torch.float64 else 1e-9) * scale
    diag = torch.diagonal(dd, dim1=-2, dim2=-1)
    if bool((diag.abs() > tol).any()):
        raise ValueError(
            f"with metric='precomputed', {name} must have a zero diagonal; found {diag.abs().max().item():g}. "
            "Vertex births other than 0 are not supported"
        )
    asym = (dd - dd.transpose(-1, -2)).abs().max().item()
    if asym > tol:
        raise ValueError(
            f"with metric='precomputed', {name} must be symmetric; max |D - D.T| = {asym:g}. "
            "Symmetrize it, e.g. (D + D.T) / 2"
        )


def check_int(value: object, name: str, minimum: int = 0, hint: str = "") -> int:
    """An int >= ``minimum``: a TypeError for another type (bool and float included), a ValueError
    for a smaller value. ``hint`` ends the message (for example what the argument means)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int >= {minimum}{hint}; got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}{hint}; got {value}")
    return int(value)
