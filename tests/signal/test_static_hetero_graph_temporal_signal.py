import numpy as np
import pytest
import torch

from torch_geometric_temporal.signal.static_hetero_graph_temporal_signal import (
    StaticHeteroGraphTemporalSignal,
)
from torch_geometric_temporal.signal.static_hetero_graph_temporal_signal_batch import (
    StaticHeteroGraphTemporalSignalBatch,
)
from torch_geometric_temporal.signal.train_test_split import temporal_signal_split
from torch_geometric_temporal.signal import static_hetero_graph_temporal_signal as module
from torch_geometric_temporal.signal import static_hetero_graph_temporal_signal_batch as batch_module

WRITES = ("author", "writes", "paper")
CITES = ("paper", "cites", "paper")
EDGE_INDEX = {WRITES: np.array([[0, 0, 1], [0, 1, 2]]), CITES: np.array([[0, 1], [2, 2]])}
EDGE_WEIGHT = {WRITES: np.array([0.5, 1.0, 2.0]), CITES: np.array([3.0, 4.0])}


def _features(i):
    return {"author": np.full((2, 4), float(i)), "paper": np.full((3, 4), i + 0.5)}


def _targets(i):
    return {"author": np.array([i, i]), "paper": np.full(3, i / 10)}


def _signal(snapshots=5, **kwargs):
    return StaticHeteroGraphTemporalSignal(
        EDGE_INDEX, EDGE_WEIGHT,
        [_features(i) for i in range(snapshots)], [_targets(i) for i in range(snapshots)], **kwargs,
    )


def test_type_aliases_exist():
    for name in ("Edge_Index", "Edge_Weight", "Node_Features", "Targets", "Additional_Features"):
        assert hasattr(module, name)
    assert hasattr(batch_module, "Batches")


def test_snapshot_is_heterodata_with_upstream_dtypes():
    from torch_geometric.data import HeteroData

    signal = _signal()
    snapshot = signal[3]
    assert signal.snapshot_count == 5 and len(signal) == 5
    assert type(snapshot) is HeteroData
    assert sorted(snapshot.node_types) == ["author", "paper"]
    assert snapshot["author"].x.dtype == torch.float and snapshot["paper"].x.shape == (3, 4)
    assert torch.equal(snapshot["paper"].x, torch.full((3, 4), 3.5))
    # integer targets become long, floating targets float32 (as upstream)
    assert snapshot["author"].y.dtype == torch.long and torch.equal(snapshot["author"].y, torch.tensor([3, 3]))
    assert snapshot["paper"].y.dtype == torch.float
    assert snapshot[WRITES].edge_index.dtype == torch.long
    assert torch.equal(snapshot[WRITES].edge_index, torch.tensor(EDGE_INDEX[WRITES]))
    assert torch.equal(snapshot[CITES].edge_attr, torch.tensor([3.0, 4.0]))


def test_none_entries_skip_attributes():
    features = [_features(0), None, {"author": np.ones((2, 4)), "paper": None}]
    signal = StaticHeteroGraphTemporalSignal(EDGE_INDEX, None, features, [None, _targets(1), None])
    assert "x" not in signal[1]["author"] and torch.equal(signal[1]["author"].y, torch.tensor([1, 1]))
    assert "x" in signal[2]["author"] and "x" not in signal[2]["paper"]
    assert "y" not in signal[0]["paper"]
    assert "edge_attr" not in signal[0][WRITES]
    empty = StaticHeteroGraphTemporalSignal(None, None, [None], [None])[0]
    assert empty.node_types == [] and empty.edge_types == []


def test_additional_features_keep_upstream_types():
    mask = [{"paper": np.array([True, False, True]), "author": np.array([1.5, 2.5])} for _ in range(5)]
    signal = _signal(mask=mask, edge_time=[{WRITES: np.arange(3)}] * 5)
    snapshot = signal[0]
    # boolean arrays pass through unchanged, as upstream does
    assert isinstance(snapshot["paper"].mask, np.ndarray) and snapshot["paper"].mask.dtype == np.bool_
    assert snapshot["author"].mask.dtype == torch.float
    assert torch.equal(snapshot[WRITES].edge_time, torch.arange(3))
    assert signal.additional_feature_keys == ["mask", "edge_time"]


def test_slicing_iteration_and_split():
    signal = _signal(snapshots=10, extra=[{"paper": np.full(3, i)} for i in range(10)])
    part = signal[2:5]
    assert type(part) is StaticHeteroGraphTemporalSignal and part.snapshot_count == 3
    assert torch.equal(part[0]["paper"].extra, torch.full((3,), 2))
    assert torch.equal(signal[-1]["author"].x, signal[9]["author"].x)
    xs = [snapshot["author"].x[0, 0].item() for snapshot in signal]
    assert xs == list(range(10)) and len([s for s in signal]) == 10
    train, test = temporal_signal_split(signal, train_ratio=0.8)
    assert (train.snapshot_count, test.snapshot_count) == (8, 2)
    assert type(test) is StaticHeteroGraphTemporalSignal
    assert torch.equal(test[0]["paper"].y, signal[8]["paper"].y)
    with pytest.raises(IndexError):
        signal[10]


def test_batch_snapshot_carries_batch_vectors():
    batch = {"author": np.array([0, 1]), "paper": np.array([0, 0, 1])}
    signal = StaticHeteroGraphTemporalSignalBatch(
        EDGE_INDEX, EDGE_WEIGHT, [_features(i) for i in range(4)], [_targets(i) for i in range(4)], batch
    )
    snapshot = signal[1]
    assert type(snapshot).__name__ == "HeteroDataBatch"
    assert torch.equal(snapshot["paper"].batch, torch.tensor([0, 0, 1]))
    assert torch.equal(snapshot["author"].x, torch.ones(2, 4))
    part = signal[1:]
    assert type(part) is StaticHeteroGraphTemporalSignalBatch and part.snapshot_count == 3
    assert torch.equal(part[0]["author"].batch, torch.tensor([0, 1]))
    train, test = temporal_signal_split(signal, 0.5)
    assert type(train) is StaticHeteroGraphTemporalSignalBatch and test.snapshot_count == 2


@pytest.mark.parametrize(
    "args, match",
    [
        ((EDGE_INDEX, None, [_features(0)] * 3, [_targets(0)] * 2), "target_dicts has 2 snapshots"),
        (({WRITES: np.array([0, 1])}, None, [None], [None]), r"shape \(2, E\)"),
        (({("author", "paper"): np.array([[0], [1]])}, None, [None], [None]), "edge type"),
        ((EDGE_INDEX, {WRITES: np.ones(2)}, [None], [None]), r"one weight per edge"),
        ((EDGE_INDEX, {("a", "b", "c"): np.ones(1)}, [None], [None]), "has no edge_index"),
        ((EDGE_INDEX, None, [{"paper": np.zeros((2, 1))}], [None]), "'paper' node 2"),
        ((EDGE_INDEX, None, [{"paper": [[1.0], [1.0, 2.0]]}], [None]), "ragged"),
        ((EDGE_INDEX, None, [np.zeros((3, 1))], [None]), "must be a dict"),
        ((EDGE_INDEX, None, _features(0), [None]), "got a single dict"),
    ],
)
def test_bad_input_raises_value_error(args, match):
    with pytest.raises(ValueError, match=match):
        StaticHeteroGraphTemporalSignal(*args)


def test_bad_additional_and_batch_input():
    with pytest.raises(ValueError, match="extra has 1 snapshots"):
        _signal(snapshots=2, extra=[None])
    with pytest.raises(ValueError, match=r"extra\[0\] must be a dict"):
        _signal(snapshots=1, extra=[np.zeros(3)])
    with pytest.raises(ValueError, match="assigns 2 nodes"):
        StaticHeteroGraphTemporalSignalBatch(
            EDGE_INDEX, None, [_features(0)], [None], {"paper": np.array([0, 1])}
        )


def test_edge_weights_may_have_a_feature_axis_as_upstream_edge_attr():
    # upstream's own tests pass (E, 1) weights: they become the edge type's edge_attr
    weights = {WRITES: np.arange(EDGE_INDEX[WRITES].shape[1], dtype=np.float32)[:, None]}
    signal = StaticHeteroGraphTemporalSignal(EDGE_INDEX, weights, [None], [None])
    assert tuple(signal[0][WRITES].edge_attr.shape) == (EDGE_INDEX[WRITES].shape[1], 1)
    with pytest.raises(ValueError, match="one weight per edge"):
        StaticHeteroGraphTemporalSignal(EDGE_INDEX, {WRITES: np.ones((2, 1, 1))}, [None], [None])
