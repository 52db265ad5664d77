"""benchmarks/gpu_check.sh and the GPU mode of bench_index_batching.py, on the
CPU: the dry run CI relies on (every command parses), the results file of a
real run (without CUDA, and with CUDA faked so that a step fails), and the
GPU benchmark's code path run on the CPU."""
import importlib.util
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
BENCH = REPO / "benchmarks" / "bench_index_batching.py"

# Started by Python before anything else (PYTHONPATH): CUDA "is available"
# with one device, so gpu_check.sh runs its GPU steps on a CPU-only torch.
FAKE_CUDA = '''
import torch
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_name = lambda *a: "FakeGPU"
torch.cuda.get_device_capability = lambda *a: (9, 0)
torch.cuda.get_device_properties = lambda *a: type("P", (), {"total_memory": 2**30})()
'''


def gpu_check(*args, env=None, script=SCRIPT, cwd=REPO):
    run_env = dict(os.environ, PYTHON=sys.executable, **(env or {}))
    return subprocess.run(["bash", str(script), *args], cwd=cwd, env=run_env, capture_output=True,
                          text=True, timeout=300)


def results(out):
    with open(out / "gpu_check_results.json") as f:
        res = json.load(f)
    return res, {s["step"]: s for s in res["steps"]}


def test_dry_run_lists_every_command_and_checks_it_parses(tmp_path):
    out = tmp_path / "out"
    proc = gpu_check("--dry-run", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert f"python {sys.executable}" in text
    for label, command in [("gpu-tests", "-m pytest -q -m gpu tests"),
                           ("bench", "bench_index_batching.py --gpu"),
                           ("seq2seq", "bench_seq2seq.py --device cuda --cases"),
                           ("seq2seq-bf16", "bench_seq2seq.py --device cuda --amp bf16"),
                           ("train-g", "chicken_pox_main.py -m index -g"),
                           ("train-g-resume", "--resume"),
                           ("ddp-2gpu", "pems_ddp.py --dataset chickenpox -m index -np 2 -g")]:
        line = next(line for line in text.splitlines() if line.strip().startswith(label))
        assert command in line, (label, line)
    assert text.count("parses: ") == 6
    collected = next(line for line in text.splitlines() if "collects:" in line)
    count = re.search(r"collects: (\d+)(/\d+ tests? collected| selected)", collected)
    assert count and int(count.group(1)) >= 4, collected  # the gpu tests exist and are selected
    assert "every command parses" in text
    assert not out.exists()  # a dry run runs nothing and writes nothing


def test_dry_run_fails_when_a_script_lacks_a_flag(tmp_path):
    broken = tmp_path / "gpu_check.sh"
    text = SCRIPT.read_text()
    assert text.count("--out-dir \"$OUT/chickenpox_g\" --resume)") == 1
    broken.write_text(text.replace("--out-dir \"$OUT/chickenpox_g\" --resume)",
                                   "--out-dir \"$OUT/chickenpox_g\" --resume-from-nowhere)"))
    proc = gpu_check("--dry-run", "--steps", "train-g", "--out", str(tmp_path / "out"),
                     env={"GPU_CHECK_ROOT": str(REPO)}, script=broken)
    assert proc.returncode == 1
    assert "does not parse: scalability_testing/chicken_pox_main.py (exit 2)" in proc.stdout
    assert "parses: scalability_testing/chicken_pox_main.py" in proc.stdout  # the first run's flags


def test_bad_arguments_are_one_line_with_exit_2(tmp_path):
    for args, message in [(["--steps", "env,warp"], "unknown step 'warp'"),
                          (["--fast"], "unknown argument '--fast'"),
                          (["--out"], "--out needs a folder")]:
        proc = gpu_check(*args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1


def test_run_without_cuda_writes_the_results_file_and_fails(tmp_path):
    proc = gpu_check("--out", "out", cwd=tmp_path)  # --out relative to the caller's folder
    assert proc.returncode == 1, proc.stdout + proc.stderr
    res, steps = results(tmp_path / "out")
    assert res["ok"] is False and res["env"]["cuda_available"] is False
    assert list(steps) == ["env", "gpu-tests", "bench", "seq2seq", "train-g", "ddp-2gpu"]
    assert steps["env"]["status"] == "failed" and "no CUDA device" in steps["env"]["detail"]
    for name in ("gpu-tests", "bench", "seq2seq", "train-g"):
        assert steps[name]["status"] == "failed" and steps[name]["detail"] == "not run: no CUDA device"
    assert steps["ddp-2gpu"]["status"] == "skipped" and "0 CUDA device(s), 2 needed" in steps["ddp-2gpu"]["detail"]
    assert res["failed"] == ["env", "gpu-tests", "bench", "seq2seq", "train-g"]
    assert not (tmp_path / "out" / ".steps.tsv").exists()


def test_a_failed_step_is_reported_and_the_others_still_run(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(FAKE_CUDA)
    out = tmp_path / "out"
    proc = gpu_check("--out", str(out), "--steps", "train-g,ddp-2gpu",
                     env={"PYTHONPATH": str(fake), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    res, steps = results(out)
    assert res["env"]["devices"] == ["FakeGPU"] and steps["env"]["status"] == "passed"
    train = steps["train-g"]  # a CPU-only torch cannot train on "cuda": the step fails, with why
    assert train["status"] == "failed" and train["rc"] not in (0, None) and train["detail"]
    assert "chicken_pox_main.py -m index -g" in train["command"] and train["log"] == "train-g.log"
    assert (out / "train-g.log").read_text().strip().endswith(train["detail"])
    assert steps["ddp-2gpu"]["status"] == "skipped"  # ran after the failure: 1 device, 2 needed
    assert "1 CUDA device(s), 2 needed" in steps["ddp-2gpu"]["detail"]
    assert res["failed"] == ["train-g"] and "[failed] train-g" in proc.stdout


# ----------------------------------------------------------------------------- the GPU benchmark
@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_index_batching", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_gpu_mode_without_cuda_is_one_line_and_exit_0(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--gpu", "--data-dir", str(tmp_path),
                           "--json", str(tmp_path / "b.json")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == [
        "# --gpu: no CUDA device here (torch.cuda.is_available() is False); GPU modes not run"]
    assert os.listdir(tmp_path) == []  # no data file written, no results


def test_bench_refuses_gpu_modes_without_gpu_flag():
    proc = subprocess.run([sys.executable, str(BENCH), "--modes", "gpu-resident"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "GPU modes need --gpu" in proc.stderr


def test_htod_from_trace_counts_host_to_device_copies_only(bench):
    events = [
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pageable -> Device)", "args": {"bytes": 4096}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pinned -> Device)", "args": {"bytes": 100}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pageable)", "args": {"bytes": 4}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoD (Device -> Device)", "args": {"bytes": 8}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaMemcpyAsync HtoD", "args": {}},  # the API call
        {"ph": "i", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pageable -> Device)"},
    ]
    assert bench.htod_from_trace(events) == (2, 4196)
    assert bench.htod_from_trace(events[:1] + [{"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD"}]) == (2, None)
    assert bench.htod_from_trace([]) == (0, 0)


def test_gpu_pipeline_runs_both_modes_on_the_cpu(bench, tmp_path):
    path = tmp_path / "tiny.npy"
    bench.ensure_file(str(path), 300, 5)
    args = types.SimpleNamespace(target="all", batch_size=16, max_batches=None, epochs=2, profile_batches=4)
    rows = {m: bench.gpu_pipeline(m, str(path), args, device="cpu") for m in bench.GPU_MODES}
    gpu, cpu = rows["gpu-resident"], rows["cpu-resident"]
    n_train = int(0.7 * (300 - 24 + 1))
    assert gpu["batches"] == cpu["batches"] == -(-n_train // 16) and not gpu["extrapolated"]
    assert gpu["checksum"] == pytest.approx(cpu["checksum"], rel=1e-6)  # same batches, same standardization
    assert cpu["batch_bytes"] == 16 * (12 + 12) * 5 * 2 * 4 == cpu["expected_htod_bytes_per_batch"]
    assert gpu["expected_htod_bytes_per_batch"] == 0
    assert gpu["profiled_batches"] == cpu["profiled_batches"] == 4
    assert gpu["htod_copies_per_batch"] == cpu["htod_copies_per_batch"] == 0  # no CUDA: nothing to copy
    assert np.isfinite(gpu["epoch_s"]) and gpu["epoch_s"] > 0


def test_the_scripts_output_check_accepts_a_resumed_run_and_refuses_a_short_one(tmp_path):
    """The check gpu_check.sh runs after ``-g`` training and ``--resume``, here on CPU outputs."""
    text = SCRIPT.read_text()
    check = text.split("read -r -d '' CHECK_RUN <<'PYEOF' || true\n", 1)[1].split("\nPYEOF\n", 1)[0]
    chickenpox = [sys.executable, str(REPO / "scalability_testing" / "chicken_pox_main.py"), "-m", "index", "-q",
                  "--max-batches", "2", "--out-dir", str(tmp_path / "run")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for extra in (["-e", "2"], ["-e", "3", "--resume"]):
        proc = subprocess.run(chickenpox + extra, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr

    def run_check(*args):
        return subprocess.run([sys.executable, "-c", check, str(tmp_path / "run"), *args],
                              capture_output=True, text=True)

    ok = run_check("3", "0", "0")
    assert ok.returncode == 0 and ok.stdout.startswith("outputs ok: epochs 1..3"), ok.stderr
    short = run_check("4", "0", "0")  # a resume that restarted or stopped early
    assert short.returncode == 1
    assert short.stderr.strip().splitlines()[-1] == \
        "AssertionError: per_epoch_stats.csv holds epochs [1, 2, 3], expected 1..4"
    no_ranks = run_check("3", "2", "0")  # not a DDP run: no ranks.csv
    assert no_ranks.returncode == 1 and "ranks.csv" in no_ranks.stderr
    on_cpu = run_check("3", "0", "1")  # checked as a GPU run: nothing allocated on a GPU
    assert on_cpu.returncode == 1 and "no CUDA allocation recorded" in on_cpu.stderr


def test_the_output_check_refuses_two_ranks_on_one_gpu(tmp_path):
    text = SCRIPT.read_text()
    check = text.split("read -r -d '' CHECK_RUN <<'PYEOF' || true\n", 1)[1].split("\nPYEOF\n", 1)[0]

    def write(name, header, *rows):
        (tmp_path / name).write_text("\n".join([header, *rows]) + "\n")

    write("per_epoch_stats.csv", "epoch", "1", "2")
    write("stats.csv", "test_mae,gpu_max_allocated_mb", "0.5,12.0")
    for name in ("checkpoint.pt", "test_metrics.csv", "system_stats.csv"):
        (tmp_path / name).write_text("")
    header = "rank,host,device,gpu_uuid"

    def run_check():
        return subprocess.run([sys.executable, "-c", check, str(tmp_path), "2", "2", "1"],
                              capture_output=True, text=True)

    write("ranks.csv", header, "0,n1,cuda:0,GPU-a", "1,n1,cuda:0,GPU-b")  # dask-cuda: cuda:0 each, 2 GPUs
    assert run_check().returncode == 0
    write("ranks.csv", header, "0,n1,cuda:0,GPU-a", "1,n1,cuda:0,GPU-a")  # the rotated-view bug
    shared = run_check()
    assert shared.returncode == 1 and "ranks share a GPU" in shared.stderr
    write("ranks.csv", header, "0,n1,cuda:0,GPU-a", "1,n1,cpu,")
    assert "a rank is not on a CUDA device: ['cuda:0', 'cpu']" in run_check().stderr
