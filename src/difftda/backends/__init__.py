"""Step 2 of the pipeline: one registry of pairing engines, chosen by a spec string.

Spec grammar: ``name`` or ``name:key=value[,key=value]``; values decode as int, float, ``inf``,
``true``/``false``, ``none``, or else stay strings. ``"auto"`` picks the best installed backend.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import math

from ._base import Backend, BackendUnavailableError, BatchPairing, DimPairing, Pairing, trivial_pairing

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "BatchPairing",
    "DimPairing",
    "Pairing",
    "get_backend",
    "list_backends",
    "register_backend",
    "parse_spec",
    "trivial_pairing",
]

_BACKENDS: dict[str, type[Backend]] = {}

#: The order in which ``"auto"`` looks for an installed backend (for maxdim >= 1).
PREFERRED = ("giotto", "gudhi", "ripser")
#: The order for ``maxdim == 0``: the native minimum-spanning-tree path first.
PREFERRED_H0 = ("torch",) + PREFERRED
#: The options ``"auto"`` gives the backend it picks (giotto-ph: threads by cloud size).
AUTO_OPTIONS = {"giotto": {"n_threads": "auto"}}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator adding a :class:`Backend` subclass to the registry under ``cls.name``."""
    _BACKENDS[cls.name] = cls
    _CACHE.clear()
    return cls


def _installed(cls: type[Backend]) -> bool:
    return cls.requires is None or importlib.util.find_spec(cls.requires) is not None


def list_backends() -> list[str]:
    """The names of the registered backends whose packages are installed (nothing is imported)."""
    return [name for name, cls in _BACKENDS.items() if _installed(cls)]


def _decode(value: str) -> object:
    low = value.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    for conv in (int, float):
        try:
            return conv(value)
        except ValueError:
            pass
    return value.strip()


def parse_spec(spec: str) -> tuple[str, dict[str, object]]:
    """Split ``"name:key=value,key=value"`` into the name and decoded options."""
    name, _, rest = spec.partition(":")
    options: dict[str, object] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"backend option {item!r} in {spec!r} must be written key=value")
        options[key.strip()] = _decode(value)
    return name.strip().lower(), options


def _auto(maxdim: int | None) -> str:
    order = PREFERRED_H0 if maxdim == 0 else PREFERRED
    for name in order:
        cls = _BACKENDS.get(name)
        fits = cls is not None and (cls.max_maxdim is None or maxdim is None or maxdim <= cls.max_maxdim)
        if fits and _installed(cls):
            return name
    raise BackendUnavailableError(
        "no persistence backend is installed: pip install 'difftda[giotto]' (or [gudhi], [ripser])"
    )


def get_backend(spec: str | Backend = "auto", *, maxdim: int | None = None) -> Backend:
    """The backend object for a spec string such as ``"giotto"`` or ``"giotto:n_threads=2"``.

    Objects are built once per spec and reused (they hold no per-call state).

    Args:
        spec: a spec string, ``"auto"``, or a :class:`Backend` instance (returned as is).
        maxdim: lets ``"auto"`` choose the fastest backend for this homology range.

    Raises:
        ValueError: unknown backend name (the message lists the installed ones).
        TypeError: an option the backend does not take (the message lists the valid keys).
        BackendUnavailableError: the backend's package is missing (an ImportError naming the pip extra).

    Example:
        >>> import difftda
        >>> str(difftda.get_backend("giotto:n_threads=2"))
        'giotto:n_threads=2'
    """
    if isinstance(spec, Backend):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"backend must be a spec string such as 'giotto' or a Backend; got {type(spec).__name__}")
    key = (spec, maxdim)
    engine = _CACHE.get(key)
    if engine is None:
        engine = _CACHE[key] = _build(spec, maxdim)
    return engine


_CACHE: dict[tuple[str, int | None], Backend] = {}


def _build(spec: str, maxdim: int | None) -> Backend:
    name, options = parse_spec(spec)
    if name == "auto":
        if options:
            raise TypeError("backend 'auto' takes no options; name a backend to set them, e.g. 'giotto:n_threads=2'")
        name = _auto(maxdim)
        options = dict(AUTO_OPTIONS.get(name, {}))
    cls = _BACKENDS.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, list(_BACKENDS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown backend {name!r}; registered: {', '.join(_BACKENDS)}; "
            f"installed: {', '.join(list_backends()) or 'none'}.{hint}"
        )
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise TypeError(
            f"backend {name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(params) or 'none'}"
        )
    if not _installed(cls):
        raise BackendUnavailableError(
            f"backend {name!r} needs the package {cls.requires!r}: pip install 'difftda[{cls.extra}]'"
        )
    return cls(**options)


# Registration happens on import of each module; the heavy packages load only when a backend is built.
from . import _giotto, _gudhi, _ripser, _torch  # noqa: E402,F401
