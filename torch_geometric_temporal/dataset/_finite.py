r"""Finite-value checks of a traffic series that reads it in row blocks:
:class:`FiniteSensorScan` accumulates, block by block, the non-finite count
and the sensors that never had a finite reading, so the in-memory read and
the chunked ``.npy`` conversion raise the same error."""
from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["FiniteSensorScan", "check_finite_sensors"]


class FiniteSensorScan:
    r"""The state of :func:`check_finite_sensors` across row blocks of a
    ``(T, N, ...)`` series read piece by piece (e.g. while converting it out
    of core): :meth:`update` each block in order, then :meth:`check`.

    Args:
        num_nodes (int): ``N``, the sensors (axis 1 of every block).
    """

    def __init__(self, num_nodes: int):
        self.num_nodes = num_nodes
        self.any_finite = np.zeros(num_nodes, dtype=bool)
        self.bad_count = 0

    def update(self, block: np.ndarray) -> None:
        r"""Add the rows of :obj:`block` (``(n, N, ...)``)."""
        block = np.asarray(block)
        finite = np.isfinite(block)
        if block.ndim > 2:
            finite = finite.reshape(finite.shape[0], self.num_nodes, -1).all(axis=2)
        self.any_finite |= finite.any(axis=0)
        self.bad_count += int((~finite).sum())

    def check(self, name: str, sensor_ids: Optional[Sequence[Any]] = None) -> None:
        r"""Raise what :func:`check_finite_sensors` raises for the rows seen."""
        dead = np.flatnonzero(~self.any_finite)
        if dead.size:
            labels = dead[:10].tolist()
            if sensor_ids is not None:
                labels = [sensor_ids[i] for i in labels]
            raise ValueError(
                f"{name}: {dead.size} sensor(s) have no finite reading at all (NaN-only), e.g. "
                f"{'ids' if sensor_ids is not None else 'columns'} {labels}. Drop them from both "
                f"the speed file and the adjacency, or fill them (DCRNN stores missing speeds "
                f"as 0)."
            )
        if self.bad_count:
            raise ValueError(
                f"{name}: {self.bad_count} reading(s) are NaN/inf. Fill them before loading "
                f"(DCRNN stores missing speeds as 0, e.g. df.fillna(0.0))."
            )


def check_finite_sensors(values: np.ndarray, name: str, chunk: int = 4096,
                         sensor_ids: Optional[Sequence[Any]] = None) -> None:
    r"""Reject sensors (axis 1 of a ``(T, N, ...)`` array) without any finite
    reading, and any non-finite value, scanning :obj:`chunk` steps at a time
    (so a memory-mapped file is never loaded whole; see
    :class:`FiniteSensorScan` for series read in pieces).

    Raises:
        ValueError: naming the offending sensors and how to fix the file.
    """
    scan = FiniteSensorScan(values.shape[1])
    for start in range(0, values.shape[0], chunk):
        scan.update(values[start:start + chunk])
    scan.check(name, sensor_ids=sensor_ids)


# --------------------------------------------------------------------------- pickle
