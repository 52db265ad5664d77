"""Indexing and iteration shared by the temporal signal classes."""
from typing import Union

import numpy as np


class SignalBase:
    r"""Mixin giving a temporal signal integer and slice indexing, iteration,
    ``len`` and a ``repr``.

    Subclasses set ``self.snapshot_count`` and implement ``_snapshot(t)``
    (the snapshot at a non-negative index ``t``) and ``_slice(s)`` (a signal
    of the same class over the snapshots selected by the slice ``s``).
    """

    snapshot_count: int = 0
    t: int = 0

    def _snapshot(self, time_index: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _slice(self, time_index: slice):  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, time_index: Union[int, slice]):
        if isinstance(time_index, slice):
            return self._slice(time_index)
        if not isinstance(time_index, (int, np.integer)) or isinstance(time_index, bool):
            raise TypeError(
                f"snapshot index must be an int or a slice, got {type(time_index).__name__}."
            )
        if not -self.snapshot_count <= time_index < self.snapshot_count:
            raise IndexError(
                f"snapshot index {time_index} out of range for {self.snapshot_count} snapshots."
            )
        return self._snapshot(int(time_index) % self.snapshot_count)

    def __len__(self) -> int:
        return self.snapshot_count

    def __next__(self):
        if self.t < self.snapshot_count:
            snapshot = self[self.t]
            self.t = self.t + 1
            return snapshot
        self.t = 0
        raise StopIteration

    def __iter__(self):
        self.t = 0
        return self

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(snapshot_count={self.snapshot_count})"
