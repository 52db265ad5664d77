r"""Which GPU each DDP rank uses, emulated on the CPU: ``CUDA_VISIBLE_DEVICES``
as dask-cuda sets it per worker, a patched device count and device UUIDs;
the NCCL error-handling environment and the collective-timeout defaults."""
import importlib.util
import os
from types import SimpleNamespace

import pytest
import torch

from torch_geometric_temporal.distributed import ddp
from torch_geometric_temporal.distributed.ddp import (
    DDPRunError,
    default_collective_timeout,
    gpu_probe,
    plan_rank_gpus,
)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _rotated(num_gpus, worker):
    r"""``CUDA_VISIBLE_DEVICES`` of dask-cuda's worker ``worker``: the list
    rotated to start at GPU ``worker``."""
    order = list(range(num_gpus))
    return ",".join(map(str, order[worker:] + order[:worker]))


@pytest.fixture
def fake_gpus(monkeypatch):
    r"""A node with ``n`` GPUs whose UUIDs are ``GPU-<physical index>``: sets
    the worker's ``CUDA_VISIBLE_DEVICES`` (``None``: unset) and patches
    ``torch.cuda`` to match; returns the setter."""
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)

    def worker(n, visible=None):
        if visible is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
            physical = list(range(n))
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
            physical = [int(v) for v in visible.split(",") if v]
        monkeypatch.setattr(torch.cuda, "device_count", lambda: len(physical))
        monkeypatch.setattr(torch.cuda, "get_device_properties",
                            lambda i: SimpleNamespace(uuid=f"GPU-{physical[i]}"))
        return physical

    return worker


@pytest.mark.parametrize("num_gpus", [2, 4])
def test_rank_device_under_dask_cuda_uses_each_workers_own_gpu(fake_gpus, num_gpus):
    # old code: local_rank % count in a rotated view gave physical GPUs [0, 0] / [0, 2, 0, 2]
    used = []
    for rank in range(num_gpus):
        physical = fake_gpus(num_gpus, _rotated(num_gpus, rank))
        device = ddp._rank_device("nccl", rank)
        used.append(physical[device.index])
    assert used == list(range(num_gpus))


def test_rank_device_of_plain_workers_seeing_all_gpus(fake_gpus):
    used = []
    for rank in range(4):
        physical = fake_gpus(4)  # plain `dask worker`, no CUDA_VISIBLE_DEVICES
        used.append(physical[ddp._rank_device("nccl", rank).index])
    assert used == [0, 1, 2, 3]
    assert ddp._rank_device("gloo", 3) == torch.device("cpu")


def _probes(fake_gpus, views):
    probes = []
    for n, visible in views:
        fake_gpus(n, visible)
        probes.append(gpu_probe())
    return probes


@pytest.mark.parametrize("num_gpus", [2, 4])
def test_plan_dask_cuda_rotated_views(fake_gpus, num_gpus):
    probes = _probes(fake_gpus, [(num_gpus, _rotated(num_gpus, w)) for w in range(num_gpus)])
    assert [p["ids"][0] for p in probes] == [f"GPU-{w}" for w in range(num_gpus)]
    plan = plan_rank_gpus(probes, ["h"] * num_gpus, list(range(num_gpus)))
    assert plan == [0] * num_gpus  # cuda:0 of each worker's own view: physical GPUs 0..G-1


def test_plan_workers_sharing_one_view(fake_gpus):
    # plain workers, no CUDA_VISIBLE_DEVICES: local rank % count, per host
    probes = _probes(fake_gpus, [(2, None)] * 4)
    assert plan_rank_gpus(probes, ["a", "a", "b", "b"], [0, 1, 0, 1]) == [0, 1, 0, 1]
    # one list exported for every worker of the node: the same rule, physical GPUs 2 and 3
    probes = _probes(fake_gpus, [(4, "2,3")] * 2)
    assert plan_rank_gpus(probes, ["a", "a"], [0, 1]) == [0, 1]


def test_plan_refuses_ranks_sharing_a_gpu(fake_gpus):
    probes = _probes(fake_gpus, [(4, "0"), (4, "0"), (4, "1")])
    with pytest.raises(DDPRunError, match=r"ranks 0, 1 on GPU GPU-0 of a"):
        plan_rank_gpus(probes, ["a"] * 3, [0, 1, 2])
    probes = _probes(fake_gpus, [(2, None)] * 3)  # three plain workers on a 2-GPU node
    with pytest.raises(DDPRunError, match=r"ranks 0, 2 on GPU GPU-0"):
        plan_rank_gpus(probes, ["a"] * 3, [0, 1, 2])
    # the same index on two hosts is two GPUs
    probes = _probes(fake_gpus, [(1, "0"), (1, "0")])
    assert plan_rank_gpus(probes, ["a", "b"], [0, 0]) == [0, 0]


def test_plan_refuses_a_worker_without_gpu(fake_gpus):
    probes = _probes(fake_gpus, [(1, "0"), (0, "")])
    with pytest.raises(DDPRunError, match=r"rank 1: worker tcp://w1 sees no CUDA device"):
        plan_rank_gpus(probes, ["a", "a"], [0, 1], ["tcp://w0", "tcp://w1"])


@pytest.mark.distributed
def test_run_ddp_nccl_checks_gpus_before_any_rank_starts(client):
    # CPU workers: the client's probe refuses before a rank (or a process group) starts
    with pytest.raises(DDPRunError, match="sees no CUDA device"):
        ddp.run_ddp(client, os.getpid, n_workers=2, backend="nccl", timeout=60)


def test_nccl_rank_sets_async_error_handling(monkeypatch):
    seen = []
    monkeypatch.setattr(ddp, "_rank_body",
                        lambda *a: seen.append(os.environ.get("TORCH_NCCL_ASYNC_ERROR_HANDLING")))
    monkeypatch.delenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", raising=False)
    args = (os.getpid, 0, 1, 0, "file:///nonexistent")
    ddp._rank_main(*args, "nccl", 10.0, None, (), {})
    ddp._rank_main(*args, "gloo", 10.0, None, (), {})
    assert seen == ["3", None]
    assert "TORCH_NCCL_ASYNC_ERROR_HANDLING" not in os.environ  # restored after the rank
    monkeypatch.setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")  # an explicit choice wins
    ddp._rank_main(*args, "nccl", 10.0, None, (), {})
    assert seen[-1] == "1"


def _pems_ddp():
    spec = importlib.util.spec_from_file_location("pems_ddp_gpu_placement_test",
                                                  os.path.join(ROOT, "scalability_testing", "pems_ddp.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_collective_timeout_defaults_by_backend():
    assert default_collective_timeout("nccl") == 300.0
    assert default_collective_timeout("gloo") == 600.0
    script = _pems_ddp()
    assert script.parse_args(["--dataset", "chickenpox"])[1].collective_timeout == 600.0
    # --dist: the workers, not this process, need the GPUs
    assert script.parse_args(["--dataset", "chickenpox", "--dist", "-g"])[1].collective_timeout == 300.0
    assert script.parse_args(["--dist", "-g", "--collective-timeout", "45"])[1].collective_timeout == 45.0


def test_pems_ddp_refuses_bad_timeout_and_gpu_loader_workers(capsys):
    script = _pems_ddp()
    with pytest.raises(SystemExit) as exc:
        script.parse_args(["--collective-timeout", "0"])
    assert exc.value.code == 2 and "--collective-timeout must be > 0" in capsys.readouterr().err
    for mode in ("index", "dask-index"):
        with pytest.raises(SystemExit) as exc:
            script.parse_args(["--dist", "-g", "-m", mode, "--num-workers", "2"])
        assert exc.value.code == 2 and "drop --num-workers 2" in capsys.readouterr().err
    assert script.parse_args(["--dist", "-g", "-m", "dask", "--num-workers", "2"])[1].num_workers == 2
