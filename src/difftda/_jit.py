"""Optional compiled kernels: numba when it is installed (extra ``fast``), nothing otherwise.

A kernel is a plain Python function decorated with :func:`kernel`. Callers ask :func:`enabled`
first and use their numpy path when it says no, so every kernel has a numpy twin that gives the
same result: bit for bit, or within the input's rounding where a kernel computes float32 inputs in
float64 (the tests compare the two). numba is imported, and a kernel compiled, on first use
only: importing difftda never pays for it. Set ``DIFFTDA_DISABLE_JIT=1`` before importing
difftda to keep to numpy.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["enabled", "kernel"]

_LOCK = threading.Lock()


def enabled() -> bool:
    """Whether compiled kernels run: numba is installed and ``DIFFTDA_DISABLE_JIT`` was unset or 0
    when difftda was imported (tests may flip :data:`DISABLED`)."""
    return not DISABLED and _have_numba()


def _have_numba() -> bool:
    """Whether numba imports (tried once; a broken install warns and leaves difftda on numpy)."""
    global _HAVE
    if _HAVE is None:
        _HAVE = False
        if importlib.util.find_spec("numba") is not None:
            try:
                import numba  # noqa: F401
            except Exception as err:  # an install whose compiled parts do not load
                warnings.warn(f"numba is installed but does not import ({err}); difftda keeps to numpy",
                              RuntimeWarning, stacklevel=3)
            else:
                _HAVE = True
    return _HAVE


_HAVE: bool | None = None
#: Keep to the numpy paths (read from ``DIFFTDA_DISABLE_JIT`` at import).
DISABLED: bool = os.environ.get("DIFFTDA_DISABLE_JIT", "0") not in ("", "0")


class _Kernel:
    """A function compiled by ``numba.njit`` at its first call (``nogil``: threads may share it;
    numpy's error model: a division by zero gives inf or nan as in numpy, with no check per division,
    so kernels guard their divisors themselves)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.compiled = fn, None
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__

    def __call__(self, *args: Any) -> Any:
        if self.compiled is None:
            with _LOCK:
                if self.compiled is None:
                    import numba

                    self.compiled = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")(self.fn)
        return self.compiled(*args)


def kernel(fn: Callable[..., Any]) -> _Kernel:
    """Mark ``fn`` (numba-compatible Python) as a kernel, compiled when first called."""
    return _Kernel(fn)
