"""Checks, conversions and snapshot building shared by the heterogeneous
temporal signals (:class:`~torch_geometric.data.HeteroData` snapshots)."""
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.signal._base import SignalBase
from torch_geometric_temporal.signal._validation import (
    as_array,
    check_batch_vector,
    check_edges,
    check_snapshot_counts,
    num_rows,
)

EdgeType = Tuple[str, str, str]


def _numpy(value: Any) -> Optional[np.ndarray]:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


def check_type_dict(value: Any, what: str, edge: bool = False, any_key: bool = False) -> Optional[Mapping]:
    r"""Check that ``value`` is ``None`` or a dict keyed by node types
    (strings) or, with ``edge=True``, by edge types ``(src, relation, dst)``;
    ``any_key`` accepts both (additional features)."""
    if value is None:
        return None
    kind = "edge type (src, relation, dst)" if edge else "node type"
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a dict keyed by {kind}, or None; got {type(value).__name__}.")
    for key in value:
        is_edge = isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, str) for k in key)
        ok = (is_edge or isinstance(key, str)) if any_key else (is_edge if edge else isinstance(key, str))
        if not ok:
            raise ValueError(f"{what} has key {key!r}; keys must be {kind}s.")
    return value


def node_counts(feature_dict: Any, what: str) -> Dict[str, int]:
    r"""Validate a ``{node_type: (N, F) array}`` dict and return each type's node count."""
    check_type_dict(feature_dict, what)
    counts = {}
    for node_type, feature in (feature_dict or {}).items():
        rows = num_rows(feature, f"{what}[{node_type!r}]")
        if rows is not None:
            counts[node_type] = rows
    return counts


def check_value_dict(value: Any, what: str, any_key: bool = False) -> None:
    r"""Validate a per-snapshot dict of arrays (targets, additional features):
    a dict or ``None`` whose values are arrays (not ragged) or ``None``."""
    check_type_dict(value, what, any_key=any_key)
    for key, array in (value or {}).items():
        as_array(array, f"{what}[{key!r}]")


def check_hetero_edges(
    edge_index_dict: Any, edge_weight_dict: Any, index_what: str, weight_what: str
) -> Dict[EdgeType, Tuple[int, int]]:
    r"""Validate ``{edge_type: (2, E) array}`` and ``{edge_type: (E,) array}``
    dicts and return, per edge type with edges, the largest source and target
    node ids (``-1`` when it has no edges)."""
    check_type_dict(edge_index_dict, index_what, edge=True)
    check_type_dict(edge_weight_dict, weight_what, edge=True)
    edge_counts, extremes = {}, {}
    for edge_type, edge_index in (edge_index_dict or {}).items():
        where = f"{index_what}[{edge_type!r}]"
        edge_index = _numpy(as_array(edge_index, where))
        if edge_index is None:
            continue
        try:
            check_edges(edge_index, None)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        edge_counts[edge_type] = edge_index.shape[1]
        extremes[edge_type] = (
            (int(edge_index[0].max()), int(edge_index[1].max())) if edge_index.size else (-1, -1)
        )
    for edge_type, edge_weight in (edge_weight_dict or {}).items():
        where = f"{weight_what}[{edge_type!r}]"
        edge_weight = _numpy(as_array(edge_weight, where))
        if edge_weight is None:
            continue
        if edge_type not in edge_counts:
            raise ValueError(
                f"{where} weighs edge type {edge_type!r}, which has no edge_index; "
                "pass its edges in the edge index dict too."
            )
        # upstream stores it as the edge type's ``edge_attr``: (E,) or (E, D)
        if edge_weight.ndim not in (1, 2) or edge_weight.shape[0] != edge_counts[edge_type]:
            raise ValueError(
                f"{where} must have shape (E,) or (E, D) with E = {edge_counts[edge_type]}: one weight per "
                f"edge (row), got {tuple(edge_weight.shape)}."
            )
    return extremes


def check_node_ranges(extremes: Dict[EdgeType, Tuple[int, int]], counts: Dict[str, int], where: str) -> None:
    r"""Check that every edge endpoint indexes a node of its source/target type
    (where that type's node count is known)."""
    for (source, relation, target), (max_source, max_target) in extremes.items():
        for node_type, largest in ((source, max_source), (target, max_target)):
            if node_type in counts and largest >= counts[node_type]:
                raise ValueError(
                    f"{where}: edge type {(source, relation, target)!r} refers to {node_type!r} node "
                    f"{largest} but the {node_type!r} features have {counts[node_type]} nodes."
                )


def check_batch_dict(batch_dict: Any, counts: Dict[str, int], what: str) -> None:
    r"""Validate a ``{node_type: (N,) int array}`` graph-assignment dict."""
    check_type_dict(batch_dict, what)
    for node_type, batch in (batch_dict or {}).items():
        check_batch_vector(_numpy(batch), counts.get(node_type), f"{what}[{node_type!r}]")


def float_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.float()
    return torch.tensor(np.asarray(value), dtype=torch.float)


def long_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.long()
    return torch.tensor(np.asarray(value), dtype=torch.long)


def auto_tensor(value: Any) -> Any:
    r"""Targets and additional features, as upstream: floating arrays become
    ``float32`` tensors, integer arrays ``long`` tensors; any other array
    (e.g. boolean masks) is passed through unchanged."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            return value.float()
        if value.dtype != torch.bool and not value.is_complex():
            return value.long()
        return value
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return torch.tensor(array, dtype=torch.float)
    if array.dtype.kind in "iu":
        return torch.tensor(array, dtype=torch.long)
    return value


def _convert(value_dict: Optional[Mapping], convert) -> Dict[Any, Any]:
    if not value_dict:
        return {}
    return {key: convert(value) for key, value in value_dict.items() if value is not None}


class HeteroSignalBase(SignalBase):
    r"""Snapshot building, slicing and additional features of the
    heterogeneous signals. Subclasses store their arguments, call
    :meth:`_set_additional_features` and implement the ``_*_at`` accessors;
    ``_temporal_attributes`` names the per-snapshot sequences a slice cuts."""

    _temporal_attributes: Sequence[str] = ()
    _batched = False

    def _set_additional_features(self, sequences: Dict[str, Any], kwargs: Dict[str, Any]) -> None:
        for name, sequence in (*sequences.items(), *kwargs.items()):
            if isinstance(sequence, Mapping):
                raise ValueError(
                    f"{name} must be a sequence with one dict (or None) per snapshot, "
                    "got a single dict; wrap it in a list."
                )
        self.additional_feature_keys = []
        for key, value in kwargs.items():
            setattr(self, key, value)
            self.additional_feature_keys.append(key)
        self.snapshot_count = check_snapshot_counts(**sequences, **kwargs)
        for key, value in kwargs.items():
            for t, feature in enumerate(value):
                check_value_dict(feature, f"{key}[{t}]", any_key=True)
        self.t = 0

    def _edge_index_dict_at(self, time_index: int) -> Optional[Mapping]:
        raise NotImplementedError

    def _edge_weight_dict_at(self, time_index: int) -> Optional[Mapping]:
        raise NotImplementedError

    def _feature_dict_at(self, time_index: int) -> Optional[Mapping]:
        raise NotImplementedError

    def _batch_dict_at(self, time_index: int) -> Optional[Mapping]:
        return None

    def _snapshot(self, time_index: int):
        data = pyg("data")
        snapshot = data.HeteroData()
        if self._batched:
            snapshot = data.Batch.from_data_list([snapshot])
        for key, value in _convert(self._feature_dict_at(time_index), float_tensor).items():
            snapshot[key].x = value
        for key, value in _convert(self._edge_index_dict_at(time_index), long_tensor).items():
            snapshot[key].edge_index = value
        for key, value in _convert(self._edge_weight_dict_at(time_index), float_tensor).items():
            snapshot[key].edge_attr = value
        for key, value in _convert(self.target_dicts[time_index], auto_tensor).items():
            snapshot[key].y = value
        for key, value in _convert(self._batch_dict_at(time_index), long_tensor).items():
            snapshot[key].batch = value
        for name in self.additional_feature_keys:
            for key, value in _convert(getattr(self, name)[time_index], auto_tensor).items():
                snapshot[key][name] = value
        return snapshot

    def _slice(self, time_index: slice):
        # The parts were validated when this signal was built: copy, then cut
        # every per-snapshot sequence.
        part = object.__new__(type(self))
        part.__dict__.update(self.__dict__)
        for name in (*self._temporal_attributes, *self.additional_feature_keys):
            setattr(part, name, getattr(self, name)[time_index])
        part.additional_feature_keys = list(self.additional_feature_keys)
        part.snapshot_count = len(part.target_dicts)
        part.t = 0
        return part
