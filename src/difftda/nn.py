"""The ``nn.Module`` losses in one namespace.

Each Module is defined next to its function in :mod:`difftda.losses` (for example
:class:`~difftda.losses.WassersteinDistance` beside :func:`~difftda.losses.wasserstein_distance`)
and checks its arguments at construction exactly as the function does; this module re-exports them
all, with the persistence layers of every filtration (:class:`~difftda.Persistence`,
:class:`~difftda.CubicalPersistence`, :class:`~difftda.AlphaPersistence`,
:class:`~difftda.LowerStarPersistence`). A new family of Modules needs one import line here and
one line of names in ``__all__``.

Example:
    >>> import torch, difftda
    >>> crit = difftda.nn.WassersteinDistance(order=2.0, target=torch.tensor([[0.0, 1.0]]))
    >>> crit(torch.tensor([[0.0, 1.5]], requires_grad=True)).item()
    0.5
"""

from .losses.connectivity import ConnectivityLoss
from .losses.diagram_distances import BottleneckDistance, SlicedWassersteinDistance, WassersteinDistance
from .losses.segmentation import BettiMatchingLoss, HuTopologicalLoss
from .losses.signature import SignatureLoss
from .losses.statistics import PerDimensionLoss, PersistentEntropy, SummaryStatisticLoss, TotalPersistence
from .losses.topogen import BottleneckLoss, DensityLoss, DsigmaLoss, PersistentEntropyLoss, PushLoss, TopoGenLoss

__all__ = [  # noqa: F822 -- the persistence layers come from the module __getattr__ below
    "Persistence", "CubicalPersistence", "AlphaPersistence", "LowerStarPersistence",
    "ConnectivityLoss",
    "BottleneckDistance", "WassersteinDistance", "SlicedWassersteinDistance",
    "TotalPersistence", "PersistentEntropy", "SummaryStatisticLoss", "PerDimensionLoss",
    "BottleneckLoss", "PersistentEntropyLoss", "DsigmaLoss", "DensityLoss", "PushLoss", "TopoGenLoss",
    "SignatureLoss",
    "HuTopologicalLoss", "BettiMatchingLoss",
]  # fmt: skip


_LAYERS = ("Persistence", "CubicalPersistence", "AlphaPersistence", "LowerStarPersistence")


def __getattr__(name: str) -> object:
    # The persistence layers live with their filtrations; they are looked up on first use so that
    # importing the losses never imports the persistence pipeline (and no import cycle can form).
    if name in _LAYERS:
        from . import filtrations

        return getattr(filtrations, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAYERS})
