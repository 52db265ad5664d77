from typing import Optional, Sequence, Union

import numpy as np
import torch

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.signal._validation import check_batch_vector, num_rows
from torch_geometric_temporal.signal.static_graph_temporal_signal import (
    Additional_Features,
    Edge_Index,
    Edge_Weight,
    Node_Features,
    StaticGraphTemporalSignal,
    Targets,
)

Batches = Union[np.ndarray, Sequence[Optional[np.ndarray]], None]


def _per_snapshot(batches: Batches, count: int) -> bool:
    r"""Whether :obj:`batches` is a list with one assignment vector (or
    ``None``) per snapshot rather than one vector of graph ids."""
    return (isinstance(batches, (list, tuple)) and len(batches) == count
            and all(b is None or np.ndim(b) >= 1 for b in batches))


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
        batches (np.ndarray or list, optional): Graph id of every node,
            shape ``(N,)``, shared by every snapshot; or, as upstream's own
            tests pass it, a list with one such vector (or ``None``) per
            snapshot, each snapshot getting its own.
        **kwargs (Sequence of np.ndarray): Additional per-snapshot attributes.

    Raises:
        ValueError: a vector that is not ``(N,)`` with one id per node.
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
        if _per_snapshot(batches, self.snapshot_count):
            batches = list(batches)
            for t, batch in enumerate(batches):
                check_batch_vector(batch, num_rows(features[t], f"features[{t}]"), f"batches[{t}]")
        elif batches is not None:
            batches = np.asarray(batches)
            first = num_rows(features[0], "features[0]") if len(features) else None
            check_batch_vector(batches, first, "batches")
        self.batches = batches

    def _get_batch_index(self, time_index: int) -> Optional[torch.LongTensor]:
        batch = self.batches[time_index] if isinstance(self.batches, list) else self.batches
        return None if batch is None else torch.as_tensor(np.asarray(batch), dtype=torch.long)

    def _slice(self, time_index: slice) -> "StaticGraphTemporalSignalBatch":
        return StaticGraphTemporalSignalBatch(
            self.edge_index,
            self.edge_weight,
            self.features[time_index],
            self.targets[time_index],
            self.batches[time_index] if isinstance(self.batches, list) else self.batches,
            **{key: getattr(self, key)[time_index] for key in self.additional_feature_keys},
        )

    def _snapshot(self, time_index: int):
        Batch = pyg("data").Batch
        return Batch(
            x=self._get_features(time_index),
            edge_index=self._get_edge_index(),
            edge_attr=self._get_edge_weight(),
            y=self._get_target(time_index),
            batch=self._get_batch_index(time_index),
            **self._get_additional_features(time_index),
        )
