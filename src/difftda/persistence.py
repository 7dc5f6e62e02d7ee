"""Vietoris-Rips persistence: kept as an import path; the code lives in :mod:`difftda.filtrations.rips`."""

from .filtrations.rips import Persistence, persistence

__all__ = ["persistence", "Persistence"]
