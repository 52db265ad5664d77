import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset import loader_base
from torch_geometric_temporal.dataset.loader_base import WindowedDatasetLoader
from torch_geometric_temporal.dataset.scaling import Scaler
from torch_geometric_temporal.dataset.windows import WindowSpec

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _series(T=80, N=4, F=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, N, F)) * [5.0, 0.5] + [60.0, -3.0]).astype(np.float32)


class Toy(WindowedDatasetLoader):
    supports_mmap = True

    def __init__(self, path):
        self.path = path

    def read_data(self, mmap=False):
        return np.load(self.path, mmap_mode="r") if mmap else np.load(self.path)

    def read_graph(self):
        return torch.tensor([[0, 1], [1, 2]]), torch.ones(2)


@pytest.fixture
def toy(tmp_path):
    np.save(tmp_path / "series.npy", _series())
    return Toy(tmp_path / "series.npy")


@pytest.mark.parametrize("mmap", [False, True])
def test_device_given_statistics_and_standardization_run_there(toy, monkeypatch, mmap):
    # -g promises preprocessing on the GPU: the raw series moves first, then the
    # statistics are fitted and the series standardized on the device ("meta" stands
    # in for a GPU; the spies record what each step is given)
    seen = []

    def where(data):
        return data.device.type if isinstance(data, torch.Tensor) else type(data).__name__

    def fit(cls, data, train, window, *args, **kwargs):
        seen.append(("fit", where(data)))
        return Scaler(torch.zeros(2), torch.ones(2))

    def standardize(self, data):
        seen.append(("standardize", where(data)))
        return data

    def loaders(data, splits, *args, mean=None, **kwargs):
        seen.append(("loaders", where(data), mean))
        return None, None, None

    monkeypatch.setattr(Scaler, "fit", classmethod(fit))
    monkeypatch.setattr(Scaler, "transform_", standardize)
    monkeypatch.setattr(loader_base, "make_loaders", loaders)
    toy.get_loaders(num_timesteps_in=4, num_timesteps_out=3, device="meta", mmap=mmap)
    assert seen == [("fit", "meta"), ("standardize", "meta"), ("loaders", "meta", None)]


@pytest.mark.parametrize("mmap", [False, True])
def test_device_cpu_gives_the_batches_and_statistics_of_no_device(toy, mmap):
    kw = dict(num_timesteps_in=4, num_timesteps_out=3, batch_size=8, shuffle=True, seed=1,
              target_features=None, mmap=mmap)
    ref = toy.get_loaders(**kw)
    got = toy.get_loaders(device="cpu", **kw)
    assert torch.equal(ref.means, got.means) and torch.equal(ref.stds, got.stds)
    for a, b in zip(ref[:3], got[:3]):
        for (xa, ya), (xb, yb) in zip(a, b):
            assert torch.allclose(xa, xb, rtol=0, atol=1e-6) and torch.allclose(ya, yb, rtol=0, atol=1e-6)


def test_windmill_statistics_follow_the_data_device():
    from torch_geometric_temporal.dataset.windmill import WindmillOutputLargeDatasetLoader

    loader = WindmillOutputLargeDatasetLoader.__new__(WindmillOutputLargeDatasetLoader)
    data = _series(40, 5, 1, seed=3)[..., :1].copy()
    train = np.arange(20)
    scaler = loader.fit_scaler(data, train, WindowSpec(4, 1))
    mean, std = scaler.upstream_stats()
    np.testing.assert_allclose(mean.numpy(), data[:23, :, 0].mean(0), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), data[:23, :, 0].std(0) + 1e-10, rtol=1e-6)
    t_mean, t_std = loader.fit_scaler(torch.from_numpy(data), train, WindowSpec(4, 1)).upstream_stats()
    assert torch.equal(t_mean, mean) and torch.equal(t_std, std)
    z = scaler.transform_(torch.from_numpy(data.copy()))
    np.testing.assert_allclose(z[..., 0].numpy(), (data[..., 0] - mean.numpy()) / std.numpy(), rtol=1e-5)


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("mmap", [False, True])
def test_gpu_preprocessing_equals_the_cpu_path(toy, mmap):
    kw = dict(num_timesteps_in=4, num_timesteps_out=3, batch_size=8, target_features=None, mmap=mmap)
    ref = toy.get_loaders(**kw)
    got = toy.get_loaders(device="cuda", **kw)
    assert got.means.device.type == "cpu"
    torch.testing.assert_close(ref.means, got.means)
    torch.testing.assert_close(ref.stds, got.stds)
    assert got[0].dataset.data.device.type == "cuda"
    for (xa, ya), (xb, yb) in zip(ref[0], got[0]):
        assert xb.device.type == "cuda"
        torch.testing.assert_close(xa, xb.cpu(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ya, yb.cpu(), rtol=1e-5, atol=1e-5)
