import numpy as np
import pytest
import torch

from torch_geometric_temporal.signal import (
    StaticGraphTemporalSignal,
    StaticGraphTemporalSignalBatch,
    temporal_signal_split,
)


def _signal(snapshots=10, nodes=5, feats=3, **kwargs):
    rng = np.random.default_rng(0)
    edge_index = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    edge_weight = rng.random(5)
    features = [rng.random((nodes, feats)) for _ in range(snapshots)]
    targets = [rng.random(nodes) for _ in range(snapshots)]
    return StaticGraphTemporalSignal(edge_index, edge_weight, features, targets, **kwargs)


def test_snapshot_contents():
    signal = _signal()
    snapshot = signal[3]
    assert signal.snapshot_count == 10 and len(signal) == 10
    assert snapshot.x.dtype == torch.float and snapshot.x.shape == (5, 3)
    assert torch.allclose(snapshot.x, torch.tensor(signal.features[3], dtype=torch.float))
    assert torch.allclose(snapshot.y, torch.tensor(signal.targets[3], dtype=torch.float))
    assert snapshot.edge_index.dtype == torch.long
    assert torch.equal(snapshot.edge_index, torch.tensor(signal.edge_index))
    assert torch.allclose(snapshot.edge_attr, torch.tensor(signal.edge_weight, dtype=torch.float))


def test_negative_index_and_out_of_range():
    signal = _signal()
    assert torch.equal(signal[-1].x, signal[9].x)
    with pytest.raises(IndexError, match="out of range"):
        signal[10]
    with pytest.raises(TypeError, match="int or a slice"):
        signal[1.5]


def test_integer_targets_become_long():
    signal = StaticGraphTemporalSignal(
        None, None, [np.zeros((2, 1))], [np.array([0, 1])]
    )
    snapshot = signal[0]
    assert snapshot.y.dtype == torch.long
    assert snapshot.edge_index is None


def test_slicing_returns_signal_with_additional_features():
    extra = [np.full(5, i, dtype=np.int64) for i in range(10)]
    signal = _signal(extra=extra)
    part = signal[2:5]
    assert isinstance(part, StaticGraphTemporalSignal)
    assert part.snapshot_count == 3
    assert torch.equal(part[0].x, signal[2].x)
    assert torch.equal(part[0].extra, torch.full((5,), 2))
    assert torch.equal(signal[7].extra, torch.full((5,), 7))


def test_iteration_restarts():
    signal = _signal(snapshots=4)
    first = [snapshot.x for snapshot in signal]
    second = [snapshot.x for snapshot in signal]
    assert len(first) == len(second) == 4
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert torch.equal(first[2], signal[2].x)


def test_split_is_chronological():
    signal = _signal(snapshots=10)
    train, test = temporal_signal_split(signal, train_ratio=0.8)
    assert train.snapshot_count == 8 and test.snapshot_count == 2
    assert torch.equal(train[7].x, signal[7].x)
    assert torch.equal(test[0].x, signal[8].x)


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5, 0.01])
def test_split_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError):
        temporal_signal_split(_signal(snapshots=10), train_ratio=ratio)


def test_bad_input_is_rejected():
    rng = np.random.default_rng(0)
    features = [rng.random((3, 2)) for _ in range(4)]
    targets = [rng.random(3) for _ in range(4)]
    with pytest.raises(ValueError, match="one target per snapshot"):
        StaticGraphTemporalSignal(None, None, features, targets[:3])
    with pytest.raises(ValueError, match=r"shape \(2, E\)"):
        StaticGraphTemporalSignal(np.zeros((3, 2), dtype=int), None, features, targets)
    with pytest.raises(ValueError, match="one weight per edge"):
        StaticGraphTemporalSignal(np.array([[0], [1]]), np.ones(2), features, targets)
    with pytest.raises(ValueError, match="refers to node 3"):
        StaticGraphTemporalSignal(np.array([[0], [3]]), None, features, targets)
    with pytest.raises(ValueError, match="integers"):
        StaticGraphTemporalSignal(np.array([[0.0], [1.0]]), None, features, targets)
    with pytest.raises(ValueError, match="additional feature 'extra'"):
        StaticGraphTemporalSignal(None, None, features, targets, extra=[1, 2])


def test_batch_signal():
    rng = np.random.default_rng(1)
    edge_index = np.array([[0, 1, 2, 3], [1, 0, 3, 2]])
    features = [rng.random((4, 2)) for _ in range(6)]
    targets = [rng.random(4) for _ in range(6)]
    batches = np.array([0, 0, 1, 1])
    signal = StaticGraphTemporalSignalBatch(edge_index, None, features, targets, batches)
    snapshot = signal[1]
    assert torch.equal(snapshot.batch, torch.tensor([0, 0, 1, 1]))
    assert snapshot.num_graphs == 2
    train, test = temporal_signal_split(signal, 0.5)
    assert isinstance(train, StaticGraphTemporalSignalBatch)
    assert torch.equal(test[0].x, signal[3].x)
    assert torch.equal(test[0].batch, snapshot.batch)
    with pytest.raises(ValueError, match="one graph id per node"):
        StaticGraphTemporalSignalBatch(edge_index, None, features, targets, np.array([0, 1]))


def test_batch_signal_with_one_batch_vector_per_snapshot():
    """Upstream's test/batch_test.py passes a list of per-snapshot vectors
    (or of Nones): each snapshot gets its own, split and slices keep them."""
    rng = np.random.default_rng(2)
    edge_index = np.array([[0, 1, 2, 3], [1, 0, 3, 2]])
    features = [rng.random((4, 2)) for _ in range(4)]
    targets = [rng.random(4) for _ in range(4)]
    batches = [np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), np.array([0, 0, 0, 1]),
               np.array([0, 1, 2, 3])]
    signal = StaticGraphTemporalSignalBatch(edge_index, None, features, targets, batches)
    assert [int(signal[t].num_graphs) for t in range(4)] == [2, 2, 2, 4]
    _, test = temporal_signal_split(signal, 0.5)
    assert torch.equal(test[1].batch, torch.tensor([0, 1, 2, 3]))
    assert torch.equal(signal[1:3][0].batch, torch.tensor([0, 1, 1, 1]))
    nones = StaticGraphTemporalSignalBatch(None, None, [None, None], [None, None], [None, None])
    assert [snapshot.batch for snapshot in nones] == [None, None]
    with pytest.raises(ValueError, match=r"batches\[2\] assigns 3 nodes"):
        StaticGraphTemporalSignalBatch(edge_index, None, features, targets,
                                       batches[:2] + [np.array([0, 0, 1])] + batches[3:])
