import numpy as np
import pytest
import torch

from torch_geometric_temporal.signal import (
    DynamicGraphStaticSignal,
    DynamicGraphStaticSignalBatch,
    temporal_signal_split,
)
from torch_geometric_temporal.signal import dynamic_graph_static_signal as dgss_module
from torch_geometric_temporal.signal import dynamic_graph_static_signal_batch as dgssb_module


def _inputs(snapshots=6, nodes=4):
    rng = np.random.default_rng(0)
    edge_indices = [rng.integers(0, nodes, size=(2, 3 + t)) for t in range(snapshots)]
    edge_weights = [rng.random(3 + t) for t in range(snapshots)]
    feature = rng.integers(0, 5, size=(nodes, 2))
    targets = [rng.random(nodes) for _ in range(snapshots)]
    return edge_indices, edge_weights, feature, targets


def test_aliases_exist():
    for name in ["Edge_Indices", "Edge_Weights", "Node_Feature", "Targets", "Additional_Features"]:
        assert hasattr(dgss_module, name)
        assert hasattr(dgssb_module, name)
    assert hasattr(dgssb_module, "Batches")


def test_snapshot_contents_match_upstream_semantics():
    edge_indices, edge_weights, feature, targets = _inputs()
    extraf = [np.full((4, 3), t, dtype=np.float32) for t in range(6)]
    signal = DynamicGraphStaticSignal(edge_indices, edge_weights, feature, targets, extraf=extraf)
    assert signal.snapshot_count == 6 and len(signal) == 6
    for t in (0, 4):
        snapshot = signal[t]
        # upstream: the shared (here integer) feature becomes float
        assert snapshot.x.dtype == torch.float32 and snapshot.x.shape == (4, 2)
        assert torch.equal(snapshot.x, torch.tensor(feature, dtype=torch.float))
        assert snapshot.edge_index.dtype == torch.long and snapshot.edge_index.shape == (2, 3 + t)
        assert torch.equal(snapshot.edge_index, torch.tensor(edge_indices[t]))
        assert torch.allclose(snapshot.edge_attr, torch.tensor(edge_weights[t], dtype=torch.float))
        assert snapshot.y.dtype == torch.float32
        assert torch.allclose(snapshot.y, torch.tensor(targets[t], dtype=torch.float))
        assert torch.equal(snapshot.extraf, torch.full((4, 3), float(t)))
    integer = DynamicGraphStaticSignal(edge_indices, edge_weights, feature, [np.arange(4)] * 6)
    assert integer[0].y.dtype == torch.long


def test_none_everywhere():
    signal = DynamicGraphStaticSignal([None] * 3, [None] * 3, None, [None] * 3)
    snapshot = signal[1]
    assert snapshot.x is None and snapshot.edge_index is None and snapshot.y is None
    assert signal.snapshot_count == 3


def test_slicing_iteration_and_split():
    edge_indices, edge_weights, feature, targets = _inputs(snapshots=10)
    signal = DynamicGraphStaticSignal(edge_indices, edge_weights, feature, targets)
    part = signal[3:]
    assert type(part) is DynamicGraphStaticSignal and part.snapshot_count == 7
    assert part.feature is signal.feature
    assert torch.equal(part[0].edge_index, signal[3].edge_index)
    assert len(list(signal)) == 10 and len(list(signal)) == 10
    train, test = temporal_signal_split(signal, 0.7)
    assert (train.snapshot_count, test.snapshot_count) == (7, 3)
    assert type(train) is DynamicGraphStaticSignal
    assert torch.equal(test[2].y, signal[9].y)


def test_bad_input_is_rejected():
    edge_indices, edge_weights, feature, targets = _inputs()
    with pytest.raises(ValueError, match="edge_indices has 5 snapshots but targets has 6"):
        DynamicGraphStaticSignal(edge_indices[:5], edge_weights, feature, targets)
    with pytest.raises(ValueError, match="edge_weights has 2 snapshots"):
        DynamicGraphStaticSignal(edge_indices, edge_weights[:2], feature, targets)
    with pytest.raises(ValueError, match="extra has 1 snapshots"):
        DynamicGraphStaticSignal(edge_indices, edge_weights, feature, targets, extra=[np.ones(4)])
    bad = list(edge_indices)
    bad[5] = np.array([[0, 1], [9, 2]])
    with pytest.raises(ValueError, match="snapshot 5: edge_index refers to node 9 but the features have 4"):
        DynamicGraphStaticSignal(bad, [None] * 6, feature, targets)
    bad[5] = np.array([[0.0], [1.0]])
    with pytest.raises(ValueError, match="snapshot 5: edge_index must hold integers"):
        DynamicGraphStaticSignal(bad, [None] * 6, feature, targets)
    with pytest.raises(ValueError, match="feature is ragged"):
        DynamicGraphStaticSignal(edge_indices, edge_weights, [[1, 2], [3]], targets)
    with pytest.raises(ValueError, match=r"feature must have shape \(N, ...\)"):
        DynamicGraphStaticSignal(edge_indices, edge_weights, np.float64(1.0), targets)


def test_batch_signal():
    from torch_geometric.data import Batch

    edge_indices, edge_weights, feature, targets = _inputs()
    batches = [np.array([0, 0, 1, 1]) if t % 2 else np.array([0, 1, 1, 1]) for t in range(6)]
    signal = DynamicGraphStaticSignalBatch(edge_indices, edge_weights, feature, targets, batches)
    snapshot = signal[1]
    assert isinstance(snapshot, Batch) and snapshot.num_graphs == 2
    assert torch.equal(snapshot.batch, torch.tensor([0, 0, 1, 1]))
    assert torch.equal(signal[2].batch, torch.tensor([0, 1, 1, 1]))
    train, test = temporal_signal_split(signal, 0.5)
    assert type(test) is DynamicGraphStaticSignalBatch and test.snapshot_count == 3
    assert torch.equal(test[0].batch, signal[3].batch)
    with pytest.raises(ValueError, match="batches has 5 snapshots"):
        DynamicGraphStaticSignalBatch(edge_indices, edge_weights, feature, targets, batches[:5])
    with pytest.raises(ValueError, match=r"batches\[0\] assigns 3 nodes"):
        DynamicGraphStaticSignalBatch(
            edge_indices, edge_weights, feature, targets, [np.zeros(3, dtype=int)] + batches[1:]
        )


def test_snapshot_without_edges():
    signal = DynamicGraphStaticSignal([np.array([]), np.array([[0], [1]])], [None, None],
                                      np.zeros((2, 1)), [np.zeros(2)] * 2)
    assert signal[0].edge_index.shape == (2, 0) and signal[0].edge_index.dtype == torch.long
    assert signal[1].edge_index.shape == (2, 1)
