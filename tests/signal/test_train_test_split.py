import typing

import numpy as np
import pytest
import torch

from torch_geometric_temporal import signal as signal_package
from torch_geometric_temporal.signal import (
    DynamicGraphStaticSignal,
    DynamicGraphStaticSignalBatch,
    DynamicGraphTemporalSignal,
    DynamicGraphTemporalSignalBatch,
    StaticGraphTemporalSignal,
    StaticGraphTemporalSignalBatch,
    temporal_signal_split,
)
from torch_geometric_temporal.signal import train_test_split as split_module

T, N = 10, 4
RNG = np.random.default_rng(0)
EDGES = [RNG.integers(0, N, size=(2, 2 + t)) for t in range(T)]
WEIGHTS = [RNG.random(2 + t) for t in range(T)]
FEATURES = [RNG.random((N, 2)) for _ in range(T)]
TARGETS = [RNG.random(N) for _ in range(T)]
BATCHES = [np.array([0, 0, 1, 1])] * T
EXTRA = [np.full(N, t, dtype=np.int64) for t in range(T)]

SIGNALS = {
    "static": lambda: StaticGraphTemporalSignal(EDGES[0], WEIGHTS[0], FEATURES, TARGETS, extra=EXTRA),
    "static_batch": lambda: StaticGraphTemporalSignalBatch(
        EDGES[0], WEIGHTS[0], FEATURES, TARGETS, BATCHES[0], extra=EXTRA
    ),
    "dynamic": lambda: DynamicGraphTemporalSignal(EDGES, WEIGHTS, FEATURES, TARGETS, extra=EXTRA),
    "dynamic_batch": lambda: DynamicGraphTemporalSignalBatch(
        EDGES, WEIGHTS, FEATURES, TARGETS, BATCHES, extra=EXTRA
    ),
    "dynamic_static": lambda: DynamicGraphStaticSignal(EDGES, WEIGHTS, FEATURES[0], TARGETS, extra=EXTRA),
    "dynamic_static_batch": lambda: DynamicGraphStaticSignalBatch(
        EDGES, WEIGHTS, FEATURES[0], TARGETS, BATCHES, extra=EXTRA
    ),
}


@pytest.mark.parametrize("kind", sorted(SIGNALS))
@pytest.mark.parametrize("ratio,expected", [(0.8, 8), (0.5, 5), (0.25, 2), (0.99, 9)])
def test_split_every_homogeneous_signal(kind, ratio, expected):
    signal = SIGNALS[kind]()
    train, test = temporal_signal_split(signal, train_ratio=ratio)
    assert type(train) is type(signal) and type(test) is type(signal)
    assert (train.snapshot_count, test.snapshot_count) == (expected, T - expected)
    for t in range(expected):
        assert torch.equal(train[t].y, signal[t].y)
    for t in range(T - expected):
        snapshot, original = test[t], signal[expected + t]
        assert torch.equal(snapshot.y, original.y)
        assert torch.equal(snapshot.edge_index, original.edge_index)
        assert torch.equal(snapshot.extra, original.extra)
        if "batch" in kind:
            assert torch.equal(snapshot.batch, original.batch)


def test_default_ratio_is_upstreams():
    train, test = temporal_signal_split(SIGNALS["dynamic"]())
    assert (train.snapshot_count, test.snapshot_count) == (8, 2)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.5, 1.5, 0.05])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match="train_ratio"):
        temporal_signal_split(SIGNALS["dynamic_static"](), train_ratio=ratio)


def test_non_signal_is_a_type_error():
    with pytest.raises(TypeError, match="needs a temporal signal"):
        temporal_signal_split(object(), 0.5)


def test_sequence_without_snapshot_count_splits_by_len():
    train, test = temporal_signal_split(list(range(10)), 0.7)
    assert train == list(range(7)) and test == [7, 8, 9]


def test_discrete_signal_alias_names_all_twelve_classes():
    members = typing.get_args(split_module.Discrete_Signal)
    assert len(members) == 12
    names = {cls.__name__ for cls in members}
    assert {"DynamicGraphTemporalSignal", "DynamicHeteroGraphStaticSignalBatch",
            "StaticHeteroGraphTemporalSignal"} <= names
    for cls in members:
        assert getattr(signal_package, cls.__name__) is cls


# upstream 0.56.2's values of the aliases its star imports leave in
# torch_geometric_temporal.signal (the last module's definition of each name)
UPSTREAM_PACKAGE_ALIASES = {
    "Additional_Features": "typing.Sequence[typing.Optional[typing.Dict[str, numpy.ndarray]]]",
    "Batches": "typing.Sequence[typing.Optional[typing.Dict[str, numpy.ndarray]]]",
    "Edge_Index": "typing.Optional[typing.Dict[typing.Tuple[str, str, str], numpy.ndarray]]",
    "Edge_Indices": "typing.Sequence[typing.Optional[typing.Dict[typing.Tuple[str, str, str], numpy.ndarray]]]",
    "Edge_Weight": "typing.Optional[typing.Dict[typing.Tuple[str, str, str], numpy.ndarray]]",
    "Edge_Weights": "typing.Sequence[typing.Optional[typing.Dict[typing.Tuple[str, str, str], numpy.ndarray]]]",
    "Node_Feature": "typing.Optional[typing.Dict[str, numpy.ndarray]]",
    "Node_Features": "typing.Sequence[typing.Optional[typing.Dict[str, numpy.ndarray]]]",
    "Targets": "typing.Sequence[typing.Optional[typing.Dict[str, numpy.ndarray]]]",
}


def test_package_level_aliases_as_upstream():
    import torch_geometric_temporal

    for name, value in UPSTREAM_PACKAGE_ALIASES.items():
        assert str(getattr(signal_package, name)) == value, name
        assert getattr(torch_geometric_temporal, name) is getattr(signal_package, name)
    assert signal_package.Discrete_Signal is split_module.Discrete_Signal
    namespace = {}
    exec("from torch_geometric_temporal.signal import *", namespace)
    assert {"Discrete_Signal", "temporal_signal_split", *UPSTREAM_PACKAGE_ALIASES} <= set(namespace)
