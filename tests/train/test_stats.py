import os

import pytest

from torch_geometric_temporal.train.stats import (
    PER_EPOCH_COLUMNS,
    STATS_COLUMNS,
    SYSTEM_COLUMNS,
    Columns,
    CSVAppender,
    read_csv,
    write_csv_atomic,
    write_stats,
)


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


def test_pgti_column_names_repeat_ours():
    """The columns PGT-I's analysis scripts read are present, after ours."""
    assert STATS_COLUMNS[:5] == ["dataset", "mode", "model", "epochs", "batch_size"]
    assert STATS_COLUMNS[-8:] == ["preprocessing", "training", "total", "t_mae", "v_mae",
                                  "max_system_mem", "gpu_memory_total", "max_gpu_mem"]
    assert PER_EPOCH_COLUMNS[-3:] == ["runtime", "t_mae", "v_mae"]
    assert SYSTEM_COLUMNS[-2:] == ["Timestamp", "System_Memory_Used"]
    with pytest.raises(ValueError, match="not in"):
        Columns(["a"], aliases={"b": "c"})


def test_stats_csv_pgti_cells_equal_their_sources(tmp_path):
    args = type("Args", (), dict(mode="index", model="batched", epochs=2, batch_size=8))
    write_stats(str(tmp_path), dataset="metr_la", args=args, preprocessing_seconds=1.5,
                training_seconds=2.25, total_seconds=3.75, best_train_mae=0.5, best_val_mae=0.75,
                test={"mae": 0.8}, peaks={"system_memory_peak_mb": 123.0,
                                          "gpu_memory_total_mb": 80.0, "gpu_memory_peak_mb": 9.0})
    row = read_csv(tmp_path / "stats.csv")[0]
    assert list(row) == STATS_COLUMNS
    for alias, source in STATS_COLUMNS.aliases.items():
        assert row[alias] == row[source] != "", alias
    assert (row["total"], row["max_system_mem"], row["max_gpu_mem"]) == ("3.75", "123.0", "9.0")


def test_per_epoch_and_system_rows_fill_pgti_cells(tmp_path):
    path = tmp_path / "per_epoch_stats.csv"
    CSVAppender(str(path), PER_EPOCH_COLUMNS).append(
        {"epoch": 1, "runtime_seconds": 2.0, "train_mae": 0.5, "val_mae": 0.25, "lr": 0.01})
    row = read_csv(path)[0]
    assert (row["runtime"], row["t_mae"], row["v_mae"]) == ("2.0", "0.5", "0.25")
    write_csv_atomic(str(tmp_path / "system_stats.csv"), SYSTEM_COLUMNS,
                     [{"timestamp": "2026-01-01 00:00:00", "system_memory_used_mb": 7.5}])
    row = read_csv(tmp_path / "system_stats.csv")[0]
    assert (row["Timestamp"], row["System_Memory_Used"]) == ("2026-01-01 00:00:00", "7.5")
