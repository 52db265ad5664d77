r"""Temporal signals: static graphs with temporal node features."""
from torch_geometric_temporal.signal.static_graph_temporal_signal import StaticGraphTemporalSignal
from torch_geometric_temporal.signal.static_graph_temporal_signal_batch import (
    StaticGraphTemporalSignalBatch,
)
from torch_geometric_temporal.signal.dynamic_graph_temporal_signal import DynamicGraphTemporalSignal
from torch_geometric_temporal.signal.dynamic_graph_temporal_signal_batch import (
    DynamicGraphTemporalSignalBatch,
)
from torch_geometric_temporal.signal.dynamic_graph_static_signal import DynamicGraphStaticSignal
from torch_geometric_temporal.signal.dynamic_graph_static_signal_batch import (
    DynamicGraphStaticSignalBatch,
)
from torch_geometric_temporal.signal.static_hetero_graph_temporal_signal import (
    StaticHeteroGraphTemporalSignal,
)
from torch_geometric_temporal.signal.static_hetero_graph_temporal_signal_batch import (
    StaticHeteroGraphTemporalSignalBatch,
)
from torch_geometric_temporal.signal.dynamic_hetero_graph_temporal_signal import (
    DynamicHeteroGraphTemporalSignal,
)
from torch_geometric_temporal.signal.dynamic_hetero_graph_temporal_signal_batch import (
    DynamicHeteroGraphTemporalSignalBatch,
)
from torch_geometric_temporal.signal.dynamic_hetero_graph_static_signal import (
    DynamicHeteroGraphStaticSignal,
)
from torch_geometric_temporal.signal.dynamic_hetero_graph_static_signal_batch import (
    DynamicHeteroGraphStaticSignalBatch,
)
from torch_geometric_temporal.signal.train_test_split import Discrete_Signal, temporal_signal_split

# Upstream's star imports also leave the modules' type aliases here (for each
# name, the definition of the last module imported); the same values:
from torch_geometric_temporal.signal.static_hetero_graph_temporal_signal_batch import (  # noqa: E402
    Edge_Index,
    Edge_Weight,
    Node_Features,
)
from torch_geometric_temporal.signal.dynamic_hetero_graph_static_signal_batch import (  # noqa: E402
    Additional_Features,
    Batches,
    Edge_Indices,
    Edge_Weights,
    Node_Feature,
    Targets,
)

__all__ = [
    "StaticGraphTemporalSignal",
    "StaticGraphTemporalSignalBatch",
    "DynamicGraphTemporalSignal",
    "DynamicGraphTemporalSignalBatch",
    "DynamicGraphStaticSignal",
    "DynamicGraphStaticSignalBatch",
    "StaticHeteroGraphTemporalSignal",
    "StaticHeteroGraphTemporalSignalBatch",
    "DynamicHeteroGraphTemporalSignal",
    "DynamicHeteroGraphTemporalSignalBatch",
    "DynamicHeteroGraphStaticSignal",
    "DynamicHeteroGraphStaticSignalBatch",
    "temporal_signal_split",
    "Discrete_Signal",
    "Edge_Index",
    "Edge_Weight",
    "Edge_Indices",
    "Edge_Weights",
    "Node_Feature",
    "Node_Features",
    "Targets",
    "Batches",
    "Additional_Features",
]
