import json

import pytest

import torch_geometric_temporal
from torch_geometric_temporal.dataset import PedalMeDatasetLoader
from torch_geometric_temporal.dataset.pedalme import FILENAME, URL
from torch_geometric_temporal.signal import StaticGraphTemporalSignal


def test_real_file_matches_upstream_first_last_snapshots():
    dataset = PedalMeDatasetLoader().get_dataset()  # upstream default lags=4
    assert isinstance(dataset, StaticGraphTemporalSignal)
    assert dataset.snapshot_count == 31
    first, last = dataset[0], dataset[30]
    for snap in (first, last):
        assert snap.x.shape == (15, 4) and snap.y.shape == (15,)
        assert snap.edge_index.shape == (2, 225) and snap.edge_attr.shape == (225,)
        assert snap.edge_index[:, 0].tolist() == [0, 0]
        assert snap.edge_index[:, -1].tolist() == [14, 14]
        assert snap.edge_attr[:2].tolist() == pytest.approx([1.0, 0.42545896768569946])
        assert snap.edge_attr.sum().item() == pytest.approx(64.61521911621094, rel=1e-6)
    # values computed with upstream 0.56.2 on the same file
    assert first.x[0].tolist() == pytest.approx([3.0574042797088623, -0.047683265060186386,
                                                 -0.30759143829345703, 0.24372684955596924])
    assert first.x[-1, -1].item() == pytest.approx(1.3309980630874634)
    assert first.y[:3].tolist() == pytest.approx([-0.27095678448677063, 0.08881720900535583,
                                                  0.4732655882835388])
    assert last.x[1].tolist() == pytest.approx([0.44895023107528687, 0.4265185296535492,
                                                -0.08701137453317642, 0.0444517619907856])
    assert last.y[-1].item() == pytest.approx(-2.3025851249694824)


def test_lags_argument():
    dataset = PedalMeDatasetLoader().get_dataset(lags=2)
    assert dataset.snapshot_count == 33 and dataset[0].x.shape == (15, 2)
    with pytest.raises(ValueError, match="lags"):
        PedalMeDatasetLoader().get_dataset(lags=0)


def test_exported_at_top_level():
    assert torch_geometric_temporal.PedalMeDatasetLoader is PedalMeDatasetLoader


def test_raw_data_dir_and_offline_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        PedalMeDatasetLoader(raw_data_dir=tmp_path)
    message = str(info.value)
    assert FILENAME in message and str(tmp_path) in message and URL in message


def test_bad_json_names_file_and_key(tmp_path):
    path = tmp_path / FILENAME
    path.write_text(json.dumps({"edges": [[0, 1]], "weights": [1.0]}))
    with pytest.raises(ValueError, match="'X'") as info:
        PedalMeDatasetLoader(raw_data_dir=path)
    assert str(path) in str(info.value)
