from typing import Tuple, TypeVar

Signal = TypeVar("Signal")


def temporal_signal_split(data_iterator: Signal, train_ratio: float = 0.8) -> Tuple[Signal, Signal]:
    r"""Chronological train-test split of a temporal signal: the first
    ``int(train_ratio * snapshot_count)`` snapshots train, the rest test.

    Args:
        data_iterator (StaticGraphTemporalSignal or StaticGraphTemporalSignalBatch):
            the signal to split.
        train_ratio (float): share of snapshots for training, in ``(0, 1)``.

    Returns:
        (train_iterator, test_iterator): two signals of the same class.
    """
    if not 0.0 < float(train_ratio) < 1.0:
        raise ValueError(f"train_ratio must lie strictly between 0 and 1, got {train_ratio}.")
    train_snapshots = int(train_ratio * data_iterator.snapshot_count)
    if train_snapshots == 0 or train_snapshots == data_iterator.snapshot_count:
        raise ValueError(
            f"train_ratio={train_ratio} on {data_iterator.snapshot_count} snapshots leaves "
            "an empty train or test split; use a longer signal or another ratio."
        )
    return data_iterator[0:train_snapshots], data_iterator[train_snapshots:]
