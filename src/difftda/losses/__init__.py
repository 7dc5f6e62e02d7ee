"""Topological losses: functions of diagrams, each with its ``nn.Module`` twin beside it.

Every function and its Module share one argument check (the Module runs it at construction). A
diagram may be a :class:`~difftda.Diagram`, a ``(k, 2)`` tensor or a ``(k, 2)`` numpy array with
``inf`` deaths for essential bars (as ripser and persim write them); per-dimension inputs may be
:class:`~difftda.Diagrams` or a list of such diagrams. Bars are measured by ``|death - birth|``, so
sublevel and superlevel diagrams give the same values. The Modules are also in :mod:`difftda.nn`.
A new family of losses needs one import line here and one line of names in ``__all__`` (and its
Modules one import line in :mod:`difftda.nn`).
"""

from ._common import as_diagram
from .connectivity import ConnectivityLoss, connectivity_loss
from .diagram_distances import (
    BottleneckDistance,
    SlicedWassersteinDistance,
    WassersteinDistance,
    bottleneck_distance,
    sliced_wasserstein_distance,
    wasserstein_distance,
)
from .segmentation import (
    BettiMatchingLoss,
    HuTopologicalLoss,
    betti_matching_loss,
    betti_number_error,
    hu_topological_loss,
)
from .signature import SignatureLoss, signature_loss
from .statistics import (
    PerDimensionLoss,
    PersistentEntropy,
    SummaryStatisticLoss,
    TotalPersistence,
    per_dimension_loss,
    persistent_entropy,
    summary_statistic_loss,
    total_persistence,
)
from .topogen import (
    TOPOGEN_TERMS,
    BottleneckLoss,
    DensityLoss,
    DsigmaLoss,
    PersistentEntropyLoss,
    PushLoss,
    TopoGenLoss,
    bottleneck_loss,
    density_loss,
    dsigma_loss,
    persistent_entropy_loss,
    pss_kernel,
    push_loss,
    topogen_loss,
)

__all__ = [
    "as_diagram",
    "connectivity_loss", "ConnectivityLoss",
    "bottleneck_distance", "wasserstein_distance", "sliced_wasserstein_distance",
    "BottleneckDistance", "WassersteinDistance", "SlicedWassersteinDistance",
    "total_persistence", "persistent_entropy", "summary_statistic_loss", "per_dimension_loss",
    "TotalPersistence", "PersistentEntropy", "SummaryStatisticLoss", "PerDimensionLoss",
    "bottleneck_loss", "persistent_entropy_loss", "pss_kernel", "dsigma_loss", "density_loss", "push_loss",
    "topogen_loss", "TOPOGEN_TERMS",
    "BottleneckLoss", "PersistentEntropyLoss", "DsigmaLoss", "DensityLoss", "PushLoss", "TopoGenLoss",
    "signature_loss", "SignatureLoss",
    "hu_topological_loss", "betti_matching_loss", "betti_number_error", "HuTopologicalLoss", "BettiMatchingLoss",
]  # fmt: skip
