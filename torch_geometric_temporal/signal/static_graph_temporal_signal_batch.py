from typing import Optional

import numpy as np
import torch

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.signal.static_graph_temporal_signal import (
    Additional_Features,
    Edge_Index,
    Edge_Weight,
    Node_Features,
    StaticGraphTemporalSignal,
    Targets,
)

Batches = Optional[np.ndarray]


class StaticGraphTemporalSignalBatch(StaticGraphTemporalSignal):
    r"""A batch of graphs sharing one static (disjoint-union) edge list, with
    temporal node features and targets. Each snapshot is a PyTorch Geometric
    :class:`~torch_geometric.data.Batch` carrying the node-to-graph assignment
    vector ``batch``.

    Args:
        edge_index (np.ndarray, optional): Index tensor of edges, shape ``(2, E)``.
        edge_weight (np.ndarray, optional): Edge weights, shape ``(E,)``.
        features (Sequence of np.ndarray): Node features per snapshot.
        targets (Sequence of np.ndarray): Node labels per snapshot.
        batches (np.ndarray, optional): Graph id of every node, shape ``(N,)``.
        **kwargs (Sequence of np.ndarray): Additional per-snapshot attributes.
    """

    def __init__(
        self,
        edge_index: Edge_Index,
        edge_weight: Edge_Weight,
        features: Node_Features,
        targets: Targets,
        batches: Batches,
        **kwargs: Additional_Features,
    ):
        super().__init__(edge_index, edge_weight, features, targets, **kwargs)
        if batches is not None:
            batches = np.asarray(batches)
            if batches.ndim != 1:
                raise ValueError(f"batches must have shape (N,), got {batches.shape}.")
            if len(features) and features[0] is not None:
                num_nodes = np.asarray(features[0]).shape[0]
                if batches.shape[0] != num_nodes:
                    raise ValueError(
                        f"batches assigns {batches.shape[0]} nodes but the features have "
                        f"{num_nodes}; pass one graph id per node."
                    )
        self.batches = batches

    def _get_batch_index(self) -> Optional[torch.LongTensor]:
        if self.batches is None:
            return None
        return torch.as_tensor(self.batches, dtype=torch.long)

    def _slice(self, time_index: slice) -> "StaticGraphTemporalSignalBatch":
        return StaticGraphTemporalSignalBatch(
            self.edge_index,
            self.edge_weight,
            self.features[time_index],
            self.targets[time_index],
            self.batches,
            **{key: getattr(self, key)[time_index] for key in self.additional_feature_keys},
        )

    def _snapshot(self, time_index: int):
        Batch = pyg("data").Batch
        return Batch(
            x=self._get_features(time_index),
            edge_index=self._get_edge_index(),
            edge_attr=self._get_edge_weight(),
            y=self._get_target(time_index),
            batch=self._get_batch_index(),
            **self._get_additional_features(time_index),
        )
