from typing import Dict, Optional, Union

import numpy as np

from torch_geometric_temporal.signal._hetero import check_batch_dict
from torch_geometric_temporal.signal.static_hetero_graph_temporal_signal import (
    Additional_Features,
    Edge_Index,
    Edge_Weight,
    Node_Features,
    StaticHeteroGraphTemporalSignal,
    Targets,
)

Batches = Union[Dict[str, np.ndarray], None]


class StaticHeteroGraphTemporalSignalBatch(StaticHeteroGraphTemporalSignal):
    r"""A batch of static heterogeneous graphs with temporal node features and
    targets. As :class:`StaticHeteroGraphTemporalSignal`, but each snapshot is
    a PyTorch Geometric heterogeneous :class:`~torch_geometric.data.Batch`
    (``HeteroDataBatch``) that also carries ``snapshot[node_type].batch``, the
    graph id of every node of that type, from ``batch_dict``.

    Args:
        edge_index_dict (dict, optional): ``{(src, relation, dst): (2, E) int array}``.
        edge_weight_dict (dict, optional): ``{(src, relation, dst): (E,) array}``.
        feature_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, F) array}``.
        target_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, ...) array}``.
        batch_dict (dict, optional): ``{node_type: (N_type,) int array}``, the
            same in every snapshot.
        **kwargs (Sequence of dict or None): additional attributes, per snapshot
            ``{node_or_edge_type: array}``.
    """

    _batched = True

    def __init__(
        self,
        edge_index_dict: Edge_Index,
        edge_weight_dict: Edge_Weight,
        feature_dicts: Node_Features,
        target_dicts: Targets,
        batch_dict: Batches,
        **kwargs: Additional_Features,
    ):
        super().__init__(edge_index_dict, edge_weight_dict, feature_dicts, target_dicts, **kwargs)
        self.batch_dict = batch_dict
        for t, counts in enumerate(self._counts or [{}]):
            check_batch_dict(batch_dict, counts, "batch_dict" if t == 0 else f"batch_dict (snapshot {t})")

    def _batch_dict_at(self, time_index: int) -> Optional[dict]:
        return self.batch_dict
