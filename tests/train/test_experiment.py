"""train/experiment.py build_trainer: --recompute (on, auto), --amp and
--compile reach the model and the trainer; the checkpoint identity records
--amp only."""
import logging
import sys
import types

import pytest
import torch

from torch_geometric_temporal.dataset import ChickenpoxDatasetLoader
from torch_geometric_temporal.train import activation
from torch_geometric_temporal.train.cli import parse_args
from torch_geometric_temporal.train.datasets import DatasetSpec
from torch_geometric_temporal.train.experiment import build_trainer, load_data, run_identity

SPEC = DatasetSpec(name="fake", loader=ChickenpoxDatasetLoader, num_timesteps_in=4, num_timesteps_out=4,
                   null_value=None)
CPU = torch.device("cpu")


def _trainer(tmp_path, *flags):
    config = parse_args(SPEC, ["--model", "seq2seq", "--hidden", "4", "--layers", "1", "--batch-size", "4",
                               "--device", "cpu", "--out-dir", str(tmp_path), *flags])
    return config, build_trainer(SPEC, config, load_data(SPEC, config), CPU)


def _recomputes(model):
    return any(getattr(m, "recompute", False) for m in model.modules())


def test_recompute_on_and_off(tmp_path):
    assert not _recomputes(_trainer(tmp_path)[1].model)
    assert _recomputes(_trainer(tmp_path, "--recompute", "on")[1].model)


def test_recompute_auto_follows_the_estimate_and_logs_one_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(activation, "device_memory_bytes", lambda device: 2**40)
    with caplog.at_level(logging.INFO, logger="torch_geometric_temporal.train.activation"):
        assert not _recomputes(_trainer(tmp_path, "--recompute", "auto")[1].model)
        monkeypatch.setattr(activation, "device_memory_bytes", lambda device: 2**10)  # a tiny device
        assert _recomputes(_trainer(tmp_path, "--recompute", "auto")[1].model)
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("activation")]
    assert [line.split(" (")[0] for line in lines] == ["--recompute auto: off", "--recompute auto: on"]


def test_recompute_auto_budget_is_shared_by_the_cpu_ranks(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(activation, "device_memory_bytes", lambda device: 2**40)
    config = parse_args(SPEC, ["--model", "seq2seq", "--hidden", "4", "--layers", "1", "--batch-size", "4",
                               "--device", "cpu", "--out-dir", str(tmp_path), "--recompute", "auto"])
    data = load_data(SPEC, config)
    with caplog.at_level(logging.INFO, logger="torch_geometric_temporal.train.activation"):
        build_trainer(SPEC, config, data, CPU)
        build_trainer(SPEC, config, data, CPU, world_size=4)
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("activation")]
    assert "the budget 512.00 GiB, 50% of cpu's 1024.0 GiB" in lines[0]
    assert "the budget 128.00 GiB, 12% of cpu's 1024.0 GiB" in lines[1]


def test_recompute_on_for_a_model_without_it_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(SPEC, ["--model", "a3tgcn", "--recompute", "on"])
    assert exit_info.value.code == 2
    assert "--model a3tgcn cannot recompute its activations" in capsys.readouterr().err


def test_amp_reaches_the_trainer_and_the_identity_but_recompute_does_not(tmp_path):
    config, trainer = _trainer(tmp_path, "--amp", "bf16")
    assert trainer.config.amp == "bf16" and trainer.amp is None  # CPU: stays fp32 (warned)
    assert trainer.identity["amp"] == "bf16"
    on = parse_args(SPEC, ["--recompute", "on", "--compile", "--out-dir", str(tmp_path)])
    off = parse_args(SPEC, ["--out-dir", str(tmp_path)])
    assert run_identity(SPEC, on) == run_identity(SPEC, off)


def test_compile_calls_compile_steps(tmp_path, monkeypatch, caplog):
    calls = []
    fake = types.ModuleType("torch_geometric_temporal.nn.recurrent.compiled")
    fake.compile_steps = lambda model, **kw: calls.append(model) or 0
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    _, trainer = _trainer(tmp_path, "--compile")
    assert calls == [trainer.model]
    assert "--compile: --model seq2seq has no recurrent cell step to compile" in caplog.text
