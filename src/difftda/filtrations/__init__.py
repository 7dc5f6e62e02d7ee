"""The filtrations difftda differentiates, one module each.

A filtration module owns the front-door function (checks its input, lays out the batch's values on
the input's device), calls an engine of its own kind from :mod:`difftda.backends` on a detached CPU
copy, turns what the engine returns into critical positions (:class:`~difftda.gather.Bars`) and
says how a value is read (:class:`~difftda.gather.Values`); :func:`~difftda.gather.gather` does the
rest for every filtration alike.

Adding a filtration costs one module here, one engine class per package in ``backends/``, its
tests and a docs page; the gather layer does not change.
"""

from .alpha import AlphaPersistence, alpha_persistence
from .cubical import CubicalPersistence, cubical_persistence
from .lower_star import LowerStarPersistence, lower_star_persistence
from .rips import Persistence, persistence

__all__ = [
    "cubical_persistence",
    "CubicalPersistence",
    "lower_star_persistence",
    "LowerStarPersistence",
    "alpha_persistence",
    "AlphaPersistence",
    "persistence",
    "Persistence",
]
