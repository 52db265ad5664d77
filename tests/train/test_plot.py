import pytest

from torch_geometric_temporal.plot import main
from torch_geometric_temporal.train.stats import PER_EPOCH_COLUMNS, SYSTEM_COLUMNS, write_csv_atomic

pytest.importorskip("matplotlib")


def test_plot_writes_pngs(tmp_path):
    write_csv_atomic(tmp_path / "per_epoch_stats.csv", PER_EPOCH_COLUMNS,
                     [{"epoch": e, "runtime_seconds": 1.0, "train_mae": 3.0 / e, "val_mae": 3.5 / e, "lr": 1e-3}
                      for e in (1, 2, 3)])
    write_csv_atomic(tmp_path / "system_stats.csv", SYSTEM_COLUMNS,
                     [{"timestamp": f"2026-01-01 00:00:0{s}", "process_rss_mb": 100 + s,
                       "system_memory_used_mb": 900 + s, "system_memory_total_mb": 24000} for s in range(4)])
    paths = main([str(tmp_path), "--out", str(tmp_path / "plots")])
    assert [p.rsplit("/", 1)[1] for p in paths] == ["learning_curves.png", "memory.png"]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_missing_run_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="--out-dir of a training run"):
        main([str(tmp_path / "nope")])


def test_plot_write_is_atomic(tmp_path, monkeypatch):
    import os

    import torch_geometric_temporal.plot as plot

    write_csv_atomic(tmp_path / "per_epoch_stats.csv", PER_EPOCH_COLUMNS,
                     [{"epoch": 1, "runtime_seconds": 1.0, "train_mae": 3.0, "val_mae": 3.5, "lr": 1e-3}])
    png = tmp_path / "learning_curves.png"
    png.write_bytes(b"old plot")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(plot.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        plot.plot_learning_curves(str(tmp_path / "per_epoch_stats.csv"), str(png))
    assert png.read_bytes() == b"old plot"  # never a torn or half-written PNG
    assert sorted(os.listdir(tmp_path)) == ["learning_curves.png", "per_epoch_stats.csv"]  # no temp left
    monkeypatch.undo()
    plot.plot_learning_curves(str(tmp_path / "per_epoch_stats.csv"), str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
