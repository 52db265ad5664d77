import logging

import numpy as np
import pytest
import torch
from test_index_batching import _as_source, _series

from torch_geometric_temporal.dataset.index_batching import IndexDataset, materialize_windows
from torch_geometric_temporal.dataset.scaling import Scaler, fit_statistics, standardize_
from torch_geometric_temporal.dataset.windows import WindowSpec, chronological_split, window_starts


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
    train = chronological_split(window_starts(60, 5, 2))[0]
    with pytest.raises(ValueError, match="per must be one of"):
        Scaler.fit(raw, train, WindowSpec(5, 2), per="time")
    with pytest.raises(ValueError, match="weighting must be one of"):
        Scaler.fit(raw, train, WindowSpec(5, 2), weighting="none")
    with pytest.raises(ValueError, match=r"\(N, F\)"):
        Scaler(torch.zeros(2), torch.ones(2), per="node")


# --------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("kind", ["numpy", "torch", "memmap"])
@pytest.mark.parametrize("t_in, stride", [(5, 1), (4, 7), (12, 3)])
def test_fit_statistics_equal_materialized(kind, t_in, stride, tmp_path):
    raw = _series(90, 4, 3, seed=stride)
    data = _as_source(raw, kind, tmp_path)
    train, _, _ = chronological_split(window_starts(90, t_in, 2, stride), (0.6, 0.2, 0.2))
    X = materialize_windows(raw, train, t_in, 0)[0].double()
    ref_mean = X.mean(dim=(0, 1, 2))
    ref_std = X.std(dim=(0, 1, 2), unbiased=False)
    mean, std = fit_statistics(data, train, t_in, dtype=torch.float64)
    assert mean.shape == std.shape == (3,)
    torch.testing.assert_close(mean, ref_mean, rtol=1e-6, atol=0)
    torch.testing.assert_close(std, ref_std, rtol=1e-6, atol=0)
    # the stats must differ from the plain full-series stats (weights matter)
    assert not torch.allclose(mean, torch.from_numpy(raw.astype(np.float64)).mean((0, 1)),
                              rtol=1e-6, atol=0)
    _, std_u = fit_statistics(data, train, t_in, unbiased=True, dtype=torch.float64)
    torch.testing.assert_close(std_u, X.std(dim=(0, 1, 2)), rtol=1e-6, atol=0)
    m32, _ = fit_statistics(data, train, t_in)
    assert m32.dtype == torch.float32


def test_fit_statistics_features_subset_and_constant(caplog):
    raw = _series(40, 3, 3)
    raw[..., 1] = 2.5  # constant feature
    train = window_starts(40, 4, 4)[:20]
    mean, std = fit_statistics(raw, train, 4, features=[0, 2])
    assert mean[1] == 0 and std[1] == 1
    X = materialize_windows(raw, train, 4, 0)[0].double()
    torch.testing.assert_close(mean[[0, 2]].double(), X.mean((0, 1, 2))[[0, 2]], rtol=1e-6, atol=0)
    with caplog.at_level(logging.WARNING):
        _, std = fit_statistics(raw, train, 4)
    assert std[1] == 1 and "constant" in caplog.text


def test_fit_statistics_large_offset_is_stable():
    rng = np.random.default_rng(0)
    raw = (1e4 + rng.standard_normal((80, 3, 1)) * 1e-2).astype(np.float64)
    train = window_starts(80, 6, 2)
    X = materialize_windows(raw, train, 6, 0)[0]
    _, std = fit_statistics(raw, train, 6, dtype=torch.float64)
    torch.testing.assert_close(std, X.std((0, 1, 2), unbiased=False), rtol=1e-6, atol=0)


def test_fit_statistics_nan():
    raw = _series(40, 3, 2)
    raw[5, 1, 0] = np.nan
    raw[7, 2, 1] = np.nan
    train = window_starts(40, 4, 4)[:20]
    with pytest.raises(ValueError, match="2 NaN"):
        fit_statistics(raw, train, 4)
    mean, std = fit_statistics(raw, train, 4, allow_nan=True, dtype=torch.float64)
    X = materialize_windows(raw, train, 4, 0, allow_nan=True)[0].double()
    ref = torch.stack([torch.nanmean(X[..., f]) for f in range(2)])
    torch.testing.assert_close(mean, ref, rtol=1e-6, atol=0)
    assert torch.isfinite(std).all()


# --------------------------------------------------------------------------- standardization
@pytest.mark.parametrize("kind", ["numpy", "torch", "memmap"])
def test_gather_time_standardization_bit_identical(kind, tmp_path):
    raw = _series(64, 4, 3, seed=3)
    starts = window_starts(64, 5, 6, stride=2)
    train, _, _ = chronological_split(starts)
    mean, std = fit_statistics(raw, train, 5, features=[0, 2])
    # base: standardize in place, then materialize
    z = raw.copy()
    assert standardize_(z, mean, std) is z
    X, Y = materialize_windows(z, starts, 5, 6, target_features=[2, 0])
    # index mode with gather-time standardization on an unstandardized source
    ds = IndexDataset(_as_source(raw, kind, tmp_path), starts, 5, 6, target_features=[2, 0],
                      mean=mean, std=std)
    x, y = ds[np.arange(len(ds))[::-1].copy()]
    assert torch.equal(x, X.flip(0)) and torch.equal(y, Y.flip(0))
    # materialize with mean/std gives the same too, and feature 1 is untouched
    X2, _ = materialize_windows(raw, starts, 5, 6, mean=mean, std=std)
    assert torch.equal(X2, X)
    assert np.array_equal(z[..., 1], raw[..., 1])
    # torch in-place standardization gives the same bits as numpy
    t = torch.from_numpy(raw.copy())
    standardize_(t, mean.double(), std.double())  # cast to the data dtype first
    assert np.array_equal(t.numpy(), z)
    np.testing.assert_allclose(z[..., 0], (raw[..., 0] - mean[0].item()) / std[0].item(),
                               rtol=1e-5, atol=1e-5)


def test_standardize_bad_input(tmp_path):
    mm = _as_source(_series(20, 2, 2), "memmap", tmp_path)
    with pytest.raises(ValueError, match="read-only.*gather time"):
        standardize_(mm, torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="F = 2"):
        standardize_(_series(20, 2, 2), torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="floating"):
        standardize_(np.zeros((4, 2, 2), dtype=np.int64), torch.zeros(2), torch.ones(2))


def test_fit_statistics_ignores_rows_outside_training_windows():
    raw = _series(60, 3, 2)
    train = window_starts(60, 3, 2, stride=6)[:5]  # inputs cover [0,3), [6,9), ...
    raw[4, 0, 0] = np.nan  # in no training input window: not an error
    raw[50, 1, 1] = np.nan  # after the training windows
    X = materialize_windows(raw, train, 3, 0, allow_nan=True)[0].double()
    assert not torch.isnan(X).any()
    mean, std = fit_statistics(raw, train, 3, dtype=torch.float64)
    torch.testing.assert_close(mean, X.mean((0, 1, 2)), rtol=1e-6, atol=0)
    torch.testing.assert_close(std, X.std((0, 1, 2), unbiased=False), rtol=1e-6, atol=0)


@pytest.mark.parametrize("kind", ["numpy", "memmap"])
def test_per_node_gather_time_standardization_bit_identical(kind, tmp_path):
    raw = _series(50, 4, 2, seed=5)
    spec = WindowSpec(4, 3, target_features=[1])
    starts = spec.starts(50)
    scaler = Scaler.fit(raw, spec.split(50)[0], spec, per="node")
    assert scaler.mean.shape == (4, 2)
    X, Y = materialize_windows(scaler.transform_(raw.copy()), starts, spec)
    mean, std = scaler.gather_stats()
    ds = IndexDataset(_as_source(raw, kind, tmp_path), starts, spec, mean=mean, std=std)
    x, y = ds[np.arange(len(ds))]
    assert torch.equal(x, X) and torch.equal(y, Y)
    torch.testing.assert_close(scaler.inverse(y), torch.from_numpy(raw[starts[:, None] + np.arange(4, 7)][..., 1:]))
