import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from torch_geometric_temporal.dataset import synthetic
from torch_geometric_temporal.dataset._files import load_adjacency_pickle

DATA = Path(__file__).resolve().parents[1] / "data"


def test_time_of_day():
    tod = synthetic.time_of_day(290, "2012-03-01T00:00")
    assert tod[0] == 0.0 and tod[1] == pytest.approx(1 / 288) and tod[288] == 0.0
    assert synthetic.time_of_day(2, "2012-03-01T12:00")[0] == 0.5


def test_speeds_deterministic_and_plausible():
    a = synthetic.synthetic_speeds(600, 5, seed=3)
    assert a.shape == (600, 5) and a.dtype == np.float32
    np.testing.assert_array_equal(a, synthetic.synthetic_speeds(600, 5, seed=3))
    assert not np.array_equal(a, synthetic.synthetic_speeds(600, 5, seed=4))
    assert 0.0 <= a.min() and a.max() <= 85.0 and 40 < a.mean() < 70


def test_json_writers(tmp_path):
    path = synthetic.write_chickenpox(tmp_path, num_nodes=4, num_timesteps=9)
    payload = json.loads(path.read_text())
    assert path.name == "chickenpox.json" and np.array(payload["FX"]).shape == (9, 4)
    assert np.array(payload["edges"]).shape[1] == 2 and len(payload["node_ids"]) == 4
    path = synthetic.write_windmill(tmp_path / "w.json", num_nodes=5, num_timesteps=7)
    payload = json.loads(path.read_text())
    assert np.array(payload["block"]).shape == (7, 5)
    assert len(payload["weights"]) == len(payload["edges"])


def test_metr_la_zip_with_real_graph(tmp_path):
    path = synthetic.write_metr_la(tmp_path, num_timesteps=20,
                                   adj=DATA / "metr_la" / "adj_mx.pkl", extract=True)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["adj_mat.npy", "node_values.npy"]
    values = np.load(tmp_path / "node_values.npy")
    adj = np.load(tmp_path / "adj_mat.npy")
    assert values.shape == (20, 207, 2) and values.dtype == np.float32
    np.testing.assert_array_equal(adj, load_adjacency_pickle(DATA / "metr_la" / "adj_mx.pkl")[2])
    with pytest.raises(ValueError, match="num_nodes=5"):
        synthetic.write_metr_la(tmp_path, num_timesteps=5, num_nodes=5, adj=np.eye(3))


def test_pems_bay_zip(tmp_path):
    synthetic.write_pems_bay(tmp_path, num_timesteps=30, num_nodes=4)
    with zipfile.ZipFile(tmp_path / "PEMS-BAY.zip") as archive:
        assert sorted(archive.namelist()) == ["pems_adj_mat.npy", "pems_node_values.npy"]


def test_dcrnn_pair(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    pkl, h5 = synthetic.write_pems(tmp_path, num_timesteps=12, num_nodes=3)
    ids, _, adj = load_adjacency_pickle(pkl)
    frame = pd.read_hdf(h5, "df")
    assert frame.shape == (12, 3) and list(frame.columns) == ids
    assert isinstance(frame.index, pd.DatetimeIndex) and adj.shape == (3, 3)


def test_los_loop_conversion(tmp_path):
    out = synthetic.los_loop_to_metr_la(DATA / "los_loop" / "los_speed.csv",
                                        DATA / "metr_la" / "adj_mx.pkl", tmp_path)
    values = np.load(out / "node_values.npy")
    assert values.shape == (2016, 207, 2)
    ids, speeds = synthetic.read_los_speed(DATA / "los_loop" / "los_speed.csv")
    np.testing.assert_array_equal(values[..., 0], speeds)  # same sensor order as the graph
    assert ids == load_adjacency_pickle(DATA / "metr_la" / "adj_mx.pkl")[0]
    assert (out / "METR-LA.zip").is_file()


def test_los_loop_reorders_and_rejects_foreign_sensors(tmp_path):
    synthetic.write_adjacency_pickle(tmp_path / "adj.pkl", np.eye(2), ["10", "20"])
    (tmp_path / "s.csv").write_text("20,10\n2.0,1.0\n4.0,3.0\n")
    synthetic.los_loop_to_metr_la(tmp_path / "s.csv", tmp_path / "adj.pkl", tmp_path / "o",
                                  make_zip=False)
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "node_values.npy")[..., 0],
                                  [[1.0, 2.0], [3.0, 4.0]])
    (tmp_path / "s.csv").write_text("20,30\n2.0,1.0\n")
    with pytest.raises(ValueError, match="different sensors"):
        synthetic.los_loop_to_metr_la(tmp_path / "s.csv", tmp_path / "adj.pkl", tmp_path / "o")
