from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from torch_geometric_temporal.signal._hetero import (
    HeteroSignalBase,
    check_hetero_edges,
    check_node_ranges,
    check_value_dict,
    node_counts,
)

Edge_Indices = Sequence[Union[Dict[Tuple[str, str, str], np.ndarray], None]]
Edge_Weights = Sequence[Union[Dict[Tuple[str, str, str], np.ndarray], None]]
Node_Feature = Union[Dict[str, np.ndarray], None]
Targets = Sequence[Union[Dict[str, np.ndarray], None]]
Additional_Features = Sequence[Union[Dict[str, np.ndarray], None]]


class DynamicHeteroGraphStaticSignal(HeteroSignalBase):
    r"""A data iterator over a dynamic heterogeneous graph with static node
    features: edges, edge weights and targets may change between snapshots,
    the node features ``feature_dict`` are the same in all of them. Each
    snapshot is a PyTorch Geometric :class:`~torch_geometric.data.HeteroData`
    with ``snapshot[node_type].x`` / ``.y``,
    ``snapshot[edge_type].edge_index`` / ``.edge_attr`` and, for every
    additional feature ``name`` passed as keyword, ``snapshot[type][name]``.

    A ``None`` entry of a sequence (or a ``None`` / missing value in a dict)
    skips that attribute in that snapshot. Features and edge weights become
    ``float32`` tensors, edge indices ``long``; targets and additional
    features ``float32`` when floating, ``long`` when integer, and other
    arrays (e.g. boolean masks) are kept as given. Indexing with an integer
    returns a snapshot, with a slice a new signal over those snapshots.

    Args:
        edge_index_dicts (Sequence of dict or None): per snapshot
            ``{(src, relation, dst): (2, E_t) int array}``.
        edge_weight_dicts (Sequence of dict or None): per snapshot
            ``{(src, relation, dst): (E_t,) array}``.
        feature_dict (dict, optional): ``{node_type: (N_type, F) array}``, the
            node features of every snapshot.
        target_dicts (Sequence of dict or None): per snapshot
            ``{node_type: (N_type, ...) array}``.
        **kwargs (Sequence of dict or None): additional attributes, per snapshot
            ``{node_or_edge_type: array}``.
    """

    _temporal_attributes = ("edge_index_dicts", "edge_weight_dicts", "target_dicts")

    def __init__(
        self,
        edge_index_dicts: Edge_Indices,
        edge_weight_dicts: Edge_Weights,
        feature_dict: Node_Feature,
        target_dicts: Targets,
        **kwargs: Additional_Features,
    ):
        self.edge_index_dicts = edge_index_dicts
        self.edge_weight_dicts = edge_weight_dicts
        self.feature_dict = feature_dict
        self.target_dicts = target_dicts
        self._set_additional_features(
            {
                "target_dicts": target_dicts,
                "edge_index_dicts": edge_index_dicts,
                "edge_weight_dicts": edge_weight_dicts,
            },
            kwargs,
        )
        self._node_counts = node_counts(feature_dict, "feature_dict")
        for t in range(self.snapshot_count):
            extremes = check_hetero_edges(
                edge_index_dicts[t], edge_weight_dicts[t],
                f"edge_index_dicts[{t}]", f"edge_weight_dicts[{t}]",
            )
            check_node_ranges(extremes, self._node_counts, f"snapshot {t}")
            check_value_dict(target_dicts[t], f"target_dicts[{t}]")

    def _edge_index_dict_at(self, time_index: int) -> Optional[dict]:
        return self.edge_index_dicts[time_index]

    def _edge_weight_dict_at(self, time_index: int) -> Optional[dict]:
        return self.edge_weight_dicts[time_index]

    def _feature_dict_at(self, time_index: int) -> Optional[dict]:
        return self.feature_dict
