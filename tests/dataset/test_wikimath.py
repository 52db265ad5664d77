import json

import pytest

import torch_geometric_temporal
from torch_geometric_temporal.dataset import WikiMathsDatasetLoader, synthetic
from torch_geometric_temporal.dataset.wikimath import FILENAME, URL
from torch_geometric_temporal.signal import StaticGraphTemporalSignal


@pytest.fixture
def wikimath_path(tmp_path):
    """A small ``wikivital_mathematics.json``: N=30 pages, T=50 days."""
    return synthetic.write_wikimath(tmp_path, num_nodes=30, num_timesteps=50, seed=3)


def test_synthetic_file_matches_upstream_values(wikimath_path):
    dataset = WikiMathsDatasetLoader(raw_data_dir=wikimath_path.parent).get_dataset()
    assert isinstance(dataset, StaticGraphTemporalSignal)
    assert dataset.snapshot_count == 42  # upstream default lags=8
    first, last = dataset[0], dataset[41]
    for snap in (first, last):
        assert snap.x.shape == (30, 8) and snap.y.shape == (30,)
        assert snap.edge_index.shape == (2, 120) and snap.edge_attr.shape == (120,)
        assert snap.edge_index[:, 0].tolist() == [0, 7]
        assert snap.edge_index[:, -1].tolist() == [29, 19]
        assert snap.edge_attr[:2].tolist() == [6.0, 3.0] and snap.edge_attr.sum().item() == 732.0
    # values computed with upstream 0.56.2 on the same file (its _read_web_data
    # monkeypatched to read it): the snapshots are identical, bit for bit
    assert first.x.flatten()[:3].tolist() == pytest.approx(
        [0.22770267724990845, 0.7525492906570435, 1.7618696689605713], abs=1e-7)
    assert first.y[:3].tolist() == pytest.approx(
        [0.7121764421463013, 1.1297376155853271, 1.1586518287658691], abs=1e-7)
    sums = [snap.double().sum().item() for snap in (first.x, last.x, first.y, last.y)]
    assert sums == pytest.approx([0.8373431249056011, -28.660807264590403, 33.98058968782425,
                                  -0.17283900699112564], abs=1e-9)


def test_lags_and_file_path(wikimath_path):
    dataset = WikiMathsDatasetLoader(raw_data_dir=wikimath_path).get_dataset(lags=5)
    assert dataset.snapshot_count == 45 and dataset[0].x.shape == (30, 5)
    with pytest.raises(ValueError, match="lags"):
        WikiMathsDatasetLoader(wikimath_path).get_dataset(lags=50)


def test_exported_at_top_level_and_upstream_path():
    from torch_geometric_temporal.dataset.wikimath import WikiMathsDatasetLoader as upstream_path
    assert torch_geometric_temporal.WikiMathsDatasetLoader is WikiMathsDatasetLoader is upstream_path


def test_offline_error_names_file_folder_and_url(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        WikiMathsDatasetLoader(raw_data_dir=tmp_path)
    message = str(info.value)
    assert FILENAME in message and str(tmp_path) in message and URL in message


@pytest.mark.parametrize("change, key", [
    (lambda d: d.pop("time_periods"), "'time_periods'"),
    (lambda d: d.pop("7"), "'7'"),
    (lambda d: d["3"].update(y=[1.0]), "rectangular"),
    (lambda d: d.update(weights=d["weights"][:-1]), "'weights'"),
    (lambda d: d["edges"].append([0, 30]), "'edges'"),
])
def test_bad_json_names_file_and_key(wikimath_path, change, key):
    payload = json.loads(wikimath_path.read_text())
    change(payload)
    wikimath_path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=key) as info:
        WikiMathsDatasetLoader(raw_data_dir=wikimath_path)
    assert str(wikimath_path) in str(info.value)
