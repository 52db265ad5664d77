import os
import signal
import subprocess
import sys

import pytest

from torch_geometric_temporal.train.run_dir import LOCK_NAME, OUTPUT_NAMES, OutDirError, RunDirectory

HOLD = """
import sys, time
from torch_geometric_temporal.train.run_dir import RunDirectory
run_dir = RunDirectory(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_second_run_into_a_busy_out_dir_is_refused(tmp_path):
    with RunDirectory(str(tmp_path)):
        assert (tmp_path / LOCK_NAME).read_text().startswith(str(os.getpid()))
        with pytest.raises(OutDirError, match=f"--out-dir {tmp_path} is in use by another run .*{os.getpid()}"):
            RunDirectory(str(tmp_path)).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # released and removed on exit
    with RunDirectory(str(tmp_path)):
        pass


def test_lock_of_a_killed_run_is_not_stale(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(OutDirError, match="in use"):
            RunDirectory(str(tmp_path)).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert (tmp_path / LOCK_NAME).exists()  # left behind by the killed run, but no longer locked
    with RunDirectory(str(tmp_path)):
        pass


def test_previous_outputs_need_resume_or_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")  # other files are no reason to refuse (the out-dir may be .)
    with RunDirectory(str(tmp_path)) as run_dir:
        assert run_dir.previous == []
    (tmp_path / "stats.csv").write_text("old")
    with pytest.raises(OutDirError, match=f"--out-dir {tmp_path} holds the outputs of a previous run "
                                          r"\(stats.csv\); pass --resume .* or --overwrite"):
        RunDirectory(str(tmp_path)).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # a refused claim releases the lock
    with pytest.raises(FileNotFoundError, match="drop --resume"):
        RunDirectory(str(tmp_path), resume=True).acquire()
    with pytest.raises(FileNotFoundError, match="drop --resume"):
        RunDirectory(str(tmp_path / "new"), resume=True).acquire()
    assert not (tmp_path / "new").exists()
    with pytest.raises(OutDirError, match="only one of them"):
        RunDirectory(str(tmp_path), resume=True, overwrite=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutDirError, match="is a file, not a folder"):
        RunDirectory(str(tmp_path / "file")).acquire()


def test_overwrite_removes_every_output_and_nothing_else_when_told(tmp_path):
    for name in OUTPUT_NAMES + ("notes.txt", "stats.csv.bak"):
        (tmp_path / name).write_text("old")
    with RunDirectory(str(tmp_path), overwrite=True) as run_dir:
        assert run_dir.previous == list(OUTPUT_NAMES)
        assert sorted(os.listdir(tmp_path)) == sorted(OUTPUT_NAMES + ("notes.txt", "stats.csv.bak", LOCK_NAME))
        assert not run_dir.started_since_claim()
        run_dir.clear_previous(keep=("system_stats.csv",))
        assert run_dir.started_since_claim()
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "stats.csv.bak", "system_stats.csv"]


def test_stale_temporary_files_of_the_run_are_removed(tmp_path):
    ours = [".tmp-checkpoint.pt.k2j3h4g5", ".tmp-stats.csv.a1b2c3d4", ".tmp-memory.png.zz_9yy8x",
            ".tmp-a8_kq2zd.pt", ".tmp-0x1y2z3w.csv", ".tmp-abcdefgh.png"]  # this version's and the old naming
    others = [".tmp-notes.txt.a1b2c3d4", ".tmp-keep", "tmp-abcdefgh.pt"]
    for name in ours + others:
        (tmp_path / name).write_bytes(b"partial")
    with RunDirectory(str(tmp_path)):
        pass
    assert sorted(os.listdir(tmp_path)) == sorted(others)


def test_a_run_without_out_dir_writes_into_the_current_directory(chickenpox_path, tmp_path, monkeypatch):
    """As PGT-I's scripts: the CSVs land in the current directory; the lock
    goes, other files stay, and a second run needs --overwrite, which removes
    only the run's own outputs."""
    pytest.importorskip("psutil")
    from torch_geometric_temporal.train.cli import make_main
    from torch_geometric_temporal.train.datasets import DATASETS

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "notes.txt").write_text("mine")
    monkeypatch.chdir(cwd)
    main = make_main(DATASETS["chickenpox"])
    argv = ["--data-dir", str(chickenpox_path), "--epochs", "1", "--batch-size", "8", "--max-batches", "1",
            "-q", "--threads", "1", "--device", "cpu"]
    main(argv)
    made = set(os.listdir(cwd))
    assert {"stats.csv", "per_epoch_stats.csv", "system_stats.csv", "notes.txt"} <= made
    assert LOCK_NAME not in made and made - {"notes.txt"} <= set(OUTPUT_NAMES)
    with pytest.raises(OutDirError, match="--overwrite"):
        main(argv)
    main(argv + ["--overwrite"])
    assert (cwd / "notes.txt").read_text() == "mine" and (cwd / "stats.csv").is_file()
