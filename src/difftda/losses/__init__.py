"""Topological losses: functions of diagrams, each with an ``nn.Module`` twin in :mod:`difftda.nn`."""

from ._common import as_diagram
from .connectivity import connectivity_loss
from .diagram_distances import bottleneck_distance, sliced_wasserstein_distance, wasserstein_distance
from .signature import signature_loss
from .statistics import per_dimension_loss, persistent_entropy, summary_statistic_loss, total_persistence
from .topogen import (
    TOPOGEN_TERMS,
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
    "connectivity_loss",
    "total_persistence",
    "persistent_entropy",
    "summary_statistic_loss",
    "per_dimension_loss",
    "bottleneck_distance",
    "wasserstein_distance",
    "sliced_wasserstein_distance",
    "bottleneck_loss",
    "persistent_entropy_loss",
    "pss_kernel",
    "dsigma_loss",
    "density_loss",
    "push_loss",
    "topogen_loss",
    "TOPOGEN_TERMS",
    "signature_loss",
]
