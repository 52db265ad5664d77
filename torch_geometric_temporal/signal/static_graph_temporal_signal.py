from typing import Any, Optional, Sequence

import numpy as np
import torch

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.signal._base import SignalBase
from torch_geometric_temporal.signal._validation import (
    check_edges,
    check_lengths,
    check_node_range,
    to_tensor,
)

Edge_Index = Optional[np.ndarray]
Edge_Weight = Optional[np.ndarray]
Node_Features = Sequence[Optional[np.ndarray]]
Targets = Sequence[Optional[np.ndarray]]
Additional_Features = Sequence[np.ndarray]


class StaticGraphTemporalSignal(SignalBase):
    r"""A data iterator object to contain a static graph with a dynamically
    changing constant time difference temporal feature set (multiple signals).
    The node labels (target) are also temporal. The iterator returns a single
    constant time difference temporal snapshot for a time period (e.g. day or
    week). This single temporal snapshot is a PyTorch Geometric
    :class:`~torch_geometric.data.Data` object. Between two temporal snapshots
    the features and optionally passed attributes might change. However, the
    underlying graph is the same.

    Indexing with an integer returns a snapshot, with a slice a new
    :class:`StaticGraphTemporalSignal` over those snapshots.

    Args:
        edge_index (np.ndarray, optional): Index tensor of edges, shape ``(2, E)``.
        edge_weight (np.ndarray, optional): Edge weights, shape ``(E,)``.
        features (Sequence of np.ndarray): Node features, one ``(N, F)`` (or
            ``(N, F, T)``) array per snapshot.
        targets (Sequence of np.ndarray): Node labels, one array per snapshot.
        **kwargs (Sequence of np.ndarray): Additional per-snapshot attributes,
            stored on each snapshot under their keyword.
    """

    def __init__(
        self,
        edge_index: Edge_Index,
        edge_weight: Edge_Weight,
        features: Node_Features,
        targets: Targets,
        **kwargs: Additional_Features,
    ):
        check_edges(edge_index, edge_weight)
        self.edge_index = edge_index
        self.edge_weight = edge_weight
        self.features = features
        self.targets = targets
        self.additional_feature_keys = []
        for key, value in kwargs.items():
            setattr(self, key, value)
            self.additional_feature_keys.append(key)
        self.snapshot_count = check_lengths(features, targets, kwargs)
        check_node_range(edge_index, features)
        self.t = 0

    def _get_edge_index(self) -> Optional[torch.LongTensor]:
        if self.edge_index is None:
            return None
        return torch.as_tensor(np.asarray(self.edge_index), dtype=torch.long)

    def _get_edge_weight(self) -> Optional[torch.FloatTensor]:
        if self.edge_weight is None:
            return None
        return torch.tensor(np.asarray(self.edge_weight), dtype=torch.float)

    def _get_features(self, time_index: int) -> Optional[torch.Tensor]:
        return to_tensor(self.features[time_index])

    def _get_target(self, time_index: int) -> Optional[torch.Tensor]:
        return to_tensor(self.targets[time_index])

    def _get_additional_feature(self, time_index: int, feature_key: str) -> torch.Tensor:
        return to_tensor(getattr(self, feature_key)[time_index])

    def _get_additional_features(self, time_index: int) -> dict:
        return {
            key: self._get_additional_feature(time_index, key)
            for key in self.additional_feature_keys
        }

    def _slice(self, time_index: slice) -> "StaticGraphTemporalSignal":
        return StaticGraphTemporalSignal(
            self.edge_index,
            self.edge_weight,
            self.features[time_index],
            self.targets[time_index],
            **{key: getattr(self, key)[time_index] for key in self.additional_feature_keys},
        )

    def _snapshot(self, time_index: int):
        Data = pyg("data").Data
        return Data(
            x=self._get_features(time_index),
            edge_index=self._get_edge_index(),
            edge_attr=self._get_edge_weight(),
            y=self._get_target(time_index),
            **self._get_additional_features(time_index),
        )
