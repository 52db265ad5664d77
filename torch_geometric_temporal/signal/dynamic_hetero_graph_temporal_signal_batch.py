from typing import Dict, Optional, Sequence, Union

import numpy as np

from torch_geometric_temporal.signal._hetero import check_batch_dict
from torch_geometric_temporal.signal._validation import check_snapshot_counts
from torch_geometric_temporal.signal.dynamic_hetero_graph_temporal_signal import (
    Additional_Features,
    DynamicHeteroGraphTemporalSignal,
    Edge_Indices,
    Edge_Weights,
    Node_Features,
    Targets,
)

Batches = Sequence[Union[Dict[str, np.ndarray], None]]


class DynamicHeteroGraphTemporalSignalBatch(DynamicHeteroGraphTemporalSignal):
    r"""A batch of dynamic heterogeneous graphs. As
    :class:`DynamicHeteroGraphTemporalSignal`, but each snapshot is a PyTorch
    Geometric heterogeneous :class:`~torch_geometric.data.Batch`
    (``HeteroDataBatch``) that also carries ``snapshot[node_type].batch``
    from that snapshot's batch dict.

    Args:
        edge_index_dicts (Sequence of dict or None): per snapshot
            ``{(src, relation, dst): (2, E_t) int array}``.
        edge_weight_dicts (Sequence of dict or None): per snapshot
            ``{(src, relation, dst): (E_t,) array}``.
        feature_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, F) array}``.
        target_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, ...) array}``.
        batch_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type,) int array}``, the graph id of every node.
        **kwargs (Sequence of dict or None): additional attributes, per snapshot
            ``{node_or_edge_type: array}``.
    """

    _temporal_attributes = (
        "edge_index_dicts", "edge_weight_dicts", "feature_dicts", "target_dicts", "batch_dicts",
    )
    _batched = True

    def __init__(
        self,
        edge_index_dicts: Edge_Indices,
        edge_weight_dicts: Edge_Weights,
        feature_dicts: Node_Features,
        target_dicts: Targets,
        batch_dicts: Batches,
        **kwargs: Additional_Features,
    ):
        super().__init__(edge_index_dicts, edge_weight_dicts, feature_dicts, target_dicts, **kwargs)
        check_snapshot_counts(feature_dicts=feature_dicts, batch_dicts=batch_dicts)
        self.batch_dicts = batch_dicts
        for t, counts in enumerate(self._counts):
            check_batch_dict(batch_dicts[t], counts, f"batch_dicts[{t}]")

    def _batch_dict_at(self, time_index: int) -> Optional[dict]:
        return self.batch_dicts[time_index]
