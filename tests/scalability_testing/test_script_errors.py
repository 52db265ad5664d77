r"""The scripts run as a user runs them (subprocesses): a user error is one
line on stderr, ``<script>: error: <message>``, exit status 2, no traceback
unless ``-d``; a failed start writes and deletes nothing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scalability_testing"

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")


def run(script, *args, prelude=None):
    r"""Run ``scalability_testing/<script>.py args`` (after ``prelude``, Python
    code run first in the same process, when given)."""
    path = str(SCRIPTS / f"{script}.py")
    if prelude is None:
        cmd = [sys.executable, path, *map(str, args)]
    else:
        code = (f"import runpy, sys\n{prelude}\nsys.argv = {[path, *map(str, args)]!r}\n"
                f"runpy.run_path({path!r}, run_name='__main__')\n")
        cmd = [sys.executable, "-c", code]
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # PGT_OFFLINE is set by conftest: nothing is downloaded
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def one_error_line(proc, script):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{script}.py: error: "), lines[0]
    return lines[0]


def test_missing_data_dir(tmp_path):
    missing = tmp_path / "no_such_dir"
    proc = run("metr_la_main", "--data-dir", missing, "--out-dir", tmp_path / "out", "-q")
    line = one_error_line(proc, "metr_la_main")
    assert str(missing) in line and "missing" in line


def test_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "no_such_dir"
    proc = run("metr_la_main", "--data-dir", missing, "--out-dir", tmp_path / "out", "-q", "-d")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("metr_la_main.py: error: ")


def test_bad_file_names_it(tmp_path):
    bad = tmp_path / "chickenpox.json"
    bad.write_text('{"edges": [[0, 1]], "FX": [[0.1, ')  # truncated
    proc = run("chicken_pox_main", "--data-dir", bad, "--out-dir", tmp_path / "out", "-q")
    assert str(bad) in one_error_line(proc, "chicken_pox_main")


@pytest.mark.parametrize("args, message", [
    (["--epochs", "-1"], "--epochs must be >= 0"),
    (["--mode", "fast"], "invalid choice: 'fast'"),
    (["--gpu", "maybe"], "expected true or false"),
])
def test_bad_flags(tmp_path, args, message):
    proc = run("chicken_pox_main", *args, "--out-dir", tmp_path / "out")
    assert message in one_error_line(proc, "chicken_pox_main")
    assert not (tmp_path / "out").exists()


@no_cuda
def test_gpu_without_cuda_fails_before_touching_the_out_dir(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "system_stats.csv").write_text("an earlier run's file\n")
    proc = run("chicken_pox_main", "-g", "--out-dir", out)
    assert "no CUDA device" in one_error_line(proc, "chicken_pox_main")
    assert (out / "system_stats.csv").read_text() == "an earlier run's file\n"


@no_cuda
@pytest.mark.parametrize("flags", [["--device", "cuda"], ["--device", "cuda:1", "-g"], ["-g", "--device", "auto"]])
def test_cuda_device_without_cuda_is_one_line(tmp_path, flags):
    proc = run("chicken_pox_main", *flags, "--out-dir", tmp_path / "out")
    assert "no CUDA device" in one_error_line(proc, "chicken_pox_main")
    assert not (tmp_path / "out").exists()


def test_gpu_with_cpu_device_is_one_line(tmp_path):
    proc = run("chicken_pox_main", "-g", "--device", "cpu", "--out-dir", tmp_path / "out")
    assert "drop -g or --device cpu" in one_error_line(proc, "chicken_pox_main")
    assert not (tmp_path / "out").exists()


@no_cuda
def test_ddp_gpu_without_cuda_says_so_not_install_dask_cuda(tmp_path):
    proc = run("pems_ddp", "-g", "--dataset", "chickenpox", "--out-dir", tmp_path / "out")
    line = one_error_line(proc, "pems_ddp")
    assert "no CUDA device" in line and "dask-cuda" not in line and "dask_cuda" not in line
    assert not (tmp_path / "out").exists()


def test_ddp_without_the_dask_extra(tmp_path):
    # as installed with [monitor] only: the README's DDP command
    proc = run("pems_ddp", "--dataset", "chickenpox", "-np", "2", "--out-dir", tmp_path / "out",
               prelude="sys.modules['distributed'] = None")
    line = one_error_line(proc, "pems_ddp")
    assert "'distributed'" in line and "pip install 'torch-geometric-temporal[dask]'" in line
    assert not (tmp_path / "out").exists()


def test_script_without_the_monitor_extra(tmp_path):
    proc = run("chicken_pox_main", "-e", "1", "--out-dir", tmp_path / "out", prelude="sys.modules['psutil'] = None")
    line = one_error_line(proc, "chicken_pox_main")
    assert "'psutil'" in line and "pip install 'torch-geometric-temporal[monitor]'" in line
