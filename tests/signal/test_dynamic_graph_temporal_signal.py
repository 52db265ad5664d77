import numpy as np
import pytest
import torch

from torch_geometric_temporal.signal import (
    DynamicGraphTemporalSignal,
    DynamicGraphTemporalSignalBatch,
    temporal_signal_split,
)
from torch_geometric_temporal.signal import dynamic_graph_temporal_signal as dgts_module
from torch_geometric_temporal.signal import dynamic_graph_temporal_signal_batch as dgtsb_module


def _inputs(snapshots=6, nodes=4):
    rng = np.random.default_rng(0)
    edge_indices = [rng.integers(0, nodes, size=(2, 3 + t)) for t in range(snapshots)]
    edge_weights = [rng.random(3 + t) for t in range(snapshots)]
    features = [rng.random((nodes, 2)) for _ in range(snapshots)]
    targets = [rng.random(nodes) for _ in range(snapshots)]
    return edge_indices, edge_weights, features, targets


def test_aliases_exist():
    for name in ["Edge_Indices", "Edge_Weights", "Node_Features", "Targets", "Additional_Features"]:
        assert hasattr(dgts_module, name)
        assert hasattr(dgtsb_module, name)
    assert hasattr(dgtsb_module, "Batches")


def test_snapshot_contents_match_upstream_semantics():
    edge_indices, edge_weights, features, targets = _inputs()
    extra = [np.full(4, t, dtype=np.int64) for t in range(6)]
    extraf = [np.full((4, 3), t, dtype=np.float32) for t in range(6)]
    signal = DynamicGraphTemporalSignal(
        edge_indices, edge_weights, features, targets, extra=extra, extraf=extraf
    )
    assert signal.snapshot_count == 6 and len(signal) == 6
    for t in (0, 3, 5):
        snapshot = signal[t]
        assert type(snapshot).__name__ == "Data"
        assert snapshot.x.dtype == torch.float32 and snapshot.x.shape == (4, 2)
        assert torch.allclose(snapshot.x, torch.tensor(features[t], dtype=torch.float))
        assert snapshot.edge_index.dtype == torch.long and snapshot.edge_index.shape == (2, 3 + t)
        assert torch.equal(snapshot.edge_index, torch.tensor(edge_indices[t]))
        assert snapshot.edge_attr.dtype == torch.float32
        assert torch.allclose(snapshot.edge_attr, torch.tensor(edge_weights[t], dtype=torch.float))
        assert snapshot.y.dtype == torch.float32
        assert torch.equal(snapshot.extra, torch.full((4,), t))
        assert snapshot.extraf.dtype == torch.float32 and snapshot.extraf.shape == (4, 3)
    assert torch.equal(signal[-1].edge_index, signal[5].edge_index)


def test_none_entries_and_integer_features():
    # upstream: None stays None (absent from the Data), integer targets become
    # long, integer features float
    signal = DynamicGraphTemporalSignal(
        [None, np.array([[0], [1]])], [None, None],
        [np.array([[1], [2]]), None], [np.array([0, 1]), None],
    )
    first, second = signal[0], signal[1]
    assert first.edge_index is None and first.edge_attr is None
    assert first.x.dtype == torch.float32 and first.y.dtype == torch.long
    assert second.x is None and second.y is None and second.edge_attr is None
    assert torch.equal(second.edge_index, torch.tensor([[0], [1]]))


def test_nodes_may_change_between_snapshots():
    signal = DynamicGraphTemporalSignal(
        [np.array([[0], [1]]), np.array([[0, 4], [4, 0]])], [None, None],
        [np.zeros((2, 1)), np.zeros((5, 1))], [np.zeros(2), np.zeros(5)],
    )
    assert signal[1].num_nodes == 5


def test_slicing_iteration_and_split():
    edge_indices, edge_weights, features, targets = _inputs(snapshots=10)
    extra = [np.full(4, t, dtype=np.int64) for t in range(10)]
    signal = DynamicGraphTemporalSignal(edge_indices, edge_weights, features, targets, extra=extra)
    part = signal[2:5]
    assert isinstance(part, DynamicGraphTemporalSignal) and part.snapshot_count == 3
    assert torch.equal(part[0].edge_index, signal[2].edge_index)
    assert torch.equal(part[2].extra, torch.full((4,), 4))
    xs = [snapshot.x for snapshot in signal]
    assert len(xs) == 10 and len([s for s in signal]) == 10
    assert torch.equal(xs[7], signal[7].x)
    train, test = temporal_signal_split(signal, train_ratio=0.8)
    assert type(train) is DynamicGraphTemporalSignal and type(test) is DynamicGraphTemporalSignal
    assert train.snapshot_count == 8 and test.snapshot_count == 2
    assert torch.equal(test[0].edge_index, signal[8].edge_index)
    assert torch.equal(test[1].extra, signal[9].extra)
    with pytest.raises(IndexError, match="out of range"):
        signal[10]


def test_bad_input_is_rejected():
    edge_indices, edge_weights, features, targets = _inputs()
    with pytest.raises(ValueError, match="targets has 5 snapshots but features has 6"):
        DynamicGraphTemporalSignal(edge_indices, edge_weights, features, targets[:5])
    with pytest.raises(ValueError, match="edge_weights has 5 snapshots"):
        DynamicGraphTemporalSignal(edge_indices, edge_weights[:5], features, targets)
    with pytest.raises(ValueError, match="edge_indices has 4 snapshots"):
        DynamicGraphTemporalSignal(edge_indices[:4], edge_weights, features, targets)
    with pytest.raises(ValueError, match="additional feature|extra has 2 snapshots"):
        DynamicGraphTemporalSignal(edge_indices, edge_weights, features, targets, extra=[1, 2])
    with pytest.raises(ValueError, match="edge_weights must be a sequence"):
        DynamicGraphTemporalSignal(edge_indices, None, features, targets)
    bad = list(edge_indices)
    bad[2] = bad[2].T
    with pytest.raises(ValueError, match=r"snapshot 2: edge_index must have shape \(2, E\)"):
        DynamicGraphTemporalSignal(bad, edge_weights, features, targets)
    bad = list(edge_weights)
    bad[1] = bad[1][:-1]
    with pytest.raises(ValueError, match="snapshot 1: .*one weight per edge"):
        DynamicGraphTemporalSignal(edge_indices, bad, features, targets)
    bad = list(edge_indices)
    bad[3] = np.array([[0], [7]])
    with pytest.raises(ValueError, match="snapshot 3: edge_index refers to node 7"):
        DynamicGraphTemporalSignal(bad, [None] * 6, features, targets)
    bad = list(features)
    bad[0] = [[1.0, 2.0], [3.0]]
    with pytest.raises(ValueError, match=r"features\[0\] is ragged"):
        DynamicGraphTemporalSignal(edge_indices, edge_weights, bad, targets)


def test_batch_signal():
    edge_indices, edge_weights, features, targets = _inputs()
    batches = [np.array([0, 0, 1, 1]) for _ in range(6)]
    targets = [np.arange(4) for _ in range(6)]
    signal = DynamicGraphTemporalSignalBatch(
        edge_indices, edge_weights, features, targets, batches, extra=targets
    )
    snapshot = signal[2]
    from torch_geometric.data import Batch

    assert isinstance(snapshot, Batch)
    assert snapshot.batch.dtype == torch.long and torch.equal(snapshot.batch, torch.tensor([0, 0, 1, 1]))
    assert snapshot.num_graphs == 2 and snapshot.y.dtype == torch.long
    assert torch.equal(snapshot.edge_index, torch.tensor(edge_indices[2]))
    part = signal[1:3]
    assert type(part) is DynamicGraphTemporalSignalBatch and part.snapshot_count == 2
    train, test = temporal_signal_split(signal, 0.5)
    assert type(test) is DynamicGraphTemporalSignalBatch
    assert torch.equal(test[0].x, signal[3].x) and torch.equal(test[0].batch, snapshot.batch)
    assert signal[0:0].snapshot_count == 0
    with pytest.raises(ValueError, match="batches has 5 snapshots"):
        DynamicGraphTemporalSignalBatch(edge_indices, edge_weights, features, targets, batches[:5])
    with pytest.raises(ValueError, match=r"batches\[1\] assigns 2 nodes"):
        DynamicGraphTemporalSignalBatch(
            edge_indices, edge_weights, features, targets,
            [batches[0], np.array([0, 1])] + batches[2:],
        )


def test_snapshot_without_edges():
    # an empty edge list, as ``np.array([])`` or ``(2, 0)``, gives PyG's empty (2, 0) edge_index
    signal = DynamicGraphTemporalSignal(
        [np.array([]), np.zeros((2, 0), dtype=np.int64), np.array([[0], [1]])],
        [np.array([]), np.array([]), np.array([0.5])],
        [np.zeros((2, 1))] * 3, [np.zeros(2)] * 3,
    )
    for t in (0, 1):
        assert signal[t].edge_index.dtype == torch.long and signal[t].edge_index.shape == (2, 0)
        assert signal[t].edge_attr.shape == (0,)
    assert signal[2].edge_index.shape == (2, 1)
