"""NCCL DDP over 2 ranks on 2 GPUs through the package's ``start_cluster`` and
``run_ddp``: the all-reduce sums both ranks, and the two ranks sit on two
different physical GPUs (told apart by UUID, since under dask-cuda each worker
numbers the GPUs from its own ``CUDA_VISIBLE_DEVICES``). Skipped without 2
CUDA devices."""
import os
import sys

import pytest
import torch

pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from torch_geometric_temporal.distributed import run_ddp  # noqa: E402
from torch_geometric_temporal.distributed.cluster import close_cluster, start_cluster  # noqa: E402

# the rank functions below are sent by value: the workers cannot import this test module
cloudpickle.register_pickle_by_value(sys.modules[__name__])

two_gpus = pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2,
                              reason="needs 2 CUDA devices (NCCL over 2 ranks)")
pytestmark = [pytest.mark.gpu, pytest.mark.distributed, two_gpus]


def _physical_id(index: int) -> str:
    props = torch.cuda.get_device_properties(index)
    uuid = getattr(props, "uuid", None)
    if uuid is not None:
        return str(uuid)
    return f"{props.name}/{getattr(props, 'pci_domain_id', '?')}:{getattr(props, 'pci_bus_id', '?')}"


def _all_reduce_rank(ctx):
    x = torch.full((4,), float(ctx.rank + 1), device=ctx.device)
    torch.distributed.all_reduce(x)
    torch.cuda.synchronize(ctx.device)
    return {"rank": ctx.rank, "world_size": ctx.world_size, "sum": x.tolist(), "device": str(ctx.device),
            "current": torch.cuda.current_device(), "index": ctx.device.index,
            "physical": _physical_id(ctx.device.index),
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES")}


@pytest.mark.parametrize("dask_cuda", [True, False], ids=["dask-cuda-workers", "plain-dask-workers"])
def test_nccl_all_reduce_over_two_ranks_on_two_gpus(dask_cuda):  # pragma: no cover - needs 2 GPUs
    if dask_cuda:
        pytest.importorskip("dask_cuda", reason="the [gpu] extra (dask-cuda) is not installed")
    cluster, client = start_cluster(2, gpu=dask_cuda, timeout=120)
    try:
        results = run_ddp(client, _all_reduce_rank, backend="nccl", n_workers=2, timeout=180,
                          collective_timeout=60)
    finally:
        close_cluster(cluster, client)
    ranks = list(results)  # in rank order
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world_size"] for r in ranks} == {2}
    for r in ranks:
        assert r["sum"] == [3.0] * 4, r  # 1 + 2: both ranks took part
        assert r["current"] == r["index"], r  # the rank's device is the current device
    assert ranks[0]["physical"] != ranks[1]["physical"], ranks  # two GPUs, not one twice
