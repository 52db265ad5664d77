import numpy as np
import pytest
import torch

from torch_geometric_temporal.signal import dynamic_hetero_graph_static_signal as module
from torch_geometric_temporal.signal import dynamic_hetero_graph_static_signal_batch as batch_module
from torch_geometric_temporal.signal.dynamic_hetero_graph_static_signal import (
    DynamicHeteroGraphStaticSignal,
)
from torch_geometric_temporal.signal.dynamic_hetero_graph_static_signal_batch import (
    DynamicHeteroGraphStaticSignalBatch,
)
from torch_geometric_temporal.signal.train_test_split import temporal_signal_split

LIKES = ("user", "likes", "item")
FEATURE_DICT = {"user": np.arange(4.0).reshape(2, 2), "item": np.ones((3, 2), dtype=np.float64)}


def _parts(snapshots=5):
    edge_index_dicts = [{LIKES: np.array([[t % 2], [t % 3]])} for t in range(snapshots)]
    edge_weight_dicts = [{LIKES: np.array([t + 0.5])} for t in range(snapshots)]
    target_dicts = [{"item": np.full(3, t / 2)} for t in range(snapshots)]
    return edge_index_dicts, edge_weight_dicts, FEATURE_DICT, target_dicts


def test_type_aliases_exist():
    for name in ("Edge_Indices", "Edge_Weights", "Node_Feature", "Targets", "Additional_Features"):
        assert hasattr(module, name)
    assert hasattr(batch_module, "Batches")


def test_features_are_static_graph_changes():
    from torch_geometric.data import HeteroData

    signal = DynamicHeteroGraphStaticSignal(*_parts(), mask=[{"item": np.array([1, 0, 1])}] * 5)
    assert signal.snapshot_count == 5 and len(signal) == 5
    for t, snapshot in enumerate(signal):
        assert type(snapshot) is HeteroData
        assert snapshot["user"].x.dtype == torch.float
        assert torch.equal(snapshot["user"].x, torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
        assert torch.equal(snapshot[LIKES].edge_index, torch.tensor([[t % 2], [t % 3]]))
        assert torch.equal(snapshot[LIKES].edge_attr, torch.tensor([t + 0.5]))
        assert torch.equal(snapshot["item"].y, torch.full((3,), t / 2))
        assert snapshot["item"].mask.dtype == torch.long
    assert "x" not in DynamicHeteroGraphStaticSignal([None], [None], None, [None])[0]["user"]


def test_slicing_and_split():
    signal = DynamicHeteroGraphStaticSignal(*_parts(10))
    part = signal[::3]
    assert type(part) is DynamicHeteroGraphStaticSignal and part.snapshot_count == 4
    assert torch.equal(part[1][LIKES].edge_attr, signal[3][LIKES].edge_attr)
    assert part.feature_dict is signal.feature_dict
    train, test = temporal_signal_split(signal, train_ratio=0.9)
    assert (train.snapshot_count, test.snapshot_count) == (9, 1)
    assert torch.equal(test[0]["item"].y, signal[9]["item"].y)


def test_batch_variant():
    batch_dicts = [{"user": np.array([0, t % 2])} for t in range(4)]
    signal = DynamicHeteroGraphStaticSignalBatch(*_parts(4), batch_dicts)
    snapshot = signal[3]
    assert type(snapshot).__name__ == "HeteroDataBatch"
    assert torch.equal(snapshot["user"].batch, torch.tensor([0, 1]))
    part = signal[1:3]
    assert type(part) is DynamicHeteroGraphStaticSignalBatch
    assert torch.equal(part[0]["user"].batch, torch.tensor([0, 1]))
    train, test = temporal_signal_split(signal, 0.75)
    assert type(train) is DynamicHeteroGraphStaticSignalBatch and train.snapshot_count == 3


def test_bad_input_raises_value_error():
    edge_index_dicts, edge_weight_dicts, feature_dict, target_dicts = _parts(3)
    with pytest.raises(ValueError, match="edge_index_dicts has 2 snapshots"):
        DynamicHeteroGraphStaticSignal(edge_index_dicts[:2], edge_weight_dicts, feature_dict, target_dicts)
    with pytest.raises(ValueError, match="feature_dict must be a dict"):
        DynamicHeteroGraphStaticSignal(edge_index_dicts, edge_weight_dicts, [feature_dict], target_dicts)
    with pytest.raises(ValueError, match=r"feature_dict\['user'\] must have shape"):
        DynamicHeteroGraphStaticSignal(edge_index_dicts, edge_weight_dicts, {"user": np.float64(1)}, target_dicts)
    with pytest.raises(ValueError, match="'item' node 2"):
        DynamicHeteroGraphStaticSignal(
            edge_index_dicts, edge_weight_dicts, {"item": np.ones((2, 1))}, target_dicts
        )
    with pytest.raises(ValueError, match=r"target_dicts\[1\]\['item'\] is ragged"):
        DynamicHeteroGraphStaticSignal(
            edge_index_dicts, edge_weight_dicts, feature_dict, [None, {"item": [[1], [1, 2]]}, None]
        )
    with pytest.raises(ValueError, match="batch_dicts has 2 snapshots"):
        DynamicHeteroGraphStaticSignalBatch(*_parts(3), [None, None])
    with pytest.raises(ValueError, match=r"must have shape \(N,\)"):
        DynamicHeteroGraphStaticSignalBatch(*_parts(1), [{"user": np.zeros((2, 1), dtype=int)}])


def test_hetero_signals_exported_like_upstream():
    import torch_geometric_temporal
    import torch_geometric_temporal.signal as signal

    for name in (
        "StaticHeteroGraphTemporalSignal", "StaticHeteroGraphTemporalSignalBatch",
        "DynamicHeteroGraphTemporalSignal", "DynamicHeteroGraphTemporalSignalBatch",
        "DynamicHeteroGraphStaticSignal", "DynamicHeteroGraphStaticSignalBatch",
    ):
        assert name in signal.__all__
        assert getattr(torch_geometric_temporal, name) is getattr(signal, name)
