import json

import pytest

import torch_geometric_temporal
from torch_geometric_temporal.dataset import EnglandCovidDatasetLoader
from torch_geometric_temporal.dataset.encovid import FILENAME, URL
from torch_geometric_temporal.signal import DynamicGraphTemporalSignal


def test_real_file_matches_upstream_first_last_snapshots():
    dataset = EnglandCovidDatasetLoader().get_dataset()  # upstream default lags=8
    assert isinstance(dataset, DynamicGraphTemporalSignal)
    assert dataset.snapshot_count == 53
    first, last = dataset[0], dataset[52]
    assert first.x.shape == (129, 8) and first.y.shape == (129,)
    assert first.edge_index.shape == (2, 2158) and first.edge_attr.shape == (2158,)
    assert last.edge_index.shape == (2, 1424) and last.edge_attr.shape == (1424,)
    # values computed with upstream 0.56.2 on the same file
    assert first.edge_index[:, 0].tolist() == [23, 23]
    assert first.edge_index[:, -1].tolist() == [37, 120]
    assert first.edge_attr[:2].tolist() == [180647.0, 160550.0]
    assert first.edge_attr.sum().item() == pytest.approx(11486832.0, rel=1e-6)
    assert last.edge_index[:, -1].tolist() == [43, 0]
    assert last.edge_attr.sum().item() == pytest.approx(11748097.0, rel=1e-6)
    assert first.x[1].tolist() == pytest.approx([
        -1.2509701251983643, -1.1811538934707642, -1.3207863569259644, -1.1811538934707642,
        -1.3207863569259644, -1.3207863569259644, -1.2509701251983643, -1.1811538934707642])
    assert first.x[-1, -1].item() == pytest.approx(0.20188908278942108)
    assert first.y[:3].tolist() == pytest.approx([-0.8964930176734924, -1.1113375425338745,
                                                  -1.0934029817581177])
    assert last.x[0].tolist() == pytest.approx([
        0.593903124332428, 0.593903124332428, 0.24996556341648102, 0.593903124332428,
        -1.2404305934906006, -0.7818471789360046, -0.3232637345790863, 3.0014660358428955])
    assert last.x[-1, -1].item() == pytest.approx(-1.1664702892303467)
    assert last.y[-1].item() == pytest.approx(-0.9954253435134888)


def test_lags_argument():
    dataset = EnglandCovidDatasetLoader().get_dataset(lags=4)
    assert dataset.snapshot_count == 57 and dataset[0].x.shape == (129, 4)
    with pytest.raises(ValueError, match="lags"):
        EnglandCovidDatasetLoader().get_dataset(lags=0)


def test_exported_at_top_level():
    assert torch_geometric_temporal.EnglandCovidDatasetLoader is EnglandCovidDatasetLoader


def test_raw_data_dir_and_offline_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        EnglandCovidDatasetLoader(raw_data_dir=tmp_path)
    message = str(info.value)
    assert FILENAME in message and str(tmp_path) in message and URL in message


@pytest.mark.parametrize("data, key", [
    ({"edge_mapping": {"edge_index": {}, "edge_weight": {}}, "time_periods": 1}, "'y'"),
    ({"edge_mapping": {"edge_index": {}, "edge_weight": {}}, "time_periods": 1, "y": [[1.0]]},
     "'0'"),
    ({"edge_mapping": {"edge_index": {"0": []}, "edge_weight": {"0": []}}, "time_periods": 1,
      "y": [["a"]]}, "'y'"),
])
def test_bad_json_names_file_and_key(tmp_path, data, key):
    path = tmp_path / FILENAME
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=key) as info:
        EnglandCovidDatasetLoader(raw_data_dir=path)
    assert str(path) in str(info.value)
