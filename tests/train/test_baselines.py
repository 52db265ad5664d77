import numpy as np
import pytest

from torch_geometric_temporal.dataset.windows import WindowSpec
from torch_geometric_temporal.train.baselines import (
    HistoricalAverage,
    last_value_forecast,
    score_forecast,
    time_of_day_slots,
    window_targets,
)


def test_last_value_and_targets():
    series = np.arange(20, dtype=float).reshape(10, 2)  # value = 2 t + n
    starts = np.array([0, 3])
    pred = last_value_forecast(series, starts, 2, 3)
    true = window_targets(series, starts, 2, 3)
    assert pred.shape == true.shape == (2, 3, 2)
    assert np.array_equal(pred[1, :, 1], [9, 9, 9])  # t = 4, n = 1
    assert np.array_equal(true[1, :, 1], [11, 13, 15])  # t = 5, 6, 7
    m = score_forecast(pred, true, None)
    assert m["mae_per_step"] == pytest.approx([2, 4, 6])
    with pytest.raises(ValueError, match=r"\(T, N\)"):
        last_value_forecast(series[..., None], starts, 2, 3)


def test_historical_average_slots_missing_and_fallback():
    series = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, 0.0], [4.0, 7.0]])
    slots = np.array([0, 1, 0, 1])
    ha = HistoricalAverage(steps_per_day=3, null_value=0.0).fit(series, slots)
    assert np.allclose(ha.predict(np.array([0, 1])), [[2.0, 6.0], [3.0, 6.0]])  # node 1 slot 0: fallback
    assert np.allclose(ha.predict(np.array([2])), [[2.5, 6.0]])  # empty slot -> node means
    assert ha.counts[0, 1] == 0


def test_time_of_day_slots():
    tod = np.array([0.0, 1 / 288, 287 / 288, 0.99999])
    assert time_of_day_slots(tod).tolist() == [0, 1, 287, 0]


def test_baselines_take_a_window_spec_and_check_starts():
    series = np.arange(20, dtype=float).reshape(10, 2)
    spec = WindowSpec(2, 3)
    assert np.array_equal(window_targets(series, [0, 3], spec), window_targets(series, [0, 3], 2, 3))
    assert np.array_equal(last_value_forecast(series, [0, 3], spec), last_value_forecast(series, [0, 3], 2, 3))
    with pytest.raises(ValueError, match="<= T = 10"):
        window_targets(series, [6], spec)  # 6 + 2 + 3 > 10
