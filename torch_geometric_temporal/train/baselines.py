r"""Reference forecasts that a trained model has to beat.

* **Last value** (persistence): every horizon step of a window is forecast as
  the last observed input value of the same node,
  :math:`\hat y_{s+T_{in}+h} = y_{s+T_{in}-1}`.
* **Historical average** (HA): for each node and time-of-day slot (e.g. 288
  five-minute slots a day), the mean of the non-missing training values in
  that slot; a target at time :math:`t` is forecast as the average of its
  node's slot :math:`\text{slot}(t)`. Fitted on the time steps the training
  windows read as input only (never the validation/test period). A slot with
  no training value falls back to the node's training mean (then to the
  global training mean). With the 7 real METR-LA days this averages about 5
  values per slot and node.

Both work on the raw ``(T, N)`` target series and window starts, so they see
exactly the windows of :meth:`~torch_geometric_temporal.dataset.windows.WindowSpec.split`.
"""
from typing import Dict, Optional, Union

import numpy as np
import torch

from torch_geometric_temporal.dataset.windows import WindowSpec
from torch_geometric_temporal.train.metrics import MetricAccumulator

__all__ = [
    "window_targets",
    "last_value_forecast",
    "HistoricalAverage",
    "time_of_day_slots",
    "score_forecast",
]


def _check_series(series: np.ndarray) -> np.ndarray:
    series = np.asarray(series)
    if series.ndim != 2:
        raise ValueError(
            f"Expected a (T, N) series of the target channel, got shape {series.shape}; "
            "pass data[..., 0] for a (T, N, F) array."
        )
    return series


def _windows(series: np.ndarray, starts: np.ndarray, num_timesteps_in: Union[WindowSpec, int],
             num_timesteps_out: Optional[int]):
    series = _check_series(series)
    spec = WindowSpec.of(num_timesteps_in, num_timesteps_out)
    return series, spec.check(starts, series.shape[0], allow_empty=True), spec


def window_targets(series: np.ndarray, starts: np.ndarray, num_timesteps_in: Union[WindowSpec, int],
                   num_timesteps_out: Optional[int] = None) -> np.ndarray:
    r"""Targets ``(S, T_out, N)`` of the windows starting at ``starts``.

    Args:
        series (numpy.ndarray): ``(T, N)`` target series.
        starts (numpy.ndarray): window starts ``(S,)``.
        num_timesteps_in (WindowSpec or int): the window, or its input length.
        num_timesteps_out (int, optional): output length (with an int
            ``num_timesteps_in``).
    """
    series, starts, spec = _windows(series, starts, num_timesteps_in, num_timesteps_out)
    idx = starts[:, None] + spec.num_timesteps_in + np.arange(spec.num_timesteps_out)[None, :]
    return series[idx]


def last_value_forecast(series: np.ndarray, starts: np.ndarray, num_timesteps_in: Union[WindowSpec, int],
                        num_timesteps_out: Optional[int] = None) -> np.ndarray:
    r"""Persistence forecast ``(S, T_out, N)``: the last input step repeated
    (arguments as :func:`window_targets`)."""
    series, starts, spec = _windows(series, starts, num_timesteps_in, num_timesteps_out)
    last = series[starts + spec.num_timesteps_in - 1]  # (S, N)
    return np.repeat(last[:, None, :], spec.num_timesteps_out, axis=1)


def time_of_day_slots(time_of_day: np.ndarray, steps_per_day: int = 288) -> np.ndarray:
    r"""Slot index in ``[0, steps_per_day)`` of each time-of-day fraction in
    ``[0, 1)`` (the METR-LA / PeMS feature 1)."""
    tod = np.asarray(time_of_day, dtype=np.float64)
    return np.rint(tod * steps_per_day).astype(np.int64) % steps_per_day


class HistoricalAverage:
    r"""Per-node, per-time-of-day-slot mean of the training values.

    Args:
        steps_per_day (int): slots per day (``288`` for 5-minute data).
        null_value (float, optional): value meaning "missing" (left out of the
            means); ``None`` to use every value. (default: ``0.0``)
    """

    def __init__(self, steps_per_day: int = 288, null_value: Optional[float] = 0.0):
        if steps_per_day < 1:
            raise ValueError(f"steps_per_day must be >= 1, got {steps_per_day}.")
        self.steps_per_day = int(steps_per_day)
        self.null_value = null_value
        self.table: Optional[np.ndarray] = None
        self.counts: Optional[np.ndarray] = None

    def fit(self, series: np.ndarray, slots: np.ndarray) -> "HistoricalAverage":
        r"""Fit on a training series ``(T, N)`` with slots ``(T,)``."""
        series = _check_series(series).astype(np.float64)
        slots = np.asarray(slots, dtype=np.int64)
        if slots.shape != (series.shape[0],):
            raise ValueError(f"slots must have shape ({series.shape[0]},), got {slots.shape}.")
        valid = np.isfinite(series)
        if self.null_value is not None:
            valid &= series != self.null_value
        values = np.where(valid, series, 0.0)
        S, N = self.steps_per_day, series.shape[1]
        sums = np.zeros((S, N))
        counts = np.zeros((S, N))
        np.add.at(sums, slots, values)
        np.add.at(counts, slots, valid.astype(np.float64))
        node_count = counts.sum(0)
        node_mean = np.divide(sums.sum(0), node_count, out=np.zeros(N), where=node_count > 0)
        global_mean = sums.sum() / max(counts.sum(), 1.0)
        node_mean = np.where(node_count > 0, node_mean, global_mean)
        self.table = np.where(counts > 0, sums / np.maximum(counts, 1.0), node_mean[None, :])
        self.counts = counts
        return self

    def predict(self, slots: np.ndarray) -> np.ndarray:
        r"""Forecasts ``(*slots.shape, N)`` for target slots of any shape."""
        if self.table is None:
            raise RuntimeError("HistoricalAverage.predict before fit(); call fit(train_series, slots).")
        return self.table[np.asarray(slots, dtype=np.int64) % self.steps_per_day]


def score_forecast(pred: np.ndarray, true: np.ndarray, null_value: Optional[float] = 0.0) -> Dict[str, object]:
    r"""Masked MAE / RMSE / MAPE (overall and per horizon) of ``(S, T_out, N)``
    forecasts, computed exactly as the trainer computes model metrics."""
    acc = MetricAccumulator(null_value)
    acc.update(torch.as_tensor(np.asarray(pred, dtype=np.float64)), torch.as_tensor(np.asarray(true, dtype=np.float64)))
    return acc.compute()
