import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset.index_batching import (
    IndexDataset,
    chronological_split,
    fit_statistics,
    index_dataloader,
    materialize_windows,
    window_starts,
)

da = pytest.importorskip("dask.array")
pd = pytest.importorskip("pandas")
pytest.importorskip("tables")

from torch_geometric_temporal.dataset import dask_batching as db  # noqa: E402

T, N, T_IN, T_OUT = 150, 4, 6, 5


@pytest.fixture
def series():
    rng = np.random.default_rng(1)
    values = np.empty((T, N, 2), dtype=np.float32)
    values[..., 0] = rng.uniform(20, 70, size=(T, N))
    values[..., 1] = (np.arange(T) % 288 / 288.0)[:, None]
    return values


@pytest.fixture
def npy_file(series, tmp_path):
    path = tmp_path / "node_values.npy"
    np.save(path, series.astype(np.float64))  # loaders cast to float32 too
    return path


@pytest.fixture
def h5_file(series, tmp_path):
    index = pd.date_range("2012-03-01", periods=T, freq="5min")
    df = pd.DataFrame(series[..., 0], index=index, columns=[f"77{i}" for i in range(N)])
    path = tmp_path / "speed.h5"
    df.to_hdf(path, key="df")
    return path


def test_npy_reader_is_chunked_and_exact(series, npy_file):
    arr = db.read_dask_array(npy_file, chunk_rows=16)
    assert arr.shape == (T, N, 2) and arr.dtype == np.float32
    assert arr.chunks[0][0] == 16 and arr.numblocks[0] == -(-T // 16)
    assert np.array_equal(arr.compute(), series)
    assert np.array_equal(arr[40:57].compute(scheduler="synchronous"), series[40:57])


def test_hdf_reader_matches_loader_layout(series, h5_file):
    cols = [f"77{i}" for i in range(N)]
    arr = db.hdf_to_dask(h5_file, columns=cols[::-1], chunk_rows=32)
    out = arr.compute()
    assert out.shape == (T, N, 2)
    assert np.array_equal(out[..., 0], series[:, ::-1, 0])  # node order of the given ids
    np.testing.assert_allclose(out[:, 0, 1], series[:, 0, 1], atol=1e-6)  # time of day
    with pytest.raises(ValueError, match="key"):
        db.hdf_to_dask(h5_file, key="nope")
    with pytest.raises(ValueError, match="do not belong"):
        db.hdf_to_dask(h5_file, columns=["x"] * N)


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        db.read_dask_array(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="Unknown file type"):
        db.read_dask_array(tmp_path / "data.csv")


def test_statistics_match_fit_statistics(series, npy_file):
    starts = window_starts(T, T_IN, T_OUT)
    train = chronological_split(starts)[0]
    mean, std = db.dask_fit_statistics(db.read_dask_array(npy_file, chunk_rows=7), train, T_IN,
                                       scheduler="synchronous")
    ref_mean, ref_std = fit_statistics(series, train, T_IN)
    torch.testing.assert_close(mean, ref_mean, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(std, ref_std, rtol=1e-6, atol=1e-6)
    m0, s0 = db.dask_fit_statistics(series, train, T_IN, features=[0])
    assert m0[1] == 0 and s0[1] == 1 and torch.isclose(m0[0], ref_mean[0])


def test_dask_index_dataset_equals_index_dataset(series, npy_file):
    starts = window_starts(T, T_IN, T_OUT)
    mean, std = fit_statistics(series, starts, T_IN)
    arr = db.read_dask_array(npy_file, chunk_rows=20)
    ds = db.DaskIndexDataset(arr, starts, T_IN, T_OUT, target_features=[0], mean=mean, std=std)
    ref = IndexDataset(series, starts, T_IN, T_OUT, target_features=[0], mean=mean, std=std)
    for idx in ([3, 4, 5, 6], [100, 2, 57, 2], [9]):
        x, y = ds[idx]
        xr, yr = ref[idx]
        assert torch.equal(x, xr) and torch.equal(y, yr)
    gen = torch.Generator().manual_seed(0)
    batches = list(index_dataloader(ds, 16, shuffle=True, generator=gen))
    gen = torch.Generator().manual_seed(0)
    for (x, y), (xr, yr) in zip(batches, index_dataloader(ref, 16, shuffle=True, generator=gen)):
        assert torch.equal(x, xr) and torch.equal(y, yr)


def test_window_ranges_merge_overlaps():
    assert db.window_ranges(np.array([0, 2, 10, 30]), 5) == [(0, 7), (10, 15), (30, 35)]
    assert db.window_ranges(np.array([0, 5]), 5) == [(0, 10)]


def test_materialized_baseline_equals_materialize_windows(series, npy_file):
    starts = window_starts(T, T_IN, T_OUT)
    mean, std = fit_statistics(series, starts, T_IN)
    X, Y = db.dask_materialize_windows(db.read_dask_array(npy_file), starts, T_IN, T_OUT, target_features=[0],
                                       mean=mean, std=std, windows_per_chunk=33)
    assert X.shape == (len(starts), T_IN, N, 2) and Y.shape == (len(starts), T_OUT, N, 1)
    Xr, Yr = materialize_windows(series, starts, T_IN, T_OUT, target_features=[0], mean=mean, std=std)
    assert torch.equal(torch.from_numpy(X.compute()), Xr)
    assert torch.equal(torch.from_numpy(Y.compute()), Yr)
    ds = db.DaskWindowDataset(X, Y)
    x, y = ds[[40, 3, 40]]
    assert torch.equal(x, Xr[[40, 3, 40]]) and torch.equal(y, Yr[[40, 3, 40]])
    with pytest.raises(ValueError, match="match"):
        db.DaskWindowDataset(X, Y[:3])


def test_read_dask_array_from_loaders_matches_read_data(tmp_path):
    from torch_geometric_temporal.dataset import METRLADatasetLoader, PemsAllLADatasetLoader, synthetic

    synthetic.write_metr_la(tmp_path / "mla", num_timesteps=90, num_nodes=5, extract=True)
    loader = METRLADatasetLoader(raw_data_dir=tmp_path / "mla", download=False)
    arr = db.read_dask_array(loader, chunk_rows=25)
    assert np.array_equal(arr.compute(), loader.read_data())

    synthetic.write_pems_all_la(tmp_path / "la", num_timesteps=70, num_nodes=6)
    loader = PemsAllLADatasetLoader(raw_data_dir=tmp_path / "la", download=False)
    arr = db.read_dask_array(loader, chunk_rows=16)
    np.testing.assert_array_equal(arr.compute(), loader.read_data())


def test_file_backed_arrays_pickle(npy_file, h5_file, series):
    # DataLoader worker processes and Dask workers receive the graph by pickle:
    # the chunk readers must be module-level functions, not closures
    import pickle

    for arr in (db.npy_to_dask(npy_file, chunk_rows=32), db.hdf_to_dask(h5_file, chunk_rows=32)):
        again = pickle.loads(pickle.dumps(arr))
        np.testing.assert_array_equal(again[40:90].compute(scheduler="synchronous"),
                                      arr[40:90].compute(scheduler="synchronous"))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(db.npy_to_dask(npy_file))).compute(),
                                  series)
