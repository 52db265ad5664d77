import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset.scaling import Scaler, fit_statistics, standardize_
from torch_geometric_temporal.dataset.windows import WindowSpec, chronological_split, window_starts


def _series(T=90, N=4, F=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, N, F)) * [5.0, 0.5][:F] + [60.0, -3.0][:F]).astype(np.float32)


# --------------------------------------------------------------------------- inverse (was train.metrics.StandardScaler)
def test_scaler_per_feature_per_node_and_identity():
    x = torch.ones(2, 3, 4)
    assert torch.equal(Scaler.identity_for(2).inverse(x, 0), x)
    feat = Scaler(torch.tensor([50.0, 0.5]), torch.tensor([10.0, 0.3]))
    assert torch.allclose(feat.inverse(x, 0), torch.full_like(x, 60.0))
    node = Scaler(torch.arange(4.0)[:, None], torch.full((4, 1), 2.0), per="node")
    assert torch.allclose(node.inverse(x, 0)[0, 0], torch.tensor([2.0, 3.0, 4.0, 5.0]))
    assert torch.allclose(node.transform(node.inverse(x, 0), 0), x)
    with pytest.raises(ValueError, match="both mean and std"):
        Scaler(torch.zeros(2), None)


def test_scaler_moves_its_statistics_to_the_device_once(monkeypatch):
    # per batch, a copy of the statistics to the GPU would be a host-to-device copy;
    # "meta" stands in for the device
    moved = []
    real_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        out = real_to(self, *args, **kwargs)
        if out is not self and self.device.type == "cpu" and out.device.type != "cpu":
            moved.append(tuple(self.shape))
        return out

    scaler = Scaler(torch.tensor([10.0, 0.0]), torch.tensor([2.0, 1.0]))
    monkeypatch.setattr(torch.Tensor, "to", to)
    for _ in range(3):
        assert scaler.inverse(torch.zeros(2, 4, 3, device="meta"), 0).device.type == "meta"
        scaler.transform(torch.zeros(2, 4, 3, device="meta"), 0)
    assert moved == [(), ()]  # mean and std, once
    monkeypatch.undo()
    x = torch.tensor([[1.0, 2.0]])
    assert torch.equal(scaler.inverse(x, 0), x * 2 + 10)
    assert torch.equal(scaler.inverse(x.double(), 0), x.double() * 2 + 10)  # per dtype
    scaler.mean = torch.tensor([0.0, 0.0], dtype=torch.float64)  # a replaced statistic is used
    assert torch.equal(scaler.inverse(x, 0), x * 2)


def test_inverse_of_the_targets_layout_and_target_feature():
    scaler = Scaler(torch.tensor([10.0, 5.0, 1.0]), torch.tensor([2.0, 4.0, 1.0]), target_features=[1, 2])
    y = torch.ones(2, 3, 4, 2)  # (B, T, N, F_y): features 1 and 2
    assert torch.equal(scaler.inverse(y), torch.stack([y[..., 0] * 4 + 5, y[..., 1] + 1], -1))
    assert scaler.target_feature(0) == 1 and scaler.target_feature(1) == 2
    assert Scaler(torch.zeros(3), torch.ones(3)).target_feature(2) == 2
    torch.testing.assert_close(scaler.transform(scaler.inverse(y, [1, 2]), [1, 2]), y)


def test_per_node_windmill_statistics_and_transform_in_place():
    data = _series(40, 5, 1, seed=3)
    train = np.arange(20)
    scaler = Scaler.fit(data, train, WindowSpec(4, 1), per="node", weighting="steps", eps=1e-10)
    assert scaler.mean.shape == (5, 1)
    mean, std = scaler.upstream_stats()
    np.testing.assert_allclose(mean.numpy(), data[:23, :, 0].mean(0), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), data[:23, :, 0].std(0) + 1e-10, rtol=1e-6)
    t_scaler = Scaler.fit(torch.from_numpy(data), train, WindowSpec(4, 1), per="node", weighting="steps", eps=1e-10)
    assert torch.equal(t_scaler.mean, scaler.mean) and torch.equal(t_scaler.std, scaler.std)
    z = scaler.transform_(torch.from_numpy(data.copy()))
    ref = torch.from_numpy(data.copy()).sub_(mean[:, None]).div_(std[:, None])  # upstream Windmill arithmetic
    assert torch.equal(z, ref)


def test_fit_equals_fit_statistics_and_state_round_trip():
    raw = _series()
    spec = WindowSpec(5, 2, target_features=[0])
    train = spec.split(raw.shape[0])[0]
    scaler = Scaler.fit(raw, train, spec)
    mean, std = fit_statistics(raw, train, 5)
    assert torch.equal(scaler.mean, mean) and torch.equal(scaler.std, std)
    a, b = raw.copy(), raw.copy()
    assert torch.equal(torch.from_numpy(scaler.transform_(a)), torch.from_numpy(standardize_(b, mean, std)))
    back = Scaler.from_state_dict(scaler.state_dict())
    assert back.target_features == (0,) and torch.equal(back.mean, scaler.mean) and back.per == "feature"
    assert Scaler.identity_for(2).transform_(raw) is raw


def test_bad_arguments():
    raw = _series()
    train = chronological_split(window_starts(90, 5, 2))[0]
    with pytest.raises(ValueError, match="per must be one of"):
        Scaler.fit(raw, train, WindowSpec(5, 2), per="time")
    with pytest.raises(ValueError, match="weighting must be one of"):
        Scaler.fit(raw, train, WindowSpec(5, 2), weighting="none")
    with pytest.raises(ValueError, match=r"\(N, F\)"):
        Scaler(torch.zeros(2), torch.ones(2), per="node")
