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
    r"""Check that every edge endpoint indexes a row of the first feature matrix.

    Only ``(N,)`` and ``(N, F)`` features are checked: with more axes the node
    axis is not known (upstream's MTM-1 snapshots are ``(3, 21, T)``, nodes on
    axis 1)."""
    if edge_index is None or len(features) == 0 or features[0] is None \
            or np.ndim(features[0]) > 2:
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


def as_array(value: Any, what: str) -> Optional[np.ndarray]:
    r"""``np.asarray(value)`` with a clear ValueError for ragged (inhomogeneous)
    nested lists; ``None`` and tensors pass through unchanged.

    Args:
        value (array-like, optional): the array to convert.
        what (str): how to name the value in the error message.
    """
    if value is None or isinstance(value, torch.Tensor):
        return value
    try:
        return np.asarray(value)
    except ValueError as error:
        raise ValueError(
            f"{what} is ragged (its rows differ in length) and cannot form an array: {error}"
        ) from None


def check_snapshot_counts(**sequences: Any) -> int:
    r"""Check that every keyword argument is a sequence with one entry per
    snapshot, all of the same length, and return that length.

    The first keyword sets the expected count; error messages name the
    offending argument.
    """
    count = None
    first = None
    for name, sequence in sequences.items():
        if sequence is None or isinstance(sequence, (str, bytes)) or not hasattr(sequence, "__len__"):
            raise ValueError(
                f"{name} must be a sequence with one entry (array or None) per snapshot, "
                f"got {type(sequence).__name__}."
            )
        if count is None:
            count, first = len(sequence), name
        elif len(sequence) != count:
            raise ValueError(
                f"{name} has {len(sequence)} snapshots but {first} has {count}; "
                "pass one entry per snapshot."
            )
    return 0 if count is None else count


def check_dynamic_edges(
    edge_indices: Sequence[Any], edge_weights: Sequence[Any], num_nodes: Sequence[Optional[int]]
) -> None:
    r"""Validate per-snapshot edge lists and weights (see :func:`check_edges`)
    and that edge endpoints index existing nodes.

    Args:
        edge_indices (Sequence of np.ndarray or None): ``(2, E_t)`` per snapshot.
        edge_weights (Sequence of np.ndarray or None): ``(E_t,)`` per snapshot.
        num_nodes (Sequence of int or None): node count of each snapshot, ``None``
            when unknown (no range check).
    """
    for t, (edge_index, edge_weight, nodes) in enumerate(zip(edge_indices, edge_weights, num_nodes)):
        edge_index = as_array(edge_index, f"edge_indices[{t}]")
        edge_weight = as_array(edge_weight, f"edge_weights[{t}]")
        if isinstance(edge_index, torch.Tensor):
            edge_index = edge_index.detach().cpu().numpy()
        if isinstance(edge_weight, torch.Tensor):
            edge_weight = edge_weight.detach().cpu().numpy()
        if edge_index is not None and edge_index.size == 0:
            # a snapshot without edges, e.g. ``np.array([])``: the empty (2, 0) list
            edge_index = edge_index.reshape(2, 0).astype(np.int64)
        try:
            check_edges(edge_index, edge_weight)
        except ValueError as error:
            raise ValueError(f"snapshot {t}: {error}") from None
        if edge_index is not None and nodes is not None and edge_index.size:
            if edge_index.max() >= nodes:
                raise ValueError(
                    f"snapshot {t}: edge_index refers to node {int(edge_index.max())} but the "
                    f"features have {nodes} nodes; edge ids must be in 0..{nodes - 1}."
                )


def check_batch_vector(batch: Any, num_nodes: Optional[int], where: str) -> None:
    r"""Check a node-to-graph assignment vector: shape ``(N,)`` with one graph
    id per node when the node count ``num_nodes`` is known."""
    if batch is None:
        return
    batch = as_array(batch, where)
    if batch.ndim != 1:
        raise ValueError(f"{where} must have shape (N,), got {tuple(batch.shape)}.")
    if num_nodes is not None and batch.shape[0] != num_nodes:
        raise ValueError(
            f"{where} assigns {batch.shape[0]} nodes but the features have {num_nodes}; "
            "pass one graph id per node."
        )


def num_rows(feature: Any, what: str) -> Optional[int]:
    r"""Number of nodes (rows) of a feature matrix, ``None`` for ``None``;
    ValueError for ragged or 0-dimensional input."""
    feature = as_array(feature, what)
    if feature is None:
        return None
    if feature.ndim == 0:
        raise ValueError(f"{what} must have shape (N, ...) with one row per node, got a scalar.")
    return int(feature.shape[0])
