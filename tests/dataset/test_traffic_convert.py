r"""The out-of-core ``.h5`` -> ``.npy`` conversion of the traffic loaders
(``read_data(mmap=True)`` and the DCRNN-file path of the zip loaders)."""
import io

import numpy as np
import pytest

from torch_geometric_temporal.dataset import METRLADatasetLoader, PemsDatasetLoader, synthetic
from torch_geometric_temporal.dataset import _traffic
from torch_geometric_temporal.dataset._hdf5 import speed_values

pytest.importorskip("tables")

T, N = 50, 6


@pytest.fixture
def small_chunks(monkeypatch):
    # 7 rows of (N, 2) float32 per block: several blocks and a short last one
    monkeypatch.setattr(_traffic, "CONVERT_CHUNK_BYTES", 7 * N * 2 * 4)


def _npy_bytes(values):
    buffer = io.BytesIO()
    np.save(buffer, values)
    return buffer.getvalue()


def _temps(directory):
    return sorted(p.name for p in directory.rglob(".tmp-*"))


def test_chunked_conversion_equals_in_memory_read(tmp_path, small_chunks):
    synthetic.write_pems(tmp_path, num_timesteps=T, num_nodes=N)
    loader = PemsDatasetLoader(raw_data_dir=tmp_path)
    mapped = loader.read_data(mmap=True)
    in_memory = loader.read_data()
    assert isinstance(mapped, np.memmap) and mapped.shape == (T, N, 2)
    assert mapped.dtype == in_memory.dtype == np.float32
    assert mapped.tobytes() == in_memory.tobytes()
    assert loader.cache_path.read_bytes() == _npy_bytes(in_memory)
    assert _temps(tmp_path) == []


def test_chunked_dcrnn_conversion_equals_in_memory(tmp_path, small_chunks):
    pkl, h5 = synthetic.write_dcrnn_hdf5(tmp_path, "adj_mx.pkl", "metr-la.h5", T, N)
    ids = _traffic.load_adjacency_pickle(pkl)[0]
    expected = speed_values(*_traffic.read_speed_table(h5, ids, pkl))
    loader = METRLADatasetLoader(raw_data_dir=tmp_path)
    assert loader.values_path.read_bytes() == _npy_bytes(expected)


def test_failure_mid_conversion_leaves_nothing(tmp_path, small_chunks, monkeypatch):
    synthetic.write_pems(tmp_path, num_timesteps=T, num_nodes=N)
    loader = PemsDatasetLoader(raw_data_dir=tmp_path)
    read, calls = _traffic.SpeedTable.read, []

    def failing_read(self, start=0, stop=None, order=None):
        calls.append(start)
        if len(calls) == 3:
            raise OSError("disk went away")
        return read(self, start, stop, order)

    monkeypatch.setattr(_traffic.SpeedTable, "read", failing_read)
    with pytest.raises(OSError, match="disk went away"):
        loader.read_data(mmap=True)
    assert len(calls) == 3
    assert not loader.cache_path.exists()
    assert not loader.cache_path.with_name(loader.cache_path.name + ".source.json").exists()
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("where, message", [
    ("one", r"1 reading\(s\) are NaN/inf"),
    ("sensor", r"1 sensor\(s\) have no finite reading at all .*ids \['400003'\]"),
])
def test_bad_values_raise_the_same_error(tmp_path, small_chunks, where, message):
    speeds = synthetic.synthetic_speeds(T, N)
    if where == "one":
        speeds[T - 3, 2] = np.inf  # in the last block only
    else:
        speeds[:, 3] = np.nan  # the whole series, across every block
    synthetic.write_pems(tmp_path, num_timesteps=T, num_nodes=N, speeds=speeds)
    loader = PemsDatasetLoader(raw_data_dir=tmp_path)
    with pytest.raises(ValueError) as in_memory:
        loader.read_data()
    with pytest.raises(ValueError, match=message) as mapped:
        loader.read_data(mmap=True)
    assert str(mapped.value) == str(in_memory.value)
    assert not loader.cache_path.exists() and _temps(tmp_path) == []
