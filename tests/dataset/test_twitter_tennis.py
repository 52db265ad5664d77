import json

import numpy as np
import pytest
import torch

import torch_geometric_temporal
from torch_geometric_temporal.dataset import TwitterTennisDatasetLoader
from torch_geometric_temporal.dataset.twitter_tennis import DATA_DIR, encode_features
from torch_geometric_temporal.signal import DynamicGraphTemporalSignal

# Expected values computed once with upstream PGT 0.56.2 on the real files.
EXPECTED = {
    # event: (T, first E, last E, first edges[:, :3], last edges[:, :3], first weights[:3],
    #         first y[:3], last y[:3], first y sum, last y sum, encoded sum(x * arange(16)) first,
    #         last, raw x[0])
    "rg17": (120, 89, 189, [[42, 909, 909], [0, 138, 5]], [[900, 347, 347], [0, 0, 152]],
             [2.0, 1.0, 1.0], [4.836281776428223, 2.079441547393799, 0.6931471824645996],
             [6.838405132293701, 6.825459957122803, 4.127134323120117], 83.640396, 198.826141,
             5215.0, 5388.0, [29.0, 0.02216748706996441]),
    "uo17": (112, 88, 195, [[472, 377, 377], [0, 25, 0]], [[733, 733, 733], [1, 26, 0]],
             [2.0, 2.0, 1.0], [5.659482002258301, 4.18965482711792, 0.6931471824645996],
             [6.579251289367676, 6.762729644775391, 2.70805025100708], 138.541672, 181.729523,
             5170.0, 5392.0, [31.0, 0.008602150715887547]),
}


@pytest.mark.parametrize("event_id", ["rg17", "uo17"])
def test_real_files_match_upstream(event_id):
    (T, e0, e1, edges0, edges1, w0, y0, y1, ysum0, ysum1, enc0, enc1,
     raw0) = EXPECTED[event_id]
    dataset = TwitterTennisDatasetLoader(event_id).get_dataset()  # feature_mode="encoded"
    assert isinstance(dataset, DynamicGraphTemporalSignal)
    snapshots = list(dataset)
    assert len(snapshots) == T
    first, last = snapshots[0], snapshots[-1]
    assert first.x.shape == (1000, 16) and first.y.shape == (1000,)
    assert first.edge_index.shape == (2, e0) and last.edge_index.shape == (2, e1)
    assert first.edge_attr.shape == (e0,)
    assert first.edge_index[:, :3].tolist() == edges0
    assert last.edge_index[:, :3].tolist() == edges1
    assert first.edge_attr[:3].tolist() == w0
    assert first.y[:3].tolist() == pytest.approx(y0)
    assert last.y[:3].tolist() == pytest.approx(y1)
    assert float(first.y.sum()) == pytest.approx(ysum0, rel=1e-5)
    assert float(last.y.sum()) == pytest.approx(ysum1, rel=1e-5)
    weights = torch.arange(16, dtype=torch.float)
    assert float((first.x * weights).sum()) == enc0
    assert float((last.x * weights).sum()) == enc1
    assert torch.equal(first.x.sum(1), torch.full((1000,), 2.0))  # two one-hot blocks
    assert first.x[0].nonzero().flatten().tolist() == [4, 5]
    assert first.x.dtype == first.y.dtype == first.edge_attr.dtype == torch.float32
    assert first.edge_index.dtype == torch.int64

    raw = TwitterTennisDatasetLoader(event_id, feature_mode=None).get_dataset()
    assert raw[0].x.shape == (1000, 2)
    assert raw[0].x[0].tolist() == pytest.approx(raw0)
    diagonal = TwitterTennisDatasetLoader(event_id, feature_mode="diagonal").get_dataset()
    assert torch.equal(diagonal[0].x, torch.eye(1000))
    assert torch.equal(diagonal[0].y, first.y)


def test_N_and_target_offset():
    dataset = TwitterTennisDatasetLoader("rg17", N=50, feature_mode=None,
                                         target_offset=3).get_dataset()
    snapshots = list(dataset)
    assert len(snapshots) == 120
    first, last = snapshots[0], snapshots[-1]
    assert first.x.shape == (50, 2) and first.y.shape == (50,)
    assert first.edge_index.shape == (2, 6) and last.edge_index.shape == (2, 9)
    assert first.edge_index[:, :2].tolist() == [[42, 9], [0, 0]]
    assert float(first.edge_attr.sum()) == 9.0
    assert float(first.x.sum()) == pytest.approx(68.269791, rel=1e-6)
    assert float(first.y.sum()) == pytest.approx(76.88118, rel=1e-6)
    assert float(last.y.sum()) == pytest.approx(43.883003, rel=1e-6)
    assert int(first.edge_index.max()) < 50
    # the targets of the last snapshots repeat the final one
    assert torch.equal(snapshots[-3].y, last.y) and torch.equal(snapshots[-2].y, last.y)
    uo = TwitterTennisDatasetLoader("uo17", N=50, feature_mode="diagonal").get_dataset()
    assert uo[0].x.shape == (50, 50) and uo[0].edge_index.shape == (2, 4)
    assert float(uo[0].y.sum()) == pytest.approx(44.01387, rel=1e-6)
    zero = TwitterTennisDatasetLoader("uo17", target_offset=0, feature_mode=None).get_dataset()
    assert torch.equal(zero[1].y[:50], uo[0].y)


def test_exported_at_top_level():
    assert torch_geometric_temporal.TwitterTennisDatasetLoader is TwitterTennisDatasetLoader
    assert "TwitterTennisDatasetLoader" in torch_geometric_temporal.dataset.__all__


def test_encode_features():
    encoded = encode_features([[0, 0.0], [100, 1.0], [2, 0.25]])
    assert encoded.shape == (3, 16)
    assert encoded[0].nonzero()[0].tolist() == [0, 5]
    assert encoded[1].nonzero()[0].tolist() == [4, 15]  # degree capped at 4
    assert encoded[2].nonzero()[0].tolist() == [2, 7]


def test_bad_arguments():
    with pytest.raises(ValueError, match="event_id"):
        TwitterTennisDatasetLoader("wimbledon")
    with pytest.raises(ValueError, match="feature_mode"):
        TwitterTennisDatasetLoader(feature_mode="onehot")
    with pytest.raises(ValueError, match="target_offset"):
        TwitterTennisDatasetLoader(target_offset=-1)
    with pytest.raises(ValueError, match="N must be"):
        TwitterTennisDatasetLoader(N=0)


def _small(periods=2):
    return {"time_periods": periods,
            **{str(t): {"index": t, "edges": [[0, 1], [1, 0]], "weights": [1, 2],
                        "X": [[1, 0.0], [2, 0.5]], "y": [3, 4]} for t in range(periods)}}


def _write(tmp_path, data, event="rg17"):
    path = tmp_path / f"twitter_tennis_{event}.json"
    path.write_text(json.dumps(data))
    return path


def test_raw_data_dir_and_offline(tmp_path):
    _write(tmp_path, _small(3))
    dataset = TwitterTennisDatasetLoader(raw_data_dir=tmp_path).get_dataset()
    assert len(list(dataset)) == 3
    assert dataset[0].y.tolist() == pytest.approx(np.log1p([3, 4]).tolist())
    with pytest.raises(FileNotFoundError, match=r"twitter_tennis_uo17\.json"):
        TwitterTennisDatasetLoader("uo17", raw_data_dir=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="ferencberes"):
        TwitterTennisDatasetLoader("uo17", raw_data_dir=tmp_path)
    assert (DATA_DIR / "twitter_tennis_uo17.json").is_file()


def test_empty_snapshot(tmp_path):
    data = _small(2)
    data["1"]["edges"], data["1"]["weights"] = [], []
    dataset = TwitterTennisDatasetLoader(raw_data_dir=_write(tmp_path, data)).get_dataset()
    assert dataset[1].edge_index.shape == (2, 0)


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.pop("time_periods"), "'time_periods'"),
    (lambda d: d.update(time_periods="2"), "'time_periods'"),
    (lambda d: d.pop("1"), "snapshot entry '1'"),
    (lambda d: d["0"].pop("weights"), r"snapshot '0' has no 'weights'"),
    (lambda d: d["0"].update(X=[[1, "a"], [2, 0]]), r"snapshot '0': entry 'X'"),
    (lambda d: d["1"].update(y=[1, 2, 3]), r"snapshot '1' 'y' has shape"),
    (lambda d: d["0"].update(edges=[[0, 5]], weights=[1]), "outside"),
    (lambda d: d["0"].update(weights=[1]), r"'weights' has 1 values for 2 edges"),
])
def test_bad_json(tmp_path, mutate, match):
    data = _small(2)
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=match) as info:
        TwitterTennisDatasetLoader(raw_data_dir=path)
    assert str(path) in str(info.value)


def test_truncated_file(tmp_path):
    path = tmp_path / "twitter_tennis_rg17.json"
    path.write_text('{"time_periods": 2, "0": {')
    with pytest.raises(ValueError, match="not valid JSON"):
        TwitterTennisDatasetLoader(raw_data_dir=tmp_path)


def test_encoded_code_out_of_range(tmp_path):
    data = _small(1)
    data["0"]["X"] = [[1, 1.5], [2, 0.0]]  # transitivity > 1
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match="transitivity") as info:
        TwitterTennisDatasetLoader(raw_data_dir=path).get_dataset()
    assert str(path) in str(info.value)
