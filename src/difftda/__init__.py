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
    "__version__",
]
