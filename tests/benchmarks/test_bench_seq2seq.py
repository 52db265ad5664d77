"""benchmarks/bench_seq2seq.py: the batch search, the projection, one step
in this process, the RSS monitor that kills a probe, and the --quick run's
tables (cases bay and project: two child processes)."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "bench_seq2seq.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_seq2seq", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_largest_batch_tries_the_target_then_doubles_and_bisects(bench):
    calls = []

    def fits_up_to(limit):
        def fits(b):
            calls.append(b)
            return {"batch": b, "ok": b <= limit}
        return fits

    best, probes = bench.largest_batch(fits_up_to(11), 64)
    assert best["batch"] == 11 and calls == [64, 1, 2, 4, 8, 16, 12, 10, 11]
    assert [p["batch"] for p in probes] == calls
    calls.clear()
    best, _ = bench.largest_batch(fits_up_to(100), 48)  # the target fits: one probe
    assert best["batch"] == 48 and calls == [48]
    calls.clear()
    best, _ = bench.largest_batch(fits_up_to(40), 48)  # 32 fits, 48 failed first: bisect 32..48
    assert best["batch"] == 40 and calls == [48, 1, 2, 4, 8, 16, 32, 40, 44, 42, 41]
    calls.clear()
    best, probes = bench.largest_batch(fits_up_to(0), 64)
    assert best is None and calls == [64, 1]


def test_projection_halves_fp32_for_bf16(bench):
    assert bench.projection(160.0, "off") == {"fp32_gib": 10.0, "bf16_gib": 5.0}
    assert bench.projection(80.0, "bf16") == {"fp32_gib": 10.0, "bf16_gib": 5.0}
    assert 300 < bench.formula_gib(False) < 400 and bench.formula_gib(True) < 0.2 * bench.formula_gib(False)


def test_one_step_in_process(bench):
    off = bench.one_step({"graph": "cali", "nodes": 16, "batch": 2, "recompute": False, "device": "cpu",
                          "amp": "off", "threads": 1})
    on = bench.one_step({"graph": "cali", "nodes": 16, "batch": 2, "recompute": True, "device": "cpu",
                         "amp": "off", "threads": 1})
    assert off["nodes"] == 16 and off["edges"] > 100 and off["graph"].startswith("random")
    assert off["loss"] == pytest.approx(on["loss"], rel=1e-5)  # same model, same step, recomputed or not
    assert off["step_s"] > 0 and off["peak_mib"] > 0


def test_a_probe_over_the_cap_is_killed(bench):
    result = bench.probe({"graph": "cali", "nodes": 16, "batch": 1, "recompute": False, "device": "cpu",
                          "amp": "off", "threads": 1}, 50 * 2**20, 120)
    assert result["ok"] is False and result["why"] == "RSS over 0.0 GiB"


@pytest.mark.slow
def test_quick_run_prints_the_tables(tmp_path):
    out = tmp_path / "b.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--cases", "bay,project", "--threads", "1",
                           "--json", str(out)], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("# bench_seq2seq: DCRNN recipe, one training step, device cpu, amp off")
    rows = [line for line in lines if line.startswith("| off |") or line.startswith("| on |")]
    assert len(rows) == 4 and "baseline" in rows[0] and "x mem" in rows[1]
    assert "(a) B=4, N=24, scaled by N" in rows[2] and rows[2].count("|") == 9
    results = json.loads(out.read_text())
    assert [r["ok"] for r in results["bay"]] == [True, True]
    assert results["bay"][0]["loss"] == pytest.approx(results["bay"][1]["loss"], rel=1e-5)
    assert set(results["project"]) == {"off", "on"}


def test_bad_case_is_one_line_exit_2():
    proc = subprocess.run([sys.executable, str(BENCH), "--cases", "bay,warp"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown case 'warp'" in proc.stderr


def test_cuda_without_a_gpu_runs_nothing(bench, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert bench.main(["--device", "cuda", "--quick"]) == 0
    assert "no CUDA device here" in capsys.readouterr().out
