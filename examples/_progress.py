"""A progress bar for the examples: tqdm's when it is installed, otherwise nothing is drawn.

tqdm is optional (``pip install tqdm``); the examples run the same without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class _Silent:
    """Iterates like tqdm and accepts its calls, printing nothing."""

    def __init__(self, iterable: Iterable) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self._iterable)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress(iterable: Iterable, *, desc: str, unit: str, disable: bool = False, **kwargs: Any):
    """``tqdm(iterable, ...)`` if tqdm is installed and ``disable`` is False, else a silent wrapper."""
    if not disable:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, desc=desc, unit=unit, **kwargs)
    return _Silent(iterable)
