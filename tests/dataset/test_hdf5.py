import pickle

import numpy as np
import pytest

from torch_geometric_temporal.dataset import (
    METRLADatasetLoader,
    PemsAllLADatasetLoader,
    PemsBayDatasetLoader,
    PemsDatasetLoader,
    synthetic,
)

pd = pytest.importorskip("pandas")
tables = pytest.importorskip("tables")

from torch_geometric_temporal.dataset._hdf5 import open_speed_table  # noqa: E402


def _frame(num_timesteps=50, labels=("773869", "767541", "767542", "717447")):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.uniform(0, 70, (num_timesteps, len(labels))),
                         index=synthetic.timestamps(num_timesteps), columns=list(labels))
    frame[frame.columns[1]] = frame[frame.columns[1]].astype(np.float32)  # a second block
    frame[frame.columns[2]] = np.arange(num_timesteps)  # integer block
    return frame


@pytest.mark.parametrize("fmt", ["fixed", "table"])
@pytest.mark.parametrize("labels", [("773869", "767541", "767542", "717447"), (3, 1, 2, 0)])
def test_reads_what_pandas_wrote_like_read_hdf(tmp_path, fmt, labels):
    path = tmp_path / "speed.h5"
    _frame(labels=labels).to_hdf(path, key="df", mode="w", format=fmt)
    table = open_speed_table(path)
    assert table.columns == [str(c) for c in labels] and table.num_rows == 50
    values, index = table.read(7, 31, order=[2, 0, 3, 1])
    expected = pd.read_hdf(path, "df", start=7, stop=31)
    np.testing.assert_array_equal(values, expected.iloc[:, [2, 0, 3, 1]].to_numpy(np.float32))
    np.testing.assert_array_equal(index, expected.index.values)


def test_dcrnn_file_reads_as_before(dcrnn_hdf5_dir):
    # synthetic.write_speed_h5 is DataFrame.to_hdf(path, key="df"): DCRNN's metr-la.h5 layout
    path = dcrnn_hdf5_dir / "metr-la.h5"
    values, index = open_speed_table(path).read()
    frame = pd.read_hdf(path, "df")
    np.testing.assert_array_equal(values, frame.to_numpy(np.float32))
    np.testing.assert_array_equal(index, frame.index.values)


def test_object_column_refused_without_running_it(tmp_path, crafted_h5, ids5):
    path = tmp_path / "speed.h5"
    marker = crafted_h5(path, ids5, "column")
    with pytest.raises(ValueError, match=r"speed\.h5.*VLArray \(pickled Python objects\)"):
        open_speed_table(path)
    assert not marker.exists()
    pd.read_hdf(path, "df")  # control: pandas does run it
    assert marker.exists()


def test_attribute_pickles_never_run(tmp_path, crafted_h5, ids5):
    # PyTables unpickles attributes when a node is opened: the reader decodes
    # them with the restricted unpickler, so the numeric data still loads
    path = tmp_path / "speed.h5"
    marker = crafted_h5(path, ids5, "attribute")
    values, _ = open_speed_table(path).read(0, 10)
    assert values.shape == (10, 5) and not marker.exists()
    pd.read_hdf(path, "df")  # control: pandas (PyTables) does run them
    assert marker.exists()


def _dcrnn_pair(directory, adj_name, speed_name, ids, crafted_h5, how):
    synthetic.write_adjacency_pickle(directory / adj_name, np.eye(len(ids)), ids)
    return crafted_h5(directory / speed_name, ids, how)


ENTRY_POINTS = {
    "metr_la_h5": lambda d: METRLADatasetLoader(raw_data_dir=d).read_data(),
    "pems_bay_h5": lambda d: PemsBayDatasetLoader(raw_data_dir=d).read_data(),
    "pems_all_la": lambda d: PemsAllLADatasetLoader(raw_data_dir=d).read_data(),
    "pems_all_la_mmap": lambda d: PemsAllLADatasetLoader(raw_data_dir=d).read_data(mmap=True),
    "pems": lambda d: PemsDatasetLoader(raw_data_dir=d).read_data(),
    "hdf_to_dask": lambda d: _dask(d).compute(),
}
FILES = {"metr_la_h5": ("adj_mx.pkl", "metr-la.h5"),
         "pems_bay_h5": ("adj_mx_bay.pkl", "pems-bay.h5"),
         "pems_all_la": ("pems_AllLA_adj_mat.pkl", "pems_AllLA_speed.h5"),
         "pems_all_la_mmap": ("pems_AllLA_adj_mat.pkl", "pems_AllLA_speed.h5"),
         "pems": ("pems_cali_adj_mat.pkl", "pems_cali_speed.h5"),
         "hdf_to_dask": ("adj.pkl", "speed.h5")}


def _dask(directory):
    pytest.importorskip("dask")
    from torch_geometric_temporal.dataset.dask_batching import hdf_to_dask

    return hdf_to_dask(directory / "speed.h5", chunk_rows=8)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_refuses_object_blocks(tmp_path, crafted_h5, ids5, entry):
    marker = _dcrnn_pair(tmp_path, *FILES[entry], ids5, crafted_h5, "column")
    with pytest.raises(ValueError, match=rf"{FILES[entry][1]}.*refusing to read"):
        ENTRY_POINTS[entry](tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_ignores_attribute_pickles(tmp_path, crafted_h5, ids5, entry):
    marker = _dcrnn_pair(tmp_path, *FILES[entry], ids5, crafted_h5, "attribute")
    values = np.asarray(ENTRY_POINTS[entry](tmp_path))
    assert values.shape == (40, 5, 2) and not marker.exists()


def test_unknown_pandas_type_refused(tmp_path):
    path = tmp_path / "speed.h5"
    pd.Series(np.arange(5.0)).to_hdf(path, key="df", mode="w")
    with pytest.raises(ValueError, match=r"speed\.h5.*pandas_type is 'series'"):
        open_speed_table(path)


def test_missing_key_named(tmp_path):
    path = tmp_path / "speed.h5"
    _frame().to_hdf(path, key="other", mode="w")
    with pytest.raises(ValueError, match=r"no table under key 'df' \(keys: \['/other'\]\)"):
        open_speed_table(path)


@pytest.mark.parametrize("size", [0, 100, "half"])
def test_empty_or_truncated_file_is_one_clear_error(tmp_path, size):
    path = tmp_path / "speed.h5"
    _frame().to_hdf(path, key="df", mode="w")
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2 if size == "half" else size])
    with pytest.raises(ValueError, match=r"speed\.h5 is .*probably truncated") as info:
        open_speed_table(path).read()
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "speed.h5").mkdir()
    with pytest.raises(IsADirectoryError, match=r"speed\.h5 is a directory"):
        open_speed_table(tmp_path / "speed.h5")
    with pytest.raises(FileNotFoundError, match=r"other\.h5"):
        open_speed_table(tmp_path / "other.h5")


def test_pandas_elsewhere_keeps_its_pickles(tmp_path):
    # the restricted unpickler applies inside the reader only: pandas reading
    # its own attributes (the index frequency is a pickled offset) still works
    path = tmp_path / "speed.h5"
    frame = _frame()
    frame.index.freq = "5min"
    frame.to_hdf(path, key="df", mode="w")
    open_speed_table(path).read()
    assert pd.read_hdf(path, "df").index.freq == "5min"
    assert tables.attributeset.pickle.loads(pickle.dumps({1})) == {1}


def test_damaged_compressed_chunk_is_one_clear_error(tmp_path):
    path = tmp_path / "speed.h5"
    frame = pd.DataFrame(np.random.default_rng(0).random((4000, 20)),
                         index=synthetic.timestamps(4000))
    frame.to_hdf(path, key="df", mode="w", complevel=5, complib="zlib")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = bytes(b ^ 0x5A for b in data[middle:middle + 2000])
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"speed\.h5 could not be read .*corrupt"):
        open_speed_table(path).read()
