import json

import pytest

import torch_geometric_temporal
from torch_geometric_temporal.dataset import MTMDatasetLoader, synthetic
from torch_geometric_temporal.dataset.mtm import FILENAME, URL
from torch_geometric_temporal.signal import StaticGraphTemporalSignal


@pytest.fixture
def mtm_path(tmp_path):
    """A small ``mtm_1.json``: 21 hand keypoints, T=60 frames, 6 classes."""
    return synthetic.write_mtm(tmp_path, num_timesteps=60, seed=4)


def test_synthetic_file_matches_upstream_values(mtm_path):
    dataset = MTMDatasetLoader(raw_data_dir=mtm_path.parent).get_dataset()
    assert isinstance(dataset, StaticGraphTemporalSignal)
    assert dataset.snapshot_count == 44  # upstream default frames=16
    first, last = dataset[0], dataset[43]
    for snap in (first, last):
        assert snap.x.shape == (3, 21, 16) and snap.y.shape == (16, 6)  # upstream's layout
        assert snap.edge_index.shape == (2, 19) and snap.edge_attr.tolist() == [1.0] * 19  # real file
        assert snap.edge_index[:, 0].tolist() == [0, 1]
        assert snap.edge_index[:, -1].tolist() == [19, 20]
        assert snap.y.sum(1).tolist() == [1.0] * 16  # one-hot
    # values computed with upstream 0.56.2 on the same file (its _read_web_data
    # monkeypatched to read it): the snapshots are identical, bit for bit
    assert first.y.argmax(1).tolist() == [5] * 16
    assert last.y.argmax(1).tolist() == [1] * 5 + [0] * 8 + [1] * 3
    assert first.x[:, 0, 0].tolist() == pytest.approx(
        [0.9447502493858337, 0.5197984576225281, 0.9828516244888306], abs=1e-7)
    assert last.x[:, 20, 15].tolist() == pytest.approx(
        [0.43258771300315857, 0.8816578984260559, 0.8627451658248901], abs=1e-7)
    sums = [snap.double().sum().item() for snap in (first.x, last.x)]
    assert sums == pytest.approx([587.9139937460423, 587.1129593104124], abs=1e-9)


def test_frames_argument(mtm_path):
    dataset = MTMDatasetLoader(raw_data_dir=mtm_path).get_dataset(frames=10)
    assert dataset.snapshot_count == 50 and dataset[0].x.shape == (3, 21, 10)
    assert dataset[0].y.shape == (10, 6)
    with pytest.raises(ValueError, match="frames"):
        MTMDatasetLoader(mtm_path).get_dataset(frames=60)


def test_no_index_batching():
    # classification of frames: no forecasting windows (see the class docstring)
    assert not hasattr(MTMDatasetLoader, "get_index_dataset")


def test_exported_at_top_level_and_upstream_path():
    from torch_geometric_temporal.dataset.mtm import MTMDatasetLoader as upstream_path
    assert torch_geometric_temporal.MTMDatasetLoader is MTMDatasetLoader is upstream_path


def test_offline_error_names_file_folder_and_url(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MTMDatasetLoader(raw_data_dir=tmp_path)
    message = str(info.value)
    assert FILENAME in message and str(tmp_path) in message and URL in message


@pytest.mark.parametrize("change, key", [
    (lambda d: d.pop("20"), "'20'"),
    (lambda d: d.pop("LABEL"), "'LABEL'"),
    (lambda d: d["5"].pop("3"), "'5' has 59 frames"),
    (lambda d: d["LABEL"].update({"2": "Grasp"}), "'LABEL'"),
    (lambda d: d["edges"].append([0, 21]), "'edges'"),
])
def test_bad_json_names_file_and_key(mtm_path, change, key):
    payload = json.loads(mtm_path.read_text())
    change(payload)
    mtm_path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=key) as info:
        MTMDatasetLoader(raw_data_dir=mtm_path)
    assert str(mtm_path) in str(info.value)


@pytest.mark.parametrize("value", ["(1.0, 2.0)", "(a, b, c)"])
def test_bad_keypoint_names_file_joint_and_frame(mtm_path, value):
    payload = json.loads(mtm_path.read_text())
    payload["4"]["7"] = value
    mtm_path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=r"entry '4' frame 7") as info:
        MTMDatasetLoader(raw_data_dir=mtm_path).get_dataset()
    assert str(mtm_path) in str(info.value)
