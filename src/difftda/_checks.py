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


def check_cloud_list(x: list | tuple, *, same_width: bool = True) -> list[torch.Tensor]:
    """A batch given as a list: a non-empty list of 2-D float tensors of one dtype and device (and,
    with ``same_width``, one number of columns)."""
    if len(x) == 0:
        raise ValueError("x is an empty list; pass at least one point cloud")
    if not isinstance(x[0], torch.Tensor) and isinstance(x[0], (list, tuple, float, int)):
        raise TypeError(
            "x is a list of lists: a list means a batch of point clouds, one tensor each. For one "
            "cloud pass torch.tensor(x); for a batch pass a list of (n, d) tensors"
        )
    clouds = [check_cloud(c, f"x[{b}]") for b, c in enumerate(x)]
    first = clouds[0]
    for b, c in enumerate(clouds):
        if c.dim() != 2:
            raise ValueError(f"x[{b}] must be a 2-D tensor (n, d); got shape {tuple(c.shape)}")
        if c.dtype != first.dtype or c.device != first.device:
            raise ValueError(f"x[{b}] has dtype/device {c.dtype}/{c.device}, x[0] has {first.dtype}/{first.device}")
        if same_width and c.shape[1] != first.shape[1]:
            raise ValueError(f"x[{b}] has dimension {c.shape[1]}, x[0] has {first.shape[1]}")
    return clouds


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


#: Below this many bytes no memory check reads the system's figures (a few microseconds saved per call).
MEMORY_CHECK_FLOOR = 256 * 2**20


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _cgroup_memory() -> list[tuple[int, int, int]]:
    """``(limit, usage, inactive file cache)`` of the process's memory cgroup (v2, then v1), from its
    own group's directory or the namespace root's; empty when none can be read."""
    dirs = []
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            continue
        path = parts[2].rstrip("/")
        if parts[1] == "":
            v2 = ("memory.max", "memory.current")
            dirs += [(f"/sys/fs/cgroup{path}", *v2), ("/sys/fs/cgroup", *v2)]
        elif "memory" in parts[1].split(","):
            v1 = ("memory.limit_in_bytes", "memory.usage_in_bytes")
            dirs += [(f"/sys/fs/cgroup/memory{path}", *v1), ("/sys/fs/cgroup/memory", *v1)]
    out = []
    for root, limit_name, usage_name in dict.fromkeys(dirs):
        limit, usage = _read(f"{root}/{limit_name}"), _read(f"{root}/{usage_name}")
        if limit is None or usage is None:
            continue
        stat = _read(f"{root}/memory.stat") or ""
        inactive = ("inactive_file ", "total_inactive_file ")
        cache = next((int(s.split()[1]) for s in stat.splitlines() if s.startswith(inactive)), 0)
        limit = limit.strip()
        out.append((2**62 if limit == "max" else int(limit), int(usage), cache))
    return out


def available_memory() -> int | None:
    """Bytes this process can still allocate: the kernel's ``MemAvailable`` (``/proc/meminfo``),
    capped by each memory cgroup limit minus its usage (reclaimable file cache counted as free) and by
    an address-space limit (``ulimit -v``) minus the process's size. None where nothing can be read.

    Example:
        >>> from difftda._checks import available_memory
        >>> m = available_memory()
        >>> m is None or m >= 0
        True
    """
    found = []
    meminfo = _read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            found.append(int(line.split()[1]) * 1024)
            break
    for limit, usage, cache in _cgroup_memory():
        if limit < 2**60:  # "max" or v1's huge number: no limit
            found.append(max(0, limit - usage + cache))
    try:  # an address-space limit (ulimit -v) counts virtual memory
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        soft = -1
    if soft >= 0 and soft != getattr(resource, "RLIM_INFINITY", -1):
        status = _read("/proc/self/status") or ""
        size = next((int(s.split()[1]) * 1024 for s in status.splitlines() if s.startswith("VmSize:")), None)
        if size is not None:
            found.append(max(0, soft - size))
    return min(found) if found else None


def check_memory(need: float, what: str, hint: str) -> None:
    """A :class:`MemoryError` naming ``what``, the estimate and ``hint`` when ``need`` bytes exceed
    :func:`available_memory` (checked from :data:`MEMORY_CHECK_FLOOR` bytes on)."""
    if need < MEMORY_CHECK_FLOOR:
        return
    avail = available_memory()
    if avail is not None and need > avail:
        raise MemoryError(
            f"{what} needs about {need / 2**30:.1f} GiB of memory, but about {avail / 2**30:.1f} GiB is available. "
            f"{hint}"
        )
