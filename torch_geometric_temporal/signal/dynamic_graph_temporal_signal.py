from typing import Any, Optional, Sequence, Union

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

Edge_Indices = Sequence[Union[np.ndarray, None]]
Edge_Weights = Sequence[Union[np.ndarray, None]]
Node_Features = Sequence[Union[np.ndarray, None]]
Targets = Sequence[Union[np.ndarray, None]]
Additional_Features = Sequence[np.ndarray]


def _long(value: Any) -> Optional[torch.Tensor]:
    if value is None:
        return None
    return torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value,
                           dtype=torch.long)


def _edge_index(value: Any) -> Optional[torch.Tensor]:
    # an empty edge list of any shape (e.g. ``np.array([])``) becomes PyG's (2, 0)
    edge_index = _long(value)
    if edge_index is not None and edge_index.numel() == 0:
        return edge_index.reshape(2, 0)
    return edge_index


def _float(value: Any) -> Optional[torch.Tensor]:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.float()
    return torch.tensor(np.asarray(value), dtype=torch.float)


class DynamicGraphTemporalSignal(SignalBase):
    r"""A data iterator over a dynamic graph whose edge set, edge weights,
    node features and node labels (targets) all change over time. Each
    snapshot (e.g. a day or a week) is a PyTorch Geometric
    :class:`~torch_geometric.data.Data` object with ``x``, ``edge_index``,
    ``edge_attr``, ``y`` and every additional attribute passed by keyword.
    The number of nodes may differ between snapshots.

    Indexing with an integer returns a snapshot, with a slice a new
    :class:`DynamicGraphTemporalSignal` over those snapshots.

    Args:
        edge_indices (Sequence of np.ndarray or None): Edge index of each
            snapshot, shape ``(2, E_t)`` (integers).
        edge_weights (Sequence of np.ndarray or None): Edge weights of each
            snapshot, shape ``(E_t,)``.
        features (Sequence of np.ndarray or None): Node features of each
            snapshot, shape ``(N_t, F)`` (or ``(N_t, F, T)``), returned as float.
        targets (Sequence of np.ndarray or None): Node labels of each snapshot;
            integer labels become ``long``, the others ``float``.
        **kwargs (Sequence of np.ndarray): Additional attributes, one array per
            snapshot, stored on each snapshot under their keyword.

    Raises:
        ValueError: when the sequences differ in length, an edge index is not
            ``(2, E)`` integers, weights do not match the edges, an edge refers
            to a missing node, or an array is ragged.
    """

    def __init__(
        self,
        edge_indices: Edge_Indices,
        edge_weights: Edge_Weights,
        features: Node_Features,
        targets: Targets,
        **kwargs: Additional_Features,
    ):
        self.edge_indices = edge_indices
        self.edge_weights = edge_weights
        self.features = features
        self.targets = targets
        self.additional_feature_keys = []
        for key, value in kwargs.items():
            setattr(self, key, value)
            self.additional_feature_keys.append(key)
        self._check_temporal_consistency(**kwargs)
        self.t = 0

    def _check_temporal_consistency(self, **kwargs) -> None:
        self.snapshot_count = check_snapshot_counts(
            features=self.features,
            targets=self.targets,
            edge_indices=self.edge_indices,
            edge_weights=self.edge_weights,
            **kwargs,
        )
        nodes = [num_rows(x, f"features[{t}]") for t, x in enumerate(self.features)]
        check_dynamic_edges(self.edge_indices, self.edge_weights, nodes)

    def _get_edge_index(self, time_index: int) -> Optional[torch.LongTensor]:
        return _edge_index(self.edge_indices[time_index])

    def _get_edge_weight(self, time_index: int) -> Optional[torch.FloatTensor]:
        return _float(self.edge_weights[time_index])

    def _get_features(self, time_index: int) -> Optional[torch.FloatTensor]:
        return _float(self.features[time_index])

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

    def _slice(self, time_index: slice) -> "DynamicGraphTemporalSignal":
        return DynamicGraphTemporalSignal(
            self.edge_indices[time_index],
            self.edge_weights[time_index],
            self.features[time_index],
            self.targets[time_index],
            **self._additional_slices(time_index),
        )

    def _snapshot(self, time_index: int):
        Data = pyg("data").Data
        return Data(
            x=self._get_features(time_index),
            edge_index=self._get_edge_index(time_index),
            edge_attr=self._get_edge_weight(time_index),
            y=self._get_target(time_index),
            **self._get_additional_features(time_index),
        )
