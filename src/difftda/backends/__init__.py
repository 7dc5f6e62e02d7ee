"""Step 2 of the pipeline: one registry of pairing engines for every filtration, chosen by a spec string.

Each engine serves one filtration (``"rips"``, ``"cubical"``, ...) and pairs a detached CPU copy of
its values; the filtration's module in :mod:`difftda.filtrations` turns what the engine returns
into critical positions for the shared gather layer. Engines of the Vietoris-Rips filtration live
in ``_giotto.py``, ``_gudhi.py``, ``_ripser.py`` and ``_torch.py``; every other filtration keeps all
its engines in one module named after it.

Spec grammar: ``name`` or ``name:key=value[,key=value]``; values decode as int, float, ``inf``,
``true``/``false``, ``none``, or else stay strings. ``"auto"`` picks the best installed engine of
the filtration (the lowest ``auto_rank`` that handles the requested ``maxdim``).
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import math

from ._base import Backend, BackendUnavailableError, BatchPairing, DimPairing, Engine, Pairing, trivial_pairing

__all__ = [
    "Engine",
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

#: filtration -> engine name -> engine class.
_REGISTRY: dict[str, dict[str, type[Engine]]] = {}


def register_backend(cls: type[Engine]) -> type[Engine]:
    """Class decorator adding an :class:`Engine` subclass to the registry of ``cls.filtration``
    under ``cls.name``."""
    _REGISTRY.setdefault(cls.filtration, {})[cls.name] = cls
    _CACHE.clear()
    return cls


def unregister_backend(name: str, filtration: str = "rips") -> None:
    """Remove an engine from the registry (the inverse of :func:`register_backend`)."""
    _REGISTRY.get(filtration, {}).pop(name, None)
    _CACHE.clear()


def _installed(cls: type[Engine]) -> bool:
    return cls.requires is None or importlib.util.find_spec(cls.requires) is not None


def _engines(filtration: str) -> dict[str, type[Engine]]:
    if not isinstance(filtration, str) or filtration not in _REGISTRY:
        raise ValueError(f"unknown filtration {filtration!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[filtration]


def list_backends(filtration: str = "rips") -> list[str]:
    """The names of the registered engines of a filtration whose packages are installed (nothing is
    imported), in the order ``"auto"`` prefers them.

    Example:
        >>> import difftda
        >>> "torch" in difftda.list_backends()  # the native H0 engine needs no extra package
        True
    """
    engines = _engines(filtration)
    return [name for name, cls in sorted(engines.items(), key=lambda kv: kv[1].auto_rank) if _installed(cls)]


def _install_hint(cls: type[Engine]) -> str:
    """How to install an engine's package, in forms that work with and without a checkout."""
    hint = f"pip install {cls.package or cls.requires}"
    if cls.extra:
        hint += f" (or, from a difftda checkout, pip install -e '.[{cls.extra}]')"
    return hint


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
        if key.strip() in options:
            raise ValueError(f"backend option {key.strip()!r} is given twice in {spec!r}; give each option once")
        options[key.strip()] = _decode(value)
    return name.strip().lower(), options


def _fits(cls: type[Engine], maxdim: int | None, request: dict[str, object]) -> bool:
    if maxdim is None and cls.max_maxdim is not None:  # no homology range given: every dimension
        return False
    return cls.refuses(maxdim, **request) is None


def _auto(filtration: str, maxdim: int | None, request: dict[str, object]) -> type[Engine]:
    engines = sorted(_engines(filtration).values(), key=lambda cls: cls.auto_rank)
    for cls in engines:
        if _fits(cls, maxdim, request) and _installed(cls):
            return cls
    hints = "; ".join(f"{cls.name}: {_install_hint(cls)}" for cls in engines if cls.requires)
    raise BackendUnavailableError(f"no {filtration} persistence engine is installed. Install one: {hints}")


def get_backend(
    spec: str | Engine = "auto", *, maxdim: int | None = None, filtration: str = "rips", **request: object
) -> Engine:
    """The engine object for a spec string such as ``"giotto"`` or ``"giotto:n_threads=2"``.

    Objects are built once per spec and reused (they hold no per-call state).

    Args:
        spec: a spec string, ``"auto"``, or an :class:`Engine` instance (returned as is when it serves
            the filtration).
        maxdim: lets ``"auto"`` choose the fastest engine for this homology range.
        filtration: the filtration the engine must serve: ``"rips"`` (the default), ``"cubical"``, ...
        **request: what the input needs, for the filtration's engines to accept or refuse (see
            :meth:`Engine.refuses`): ``"auto"`` skips engines that refuse it.

    Raises:
        ValueError: unknown engine name (the message lists the installed ones), an engine of
            another filtration, or an engine that refuses ``maxdim`` or the request.
        TypeError: an option the engine does not take (the message lists the valid keys).
        BackendUnavailableError: the engine's package is missing (an ImportError saying how to
            install it).

    Example:
        >>> import difftda
        >>> str(difftda.get_backend("giotto:n_threads=2"))
        'giotto:n_threads=2'
        >>> difftda.get_backend("gudhi", filtration="cubical").filtration
        'cubical'
    """
    if isinstance(spec, Engine):
        if spec.filtration != filtration:
            raise ValueError(
                f"backend {str(spec)!r} computes {spec.filtration} persistence, not {filtration}; "
                f"engines for {filtration}: {', '.join(list_backends(filtration)) or 'none installed'}"
            )
        _check_request(spec, maxdim, request)
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"backend must be a spec string such as 'auto' or an engine object; got {type(spec).__name__}")
    key = (filtration, spec, maxdim, tuple(sorted(request.items())))
    engine = _CACHE.get(key)
    if engine is None:
        engine = _build(spec, maxdim, filtration, request)
        _check_request(engine, maxdim, request)
        _CACHE[key] = engine
    return engine


_CACHE: dict[tuple, Engine] = {}


def _check_request(engine: Engine, maxdim: int | None, request: dict[str, object]) -> None:
    reason = type(engine).refuses(maxdim, **request)
    if reason is not None:
        engines = _engines(engine.filtration).items()
        others = [n for n, cls in engines if _installed(cls) and _fits(cls, maxdim, request)]
        raise ValueError(
            f"backend {engine.name!r} {reason}. Engines that can: {', '.join(others) or 'none installed'}"
        )


def _build(spec: str, maxdim: int | None, filtration: str, request: dict[str, object]) -> Engine:
    engines = _engines(filtration)
    name, options = parse_spec(spec)
    if name == "auto":
        if options:
            raise TypeError("backend 'auto' takes no options; name an engine to set them, e.g. 'giotto:n_threads=2'")
        cls = _auto(filtration, maxdim, request)
        name, options = cls.name, dict(cls.auto_options)
    cls = engines.get(name)
    if cls is None:
        elsewhere = [f for f, reg in _REGISTRY.items() if name in reg]
        close = difflib.get_close_matches(name, list(engines), n=1)
        if elsewhere:
            reason = f"backend {name!r} does not compute {filtration} persistence (it serves {', '.join(elsewhere)})"
        else:
            reason = f"unknown backend {name!r}"
        raise ValueError(
            f"{reason}; {filtration} engines registered: {', '.join(engines)}; "
            f"installed: {', '.join(list_backends(filtration)) or 'none'}."
            + (f" Did you mean {close[0]!r}?" if close else "")
        )
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise TypeError(
            f"backend {name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"valid keys: {', '.join(params) or 'none'}"
        )
    if not _installed(cls):
        raise BackendUnavailableError(f"backend {name!r} needs the package {cls.package or cls.requires!r}: "
                                      f"{_install_hint(cls)}")
    return cls(**options)


# Registration happens on import of each module; the heavy packages load only when an engine is built.
from . import _alpha, _cubical, _giotto, _gudhi, _lower_star, _ripser, _torch  # noqa: E402,F401
