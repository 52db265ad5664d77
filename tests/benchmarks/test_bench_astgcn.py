"""benchmarks/bench_astgcn.py: its graph, what ChebConvAttention keeps for the
backward pass per batch item (the memory the bench measures), and a tiny run
printing both formulas."""
import importlib.util
from pathlib import Path

import pytest
import torch

from torch_geometric_temporal.nn.attention import astgcn

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_astgcn.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_astgcn", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ring_graph_is_symmetric_without_self_loops():
    edges = load_bench().ring_graph(50, 8, 0)
    assert edges.min() >= 0 and edges.max() < 50 and not (edges[0] == edges[1]).any()
    pairs = set(map(tuple, edges.t().tolist()))
    assert pairs == {(j, i) for i, j in pairs} and len(pairs) == edges.size(1)
    assert 300 <= edges.size(1) <= 400  # about 8 links per node


def saved_bytes(model, x, edge_index, S) -> int:
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x, edge_index, S)
    return sum(storages.values())


@pytest.mark.parametrize("dense", [True, False])
def test_chebconv_attention_keeps_no_per_order_products_or_messages(dense, monkeypatch):
    """Per extra batch item, the backward pass keeps about S, x and the
    filtered basis (B, N, K, F): not K (N, N) products S * T_k (dense path)
    nor (E', F) messages and gathered features (per-entry path)."""
    monkeypatch.setattr(astgcn, "dense_is_smaller", lambda *args: dense)
    N, F, K = 60, 16, 3
    edge_index = load_bench().ring_graph(N, 8, 0)
    model = astgcn.ChebConvAttention(F, 8, K, "sym")
    size = {}
    for B in (2, 6):
        torch.manual_seed(0)
        x = torch.randn(B, N, F, requires_grad=True)
        S = torch.softmax(torch.randn(B, N, N), dim=1).requires_grad_()
        size[B] = saved_bytes(model, x, edge_index, S)
    per_item = (size[6] - size[2]) / 4
    entries = 60 * 27  # N + nonzeros of T_1, T_2: about 27 per node at this degree
    assert per_item <= 4 * (N * N + N * F + N * K * F + entries) * 1.2
    assert per_item < 4 * min(K * N * N, 2 * entries * F)  # what autograd alone kept


@pytest.mark.slow  # four subprocesses
def test_tiny_run_prints_both_formulas(capsys):
    load_bench().main(["--nodes", "20", "--batch", "1", "2", "--degree", "4"])
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| 20 |")]
    assert [r[3].strip() for r in rows] == ["paper", "upstream"]
