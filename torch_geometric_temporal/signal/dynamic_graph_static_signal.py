from typing import Optional, Sequence, Union

import numpy as np
import torch

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.signal._base import SignalBase
from torch_geometric_temporal.signal._validation import (
    check_dynamic_edges,
    check_snapshot_counts,
    num_rows,
    to_tensor,
)
from torch_geometric_temporal.signal.dynamic_graph_temporal_signal import _edge_index, _float

Edge_Indices = Sequence[Union[np.ndarray, None]]
Edge_Weights = Sequence[Union[np.ndarray, None]]
Node_Feature = Union[np.ndarray, None]
Targets = Sequence[Union[np.ndarray, None]]
Additional_Features = Sequence[np.ndarray]


class DynamicGraphStaticSignal(SignalBase):
    r"""A data iterator over a dynamic graph (changing edge set and weights)
    with one static node feature matrix and temporal node labels (targets).
    Each snapshot is a PyTorch Geometric :class:`~torch_geometric.data.Data`
    object with the shared ``x``, that snapshot's ``edge_index``,
    ``edge_attr``, ``y`` and the additional attributes passed by keyword.

    Indexing with an integer returns a snapshot, with a slice a new
    :class:`DynamicGraphStaticSignal` over those snapshots (same feature).

    Args:
        edge_indices (Sequence of np.ndarray or None): Edge index of each
            snapshot, shape ``(2, E_t)`` (integers).
        edge_weights (Sequence of np.ndarray or None): Edge weights of each
            snapshot, shape ``(E_t,)``.
        feature (np.ndarray, optional): Node features shared by all snapshots,
            shape ``(N, F)``, returned as float.
        targets (Sequence of np.ndarray or None): Node labels of each snapshot;
            integer labels become ``long``, the others ``float``. Their number
            sets ``snapshot_count``.
        **kwargs (Sequence of np.ndarray): Additional attributes, one array per
            snapshot.

    Raises:
        ValueError: when the sequences differ in length, an edge index is not
            ``(2, E)`` integers, weights do not match the edges, an edge refers
            to a node beyond the feature rows, or an array is ragged.
    """

    def __init__(
        self,
        edge_indices: Edge_Indices,
        edge_weights: Edge_Weights,
        feature: Node_Feature,
        targets: Targets,
        **kwargs: Additional_Features,
    ):
        self.edge_indices = edge_indices
        self.edge_weights = edge_weights
        self.feature = feature
        self.targets = targets
        self.additional_feature_keys = []
        for key, value in kwargs.items():
            setattr(self, key, value)
            self.additional_feature_keys.append(key)
        self._check_temporal_consistency(**kwargs)
        self.t = 0

    def _check_temporal_consistency(self, **kwargs) -> None:
        self.snapshot_count = check_snapshot_counts(
            targets=self.targets,
            edge_indices=self.edge_indices,
            edge_weights=self.edge_weights,
            **kwargs,
        )
        nodes = num_rows(self.feature, "feature")
        check_dynamic_edges(self.edge_indices, self.edge_weights, [nodes] * self.snapshot_count)

    def _get_edge_index(self, time_index: int) -> Optional[torch.LongTensor]:
        return _edge_index(self.edge_indices[time_index])

    def _get_edge_weight(self, time_index: int) -> Optional[torch.FloatTensor]:
        return _float(self.edge_weights[time_index])

    def _get_feature(self) -> Optional[torch.FloatTensor]:
        return _float(self.feature)

    def _get_target(self, time_index: int) -> Optional[torch.Tensor]:
        return to_tensor(self.targets[time_index])

    def _get_additional_feature(self, time_index: int, feature_key: str) -> torch.Tensor:
        return to_tensor(getattr(self, feature_key)[time_index])

    def _get_additional_features(self, time_index: int) -> dict:
        return {
            key: self._get_additional_feature(time_index, key)
            for key in self.additional_feature_keys
        }

    def _additional_slices(self, time_index: slice) -> dict:
        return {key: getattr(self, key)[time_index] for key in self.additional_feature_keys}

    def _slice(self, time_index: slice) -> "DynamicGraphStaticSignal":
        return DynamicGraphStaticSignal(
            self.edge_indices[time_index],
            self.edge_weights[time_index],
            self.feature,
            self.targets[time_index],
            **self._additional_slices(time_index),
        )

    def _snapshot(self, time_index: int):
        Data = pyg("data").Data
        return Data(
            x=self._get_feature(),
            edge_index=self._get_edge_index(time_index),
            edge_attr=self._get_edge_weight(time_index),
            y=self._get_target(time_index),
            **self._get_additional_features(time_index),
        )
