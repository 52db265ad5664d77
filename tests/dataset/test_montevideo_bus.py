import json
from pathlib import Path

import pytest

import torch_geometric_temporal
from torch_geometric_temporal.dataset import MontevideoBusDatasetLoader
from torch_geometric_temporal.dataset.montevideo_bus import FILENAME, URL
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

DATA = Path(__file__).resolve().parents[1] / "data" / "montevideo_bus"  # upstream file, MIT


@pytest.fixture(scope="module")
def loader():
    return MontevideoBusDatasetLoader(raw_data_dir=DATA)


def test_real_file_matches_upstream_first_last_snapshots(loader):
    dataset = loader.get_dataset()  # upstream defaults lags=4, target "y", features ["y"]
    assert isinstance(dataset, StaticGraphTemporalSignal)
    assert dataset.snapshot_count == 740
    first, last = dataset[0], dataset[739]
    for snap in (first, last):
        assert snap.x.shape == (675, 4) and snap.y.shape == (675,)
        assert snap.edge_index.shape == (2, 690) and snap.edge_attr.shape == (690,)
        assert snap.edge_index[:, 0].tolist() == [0, 1]
        assert snap.edge_index[:, -1].tolist() == [673, 170]
        assert snap.edge_attr[:2].tolist() == pytest.approx([172.1999969482422, 280.20001220703125])
        assert snap.edge_attr.sum().item() == pytest.approx(216100.59375, rel=1e-6)
    # values computed with upstream 0.56.2 on the same file
    assert first.x[:2, 0].tolist() == pytest.approx([-0.41997799277305603, -0.03668644279241562])
    assert first.y[:3].tolist() == pytest.approx([-0.41997799277305603, -0.03668644279241562,
                                                  -0.26552513241767883])
    assert first.x.sum().item() == pytest.approx(-1001.945556640625, rel=1e-5)
    assert last.x.sum().item() == pytest.approx(-488.7329406738281, rel=1e-5)
    assert first.y.sum().item() == pytest.approx(-241.4129638671875, rel=1e-5)
    assert last.y.sum().item() == pytest.approx(-187.87744140625, rel=1e-5)
    assert dataset[100].x[1, 1].item() == pytest.approx(27.258026123046875)


def test_feature_vars_node_major_and_lags(loader):
    dataset = loader.get_dataset(lags=2, target_var="y", feature_vars=["y", "y"])
    assert dataset.snapshot_count == 742
    snap = dataset[0]
    assert snap.x.shape == (1350, 2) and snap.y.shape == (675,)
    assert snap.x[0].tolist() == snap.x[1].tolist()  # node 0's two features come first
    with pytest.raises(ValueError, match="'nope'"):
        loader.get_dataset(feature_vars=["nope"])


def test_exported_at_top_level():
    assert torch_geometric_temporal.MontevideoBusDatasetLoader is MontevideoBusDatasetLoader


def test_offline_error_names_file_folder_and_url(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MontevideoBusDatasetLoader(raw_data_dir=tmp_path)
    message = str(info.value)
    assert FILENAME in message and str(tmp_path) in message and URL in message


@pytest.mark.parametrize("data, key", [
    ({"nodes": []}, "'links'"),
    ({"nodes": [{"bus_stop": 1, "X": {"y": [1]}}], "links": []}, "'y'"),
    ({"nodes": [{"bus_stop": 1, "y": [1], "X": {"y": [1]}}],
      "links": [{"source": 1, "target": 2, "weight": 1.0}]}, "target"),
])
def test_bad_json_names_file_and_key(tmp_path, data, key):
    path = tmp_path / FILENAME
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=key) as info:
        MontevideoBusDatasetLoader(raw_data_dir=path)
    assert str(path) in str(info.value)
