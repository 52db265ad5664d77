import pytest
import torch

from torch_geometric_temporal.dataset import PemsDatasetLoader, synthetic
from torch_geometric_temporal.dataset.pems import URLS

pytest.importorskip("tables")


def test_index_dataset(pems_dir):
    loader = PemsDatasetLoader(raw_data_dir=pems_dir, download=False)
    train, val, test, edges, weights, means, stds = loader.get_index_dataset(
        lags=4, batch_size=5, ratio=(0.6, 0.2, 0.2))
    x, y = next(iter(val))
    assert x.shape == (5, 4, 11, 2) and y.shape == (5, 4, 11, 2)
    starts = [len(loader_.dataset) for loader_ in (train, val, test)]
    assert sum(starts) == 200 - 8 + 1 and starts[0] == round(193 * 0.6)
    assert edges.shape[0] == 2 and weights.dtype == torch.float32
    assert means.shape == (2,) and 0.0 < float(means[1]) < 1.0


def test_base_and_mmap_index_agree(pems_dir):
    loader = PemsDatasetLoader(raw_data_dir=pems_dir)
    base = loader.get_base_dataset(lags=4, batch_size=50, mmap=True)
    index = loader.get_index_dataset(lags=4, batch_size=50, mmap=True)
    for (xb, yb), (xi, yi) in zip(base.train_loader, index.train_loader, strict=True):
        assert torch.equal(xb, xi) and torch.equal(yb, yi)


def test_missing_offline(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        PemsDatasetLoader(raw_data_dir=tmp_path)
    assert "pems_cali_adj_mat.pkl" in str(info.value)
    assert URLS["pems_cali_adj_mat.pkl"] in str(info.value)


def test_pgti_file_names(tmp_path):
    """PGT-I's ``adj_mx_pems.pkl`` + ``pems.h5`` load like upstream's names."""
    synthetic.write_dcrnn_hdf5(tmp_path, "adj_mx_pems.pkl", "pems.h5", num_timesteps=60,
                               num_nodes=5, seed=3)
    loader = PemsDatasetLoader(raw_data_dir=tmp_path)
    assert loader.adj_path.name == "adj_mx_pems.pkl" and loader.speed_path.name == "pems.h5"
    assert loader.read_data().shape == (60, 5, 2)


def test_missing_offline_names_pgti_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'adj_mx_pems.pkl' \+ 'pems.h5'"):
        PemsDatasetLoader(raw_data_dir=tmp_path)
