import importlib
from typing import Any, Tuple, TypeVar, Union

Signal = TypeVar("Signal")

# (module, class) of every discrete signal type, as in upstream's Discrete_Signal
_SIGNAL_TYPES = [
    ("static_graph_temporal_signal", "StaticGraphTemporalSignal"),
    ("static_graph_temporal_signal_batch", "StaticGraphTemporalSignalBatch"),
    ("dynamic_graph_temporal_signal", "DynamicGraphTemporalSignal"),
    ("dynamic_graph_temporal_signal_batch", "DynamicGraphTemporalSignalBatch"),
    ("dynamic_graph_static_signal", "DynamicGraphStaticSignal"),
    ("dynamic_graph_static_signal_batch", "DynamicGraphStaticSignalBatch"),
    ("static_hetero_graph_temporal_signal", "StaticHeteroGraphTemporalSignal"),
    ("static_hetero_graph_temporal_signal_batch", "StaticHeteroGraphTemporalSignalBatch"),
    ("dynamic_hetero_graph_temporal_signal", "DynamicHeteroGraphTemporalSignal"),
    ("dynamic_hetero_graph_temporal_signal_batch", "DynamicHeteroGraphTemporalSignalBatch"),
    ("dynamic_hetero_graph_static_signal", "DynamicHeteroGraphStaticSignal"),
    ("dynamic_hetero_graph_static_signal_batch", "DynamicHeteroGraphStaticSignalBatch"),
]


def _discrete_signal() -> Any:
    classes = tuple(
        getattr(importlib.import_module(f"torch_geometric_temporal.signal.{module}"), name)
        for module, name in _SIGNAL_TYPES
    )
    return Union[classes]


def __getattr__(name: str) -> Any:
    # ``Discrete_Signal`` (upstream's alias: the union of the twelve signal
    # classes) is built on first access, so that this module imports none of
    # the signal modules.
    if name == "Discrete_Signal":
        value = _discrete_signal()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def temporal_signal_split(data_iterator: Signal, train_ratio: float = 0.8) -> Tuple[Signal, Signal]:
    r"""Chronological train-test split of a temporal signal: the first
    ``int(train_ratio * snapshot_count)`` snapshots train, the rest test.

    Works for every signal type (static, dynamic and heterogeneous graphs,
    with or without batches: any member of ``Discrete_Signal``, or any object
    with ``snapshot_count`` (or ``len``) and slice indexing); each part is a
    signal of the same class, sliced as ``data_iterator[0:n]`` and
    ``data_iterator[n:]``, carrying the additional (keyword) features along.

    Args:
        data_iterator (Discrete_Signal): the signal to split, e.g. a
            :class:`StaticGraphTemporalSignal`, :class:`DynamicGraphTemporalSignal`,
            :class:`DynamicGraphStaticSignal`, :class:`StaticHeteroGraphTemporalSignal`,
            :class:`DynamicHeteroGraphTemporalSignal`,
            :class:`DynamicHeteroGraphStaticSignal` or one of their ``Batch`` variants.
        train_ratio (float): share of snapshots for training, in ``(0, 1)``.

    Returns:
        (train_iterator, test_iterator): two signals of the same class as
        ``data_iterator``, with ``n`` and ``snapshot_count - n`` snapshots.

    Raises:
        ValueError: when ``train_ratio`` is not strictly between 0 and 1 or
            leaves an empty train or test part.
        TypeError: when ``data_iterator`` is not a sliceable signal.
    """
    if not 0.0 < float(train_ratio) < 1.0:
        raise ValueError(f"train_ratio must lie strictly between 0 and 1, got {train_ratio}.")
    count = getattr(data_iterator, "snapshot_count", None)
    if count is None:
        if not hasattr(data_iterator, "__len__") or not hasattr(data_iterator, "__getitem__"):
            raise TypeError(
                "temporal_signal_split needs a temporal signal (with snapshot_count and slice "
                f"indexing), got {type(data_iterator).__name__}."
            )
        count = len(data_iterator)
    train_snapshots = int(train_ratio * count)
    if train_snapshots == 0 or train_snapshots == count:
        raise ValueError(
            f"train_ratio={train_ratio} on {count} snapshots leaves "
            "an empty train or test split; use a longer signal or another ratio."
        )
    return data_iterator[0:train_snapshots], data_iterator[train_snapshots:]
