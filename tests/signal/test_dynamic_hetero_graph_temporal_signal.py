import numpy as np
import pytest
import torch

from torch_geometric_temporal.signal import dynamic_hetero_graph_temporal_signal as module
from torch_geometric_temporal.signal import dynamic_hetero_graph_temporal_signal_batch as batch_module
from torch_geometric_temporal.signal.dynamic_hetero_graph_temporal_signal import (
    DynamicHeteroGraphTemporalSignal,
)
from torch_geometric_temporal.signal.dynamic_hetero_graph_temporal_signal_batch import (
    DynamicHeteroGraphTemporalSignalBatch,
)
from torch_geometric_temporal.signal.train_test_split import temporal_signal_split

WRITES = ("author", "writes", "paper")


def _parts(snapshots=5):
    # snapshot t has t + 1 "writes" edges, weights t, features filled with t
    edge_index_dicts = [{WRITES: np.array([np.zeros(t + 1, dtype=np.int64), np.arange(t + 1) % 3])}
                        for t in range(snapshots)]
    edge_weight_dicts = [{WRITES: np.full(t + 1, float(t))} for t in range(snapshots)]
    feature_dicts = [{"author": np.full((1, 2), float(t)), "paper": np.full((3, 2), float(t))}
                     for t in range(snapshots)]
    target_dicts = [{"paper": np.array([t, t, t])} for t in range(snapshots)]
    return edge_index_dicts, edge_weight_dicts, feature_dicts, target_dicts


def test_type_aliases_exist():
    for name in ("Edge_Indices", "Edge_Weights", "Node_Features", "Targets", "Additional_Features"):
        assert hasattr(module, name)
    assert hasattr(batch_module, "Batches")


def test_snapshots_follow_the_changing_graph():
    from torch_geometric.data import HeteroData

    signal = DynamicHeteroGraphTemporalSignal(*_parts(), extra=[{"author": np.array([t])} for t in range(5)])
    assert signal.snapshot_count == 5 and len(signal) == 5
    for t, snapshot in enumerate(signal):
        assert type(snapshot) is HeteroData
        assert snapshot[WRITES].edge_index.shape == (2, t + 1)
        assert snapshot[WRITES].edge_index.dtype == torch.long
        assert torch.equal(snapshot[WRITES].edge_attr, torch.full((t + 1,), float(t)))
        assert torch.equal(snapshot["paper"].x, torch.full((3, 2), float(t)))
        assert snapshot["paper"].y.dtype == torch.long
        assert torch.equal(snapshot["author"].extra, torch.tensor([t]))


def test_none_snapshots_and_values_are_skipped():
    edge_index_dicts, edge_weight_dicts, feature_dicts, target_dicts = _parts(3)
    edge_index_dicts[1], edge_weight_dicts[1] = None, None
    feature_dicts[2] = {"author": None, "paper": np.zeros((3, 2))}
    signal = DynamicHeteroGraphTemporalSignal(edge_index_dicts, edge_weight_dicts, feature_dicts, target_dicts)
    assert signal[1].edge_types == []
    assert "x" not in signal[2]["author"] and "x" in signal[2]["paper"]


def test_slicing_and_split():
    signal = DynamicHeteroGraphTemporalSignal(*_parts(10))
    part = signal[3:6]
    assert type(part) is DynamicHeteroGraphTemporalSignal and part.snapshot_count == 3
    assert part[0][WRITES].edge_index.shape == (2, 4)
    train, test = temporal_signal_split(signal, train_ratio=0.7)
    assert (train.snapshot_count, test.snapshot_count) == (7, 3)
    assert torch.equal(test[0]["paper"].x, signal[7]["paper"].x)
    assert torch.equal(signal[-2]["paper"].y, signal[8]["paper"].y)


def test_batch_variant():
    batch_dicts = [{"paper": np.array([0, 1, 1])}] * 4
    signal = DynamicHeteroGraphTemporalSignalBatch(*_parts(4), batch_dicts)
    snapshot = signal[2]
    assert type(snapshot).__name__ == "HeteroDataBatch"
    assert torch.equal(snapshot["paper"].batch, torch.tensor([0, 1, 1]))
    assert snapshot[WRITES].edge_index.shape == (2, 3)
    part = signal[2:]
    assert type(part) is DynamicHeteroGraphTemporalSignalBatch and len(part.batch_dicts) == 2
    train, test = temporal_signal_split(signal, 0.5)
    assert type(test) is DynamicHeteroGraphTemporalSignalBatch and test.snapshot_count == 2


def test_bad_input_raises_value_error():
    edge_index_dicts, edge_weight_dicts, feature_dicts, target_dicts = _parts(3)
    with pytest.raises(ValueError, match="edge_weight_dicts has 2 snapshots"):
        DynamicHeteroGraphTemporalSignal(edge_index_dicts, edge_weight_dicts[:2], feature_dicts, target_dicts)
    with pytest.raises(ValueError, match="target_dicts has 2 snapshots"):
        DynamicHeteroGraphTemporalSignal(edge_index_dicts, edge_weight_dicts, feature_dicts, target_dicts[:2])
    bad_weights = list(edge_weight_dicts)
    bad_weights[2] = {WRITES: np.ones(5)}
    with pytest.raises(ValueError, match=r"edge_weight_dicts\[2\].*one weight per edge"):
        DynamicHeteroGraphTemporalSignal(edge_index_dicts, bad_weights, feature_dicts, target_dicts)
    bad_edges = list(edge_index_dicts)
    bad_edges[1] = {WRITES: np.array([[5], [0]])}
    with pytest.raises(ValueError, match="snapshot 1.*'author' node 5"):
        DynamicHeteroGraphTemporalSignal(bad_edges, [None] * 3, feature_dicts, target_dicts)
    with pytest.raises(ValueError, match="must be a sequence"):
        DynamicHeteroGraphTemporalSignal(edge_index_dicts, None, feature_dicts, target_dicts)
    with pytest.raises(ValueError, match="batch_dicts has 1 snapshots"):
        DynamicHeteroGraphTemporalSignalBatch(*_parts(3), [None])
    with pytest.raises(ValueError, match=r"batch_dicts\[0\]\['paper'\] assigns 2 nodes"):
        DynamicHeteroGraphTemporalSignalBatch(*_parts(1), [{"paper": np.array([0, 1])}])
