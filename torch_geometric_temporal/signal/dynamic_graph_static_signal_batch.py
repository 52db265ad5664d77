from typing import Optional, Sequence, Union

import numpy as np
import torch

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.signal._validation import (
    check_batch_vector,
    check_snapshot_counts,
    num_rows,
)
from torch_geometric_temporal.signal.dynamic_graph_static_signal import DynamicGraphStaticSignal
from torch_geometric_temporal.signal.dynamic_graph_temporal_signal import _long

Edge_Indices = Sequence[Union[np.ndarray, None]]
Edge_Weights = Sequence[Union[np.ndarray, None]]
Node_Feature = Union[np.ndarray, None]
Targets = Sequence[Union[np.ndarray, None]]
Batches = Sequence[Union[np.ndarray, None]]
Additional_Features = Sequence[np.ndarray]


class DynamicGraphStaticSignalBatch(DynamicGraphStaticSignal):
    r"""A batch of dynamic graphs with one static node feature matrix: edges,
    edge weights, targets and graph memberships change over time. Each
    snapshot is a PyTorch Geometric :class:`~torch_geometric.data.Batch` with
    ``x``, ``edge_index``, ``edge_attr``, ``y``, ``batch`` and the additional
    attributes.

    Args:
        edge_indices (Sequence of np.ndarray or None): Edge index of each
            snapshot, shape ``(2, E_t)``.
        edge_weights (Sequence of np.ndarray or None): Edge weights of each
            snapshot, shape ``(E_t,)``.
        feature (np.ndarray, optional): Node features of all snapshots, ``(N, F)``.
        targets (Sequence of np.ndarray or None): Node labels of each snapshot.
        batches (Sequence of np.ndarray or None): Graph id of every node of each
            snapshot, shape ``(N,)``.
        **kwargs (Sequence of np.ndarray): Additional per-snapshot attributes.

    Raises:
        ValueError: as :class:`DynamicGraphStaticSignal`, and when ``batches``
            has another length or a vector does not assign every node.
    """

    def __init__(
        self,
        edge_indices: Edge_Indices,
        edge_weights: Edge_Weights,
        feature: Node_Feature,
        targets: Targets,
        batches: Batches,
        **kwargs: Additional_Features,
    ):
        self.batches = batches
        super().__init__(edge_indices, edge_weights, feature, targets, **kwargs)

    def _check_temporal_consistency(self, **kwargs) -> None:
        check_snapshot_counts(targets=self.targets, batches=self.batches)
        super()._check_temporal_consistency(**kwargs)
        nodes = num_rows(self.feature, "feature")
        for t, batch in enumerate(self.batches):
            check_batch_vector(batch, nodes, f"batches[{t}]")

    def _get_batch_index(self, time_index: int) -> Optional[torch.LongTensor]:
        return _long(self.batches[time_index])

    def _slice(self, time_index: slice) -> "DynamicGraphStaticSignalBatch":
        return DynamicGraphStaticSignalBatch(
            self.edge_indices[time_index],
            self.edge_weights[time_index],
            self.feature,
            self.targets[time_index],
            self.batches[time_index],
            **self._additional_slices(time_index),
        )

    def _snapshot(self, time_index: int):
        Batch = pyg("data").Batch
        return Batch(
            x=self._get_feature(),
            edge_index=self._get_edge_index(time_index),
            edge_attr=self._get_edge_weight(time_index),
            y=self._get_target(time_index),
            batch=self._get_batch_index(time_index),
            **self._get_additional_features(time_index),
        )
