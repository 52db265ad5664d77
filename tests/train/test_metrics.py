import math

import pytest
import torch

from torch_geometric_temporal.train.metrics import (
    MetricAccumulator,
    masked_mae,
    masked_mae_loss,
)


def test_masked_mae_ignores_zero_targets():
    pred = torch.tensor([1.0, 2.0, 5.0, 7.0])
    true = torch.tensor([0.0, 3.0, 0.0, 4.0])
    # only entries 1 and 3 count: (|2-3| + |7-4|) / 2
    assert masked_mae(pred, true) == pytest.approx(2.0)
    assert masked_mae(pred, true, null_value=None) == pytest.approx((1 + 1 + 5 + 3) / 4)


def test_masked_mae_all_masked_is_zero_with_gradient():
    pred = torch.ones(3, requires_grad=True)
    loss = masked_mae_loss(pred, torch.zeros(3))
    loss.backward()
    assert loss.detach().item() == 0.0 and pred.grad is not None


def test_masked_mae_shape_mismatch():
    with pytest.raises(ValueError, match="select the target channel"):
        masked_mae_loss(torch.zeros(2, 3), torch.zeros(3, 2))


def test_accumulator_is_batch_size_independent_and_per_step():
    torch.manual_seed(0)
    pred, true = torch.randn(10, 3, 4), torch.randn(10, 3, 4)
    true[0, 0, 0] = 0.0  # masked
    whole = MetricAccumulator(0.0)
    whole.update(pred, true)
    parts = MetricAccumulator(0.0)
    parts.update(pred[:3], true[:3])
    parts.update(pred[3:], true[3:])
    a, b = whole.compute(), parts.compute()
    for key in ("mae", "rmse", "mape"):
        assert a[key] == pytest.approx(b[key], rel=1e-12)
    mask = true != 0
    err = (pred - true).abs()[mask]
    assert a["mae"] == pytest.approx(float(err.double().mean()), rel=1e-6)
    assert a["count"] == int(mask.sum())
    assert a["rmse"] == pytest.approx(float(((pred - true)[mask].double() ** 2).mean().sqrt()), rel=1e-6)
    step0 = ((pred - true).abs()[:, 0][mask[:, 0]]).double().mean()
    assert a["mae_per_step"][0] == pytest.approx(float(step0), rel=1e-6)
    assert len(a["mae_per_step"]) == 3


def test_accumulator_mape_and_empty():
    acc = MetricAccumulator(None)
    assert math.isnan(acc.compute()["mae"])
    acc.update(torch.tensor([[2.0, 3.0]]), torch.tensor([[4.0, 3.0]]))
    m = acc.compute()
    assert m["mape"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert m["mae_per_step"] == pytest.approx([2.0, 0.0])


def test_accumulator_tracks_the_mean_loss_on_request():
    acc = MetricAccumulator(None, track_loss=True)
    for v in (1.0, 2.0, 6.0):
        acc.update(torch.full((2, 3), v), torch.zeros(2, 3))
        acc.update_loss(torch.tensor(v, dtype=torch.float32))
    assert acc.compute()["loss"] == pytest.approx(3.0) and acc.batches == 3
    assert math.isnan(MetricAccumulator(None, track_loss=True).compute()["loss"])
    plain = MetricAccumulator(None)
    assert "loss" not in plain.compute()
    with pytest.raises(ValueError, match="track_loss=True"):
        plain.update_loss(torch.tensor(1.0))
