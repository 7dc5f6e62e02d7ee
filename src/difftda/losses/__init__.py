"""Topological losses: functions of diagrams, each with an ``nn.Module`` twin in :mod:`difftda.nn`."""

from ._common import as_diagram
from .connectivity import connectivity_loss

__all__ = ["as_diagram", "connectivity_loss"]
