"""difftda: persistent homology as a differentiable PyTorch operation.

The pipeline: ``filtrations`` (each lays out its values on the input's device: distances of a point
cloud, the pixels of an image, ...) -> ``backends`` (a CPU engine pairs a detached copy and returns
critical positions) -> ``gather`` (positions -> differentiable diagrams, shared by every
filtration) -> ``diagrams`` (the result types) -> ``losses`` / ``nn``.

Example:
    >>> import torch, difftda
    >>> x = torch.randn(100, 2, requires_grad=True)
    >>> dgms = difftda.persistence(x, maxdim=0)
    >>> loss = difftda.losses.connectivity_loss(dgms[0], eta=2.0)
    >>> loss.backward()
"""

from . import backends, losses, nn
from .backends import BackendUnavailableError, get_backend, list_backends, register_backend
from .diagrams import Diagram, DiagramBatch, Diagrams
from .distances import pairwise_distances
from .filtrations import (
    AlphaPersistence,
    CubicalPersistence,
    LowerStarPersistence,
    Persistence,
    alpha_persistence,
    cubical_persistence,
    lower_star_persistence,
    persistence,
)

__version__ = "0.1.0"

# Modules that need nothing beyond the core dependencies but are not imported up front (plot imports
# matplotlib only when a function is called): ``difftda.plot`` and ``difftda.datasets`` load on first use.
_LAZY_MODULES = ("plot", "datasets")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_MODULES))

__all__ = [
    "persistence",
    "Persistence",
    "lower_star_persistence",
    "LowerStarPersistence",
    "alpha_persistence",
    "AlphaPersistence",
    "cubical_persistence",
    "CubicalPersistence",
    "Diagram",
    "Diagrams",
    "DiagramBatch",
    "pairwise_distances",
    "list_backends",
    "get_backend",
    "register_backend",
    "BackendUnavailableError",
    "backends",
    "losses",
    "nn",
    "plot",
    "datasets",
    "__version__",
]
