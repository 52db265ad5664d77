"""benchmarks/bench_gman.py: its explicit (upstream-style) attention is the
same function as gman._attend, and a tiny run prints both modes with the same
loss."""
import importlib.util
from pathlib import Path

import pytest
import torch

from torch_geometric_temporal.nn.attention.gman import _attend

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gman.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_gman", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("axis,causal", [(1, True), (2, False)])
def test_explicit_attention_equals_ours(axis, causal):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    explicit = load_bench().explicit_attend(q, k, v, 4, 4, axis, causal)
    torch.testing.assert_close(explicit, _attend(q, k, v, 4, 4, axis, causal))


@pytest.mark.slow  # two subprocesses; the attention itself: test_explicit_attention_equals_ours
def test_tiny_run_prints_both_modes_with_the_same_loss(capsys):
    load_bench().main(["--nodes", "12", "--steps", "2", "--heads", "1", "--head-dim", "2"])
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| 12 |")]
    assert [r[2].strip() for r in rows] == ["sdpa", "explicit"]
    assert abs(float(rows[0][6]) - float(rows[1][6])) < 1e-5
