import json

import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset import ChickenpoxDatasetLoader
from torch_geometric_temporal.dataset.chickenpox import PACKAGE_FILE, URL


@pytest.fixture(scope="module")
def real_fx():
    with open(PACKAGE_FILE) as handle:
        return np.array(json.load(handle)["FX"])


def test_real_file_shapes_and_first_last_windows(real_fx):
    dataset = ChickenpoxDatasetLoader().get_dataset(lags=4)
    assert len(dataset) == 517
    first, last = dataset[0], dataset[516]
    assert first.x.shape == (20, 4) and first.y.shape == (20,)
    assert first.edge_index.shape == (2, 102) and first.edge_attr.shape == (102,)
    assert torch.equal(first.edge_attr, torch.ones(102))
    assert first.edge_index[:, 0].tolist() == [0, 10]
    assert first.edge_index[:, -1].tolist() == [19, 17]
    # upstream semantics: x = FX[i:i+lags].T, y = FX[i+lags]
    assert first.x[:3, 0].tolist() == pytest.approx([-0.0010813572438314102,
                                                     -0.7111360851371564, -3.2280851520444855])
    assert first.y[:3].tolist() == pytest.approx([0.7105655362755345, -0.07246925223715699,
                                                  2.6099444526967375])
    assert last.x[-3:, 0].tolist() == pytest.approx([0.36586652801066816, 3.1644532692878142,
                                                     0.43844544189289225])
    assert last.y[-3:].tolist() == pytest.approx([0.45693984912560276, 0.743702631947196,
                                                  1.0037587824488714])
    np.testing.assert_allclose(last.x.numpy(), real_fx[516:520].T, rtol=1e-6)


def test_upstream_positional_index_argument():
    loader = ChickenpoxDatasetLoader(True)
    assert loader.index is True and loader.path == PACKAGE_FILE


def test_sequence_to_sequence(real_fx):
    dataset = ChickenpoxDatasetLoader().get_dataset(lags=4, num_timesteps_out=3)
    assert len(dataset) == 521 - 4 - 3 + 1
    snapshot = dataset[10]
    assert snapshot.y.shape == (20, 3)
    np.testing.assert_allclose(snapshot.y.numpy(), real_fx[14:17].T, rtol=1e-6)


def test_index_dataset_upstream_tuple_and_windows(real_fx):
    out = ChickenpoxDatasetLoader().get_index_dataset(lags=4, batch_size=8)
    assert len(out) == 5
    train, val, test, edges, weights = out
    assert edges.shape == (2, 102) and edges.dtype == torch.int64 and weights.shape == (102,)
    windows = 521 - 8 + 1  # upstream: T_in = T_out = lags
    assert len(train.dataset) + len(val.dataset) + len(test.dataset) == windows
    x, y = next(iter(test))
    start = len(train.dataset) + len(val.dataset)
    assert x.shape == (8, 4, 20, 1) and y.shape == (8, 4, 20, 1)
    np.testing.assert_allclose(x[0, :, :, 0].numpy(), real_fx[start:start + 4], rtol=1e-6)
    np.testing.assert_allclose(y[0, :, :, 0].numpy(), real_fx[start + 4:start + 8], rtol=1e-6)
    stats = ChickenpoxDatasetLoader().get_index_dataset(return_stats=True)
    assert torch.equal(stats.means, torch.zeros(1)) and torch.equal(stats.stds, torch.ones(1))


def test_index_and_base_agree_and_match_signal():
    loader = ChickenpoxDatasetLoader()
    kwargs = dict(lags=4, num_timesteps_out=1, batch_size=16, shuffle=True, seed=5)
    index = loader.get_index_dataset(**kwargs)
    base = loader.get_base_dataset(**kwargs)
    for split in range(3):
        pairs = list(zip(index[split], base[split], strict=True))
        assert len(pairs) == len(index[split])
        for (xi, yi), (xb, yb) in pairs:
            assert torch.equal(xi, xb) and torch.equal(yi, yb)
    # sequential index windows equal the snapshots of get_dataset, window for window
    signal = loader.get_dataset(lags=4)
    x, y = loader.get_index_dataset(lags=4, num_timesteps_out=1, batch_size=600)[0].dataset[
        list(range(5))]
    for i in range(5):
        assert torch.allclose(x[i, :, :, 0].T, signal[i].x.float())
        assert torch.allclose(y[i, 0, :, 0], signal[i].y.float())


def test_distributed_ranks_partition_training_windows():
    loader = ChickenpoxDatasetLoader()
    seen = []
    for rank in range(2):
        train = loader.get_index_dataset(lags=4, batch_size=4, shuffle=True, world_size=2,
                                         ddp_rank=rank, return_stats=True).train_loader
        seen.append(torch.cat([x for x, _ in train]))
    total = len(loader.get_index_dataset(lags=4)[0].dataset)
    assert seen[0].shape[0] == seen[1].shape[0] == (total + 1) // 2


def test_explicit_file_and_folder(chickenpox_path):
    for where in (chickenpox_path, chickenpox_path.parent):
        dataset = ChickenpoxDatasetLoader(raw_data_dir=where).get_dataset(lags=3)
        assert len(dataset) == 40 - 3
        assert dataset[0].x.shape == (6, 3)


def test_missing_file_offline_names_file_and_url(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        ChickenpoxDatasetLoader(raw_data_dir=tmp_path)
    message = str(info.value)
    assert "chickenpox.json" in message and str(tmp_path) in message and URL in message


def test_broken_files_rejected(tmp_path, chickenpox_path):
    truncated = tmp_path / "cut" / "chickenpox.json"
    truncated.parent.mkdir()
    truncated.write_text(chickenpox_path.read_text()[:500])
    with pytest.raises(ValueError, match="not valid JSON"):
        ChickenpoxDatasetLoader(raw_data_dir=truncated)
    payload = json.loads(chickenpox_path.read_text())
    payload["edges"].append([0, 99])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="outside"):
        ChickenpoxDatasetLoader(raw_data_dir=bad)
    del payload["FX"]
    bad.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="'FX'"):
        ChickenpoxDatasetLoader(raw_data_dir=bad)


def test_bad_arguments():
    loader = ChickenpoxDatasetLoader()
    with pytest.raises(ValueError, match="lags"):
        loader.get_dataset(lags=0)
    with pytest.raises(ValueError, match="dask_batching"):
        loader.get_index_dataset(dask_batching=True)
    with pytest.raises(ValueError, match="mmap"):
        loader.get_loaders(mmap=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_all_gpu():
    train = ChickenpoxDatasetLoader().get_index_dataset(allGPU=0)[0]
    x, y = next(iter(train))
    assert x.is_cuda and y.is_cuda


def test_explicit_window_lengths_override_lags_even_when_zero():
    loader = ChickenpoxDatasetLoader()
    train = loader.get_index_dataset(lags=4, num_timesteps_in=3, num_timesteps_out=2)[0]
    x, y = next(iter(train))
    assert x.shape[1] == 3 and y.shape[1] == 2
    # an explicit 0 is not "unset": it must not silently fall back to lags
    with pytest.raises(ValueError, match="num_timesteps_in"):
        loader.get_index_dataset(lags=4, num_timesteps_in=0)
    x, y = next(iter(loader.get_base_dataset(lags=4, num_timesteps_out=0)[0]))
    assert x.shape[1] == 4 and y.shape[1] == 0


@pytest.mark.parametrize("key, row", [("FX", [1.0, 2.0]), ("FX", ["a"] * 6), ("edges", [0, 1, 2]),
                                      ("edges", ["x", 1])])
def test_ragged_or_string_values_name_file_and_key(tmp_path, chickenpox_path, key, row):
    payload = json.loads(chickenpox_path.read_text())
    payload[key][3] = row
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=rf"bad\.json: entry '{key}' (is not a rectangular "
                                         rf"array of numbers)"):
        ChickenpoxDatasetLoader(raw_data_dir=bad)


def test_directory_instead_of_the_file(tmp_path):
    (tmp_path / "chickenpox.json").mkdir()
    with pytest.raises(IsADirectoryError, match=r"chickenpox\.json is a directory"):
        ChickenpoxDatasetLoader(raw_data_dir=tmp_path, download=True)
