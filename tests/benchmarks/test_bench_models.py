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


def test_memory_case_measures_one_training_step():
    bench = load_bench()
    row = bench.memory_case("mtgnn", 20, 1)
    assert (row["model"], row["N"], row["B"], row["T"]) == ("mtgnn", 20, 1, 12)
    assert row["peak_mib"] >= 0 and row["params"] > 0
    assert row["nxn_mib"] == pytest.approx(20 * 20 * 4 / 2 ** 20)  # the learned (N, N) graph
    assert bench.nxn_elements("gman", 325, 2) == 2 * 8 * 12 * 325 ** 2
    assert bench.nxn_elements("astgcn", 325, 2) == 2 * 325 ** 2 and bench.nxn_elements("stgcn", 325, 2) == 0


def test_extrapolation_scales_with_n_squared_and_b():
    bench = load_bench()
    row = {"model": "gman", "N": 325, "B": 2, "T": 12, "peak_mib": 100.0, "nxn_mib": 1.0, "params": 1,
           "seconds": 1.0}
    big = bench.extrapolate(row, 650, 1)
    assert big["peak_mib"] == pytest.approx(100.0 * 4 / 2) and big["extrapolated"] and big["seconds"] is None
    assert big["nxn_mib"] == pytest.approx(1 * 8 * 12 * 650 ** 2 * 4 / 2 ** 20)
    assert "(extrapolated, see note) | n/a |" in bench.memory_table([row, big])


@pytest.mark.slow
def test_memory_table_runs_a_fresh_process_and_extrapolates_over_the_limit(capsys):
    bench = load_bench()
    # N=30 is measured (in its own process); at N=60 GMAN's attention is over the (tiny) limit: extrapolated
    bench.main(["--memory", "--models", "gman", "--memory-nodes", "30,60", "--memory-batches", "1",
                "--memory-limit", str(60 * 60 * 8 * 12 * 16 / 2 ** 30 * 0.99)])
    out = capsys.readouterr().out
    gman30, gman60 = (line for line in out.splitlines() if line.startswith("| gman"))
    assert "| 30 |" in gman30 and "extrapolated" not in gman30
    assert "| 60 |" in gman60 and "extrapolated" in gman60 and "n/a" in gman60
    assert float(gman60.split("|")[5].split()[0]) == pytest.approx(float(gman30.split("|")[5]) * 4, abs=0.3)


def test_memory_table_puts_each_model_next_to_the_baseline():
    bench = load_bench()
    row = {"T": 12, "params": 1, "nxn_mib": 0.0, "seconds": 0.1}
    table = bench.memory_table([{**row, "model": "seq2seq", "N": 325, "B": 2, "peak_mib": 100.0},
                                {**row, "model": "gman", "N": 325, "B": 2, "peak_mib": 250.0, "nxn_mib": 7.5}])
    assert "| gman | 325 | 2 | 12 | 250.0 | 2.5x | 7.5 |" in table


def test_memory_refuses_recurrent_models(capsys):
    bench = load_bench()
    with pytest.raises(SystemExit):
        bench.main(["--memory", "--models", "tgcn"])
    assert "unknown model" in capsys.readouterr().err
