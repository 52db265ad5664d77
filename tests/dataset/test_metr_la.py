import csv
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset import METRLADatasetLoader, synthetic
from torch_geometric_temporal.dataset._files import load_adjacency_pickle
from torch_geometric_temporal.dataset.metr_la import URL

DATA = Path(__file__).resolve().parents[1] / "data"
LOS_SPEED_CSV = DATA / "los_loop" / "los_speed.csv"


def _batches(loader):
    return [(x, y) for x, y in loader]


def test_synthetic_shapes_and_extraction(metr_la_dir):
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir, download=False)
    assert (metr_la_dir / "adj_mat.npy").is_file() and (metr_la_dir / "node_values.npy").is_file()
    dataset = loader.get_dataset(num_timesteps_in=6, num_timesteps_out=4)
    assert len(dataset) == 300 - 10 + 1
    snapshot = dataset[0]
    assert snapshot.x.shape == (8, 2, 6) and snapshot.y.shape == (8, 4)
    out = loader.get_index_dataset(lags=6, batch_size=16)
    assert len(out) == 7
    train, val, test, edges, weights, means, stds = out
    x, y = next(iter(train))
    assert x.shape == (16, 6, 8, 2) and y.shape == (16, 6, 8, 2)
    assert means.shape == stds.shape == (2,)
    # index-batching: the three splits share one standardized array
    pointers = {split.dataset.data.data_ptr() for split in (train, val, test)}
    assert len(pointers) == 1
    adj = np.load(metr_la_dir / "adj_mat.npy")
    assert edges.shape[1] == np.count_nonzero(adj) == weights.shape[0]


def test_relative_raw_data_dir(metr_la_dir, monkeypatch):
    monkeypatch.chdir(metr_la_dir.parent)
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir.name)
    assert loader.raw_data_dir == metr_la_dir.resolve()


def test_default_dir_honours_env(metr_la_dir, monkeypatch, tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    os.replace(metr_la_dir / "METR-LA.zip", root / "METR-LA.zip")
    (root / "metr_la").mkdir()
    os.replace(root / "METR-LA.zip", root / "metr_la" / "METR-LA.zip")
    monkeypatch.setenv("PGT_DATA_DIR", str(root))
    assert METRLADatasetLoader().raw_data_dir == root / "metr_la"


def test_default_dir_is_upstreams_cwd_data(metr_la_dir, monkeypatch, tmp_path_factory):
    """Upstream reads ``os.path.join(os.getcwd(), "data")``: files there load
    without raw_data_dir (they raised FileNotFoundError before)."""
    cwd = tmp_path_factory.mktemp("cwd")
    (cwd / "data").mkdir()
    os.replace(metr_la_dir / "METR-LA.zip", cwd / "data" / "METR-LA.zip")
    monkeypatch.chdir(cwd)
    loader = METRLADatasetLoader()
    assert loader.raw_data_dir == cwd / "data" and loader.read_data().shape == (300, 8, 2)


def test_index_base_and_signal_agree_window_for_window(metr_la_dir):
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir)
    kwargs = dict(num_timesteps_in=5, num_timesteps_out=3, batch_size=7, shuffle=True, seed=11)
    index, base = loader.get_index_dataset(**kwargs), loader.get_base_dataset(**kwargs)
    assert torch.equal(index.means, base.means) and torch.equal(index.stds, base.stds)
    for split in range(3):
        pairs = list(zip(_batches(index[split]), _batches(base[split]), strict=True))
        assert len(pairs) == len(index[split]) == len(base[split])
        for (xi, yi), (xb, yb) in pairs:
            assert torch.equal(xi, xb) and torch.equal(yi, yb)
    signal = loader.get_dataset(num_timesteps_in=5, num_timesteps_out=3)
    x, y = loader.get_index_dataset(num_timesteps_in=5, num_timesteps_out=3)[0].dataset[
        [0, 1, 100]]
    for row, window in enumerate([0, 1, 100]):
        assert torch.allclose(x[row].permute(1, 2, 0), signal[window].x)
        assert torch.allclose(y[row, :, :, 0].T, signal[window].y)


def test_statistics_come_from_training_windows_only(metr_la_dir):
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir)
    before = loader.get_index_dataset(lags=4)
    values = np.load(metr_la_dir / "node_values.npy")
    values[-50:, :, 0] += 1000.0  # the test period only
    np.save(metr_la_dir / "node_values.npy", values)
    after = loader.get_index_dataset(lags=4)
    assert torch.equal(before.means, after.means) and torch.equal(before.stds, after.stds)
    starts = before.train_loader.dataset.starts.numpy()
    train_inputs = np.stack([values[s:s + 4, :, 0] for s in starts])
    assert float(before.means[0]) == pytest.approx(train_inputs.mean(), rel=1e-5)
    assert float(before.stds[0]) == pytest.approx(train_inputs.std(), rel=1e-4)


def test_mmap_matches_in_memory(metr_la_dir):
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir)
    memory = loader.get_index_dataset(lags=6, batch_size=32)
    mapped = loader.get_index_dataset(lags=6, batch_size=32, mmap=True)
    for (xm, ym), (xr, yr) in zip(_batches(mapped.test_loader), _batches(memory.test_loader), strict=True):
        assert torch.allclose(xm, xr, atol=1e-6) and torch.allclose(ym, yr, atol=1e-6)
    values = np.load(metr_la_dir / "node_values.npy")
    np.save(metr_la_dir / "node_values.npy", values.astype(np.float64))
    as_f64 = loader.get_index_dataset(lags=6, batch_size=32, mmap=True)
    x, _ = next(iter(as_f64.test_loader))
    assert x.dtype == torch.float32  # a float32 copy is mapped
    assert (metr_la_dir / "node_values.float32.npy").is_file()


def test_real_graph_with_synthetic_speeds(metr_la_real_graph_dir):
    loader = METRLADatasetLoader(raw_data_dir=metr_la_real_graph_dir, num_nodes=207)
    train, _, _, edges, weights, _, _ = loader.get_index_dataset(lags=12, batch_size=4)
    adj = np.load(metr_la_real_graph_dir / "adj_mat.npy")
    assert adj.shape == (207, 207) and edges.shape == (2, np.count_nonzero(adj))
    assert edges.shape[1] == 1722
    x, y = next(iter(train))
    assert x.shape == (4, 12, 207, 2) and y.shape == (4, 12, 207, 2)


def test_real_seven_days_of_metr_la_speeds(los_loop_metr_la_dir):
    loader = METRLADatasetLoader(raw_data_dir=los_loop_metr_la_dir, num_nodes=207)
    raw = loader.read_data()
    assert raw.shape == (2016, 207, 2) and raw.dtype == np.float32
    with open(LOS_SPEED_CSV) as handle:
        rows = csv.reader(handle)
        header, first = next(rows), next(rows)
    column = header.index("773869")
    assert raw[0, 0, 0] == pytest.approx(float(first[column]))
    np.testing.assert_allclose(raw[:3, 0, 1], [0.0, 1 / 288, 2 / 288])  # time of day
    dataset = loader.get_dataset()
    assert len(dataset) == 2016 - 24 + 1
    assert dataset[0].x.shape == (207, 2, 12) and dataset[0].y.shape == (207, 12)
    index = loader.get_index_dataset(lags=12, batch_size=64)
    base = loader.get_base_dataset(lags=12, batch_size=64)
    for (xi, yi), (xb, yb) in zip(_batches(index.val_loader), _batches(base.val_loader), strict=True):
        assert torch.equal(xi, xb) and torch.equal(yi, yb)
    assert 40.0 < float(index.means[0]) < 70.0


def test_zip_missing_offline_names_file_dir_and_url(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        METRLADatasetLoader(raw_data_dir=tmp_path)
    message = str(info.value)
    for part in ("METR-LA.zip", str(tmp_path), URL, "adj_mat.npy", "node_values.npy"):
        assert part in message
    with pytest.raises(FileNotFoundError, match="METR-LA.zip"):
        METRLADatasetLoader(raw_data_dir=tmp_path, download=False)


def test_extracted_arrays_without_zip(metr_la_dir):
    METRLADatasetLoader(raw_data_dir=metr_la_dir)
    (metr_la_dir / "METR-LA.zip").unlink()
    assert len(METRLADatasetLoader(raw_data_dir=metr_la_dir).get_dataset()) == 300 - 24 + 1


def test_truncated_zip_rejected(metr_la_dir):
    path = metr_la_dir / "METR-LA.zip"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated|corrupt"):
        METRLADatasetLoader(raw_data_dir=metr_la_dir)


def test_corrupt_member_rejected(metr_la_dir):
    path = metr_la_dir / "METR-LA.zip"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("node_values.npy")
    data[info.header_offset + 30 + len(info.filename) + 40] ^= 0xFF  # inside the member
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt|truncated"):
        METRLADatasetLoader(raw_data_dir=metr_la_dir)
    assert not (metr_la_dir / "node_values.npy").exists()


def test_wrong_shapes_rejected(tmp_path):
    adj = np.eye(5, dtype=np.float32)
    values = synthetic.traffic_node_values(synthetic.synthetic_speeds(50, 5))
    synthetic.write_npy_zip(tmp_path / "METR-LA.zip", [("adj_mat.npy", adj),
                                                       ("node_values.npy", values[:, :4])])
    with pytest.raises(ValueError, match=r"shape \(50, 4, 2\), expected \(\*, 5, 2\)"):
        METRLADatasetLoader(raw_data_dir=tmp_path).get_dataset()
    (tmp_path / "METR-LA.zip").unlink()  # now the extracted arrays are the source
    np.save(tmp_path / "node_values.npy", values[..., :1])
    with pytest.raises(ValueError, match="expected"):
        METRLADatasetLoader(raw_data_dir=tmp_path).get_index_dataset()
    np.save(tmp_path / "node_values.npy", values)
    with pytest.raises(ValueError, match="adj_mat.npy"):
        METRLADatasetLoader(raw_data_dir=tmp_path, num_nodes=207).get_dataset()
    np.save(tmp_path / "node_values.npy", values.astype(np.int64))
    with pytest.raises(ValueError, match="dtype"):
        METRLADatasetLoader(raw_data_dir=tmp_path).get_dataset()


def test_nan_only_sensor_rejected(metr_la_dir):
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir)
    values = np.load(metr_la_dir / "node_values.npy")
    values[:, 3, 0] = np.nan
    np.save(metr_la_dir / "node_values.npy", values)
    with pytest.raises(ValueError, match=r"NaN-only.*\[3\]"):
        loader.get_index_dataset()
    values[:, 3, 0] = 50.0
    values[7, 2, 0] = np.inf
    np.save(metr_la_dir / "node_values.npy", values)
    with pytest.raises(ValueError, match="NaN/inf"):
        loader.get_dataset()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_index_batching_matches_cpu(metr_la_dir):
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir)
    gpu = loader.get_index_dataset(lags=6, batch_size=16, allGPU=0)
    cpu = loader.get_index_dataset(lags=6, batch_size=16)
    (xg, yg), (xc, yc) = next(iter(gpu.train_loader)), next(iter(cpu.train_loader))
    assert xg.is_cuda and torch.allclose(xg.cpu(), xc) and torch.allclose(yg.cpu(), yc)


def test_dcrnn_files_converted(dcrnn_hdf5_dir):
    loader = METRLADatasetLoader(raw_data_dir=dcrnn_hdf5_dir, num_nodes=207)
    values = loader.read_data()
    assert values.shape == (150, 207, 2)
    pd = pytest.importorskip("pandas")
    frame = pd.read_hdf(dcrnn_hdf5_dir / "metr-la.h5", "df")
    np.testing.assert_array_equal(values[..., 0], frame.to_numpy(dtype=np.float32))
    assert loader.get_index_dataset(batch_size=8).edges.shape == (2, 1722)


def _write_zip(directory, values, adj=None, mtime=None):
    adj = np.eye(values.shape[1], dtype=np.float32) if adj is None else adj
    path = synthetic.write_npy_zip(directory / "METR-LA.zip", [("adj_mat.npy", adj),
                                                               ("node_values.npy", values)])
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


def _values(seed, num_timesteps=60, num_nodes=4):
    speeds = synthetic.synthetic_speeds(num_timesteps, num_nodes, seed=seed)
    return synthetic.traffic_node_values(speeds).astype(np.float64)  # mmap maps a float32 copy


def test_replaced_zip_is_read_in_ram_and_mmap(tmp_path):
    first, second = _values(1), _values(2)
    zip_path = _write_zip(tmp_path, first)
    loader = METRLADatasetLoader(raw_data_dir=tmp_path)
    np.testing.assert_array_equal(loader.read_data(), first.astype(np.float32))
    np.testing.assert_array_equal(loader.read_data(mmap=True), first.astype(np.float32))
    # replaced by other data of the same shape, with the old (or an older) mtime
    for mtime in (zip_path.stat().st_mtime_ns, zip_path.stat().st_mtime_ns - 10**10):
        _write_zip(tmp_path, second, mtime=mtime)
        loader = METRLADatasetLoader(raw_data_dir=tmp_path)
        np.testing.assert_array_equal(loader.read_data(), second.astype(np.float32))
        np.testing.assert_array_equal(loader.read_data(mmap=True), second.astype(np.float32))
        second, first = first, second


def test_read_only_folder_holding_only_the_zip(tmp_path, monkeypatch):
    from torch_geometric_temporal.dataset import _files

    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    values = _values(3)
    _write_zip(data, values)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    # root ignores the mode bits: say the folder is read-only as well
    writable = _files._writable
    monkeypatch.setattr(_files, "_writable", lambda d: d != data and writable(d))
    data.chmod(0o555)
    try:
        loader = METRLADatasetLoader(raw_data_dir=data)
        np.testing.assert_array_equal(loader.read_data(), values.astype(np.float32))
        np.testing.assert_array_equal(loader.read_data(mmap=True), values.astype(np.float32))
        x, _ = next(iter(loader.get_index_dataset(lags=4, batch_size=2, mmap=True).train_loader))
        assert x.shape == (2, 4, 4, 2)
    finally:
        data.chmod(0o755)
    assert sorted(p.name for p in data.iterdir()) == ["METR-LA.zip"]
    assert loader.values_path.is_relative_to(cache / "torch_geometric_temporal" / "derived")


def test_dcrnn_h5_replaced_by_an_older_copy_is_converted_again(dcrnn_hdf5_dir):
    h5 = dcrnn_hdf5_dir / "metr-la.h5"
    before = METRLADatasetLoader(raw_data_dir=dcrnn_hdf5_dir).read_data()
    stat = h5.stat()
    ids = load_adjacency_pickle(dcrnn_hdf5_dir / "adj_mx.pkl")[0]
    speeds = synthetic.synthetic_speeds(150, 207, seed=99)
    synthetic.write_speed_h5(h5, speeds, ids)
    os.utime(h5, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**10))
    loader = METRLADatasetLoader(raw_data_dir=dcrnn_hdf5_dir)
    for mmap in (False, True):
        after = loader.read_data(mmap=mmap)
        np.testing.assert_array_equal(after[..., 0], speeds)
        np.testing.assert_array_equal(after[..., 1], before[..., 1])


def test_nan_or_negative_adjacency_refused(tmp_path):
    adj = np.eye(4, dtype=np.float32)
    adj[2, 3] = np.nan
    _write_zip(tmp_path, _values(4), adj=adj)
    with pytest.raises(ValueError, match=r"adj_mat\.npy: 1 edge weight\(s\) are NaN"):
        METRLADatasetLoader(raw_data_dir=tmp_path).get_index_dataset(lags=4)
    adj[2, 3] = -1.0
    _write_zip(tmp_path, _values(4), adj=adj)
    with pytest.raises(ValueError, match=r"adj_mat\.npy: 1 edge weight\(s\) are NaN, infinite "
                                         r"or negative \(first at \(2, 3\): -1\.0\)"):
        METRLADatasetLoader(raw_data_dir=tmp_path).read_graph()


def test_directory_instead_of_the_adjacency_pickle(tmp_path):
    (tmp_path / "adj_mx.pkl").mkdir()
    synthetic.write_speed_h5(tmp_path / "metr-la.h5", synthetic.synthetic_speeds(20, 3),
                             ["a", "b", "c"])
    with pytest.raises(IsADirectoryError, match=r"adj_mx\.pkl is a directory"):
        METRLADatasetLoader(raw_data_dir=tmp_path)


def test_index_targets_are_upstreams_all_features(metr_la_dir):
    """Upstream's get_index_dataset returns y (B, T, N, 2); the speed-only
    target is the explicit target_features=(0,) (what the harness passes)."""
    loader = METRLADatasetLoader(raw_data_dir=metr_la_dir)
    full = loader.get_index_dataset(lags=3, batch_size=4)
    speed = loader.get_index_dataset(lags=3, batch_size=4, target_features=(0,))
    (x, y), (xs, ys) = next(iter(full.train_loader)), next(iter(speed.train_loader))
    assert y.shape == (4, 3, 8, 2) and ys.shape == (4, 3, 8, 1)
    assert torch.equal(x, xs) and torch.equal(y[..., :1], ys)
    # upstream's loss: outputs and targets de-standardized with the same (2,) statistics
    assert full.means.shape == (2,) and (y * full.stds + full.means).shape == y.shape
