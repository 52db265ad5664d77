r"""DataLoaders over data on a GPU refuse worker processes and pin_memory, in
index, base and sharded (``dask-index``) modes; emulated on the CPU with a
dataset whose data reports a CUDA device, or tensors on the ``meta`` device."""
import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset.loader_base import make_loaders, split_starts
from torch_geometric_temporal.dataset.index_batching import (
    IndexDataset,
    check_loader_device,
    dataset_device,
    index_dataloader,
)
from torch_geometric_temporal.distributed.sharding import ShardedIndexDataset, ShardPlan, ShardSampler

T_IN, T_OUT = 4, 3


@pytest.fixture
def series():
    return np.random.default_rng(0).normal(size=(60, 3, 2)).astype(np.float32)


@pytest.fixture
def on_cuda(monkeypatch):
    r"""Every IndexDataset reports its data on ``cuda:0``."""
    monkeypatch.setattr(IndexDataset, "device", property(lambda self: torch.device("cuda", 0)))


def test_sharded_dataset_on_cuda_refuses_workers_and_pin_memory(series, on_cuda):
    # before: ShardedIndexDataset had no device, so the CUDA check of the loader never ran
    plan = ShardPlan(np.arange(40), 2, T_IN, T_OUT, blocks_per_rank=2)
    ds = ShardedIndexDataset(series, plan, 0)
    assert ds.device == torch.device("cuda", 0)
    sampler = ShardSampler(plan, 0, ds)
    with pytest.raises(ValueError, match=r"data is on cuda:0.*num_workers=2.*use num_workers=0"):
        index_dataloader(ds, 4, sampler=sampler, num_workers=2)
    with pytest.raises(ValueError, match="pin_memory=False"):
        index_dataloader(ds, 4, sampler=sampler, pin_memory=True)
    assert len(list(index_dataloader(ds, 4, sampler=sampler))) > 0  # no workers: fine


def test_sharded_dataset_device_without_blocks(series):
    plan = ShardPlan(np.arange(40), 2, T_IN, T_OUT)
    assert ShardedIndexDataset(series, plan, 1).device == torch.device("cpu")


def test_index_dataset_on_cuda_refuses_pin_memory(series, on_cuda):
    ds = IndexDataset(series, np.arange(40), T_IN, T_OUT)
    with pytest.raises(ValueError, match="num_workers=1"):
        index_dataloader(ds, 4, num_workers=1)
    with pytest.raises(ValueError, match="pin_memory"):  # before: accepted, failed at the first batch
        index_dataloader(ds, 4, pin_memory=True)


def test_base_mode_on_a_device_refuses_workers(series):
    # the "meta" device stands for a GPU: base mode moved its windows there and forked workers over them
    splits = split_starts(len(series), T_IN, T_OUT, (0.6, 0.2, 0.2))
    with pytest.raises(ValueError, match=r"data is on meta.*num_workers=2"):
        make_loaders(series, splits, T_IN, T_OUT, mode="base", device="meta", num_workers=2)
    with pytest.raises(ValueError, match=r"data is on meta"):
        make_loaders(torch.from_numpy(series).to("meta"), splits, T_IN, T_OUT, mode="base", num_workers=1)
    loaders = make_loaders(series, splits, T_IN, T_OUT, mode="base", device="meta")
    assert dataset_device(loaders[0].dataset) == torch.device("meta")
    # CPU data keeps its workers
    assert make_loaders(series, splits, T_IN, T_OUT, mode="base", num_workers=2)[0].num_workers == 2


def test_check_loader_device():
    check_loader_device(None, 4, True)
    check_loader_device("cpu", 4, True)
    check_loader_device("cuda:1", 0, False)
    with pytest.raises(ValueError, match="cuda:1"):
        check_loader_device("cuda:1", 1)
