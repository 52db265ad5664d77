from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from torch_geometric_temporal.signal._hetero import (
    HeteroSignalBase,
    check_hetero_edges,
    check_node_ranges,
    check_value_dict,
    node_counts,
)

Edge_Index = Union[Dict[Tuple[str, str, str], np.ndarray], None]
Edge_Weight = Union[Dict[Tuple[str, str, str], np.ndarray], None]
Node_Features = Sequence[Union[Dict[str, np.ndarray], None]]
Targets = Sequence[Union[Dict[str, np.ndarray], None]]
Additional_Features = Sequence[Union[Dict[str, np.ndarray], None]]


class StaticHeteroGraphTemporalSignal(HeteroSignalBase):
    r"""A data iterator over a static heterogeneous graph with temporal node
    features and targets. Each snapshot is a PyTorch Geometric
    :class:`~torch_geometric.data.HeteroData`: ``snapshot[node_type].x`` and
    ``.y`` come from the snapshot's feature and target dicts,
    ``snapshot[edge_type].edge_index`` and ``.edge_attr`` from the shared edge
    dicts, and every additional feature ``name`` passed as keyword sets
    ``snapshot[type][name]``. The graph is the same in every snapshot.

    A ``None`` entry of a sequence (or a ``None`` / missing value in a dict)
    skips that attribute in that snapshot. Features and edge weights become
    ``float32`` tensors, edge indices ``long``; targets and additional
    features ``float32`` when floating, ``long`` when integer, and other
    arrays (e.g. boolean masks) are kept as given. Indexing with an integer
    returns a snapshot, with a slice a new signal over those snapshots.

    .. code-block:: python

        edge_index_dict = {("author", "writes", "paper"): np.array([[0, 0, 1], [0, 1, 2]])}
        feature_dicts = [{"author": np.zeros((2, 1)), "paper": np.zeros((3, 1))}] * 3
        target_dicts = [{"author": np.zeros(2), "paper": np.zeros(3)}] * 3
        signal = StaticHeteroGraphTemporalSignal(edge_index_dict, None, feature_dicts, target_dicts)

    Args:
        edge_index_dict (dict, optional): ``{(src, relation, dst): (2, E) int array}``.
        edge_weight_dict (dict, optional): ``{(src, relation, dst): (E,) array}``.
        feature_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, F) array}``.
        target_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, ...) array}``.
        **kwargs (Sequence of dict or None): additional attributes, per snapshot
            ``{node_or_edge_type: array}``.
    """

    _temporal_attributes = ("feature_dicts", "target_dicts")

    def __init__(
        self,
        edge_index_dict: Edge_Index,
        edge_weight_dict: Edge_Weight,
        feature_dicts: Node_Features,
        target_dicts: Targets,
        **kwargs: Additional_Features,
    ):
        self.edge_index_dict = edge_index_dict
        self.edge_weight_dict = edge_weight_dict
        self.feature_dicts = feature_dicts
        self.target_dicts = target_dicts
        self._set_additional_features(
            {"feature_dicts": feature_dicts, "target_dicts": target_dicts}, kwargs
        )
        extremes = check_hetero_edges(
            edge_index_dict, edge_weight_dict, "edge_index_dict", "edge_weight_dict"
        )
        self._counts = []
        for t in range(self.snapshot_count):
            counts = node_counts(feature_dicts[t], f"feature_dicts[{t}]")
            check_node_ranges(extremes, counts, f"snapshot {t}")
            check_value_dict(target_dicts[t], f"target_dicts[{t}]")
            self._counts.append(counts)

    def _edge_index_dict_at(self, time_index: int) -> Optional[dict]:
        return self.edge_index_dict

    def _edge_weight_dict_at(self, time_index: int) -> Optional[dict]:
        return self.edge_weight_dict

    def _feature_dict_at(self, time_index: int) -> Optional[dict]:
        return self.feature_dicts[time_index]
