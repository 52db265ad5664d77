import json

import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset import WindmillOutputLargeDatasetLoader
from torch_geometric_temporal.dataset.windmill import URL


def test_signal_upstream_shapes(windmill_path):
    loader = WindmillOutputLargeDatasetLoader(raw_data_dir=windmill_path.parent)
    dataset = loader.get_dataset(lags=8)
    assert len(dataset) == 60 - 8
    snapshot = dataset[0]
    assert snapshot.x.shape == (7, 8) and snapshot.y.shape == (7,)
    payload = json.loads(windmill_path.read_text())
    assert snapshot.edge_index.shape == (2, len(payload["edges"]))
    np.testing.assert_allclose(snapshot.edge_attr.numpy(), payload["weights"], rtol=1e-6)


def test_per_windmill_training_statistics(windmill_path):
    loader = WindmillOutputLargeDatasetLoader(raw_data_dir=windmill_path)
    out = loader.get_index_dataset(lags=4, batch_size=8)
    assert len(out) == 7 and out.means.shape == out.stds.shape == (7,)
    block = np.array(json.loads(windmill_path.read_text())["block"])
    span = int(out.train_loader.dataset.starts.max()) + 4
    np.testing.assert_allclose(out.means.numpy(), block[:span].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(out.stds.numpy(), block[:span].std(axis=0) + 1e-10, rtol=1e-5)
    x, y = next(iter(out.train_loader))
    expected = (block[0:4] - block[:span].mean(axis=0)) / (block[:span].std(axis=0) + 1e-10)
    np.testing.assert_allclose(x[0, :, :, 0].numpy(), expected, rtol=1e-4, atol=1e-5)
    assert y.shape == (8, 4, 7, 1)


def test_index_base_and_signal_agree(windmill_path):
    loader = WindmillOutputLargeDatasetLoader(raw_data_dir=windmill_path)
    kwargs = dict(lags=5, num_timesteps_out=1, batch_size=6, shuffle=True, seed=9)
    index, base = loader.get_index_dataset(**kwargs), loader.get_base_dataset(**kwargs)
    for (xi, yi), (xb, yb) in zip(index.train_loader, base.train_loader, strict=True):
        assert torch.equal(xi, xb) and torch.equal(yi, yb)

def test_one_set_of_training_statistics_for_both_paths(windmill_path):
    # upstream's invariant: get_dataset(lags) and get_index_dataset(lags) hold the
    # same values (the statistics were fitted with horizon 1 vs lags before)
    loader = WindmillOutputLargeDatasetLoader(raw_data_dir=windmill_path)
    signal = loader.get_dataset(lags=5)
    out = loader.get_index_dataset(lags=5)
    scaler = loader.training_scaler(loader.read_data(), 5)
    assert torch.equal(out.means, scaler.mean[:, 0]) and torch.equal(out.stds, scaler.std[:, 0])
    x, y = out.train_loader.dataset[[0, 3]]
    assert torch.equal(x[1, :, :, 0].T, signal[3].x) and torch.equal(y[1, 0, :, 0], signal[3].y)
    block = np.array(json.loads(windmill_path.read_text())["block"])
    train_steps = int(out.train_loader.dataset.starts.max()) + 5
    expected = (block[3] - block[:train_steps].mean(0)) / (block[:train_steps].std(0) + 1e-10)
    np.testing.assert_allclose(signal[3].x[:, 0].numpy(), expected, rtol=1e-5, atol=1e-6)


def test_missing_and_broken(tmp_path, windmill_path):
    with pytest.raises(FileNotFoundError) as info:
        WindmillOutputLargeDatasetLoader(raw_data_dir=tmp_path / "none")
    assert "windmill_output.json" in str(info.value) and URL in str(info.value)
    payload = json.loads(windmill_path.read_text())
    payload["weights"] = payload["weights"][:-1]
    windmill_path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="'weights'"):
        WindmillOutputLargeDatasetLoader(raw_data_dir=windmill_path)


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1.0])
def test_non_finite_or_negative_weights_refused(windmill_path, weight):
    payload = json.loads(windmill_path.read_text())
    payload["weights"][2] = weight
    windmill_path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=r"windmill_output\.json 'weights': 1 edge weight\(s\) "
                                         r"are NaN, infinite or negative \(first at 2"):
        WindmillOutputLargeDatasetLoader(raw_data_dir=windmill_path)


@pytest.mark.parametrize("key, row", [("block", [1.0]), ("block", ["1"] * 7),
                                      ("weights", "heavy")])
def test_ragged_or_string_values_name_file_and_key(windmill_path, key, row):
    payload = json.loads(windmill_path.read_text())
    payload[key][1] = row
    windmill_path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=rf"windmill_output\.json: entry '{key}' is not a "
                                         rf"rectangular array of numbers"):
        WindmillOutputLargeDatasetLoader(raw_data_dir=windmill_path)
