import pickle

import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset import PemsAllLADatasetLoader, synthetic
from torch_geometric_temporal.dataset.pems_all_la import URLS

pd = pytest.importorskip("pandas")
pytest.importorskip("tables")


def test_shapes_and_time_of_day(pems_all_la_dir):
    loader = PemsAllLADatasetLoader(raw_data_dir=pems_all_la_dir, download=False)
    values = loader.read_data()
    assert values.shape == (200, 10, 2) and values.dtype == np.float32
    frame = pd.read_hdf(pems_all_la_dir / "pems_AllLA_speed.h5", "df")
    np.testing.assert_array_equal(values[..., 0], frame.to_numpy(dtype=np.float32))
    np.testing.assert_allclose(values[:3, 0, 1], [0.0, 1 / 288, 2 / 288])
    out = loader.get_index_dataset(lags=6, batch_size=8)
    x, y = next(iter(out.train_loader))
    assert x.shape == (8, 6, 10, 2) and y.shape == (8, 6, 10, 2)
    dataset = loader.get_dataset(num_timesteps_in=6, num_timesteps_out=2)
    assert dataset[0].x.shape == (10, 2, 6) and dataset[0].y.shape == (10, 2)


def test_index_base_mmap_agree(pems_all_la_dir):
    loader = PemsAllLADatasetLoader(raw_data_dir=pems_all_la_dir)
    kwargs = dict(lags=6, batch_size=16, shuffle=True, seed=4)
    index = loader.get_index_dataset(**kwargs)
    base = loader.get_base_dataset(**kwargs)
    mapped = loader.get_index_dataset(mmap=True, **kwargs)
    assert loader.cache_path.is_file()
    for (xi, yi), (xb, yb), (xm, ym) in zip(index.test_loader, base.test_loader,
                                            mapped.test_loader, strict=True):
        assert torch.equal(xi, xb) and torch.equal(yi, yb)
        assert torch.allclose(xi, xm, atol=1e-6) and torch.allclose(yi, ym, atol=1e-6)


def test_dcrnn_layout_with_real_graph(dcrnn_hdf5_dir):
    loader = PemsAllLADatasetLoader(raw_data_dir=dcrnn_hdf5_dir, adj_filename="adj_mx.pkl",
                                    speed_filename="metr-la.h5", num_nodes=207)
    out = loader.get_index_dataset(lags=12, batch_size=4)
    assert out.edges.shape == (2, 1722)
    x, _ = next(iter(out.train_loader))
    assert x.shape == (4, 12, 207, 2)


def test_columns_reordered_to_pickle_order(tmp_path):
    ids = ["b", "a", "c"]
    speeds = np.array([[1.0, 2.0, 3.0]] * 30, dtype=np.float32)
    synthetic.write_adjacency_pickle(tmp_path / "pems_AllLA_adj_mat.pkl", np.eye(3), ids)
    synthetic.write_speed_h5(tmp_path / "pems_AllLA_speed.h5", speeds[:, [1, 0, 2]],
                             ["a", "b", "c"])
    values = PemsAllLADatasetLoader(raw_data_dir=tmp_path).read_data()
    np.testing.assert_array_equal(values[0, :, 0], [1.0, 2.0, 3.0])


def test_missing_offline_names_both_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        PemsAllLADatasetLoader(raw_data_dir=tmp_path)
    assert "pems_AllLA_adj_mat.pkl" in str(info.value)
    assert URLS["pems_AllLA_adj_mat.pkl"] in str(info.value)
    synthetic.write_adjacency_pickle(tmp_path / "pems_AllLA_adj_mat.pkl", np.eye(3))
    with pytest.raises(FileNotFoundError) as info:
        PemsAllLADatasetLoader(raw_data_dir=tmp_path)
    assert URLS["pems_AllLA_speed.h5"] in str(info.value)


class Foreign:
    def __reduce__(self):
        return (print, ("pwned",))


def test_foreign_class_in_pickle_rejected(pems_all_la_dir, capsys):
    path = pems_all_la_dir / "pems_AllLA_adj_mat.pkl"
    with open(path, "wb") as handle:
        pickle.dump([["1"], {"1": 0}, Foreign()], handle)
    loader = PemsAllLADatasetLoader(raw_data_dir=pems_all_la_dir)
    with pytest.raises(ValueError, match="refusing to unpickle global builtins.print"):
        loader.get_index_dataset()
    assert "pwned" not in capsys.readouterr().out


def test_nan_only_sensor_and_mismatch_rejected(pems_all_la_dir):
    loader = PemsAllLADatasetLoader(raw_data_dir=pems_all_la_dir)
    path = pems_all_la_dir / "pems_AllLA_speed.h5"
    frame = pd.read_hdf(path, "df")
    frame.iloc[:, 4] = np.nan
    frame.to_hdf(path, key="df", mode="w")
    with pytest.raises(ValueError, match="NaN-only.*" + str(frame.columns[4])):
        loader.read_data()
    frame.iloc[:, :5].to_hdf(path, key="df", mode="w")
    with pytest.raises(ValueError, match="5 sensor columns but"):
        loader.read_data()
    frame.reset_index(drop=True).to_hdf(path, key="df", mode="w")
    with pytest.raises(ValueError, match="DatetimeIndex"):
        loader.read_data()
    frame.to_hdf(path, key="other", mode="w")
    with pytest.raises(ValueError, match="key 'df'"):
        loader.read_data()


def test_mmap_cache_rewritten_when_pickle_changes(tmp_path):
    import os

    ids = ["a", "b", "c"]
    speeds = np.arange(90, dtype=np.float32).reshape(30, 3) + 10.0
    pkl = synthetic.write_adjacency_pickle(tmp_path / "pems_AllLA_adj_mat.pkl", np.eye(3), ids)
    h5 = synthetic.write_speed_h5(tmp_path / "pems_AllLA_speed.h5", speeds, ids)
    loader = PemsAllLADatasetLoader(raw_data_dir=tmp_path)
    first = loader.read_data(mmap=True)
    np.testing.assert_array_equal(first[0, :, 0], [10.0, 11.0, 12.0])
    # a new pickle fixing another sensor order: the cached copy is stale
    synthetic.write_adjacency_pickle(pkl, np.eye(3), ["c", "a", "b"])
    stamp = os.stat(loader.cache_path).st_mtime + 5
    os.utime(pkl, (stamp, stamp))
    np.testing.assert_array_equal(loader.read_data(mmap=True)[0, :, 0], [12.0, 10.0, 11.0])
    # a pickle with another sensor set, older than the cache (copied with its mtime)
    synthetic.write_adjacency_pickle(pkl, np.eye(2), ["b", "a"])
    synthetic.write_speed_h5(h5, speeds[:, :2], ["a", "b"])
    old = os.stat(loader.cache_path).st_mtime - 5
    os.utime(pkl, (old, old))
    os.utime(h5, (old, old))
    again = loader.read_data(mmap=True)
    assert again.shape == (30, 2, 2)
    np.testing.assert_array_equal(again[0, :, 0], [11.0, 10.0])


def test_mmap_cache_follows_an_older_speed_file_copied_in(pems_all_la_dir):
    import os

    loader = PemsAllLADatasetLoader(raw_data_dir=pems_all_la_dir)
    first = np.array(loader.read_data(mmap=True))
    h5 = pems_all_la_dir / "pems_AllLA_speed.h5"
    ids = loader.read_sensors()[0]
    speeds = synthetic.synthetic_speeds(200, 10, seed=77)
    synthetic.write_speed_h5(h5, speeds, ids)
    old = os.stat(loader.cache_path).st_mtime_ns - 10**10
    os.utime(h5, ns=(old, old))
    mapped, memory = loader.read_data(mmap=True), loader.read_data()
    np.testing.assert_array_equal(memory[..., 0], speeds)
    np.testing.assert_array_equal(mapped, memory)
    assert not np.array_equal(first, memory)


def test_negative_adjacency_weights_refused(pems_all_la_dir):
    adj = np.eye(10)
    adj[4, 1] = -2.0
    ids = PemsAllLADatasetLoader(raw_data_dir=pems_all_la_dir).read_sensors()[0]
    synthetic.write_adjacency_pickle(pems_all_la_dir / "pems_AllLA_adj_mat.pkl", adj, ids)
    with pytest.raises(ValueError, match=r"pems_AllLA_adj_mat\.pkl adjacency: 1 edge "
                                         r"weight\(s\) are NaN, infinite or negative"):
        PemsAllLADatasetLoader(raw_data_dir=pems_all_la_dir).get_index_dataset(lags=4)


def test_directory_instead_of_the_speed_file(tmp_path):
    synthetic.write_adjacency_pickle(tmp_path / "pems_AllLA_adj_mat.pkl", np.eye(2), ["a", "b"])
    (tmp_path / "pems_AllLA_speed.h5").mkdir()
    with pytest.raises(IsADirectoryError, match=r"pems_AllLA_speed\.h5 is a directory"):
        PemsAllLADatasetLoader(raw_data_dir=tmp_path, download=True)


@pytest.mark.parametrize("adj_name", ["adj_mx_pems-all-la.pkl", "adj_mx_all_la.pkl"])
def test_pgti_file_names(tmp_path, adj_name):
    """PGT-I's ``pems-all-la.h5`` with either of its adjacency names loads."""
    synthetic.write_dcrnn_hdf5(tmp_path, adj_name, "pems-all-la.h5", num_timesteps=60,
                               num_nodes=4, seed=2)
    loader = PemsAllLADatasetLoader(raw_data_dir=tmp_path)
    assert (loader.adj_path.name, loader.speed_path.name) == (adj_name, "pems-all-la.h5")
    assert loader.read_data().shape == (60, 4, 2)


def test_pgti_names_found_in_cwd_data(tmp_path, monkeypatch):
    """Without raw_data_dir, PGT-I's files in upstream's ./data are found."""
    monkeypatch.chdir(tmp_path)
    synthetic.write_dcrnn_hdf5(tmp_path / "data", "adj_mx_all_la.pkl", "pems-all-la.h5",
                               num_timesteps=40, num_nodes=3, seed=1)
    assert PemsAllLADatasetLoader().raw_data_dir == tmp_path / "data"
