"""Shared checks and tensor conversions for the temporal signals."""
from typing import Any, Optional, Sequence

import numpy as np
import torch


def check_edges(edge_index: Optional[np.ndarray], edge_weight: Optional[np.ndarray]) -> None:
    r"""Validate a static edge list and its weights.

    Args:
        edge_index (np.ndarray, optional): integer array of shape ``(2, E)``.
        edge_weight (np.ndarray, optional): array of shape ``(E,)``.
    """
    if edge_index is not None:
        edge_index = np.asarray(edge_index)
        if edge_index.ndim != 2 or edge_index.shape[0] != 2:
            raise ValueError(
                f"edge_index must have shape (2, E), got {edge_index.shape}; "
                "transpose an (E, 2) edge list with `edges.T`."
            )
        if edge_index.size and not np.issubdtype(edge_index.dtype, np.integer):
            raise ValueError(
                f"edge_index must hold integers, got dtype {edge_index.dtype}; "
                "cast it with `edge_index.astype(np.int64)`."
            )
        if edge_index.size and edge_index.min() < 0:
            raise ValueError("edge_index holds negative node indices; node ids must be 0..N-1.")
    if edge_weight is not None:
        edge_weight = np.asarray(edge_weight)
        if edge_weight.ndim != 1:
            raise ValueError(f"edge_weight must have shape (E,), got {edge_weight.shape}.")
        if edge_index is not None and edge_weight.shape[0] != np.asarray(edge_index).shape[1]:
            raise ValueError(
                f"edge_weight has {edge_weight.shape[0]} entries but edge_index has "
                f"{np.asarray(edge_index).shape[1]} edges; pass one weight per edge."
            )


def check_lengths(features: Sequence[Any], targets: Sequence[Any], additional: dict) -> int:
    r"""Check that features, targets and every additional feature have one
    entry per snapshot and return that count."""
    if len(features) != len(targets):
        raise ValueError(
            f"features has {len(features)} snapshots but targets has {len(targets)}; "
            "pass one target per snapshot."
        )
    for key, value in additional.items():
        if len(value) != len(features):
            raise ValueError(
                f"additional feature '{key}' has {len(value)} snapshots, expected "
                f"{len(features)} (one per snapshot)."
            )
    return len(features)


def check_node_range(edge_index: Optional[np.ndarray], features: Sequence[Any]) -> None:
    r"""Check that every edge endpoint indexes a row of the first feature matrix."""
    if edge_index is None or len(features) == 0 or features[0] is None:
        return
    edge_index = np.asarray(edge_index)
    num_nodes = np.asarray(features[0]).shape[0]
    if edge_index.size and edge_index.max() >= num_nodes:
        raise ValueError(
            f"edge_index refers to node {int(edge_index.max())} but the features have "
            f"{num_nodes} nodes; edge ids must be in 0..{num_nodes - 1}."
        )


def to_tensor(value: Any) -> Optional[torch.Tensor]:
    r"""Convert an array to a tensor: integers to ``long``, the rest to ``float``
    (as upstream PGT does); ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return torch.tensor(array, dtype=torch.long)
    return torch.tensor(array, dtype=torch.float)
