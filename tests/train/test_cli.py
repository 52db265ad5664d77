"""The training scripts' device choice (``--device``, ``-g``) and where
``load_data`` (:mod:`torch_geometric_temporal.train.experiment`) puts the data, on CPU: a CUDA machine is emulated by the
``fake_cuda`` fixture (nothing runs on it)."""
import argparse

import pytest
import torch

from torch_geometric_temporal.dataset import ChickenpoxDatasetLoader
from torch_geometric_temporal.train import ddp_experiment, experiment
from torch_geometric_temporal.train.cli import device_flag, parse_args
from torch_geometric_temporal.train.datasets import DatasetSpec
from torch_geometric_temporal.train.experiment import load_data, run_device

SPEC = DatasetSpec(name="fake", loader=ChickenpoxDatasetLoader, num_timesteps_in=4, num_timesteps_out=4,
                   null_value=None)


def args(*argv):
    return parse_args(SPEC, list(argv))


def test_device_flag_spellings():
    assert [device_flag(v) for v in ("auto", "CPU", "cuda", " cuda:3 ")] == ["auto", "cpu", "cuda", "cuda:3"]
    for bad in ("tpu", "cuda:", "cuda:-1", "gpu"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected auto, cpu, cuda or cuda:N"):
            device_flag(bad)


def test_run_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run_device(args()) == torch.device("cpu")  # auto
    assert run_device(args("--device", "cpu")) == torch.device("cpu")
    for flags in (["--device", "cuda"], ["--device", "cuda:1"], ["-g"]):
        namespace = argparse.Namespace(device=flags[1] if flags[0] == "--device" else "auto", gpu=flags == ["-g"])
        with pytest.raises(ValueError, match="no CUDA device"):
            run_device(namespace)


def test_run_device_on_a_cuda_machine(fake_cuda):
    assert run_device(args()) == torch.device("cuda", 0)  # auto picks the GPU
    assert run_device(args("--device", "cuda")) == torch.device("cuda", 0)
    assert run_device(args("--device", "cuda:1", "-g")) == torch.device("cuda", 1)
    assert run_device(args("--device", "cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match=r"--device cuda:2: this machine has 2 CUDA devices \(cuda:0 to cuda:1\)"):
        run_device(argparse.Namespace(device="cuda:2", gpu=False))
    with pytest.raises(ValueError, match="drop -g or --device cpu"):
        run_device(argparse.Namespace(device="cpu", gpu=True))


@pytest.mark.parametrize("argv, message", [
    (["--device", "cuda:2"], "this machine has 2 CUDA devices"),
    (["--device", "cpu", "-g"], "drop -g or --device cpu"),
    (["--device", "tpu"], "expected auto, cpu, cuda or cuda:N"),
])
def test_bad_device_is_one_line(fake_cuda, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        args(*argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


class FakeLoader:
    """Records the arguments of ``load``; one small split."""

    calls = []
    supports_mmap = False

    def load(self, window, batch_size=4, *, device=None, world_size=-1, rank=-1, **kwargs):
        type(self).calls.append({"device": device, "world_size": world_size, "ddp_rank": rank})
        return None


@pytest.fixture
def fake_loader():
    FakeLoader.calls = []
    return FakeLoader.calls


FAKE = DatasetSpec(name="fake", loader=FakeLoader, num_timesteps_in=4, num_timesteps_out=4, null_value=None)


def test_gpu_data_goes_to_the_training_device(fake_cuda, fake_loader):
    load_data(FAKE, args("-m", "index", "-g", "--device", "cuda:1"))  # was cuda:0 whatever the device
    load_data(FAKE, args("-m", "index", "-g"))  # auto: cuda:0
    load_data(FAKE, args("-m", "index", "--device", "cuda:1"))  # no -g: the data stays on the CPU
    assert [c["device"] for c in fake_loader] == [torch.device("cuda", 1), torch.device("cuda", 0), None]


def test_ddp_rank_gpu_data_goes_to_the_ranks_device(fake_cuda, fake_loader):
    load_data(FAKE, args("-m", "index", "-g"), world_size=2, rank=1, device=torch.device("cuda", 1))
    assert fake_loader == [{"device": torch.device("cuda", 1), "world_size": 2, "ddp_rank": 1}]
    with pytest.raises(ValueError, match="trains on cpu; drop -g"):
        load_data(FAKE, args("-m", "index", "-g"), device=torch.device("cpu"))


def test_train_rank_loads_its_data_onto_its_own_gpu(fake_cuda, monkeypatch):
    """A DDP rank on cuda:1 with ``-m index -g``: its series goes to cuda:1, not to GPU 0 of every rank."""
    pytest.importorskip("psutil")
    from torch_geometric_temporal.distributed.ddp import RankContext
    from torch_geometric_temporal.train.ddp_experiment import DDPJob, train_rank

    seen = []

    class Loaded(Exception):
        pass

    def fake_load_data(spec, config, world_size=-1, rank=-1, device=None):
        seen.append((device, world_size, rank))
        raise Loaded

    monkeypatch.setattr(ddp_experiment, "load_data", fake_load_data)
    ctx = RankContext(rank=1, world_size=2, local_rank=1, backend="nccl", device=torch.device("cuda", 1))
    with pytest.raises(Loaded):
        train_rank(ctx, DDPJob(SPEC, args("-m", "index", "-g"), world_size=2))
    assert seen == [(torch.device("cuda", 1), 2, 1)]
    assert fake_cuda.uuid_lookups == [fake_cuda.uuids[1]]  # the rank samples its own GPU


def test_run_experiment_trains_on_the_chosen_device(fake_cuda, monkeypatch, tmp_path):
    pytest.importorskip("psutil")
    devices = []

    class Loaded(Exception):
        pass

    def fake_load_data(spec, config, world_size=-1, rank=-1, device=None):
        devices.append(device)
        raise Loaded

    monkeypatch.setattr(experiment, "load_data", fake_load_data)
    for out, flags in (("a", ()), ("b", ("--device", "cpu")), ("c", ("--device", "cuda:1"))):
        with pytest.raises(Loaded):
            experiment.run_experiment(SPEC, args("--out-dir", str(tmp_path / out), "-q", *flags))
    assert devices == [torch.device("cuda", 0), torch.device("cpu"), torch.device("cuda", 1)]
    assert fake_cuda.set_devices == [0, 1]  # CUDA's current device is the run's


def test_out_dir_defaults_to_the_current_directory():
    """PGT-I's scripts leave their CSVs in the current directory."""
    assert args().out_dir == "."
    assert args("--out-dir", "runs/x").out_dir == "runs/x"
