"""difftda: persistent homology as a differentiable PyTorch operation.

The pipeline, one module each: ``distances`` (points -> matrix, on the input's device) ->
``backends`` (a CPU engine pairs the detached matrix and returns critical edges) -> ``gather``
(edges -> differentiable diagrams) -> ``diagrams`` (the result types) -> ``losses`` / ``nn``.

Example:
    >>> import torch, difftda
    >>> x = torch.randn(100, 2, requires_grad=True)
    >>> dgms = difftda.persistence(x, maxdim=0)
    >>> loss = difftda.losses.connectivity_loss(dgms[0], eta=2.0)
    >>> loss.backward()
"""

from . import backends, losses, nn
from .backends import BackendUnavailableError, get_backend, list_backends, register_backend
from .diagrams import Diagram, Diagrams
from .distances import pairwise_distances
from .persistence import Persistence, persistence

__version__ = "0.1.0"

__all__ = [
    "persistence",
    "Persistence",
    "Diagram",
    "Diagrams",
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
