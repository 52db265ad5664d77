"""benchmarks/bench_models.py on a tiny batch: every implementation of every
model runs, computes the same loss as the batched one (the table's last
numeric column) and lands in the markdown table."""
import importlib.util
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_models.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_models", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_model_runs_and_all_implementations_agree(capsys):
    bench = load_bench()
    bench.main(["--batch-size", "2", "--repeats", "1", "--hidden", "4"])
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| model")}
    assert set(rows) == set(bench.MODELS)
    for name, line in rows.items():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert float(cells[7]) < 1e-5, (name, line)  # max rel. loss diff vs batched
        assert re.fullmatch(r"\d+\.\dx", cells[4]), line  # batched vs loop
    assert re.search(r"\| tgcn \|.*\| \d+\.\d{3} \| \d+\.\dx \|", out)  # TGCN2 per step timed


def test_bad_flags_are_refused(capsys):
    bench = load_bench()
    with pytest.raises(SystemExit):
        bench.main(["--models", "mpnn_lstm"])
    assert "unknown model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--batch-size", "0"])
