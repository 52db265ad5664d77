import os

import pytest

from torch_geometric_temporal.train.stats import CSVAppender, read_csv, write_csv_atomic


def test_appender_writes_header_once_and_whole_rows(tmp_path):
    path = tmp_path / "sub" / "a.csv"
    w = CSVAppender(str(path), ["epoch", "mae", "note"])
    w.append({"epoch": 1, "mae": 0.5, "note": "x,y"})
    CSVAppender(str(path), ["epoch", "mae", "note"]).append({"epoch": 2, "mae": None})
    text = path.read_text()
    assert text.count("epoch,mae,note") == 1 and text.endswith("\n")
    rows = read_csv(path)
    assert rows == [{"epoch": "1", "mae": "0.5", "note": "x,y"}, {"epoch": "2", "mae": "", "note": ""}]
    with pytest.raises(ValueError, match="unknown columns"):
        w.append({"epoch": 3, "bogus": 1})


def test_write_csv_atomic_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("old\n")
    write_csv_atomic(str(path), ["a", "b"], [{"a": 1, "b": float("nan")}])
    assert read_csv(path) == [{"a": "1", "b": "nan"}]
    assert os.listdir(tmp_path) == ["s.csv"]
