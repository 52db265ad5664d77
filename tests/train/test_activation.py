"""train/activation.py: the activation-memory formula against the tensors
autograd really saves, and the --recompute auto decision."""
import logging

import pytest
import torch

from torch_geometric_temporal.train.activation import (PEAK_FACTOR, activation_bytes, device_memory_bytes,
                                                        plan_recompute, saved_activation_bytes)
from torch_geometric_temporal.train.models import build_model

N, B, F, T = 12, 2, 2, 6


def _measure(name, recompute=False, **kw):
    torch.manual_seed(0)
    model = build_model(name, F, T, num_nodes=N, use_curriculum_learning=True, recompute=recompute, **kw)
    edge_index = torch.randint(0, N, (2, 4 * N))
    edge_weight = torch.rand(4 * N)
    x, y = torch.randn(B, T, N, F), torch.randn(B, T, N, 1)
    extra = {"targets": y, "batches_seen": 0} if name == "seq2seq" else {}
    return saved_activation_bytes(lambda: model(x, edge_index, edge_weight, **extra).abs().mean())


@pytest.mark.parametrize("name,kw", [("seq2seq", dict(hidden_channels=16, num_layers=2, K=3)),
                                     ("seq2seq", dict(hidden_channels=8, num_layers=1, K=2)),
                                     ("dcrnn", dict(hidden_channels=16, num_layers=2, K=3))])
def test_formula_matches_the_saved_tensors(name, kw):
    measured = _measure(name, **kw)
    estimate = activation_bytes(name, batch_size=B, num_nodes=N, num_features=F, num_timesteps_in=T,
                                num_timesteps_out=T, hidden_channels=kw["hidden_channels"],
                                num_layers=kw["num_layers"], K=kw["K"], peak=False)
    assert 0.8 * measured <= estimate <= 1.25 * measured, (measured, estimate)


def test_recomputation_saves_less_and_the_estimate_says_so():
    kw = dict(hidden_channels=16, num_layers=2, K=3)
    assert _measure("seq2seq", recompute=True, **kw) < 0.2 * _measure("seq2seq", **kw)
    sizes = dict(batch_size=B, num_nodes=N, num_features=F, num_timesteps_in=T, num_timesteps_out=T,
                 hidden_channels=16, num_layers=2, K=3)
    off = activation_bytes("seq2seq", **sizes)
    assert activation_bytes("seq2seq", recompute=True, **sizes) < 0.2 * off
    assert activation_bytes("seq2seq", dtype_bytes=2, **sizes) == pytest.approx(off / 2, rel=1e-6)
    assert activation_bytes("seq2seq", peak=False, **sizes) == pytest.approx(off / PEAK_FACTOR, rel=1e-6)


def test_the_recipe_on_pems_bay_is_about_the_measured_160_mib_per_sample():
    per_sample = activation_bytes("seq2seq", batch_size=1, num_nodes=325, num_features=2, num_timesteps_in=12,
                                  num_timesteps_out=12, hidden_channels=64, num_layers=2, K=3)
    assert 140 * 2**20 < per_sample < 180 * 2**20


def test_plan_recompute_off_on_and_auto(caplog):
    estimate = {False: 6 * 2**30, True: 2**30}.__getitem__
    cpu = torch.device("cpu")
    assert plan_recompute("off", estimate, cpu, total=1) is False
    assert plan_recompute("on", estimate, cpu, total=2**50) is True
    with caplog.at_level(logging.INFO, logger="torch_geometric_temporal.train.activation"):
        assert plan_recompute("auto", estimate, cpu, total=10 * 2**30) is True  # 6 GiB > half of 10
        assert plan_recompute("auto", estimate, cpu, total=16 * 2**30) is False
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("--recompute auto: on (estimated activations of one training step 6.00 GiB > "
                               "the budget 5.00 GiB") and "about 1.00 GiB" in lines[0]
    assert lines[1].startswith("--recompute auto: off") and "<= the budget 8.00 GiB" in lines[1]
    with pytest.raises(ValueError, match="off, on or auto"):
        plan_recompute("maybe", estimate, cpu)


def test_device_memory_of_the_cpu_is_the_machines_ram():
    total = device_memory_bytes(torch.device("cpu"))
    assert total is not None and total > 2**28
