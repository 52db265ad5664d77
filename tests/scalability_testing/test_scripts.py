"""End-to-end runs of every ``scalability_testing`` script on tiny synthetic
data (``--max-batches``), CSV contents, base/index equality and exact resume
after a SIGKILL mid-epoch."""
import importlib.util
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from torch_geometric_temporal.train.stats import (
    GPU_COLUMNS,
    PER_EPOCH_COLUMNS,
    STATS_COLUMNS,
    SYSTEM_COLUMNS,
    TEST_METRICS_COLUMNS,
    read_csv,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scalability_testing"


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def header(path):
    with open(path) as f:
        return f.readline().strip().split(",")


def check_outputs(out_dir, epochs, gpu=False):
    out_dir = Path(out_dir)
    assert header(out_dir / "stats.csv") == STATS_COLUMNS
    stats = read_csv(out_dir / "stats.csv")
    assert len(stats) == 1
    row = stats[0]
    for col in ("preprocessing_seconds", "training_seconds", "total_seconds", "best_train_mae",
                "best_val_mae", "test_mae", "test_rmse", "system_memory_total_mb",
                "system_memory_peak_mb", "process_rss_peak_mb"):
        value = float(row[col])
        assert math.isfinite(value) and value >= 0, (col, row[col])
    assert float(row["total_seconds"]) >= float(row["preprocessing_seconds"])
    assert 0 < float(row["process_rss_peak_mb"]) <= float(row["system_memory_total_mb"])
    assert float(row["best_val_mae"]) > 0
    if not gpu:  # a CPU run: GPU columns are empty, not zeros
        assert all(row[col] == "" for col in GPU_COLUMNS), row
    else:  # the training GPU's size and peaks (NVML's, when NVML sees it; the allocator's always)
        assert 0 < float(row["gpu_max_allocated_mb"]) <= float(row["gpu_max_reserved_mb"])
        if row["gpu_memory_total_mb"]:
            assert 0 < float(row["gpu_memory_peak_mb"]) <= float(row["gpu_memory_total_mb"])

    assert header(out_dir / "per_epoch_stats.csv") == PER_EPOCH_COLUMNS
    epochs_rows = read_csv(out_dir / "per_epoch_stats.csv")
    assert [int(r["epoch"]) for r in epochs_rows] == list(range(1, epochs + 1))
    for r in epochs_rows:
        assert float(r["runtime_seconds"]) > 0
        assert float(r["train_mae"]) > 0 and float(r["val_mae"]) > 0
    assert min(float(r["train_mae"]) for r in epochs_rows) == pytest.approx(float(row["best_train_mae"]))
    assert min(float(r["val_mae"]) for r in epochs_rows) == pytest.approx(float(row["best_val_mae"]))

    assert header(out_dir / "system_stats.csv") == SYSTEM_COLUMNS
    samples = read_csv(out_dir / "system_stats.csv")
    assert len(samples) >= 1
    for s in samples:
        assert len(s["timestamp"]) == 19
        assert float(s["process_rss_mb"]) > 0
        assert 0 < float(s["system_memory_used_mb"]) <= float(s["system_memory_total_mb"])
        if not gpu:
            assert s["gpu_memory_used_mb"] == "" and s["gpu_memory_total_mb"] == ""

    assert header(out_dir / "test_metrics.csv") == TEST_METRICS_COLUMNS
    test_rows = read_csv(out_dir / "test_metrics.csv")
    assert test_rows[-1]["horizon"] == "all"
    assert float(test_rows[-1]["mae"]) == pytest.approx(float(row["test_mae"]))
    assert os.path.isfile(out_dir / "checkpoint.pt")
    return row, epochs_rows


@pytest.fixture
def data_dirs(chickenpox_path, windmill_path, metr_la_dir, pems_bay_dir, pems_all_la_dir, pems_dir):
    return {
        "chicken_pox_main": chickenpox_path,
        "windmill_main": windmill_path,
        "metr_la_main": metr_la_dir,
        "pems_bay_main": pems_bay_dir,
        "pems_all_la_main": pems_all_la_dir,
        "pems_main": pems_dir,
    }


@pytest.mark.parametrize("script,mode,model", [
    ("chicken_pox_main", "index", "batched"),
    ("windmill_main", "base", "batched"),
    ("metr_la_main", "index", "seq2seq"),
    ("pems_bay_main", "base", "batched"),
    ("pems_all_la_main", "index", "batched"),
    ("pems_main", "index", "seq2seq"),
])
def test_script_end_to_end(script, mode, model, data_dirs, tmp_path):
    module = load_script(script)
    out = tmp_path / "out"
    argv = ["--mode", mode, "--model", model, "--data-dir", str(data_dirs[script]), "--epochs", "2",
            "--batch-size", "8", "--max-batches", "2", "--out-dir", str(out), "-q", "--threads", "1",
            "--device", "cpu"]
    if model == "seq2seq":
        argv += ["--hidden", "8", "--layers", "1"]
    result = module.main(argv)
    row, _ = check_outputs(out, epochs=2)
    assert row["dataset"] == module.SPEC.name and row["mode"] == mode and row["model"] == model
    assert result["test_mae"] == pytest.approx(float(row["test_mae"]))
    assert len(result["test"]["mae_per_step"]) == module.SPEC.num_timesteps_out


def test_mmap_and_bool_spellings(metr_la_dir, tmp_path):
    module = load_script("metr_la_main")
    out = tmp_path / "out"
    module.main(["-m", "index", "--mmap", "-d", "false", "-g", "False", "--data-dir", str(metr_la_dir),
                 "-e", "1", "-bs", "8", "--max-batches", "1", "--out-dir", str(out), "-q", "--threads", "1",
                 "--device", "cpu"])
    check_outputs(out, epochs=1)


def test_bad_arguments(tmp_path):
    module = load_script("chicken_pox_main")
    with pytest.raises(SystemExit):
        module.main(["--mode", "fast"])
    with pytest.raises(SystemExit):
        module.main(["--gpu", "maybe"])


def test_base_and_index_modes_identical(metr_la_dir, tmp_path):
    module = load_script("metr_la_main")
    rows = {}
    for mode in ("base", "index"):
        out = tmp_path / mode
        module.main(["--mode", mode, "--data-dir", str(metr_la_dir), "--epochs", "2", "--batch-size", "16",
                     "--max-batches", "3", "--out-dir", str(out), "--seed", "3", "-q", "--threads", "1",
                     "--device", "cpu"])
        rows[mode] = read_csv(out / "per_epoch_stats.csv")
        rows[mode + "_stats"] = read_csv(out / "stats.csv")[0]
    for b, i in zip(rows["base"], rows["index"]):
        assert b["train_mae"] == i["train_mae"] and b["val_mae"] == i["val_mae"]
    assert rows["base_stats"]["test_mae"] == rows["index_stats"]["test_mae"]


KILLER = textwrap.dedent("""
    import importlib.util, os, signal, sys
    spec = importlib.util.spec_from_file_location("m", sys.argv[1])
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)

    class Kill:
        def on_batch_end(self, trainer, epoch, batch_idx):
            if epoch == 2 and batch_idx == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    if sys.argv[2] == "kill":
        m.main(sys.argv[4:] + ["--out-dir", sys.argv[3]], callbacks=[Kill()])
    else:  # resume the killed run, then an uninterrupted run, in one fresh process
        m.main(sys.argv[4:] + ["--out-dir", sys.argv[2], "--resume"])
        m.main(sys.argv[4:] + ["--out-dir", sys.argv[3]])
""")


def test_kill_mid_epoch_then_resume_matches_uninterrupted(metr_la_dir, tmp_path):
    script = SCRIPTS / "metr_la_main.py"
    common = ["--mode", "index", "--data-dir", str(metr_la_dir), "--epochs", "3", "--batch-size", "16",
              "--max-batches", "3", "--lr-milestones", "2", "--seed", "5", "-q", "--threads", "1", "--device", "cpu"]
    # fresh processes, as a user would run them (a process that ran other
    # tests may differ in the last bits of float rounding)
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-c", KILLER, str(script), *map(str, args), *common],
        capture_output=True, text=True, timeout=300, cwd=str(ROOT))

    killed, full = tmp_path / "killed", tmp_path / "full"
    proc = run("kill", killed)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [r["epoch"] for r in read_csv(killed / "per_epoch_stats.csv")] == ["1"]
    assert not (killed / "stats.csv").exists()

    proc = run(killed, full)
    assert proc.returncode == 0, proc.stderr

    resumed_rows, full_rows = (read_csv(d / "per_epoch_stats.csv") for d in (killed, full))
    assert [r["epoch"] for r in resumed_rows] == ["1", "2", "3"]
    for a, b in zip(resumed_rows, full_rows):
        assert (a["train_mae"], a["val_mae"], a["lr"]) == (b["train_mae"], b["val_mae"], b["lr"])
    a, b = (read_csv(d / "stats.csv")[0] for d in (killed, full))
    for col in ("best_train_mae", "best_val_mae", "test_mae", "test_rmse", "test_mape"):
        assert a[col] == b[col], col
    check_outputs(killed, epochs=3)


def test_resume_without_checkpoint_is_clear(tmp_path):
    module = load_script("chicken_pox_main")
    with pytest.raises(FileNotFoundError, match="drop --resume"):
        module.main(["--out-dir", str(tmp_path / "none"), "--resume", "-e", "1", "-q"])


def test_readme_main_job_command(tmp_path):
    """The README / ``make run`` command shape, as a real process, on the
    shipped Chickenpox data (1 epoch here)."""
    out = tmp_path / "chickenpox"
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "chicken_pox_main.py"), "--mode", "index", "--out-dir", str(out),
         "--epochs", "1", "--threads", "1"],
        capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr
    row, _ = check_outputs(out, epochs=1, gpu=torch.cuda.is_available())  # --device auto: the GPU if any
    assert row["dataset"] == "chickenpox" and row["mode"] == "index" and row["model"] == "batched"



# -- the out-dir and the checkpoint belong to one run ---------------------------------------
def small(data_dir, out, *extra):
    return ["--mode", "index", "--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "16",
            "--max-batches", "2", "--out-dir", str(out), "-q", "--threads", "1", "--device", "cpu",
            *map(str, extra)]


def files(directory):
    return {p.name: p.read_bytes() for p in Path(directory).iterdir()}


def test_out_dir_is_refused_then_overwritten_only_after_a_good_start(metr_la_dir, tmp_path):
    from torch_geometric_temporal.train.run_dir import OutDirError

    module = load_script("metr_la_main")
    out = tmp_path / "out"
    module.main(small(metr_la_dir, out, "--epochs", "2"))
    (out / "learning_curves.png").write_bytes(b"old plot")
    (out / "notes.txt").write_text("mine")
    with open(out / "system_stats.csv", "a") as f:
        f.write("1999-01-01 00:00:00,1,1,1,,\n")  # marks the old run's samples
    before = files(out)
    with pytest.raises(OutDirError, match=f"--out-dir {out} holds the outputs of a previous run .*--resume.*"
                                          "--overwrite"):
        module.main(small(metr_la_dir, out))
    with pytest.raises(OSError):  # a failed start (missing data) deletes nothing
        module.main(small(tmp_path / "no_such_dir", out, "--overwrite"))
    assert files(out) == before

    module.main(small(metr_la_dir, out, "--overwrite"))
    assert not (out / "learning_curves.png").exists() and (out / "notes.txt").read_text() == "mine"
    assert "1999" not in (out / "system_stats.csv").read_text()
    row, _ = check_outputs(out, epochs=1)
    assert row["epochs"] == "1"
    assert sorted(os.listdir(out)) == ["checkpoint.pt", "notes.txt", "per_epoch_stats.csv", "stats.csv",
                                       "system_stats.csv", "test_metrics.csv"]  # no lock, no temp left


def test_busy_out_dir_and_stale_temps(metr_la_dir, tmp_path):
    from torch_geometric_temporal.train.run_dir import OutDirError, RunDirectory

    module = load_script("metr_la_main")
    out = tmp_path / "out"
    with RunDirectory(str(out)):
        with pytest.raises(OutDirError, match="in use by another run"):
            module.main(small(metr_la_dir, out))
    (out / ".tmp-k3j4h5g6.pt").write_bytes(b"torn")  # a killed checkpoint write of an earlier version
    (out / ".tmp-checkpoint.pt.a1b2c3d4").write_bytes(b"torn")
    module.main(small(metr_la_dir, out))
    assert not any(name.startswith(".tmp-") for name in os.listdir(out))


def test_outputs_respect_the_umask(metr_la_dir, tmp_path):
    import stat

    module = load_script("metr_la_main")
    old = os.umask(0o027)
    try:
        module.main(small(metr_la_dir, tmp_path / "out"))
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert set(modes) == {"checkpoint.pt", "per_epoch_stats.csv", "stats.csv", "system_stats.csv",
                          "test_metrics.csv"}
    assert set(modes.values()) == {0o640}, modes


def test_resume_refuses_another_runs_checkpoint(metr_la_dir, pems_bay_dir, tmp_path):
    from torch_geometric_temporal.dataset import synthetic
    from torch_geometric_temporal.train.checkpoint import CheckpointError

    metr, bay = load_script("metr_la_main"), load_script("pems_bay_main")
    out = tmp_path / "out"
    metr.main(small(metr_la_dir, out))
    before = files(out)
    with pytest.raises(CheckpointError, match="belongs to a different run .*dataset: 'metr_la' -> 'pems_bay'"):
        bay.main(small(pems_bay_dir, out, "--resume"))
    with pytest.raises(CheckpointError, match="model: 'batched' -> 'seq2seq'"):
        metr.main(small(metr_la_dir, out, "--resume", "--model", "seq2seq"))
    other = tmp_path / "other_metr_la"  # same dataset and shapes, another graph and other speeds
    synthetic.write_metr_la(other, num_timesteps=300, num_nodes=8, seed=9)
    with pytest.raises(CheckpointError, match="graph: '.*' -> '.*'; statistics: "):
        metr.main(small(other, out, "--resume", "--epochs", "2"))
    assert files(out) == before


def test_resume_keeps_checkpoint_settings_extends_epochs(metr_la_dir, tmp_path, caplog):
    module = load_script("metr_la_main")
    a, b = tmp_path / "a", tmp_path / "b"
    module.main(small(metr_la_dir, a, "--lr", "0.01", "--seed", "3", "--lr-milestones", "1"))
    with caplog.at_level("WARNING", logger="torch_geometric_temporal"):
        module.main(small(metr_la_dir, a, "--epochs", "3", "--lr", "0.5", "--seed", "9", "--resume"))
    assert "--lr 0.01 (given 0.5)" in caplog.text and "--seed 3 (given 9)" in caplog.text
    assert "--lr-milestones 1 (given none)" in caplog.text
    module.main(small(metr_la_dir, b, "--epochs", "3", "--lr", "0.01", "--seed", "3", "--lr-milestones", "1"))
    resumed, full = (read_csv(d / "per_epoch_stats.csv") for d in (a, b))
    assert [float(r["lr"]) for r in resumed] == pytest.approx([0.01, 0.001, 0.001])
    for x, y in zip(resumed, full):
        assert float(x["train_mae"]) == pytest.approx(float(y["train_mae"]), rel=1e-6)
    assert read_csv(a / "stats.csv")[0]["epochs"] == "3"
    module.main(small(metr_la_dir, a, "--epochs", "1", "--resume"))  # fewer epochs: nothing trained
    assert read_csv(a / "stats.csv")[0]["epochs"] == "3"
    assert len(read_csv(a / "per_epoch_stats.csv")) == 3


def test_ddp_out_dir_errors_match_single_process(metr_la_dir, tmp_path):
    from torch_geometric_temporal.train.checkpoint import CheckpointError
    from torch_geometric_temporal.train.run_dir import OutDirError

    ddp, single = load_script("pems_ddp"), load_script("metr_la_main")
    common = ["--dataset", "metr-la", "--data-dir", str(metr_la_dir), "-np", "1", "-q"]
    with pytest.raises(FileNotFoundError) as single_error:
        single.main(["--out-dir", str(tmp_path / "none"), "--resume", "-q"])
    with pytest.raises(FileNotFoundError) as ddp_error:  # before any cluster starts
        ddp.main(common + ["--out-dir", str(tmp_path / "none"), "--resume"])
    assert str(ddp_error.value).replace("none", "") == str(single_error.value).replace("none", "")
    out = tmp_path / "out"
    single.main(small(metr_la_dir, out))
    with pytest.raises(OutDirError, match="--resume .* or --overwrite"):
        ddp.main(common + ["--out-dir", str(out)])
    with pytest.raises(CheckpointError, match="ranks: 1 -> 2"):
        ddp.main(common + ["--out-dir", str(out), "-np", "2", "--resume", "--batch-size", "16"])


@pytest.mark.distributed
def test_ddp_overwrite_removes_only_after_every_rank_started(metr_la_dir, tmp_path):
    pytest.importorskip("distributed")
    from torch_geometric_temporal.distributed import DDPRunError, close_cluster, start_cluster
    from torch_geometric_temporal.train.ddp_experiment import run_ddp_experiment

    ddp = load_script("pems_ddp")
    out = tmp_path / "out"

    def run(client, data_dir, *extra):
        spec, args = ddp.parse_args(["--dataset", "metr-la", "--data-dir", str(data_dir), "--out-dir", str(out),
                                     "-np", "2", "-e", "1", "-bs", "16", "--max-batches", "2", "--hidden", "4",
                                     "-K", "1", "-q", "--timeout", "120", "--collective-timeout", "30", *extra])
        return run_ddp_experiment(spec, args, client=client)

    cluster, client = start_cluster(2, timeout=60)
    try:
        run(client, metr_la_dir)
        (out / "learning_curves.png").write_bytes(b"old plot")
        (out / "notes.txt").write_text("mine")
        with open(out / "system_stats.csv", "a") as f:
            f.write("1999-01-01 00:00:00,1,1,1,,\n")
        before = files(out)
        with pytest.raises(DDPRunError):  # every rank fails to load its data: nothing deleted, nothing written
            run(client, tmp_path / "no_such_dir", "--overwrite")
        assert files(out) == before
        result = run(client, metr_la_dir, "--overwrite")
    finally:
        close_cluster(cluster, client)
    assert not (out / "learning_curves.png").exists() and (out / "notes.txt").read_text() == "mine"
    assert "1999" not in (out / "system_stats.csv").read_text()
    assert len(read_csv(out / "system_stats.csv")) >= 1 and result["epochs"] == 1
    assert sorted(os.listdir(out)) == ["checkpoint.pt", "notes.txt", "per_epoch_stats.csv", "ranks.csv",
                                       "stats.csv", "system_stats.csv", "test_metrics.csv"]
    ranks = read_csv(out / "ranks.csv")  # CPU ranks: no GPU figures, in ranks.csv or stats.csv
    assert [r["device"] for r in ranks] == ["cpu", "cpu"]
    assert all(r[col] == "" for r in ranks for col in ["gpu_uuid", *GPU_COLUMNS])
    assert all(read_csv(out / "stats.csv")[0][col] == "" for col in GPU_COLUMNS)


# -- devices: --device, -g, the GPU columns -------------------------------------------------
def test_cpu_run_on_a_gpu_machine_keeps_the_cpu_expectations(metr_la_dir, tmp_path, fake_cuda):
    """With CUDA and NVML present (emulated), ``--device cpu`` trains on the CPU and leaves every GPU
    column empty; NVML is not even asked (before: cuda:0 whenever CUDA existed, NVML index 0 sampled)."""
    module = load_script("metr_la_main")
    module.main(small(metr_la_dir, tmp_path / "out"))  # small() passes --device cpu
    check_outputs(tmp_path / "out", epochs=1)
    assert fake_cuda.inits == 0 and fake_cuda.uuid_lookups == [] and fake_cuda.index_lookups == []


def test_ddp_refuses_a_device_it_cannot_honour(tmp_path):
    ddp = load_script("pems_ddp")
    for flags in (["--device", "cuda:1"], ["--device", "cuda"], ["--device", "cpu", "-g", "--dist"]):
        with pytest.raises(ValueError, match="a DDP run places its ranks itself .* drop --device"):
            ddp.main(["--dataset", "chickenpox", "--out-dir", str(tmp_path / "out"), "-q", *flags])
    assert not (tmp_path / "out").exists()


def test_ddp_gpu_columns_are_the_maximum_over_ranks():
    from torch_geometric_temporal.train.ddp_experiment import rank_gpu_peaks

    ranks = [{"gpu_memory_total_mb": 80000.0, "gpu_memory_peak_mb": 900.0, "gpu_max_allocated_mb": 120.0,
              "gpu_max_reserved_mb": 300.0},
             {"gpu_memory_total_mb": 80000.0, "gpu_memory_peak_mb": 1500.0, "gpu_max_allocated_mb": 100.0,
              "gpu_max_reserved_mb": 350.0}]
    assert rank_gpu_peaks(ranks) == {"gpu_memory_total_mb": 80000.0, "gpu_memory_peak_mb": 1500.0,
                                     "gpu_max_allocated_mb": 120.0, "gpu_max_reserved_mb": 350.0}
    assert set(rank_gpu_peaks([{"rank": 0}, {"rank": 1}]).values()) == {None}  # CPU ranks


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_run_then_resume(chickenpox_path, tmp_path):
    """``-g`` (data and model on cuda:0) for 1 epoch, then ``--resume`` to 2 epochs, as processes: the
    resumed run restores its RNG states on the CPU and ends with both epochs and the GPU columns."""
    out = tmp_path / "out"
    common = [sys.executable, str(SCRIPTS / "chicken_pox_main.py"), "-m", "index", "-g", "--data-dir",
              str(chickenpox_path), "--out-dir", str(out), "-bs", "16", "--max-batches", "4", "-q"]
    first = subprocess.run(common + ["-e", "1"], capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert first.returncode == 0, first.stderr
    resumed = subprocess.run(common + ["-e", "2", "--resume"], capture_output=True, text=True, timeout=300,
                             cwd=str(ROOT))
    assert resumed.returncode == 0, resumed.stderr
    check_outputs(out, epochs=2, gpu=True)


def test_pems_ddp_takes_pgti_dask_cluster_file():
    """PGT-I's example passes --dask-cluster-file; it names the scheduler file."""
    ddp = load_script("pems_ddp")
    _, config = ddp.parse_args(["--dataset", "chickenpox", "--dist", "--dask-cluster-file", "cluster.json"])
    assert config.scheduler_file == "cluster.json" and config.dist
    _, config = ddp.parse_args(["--dataset", "chickenpox", "--scheduler-file", "s.json"])
    assert config.scheduler_file == "s.json"
