from typing import Dict, Optional, Sequence, Union

import numpy as np

from torch_geometric_temporal.signal._hetero import check_batch_dict
from torch_geometric_temporal.signal._validation import check_snapshot_counts
from torch_geometric_temporal.signal.dynamic_hetero_graph_static_signal import (
    Additional_Features,
    DynamicHeteroGraphStaticSignal,
    Edge_Indices,
    Edge_Weights,
    Node_Feature,
    Targets,
)

Batches = Sequence[Union[Dict[str, np.ndarray], None]]


class DynamicHeteroGraphStaticSignalBatch(DynamicHeteroGraphStaticSignal):
    r"""A batch of dynamic heterogeneous graphs with static node features. As
    :class:`DynamicHeteroGraphStaticSignal`, but each snapshot is a PyTorch
    Geometric heterogeneous :class:`~torch_geometric.data.Batch`
    (``HeteroDataBatch``) that also carries ``snapshot[node_type].batch``
    from that snapshot's batch dict.

    Args:
        edge_index_dicts (Sequence of dict or None): per snapshot
            ``{(src, relation, dst): (2, E_t) int array}``.
        edge_weight_dicts (Sequence of dict or None): per snapshot
            ``{(src, relation, dst): (E_t,) array}``.
        feature_dict (dict, optional): ``{node_type: (N_type, F) array}``, the
            node features of every snapshot.
        target_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, ...) array}``.
        batch_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type,) int array}``, the graph id of every node.
        **kwargs (Sequence of dict or None): additional attributes, per snapshot
            ``{node_or_edge_type: array}``.
    """

    _temporal_attributes = ("edge_index_dicts", "edge_weight_dicts", "target_dicts", "batch_dicts")
    _batched = True

    def __init__(
        self,
        edge_index_dicts: Edge_Indices,
        edge_weight_dicts: Edge_Weights,
        feature_dict: Node_Feature,
        target_dicts: Targets,
        batch_dicts: Batches,
        **kwargs: Additional_Features,
    ):
        super().__init__(edge_index_dicts, edge_weight_dicts, feature_dict, target_dicts, **kwargs)
        check_snapshot_counts(target_dicts=target_dicts, batch_dicts=batch_dicts)
        self.batch_dicts = batch_dicts
        for t in range(self.snapshot_count):
            check_batch_dict(batch_dicts[t], self._node_counts, f"batch_dicts[{t}]")

    def _batch_dict_at(self, time_index: int) -> Optional[dict]:
        return self.batch_dicts[time_index]
