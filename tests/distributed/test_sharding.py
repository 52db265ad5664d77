import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset.index_batching import IndexDataset, index_dataloader, window_starts
from torch_geometric_temporal.dataset.windows import WindowSpec
from torch_geometric_temporal.distributed.sharding import (
    GlobalBatchSampler,
    ShardedIndexDataset,
    ShardPlan,
    ShardSampler,
    deal_blocks,
    split_blocks,
)

T_IN, T_OUT = 4, 3


@pytest.fixture
def series():
    rng = np.random.default_rng(0)
    return rng.normal(size=(120, 3, 2)).astype(np.float32)


def test_split_blocks_cover_and_balance():
    blocks = split_blocks(103, 8)
    assert blocks[0][0] == 0 and blocks[-1][1] == 103
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    sizes = [e - b for b, e in blocks]
    assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError, match="fewer ranks"):
        split_blocks(3, 4)


def test_deal_blocks_epoch0_contiguous_then_permuted():
    assert [d.tolist() for d in deal_blocks(6, 2, epoch=0)] == [[0, 1, 2], [3, 4, 5]]
    deals = [np.concatenate(deal_blocks(8, 2, epoch=e, seed=3)) for e in range(1, 6)]
    assert all(sorted(d.tolist()) == list(range(8)) for d in deals)
    assert any(d[:4].tolist() != [0, 1, 2, 3] for d in deals)
    assert [d.tolist() for d in deal_blocks(8, 2, epoch=4, redeal=False)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="multiple"):
        deal_blocks(5, 2)


@pytest.mark.parametrize("epoch", [0, 1, 2])
def test_plan_partitions_every_epoch(epoch):
    starts = np.arange(96)
    plan = ShardPlan(starts, num_replicas=2, T_in=T_IN, T_out=T_OUT, blocks_per_rank=3, seed=1)
    orders = [plan.rank_order(epoch, r) for r in range(2)]
    assert len(orders[0]) == len(orders[1]) == plan.num_samples(epoch) == 48
    assert sorted(np.concatenate(orders).tolist()) == list(range(96))  # each window once
    # a rank's time ranges cover exactly the rows its windows read
    for r in range(2):
        rows = set()
        for lo, hi in plan.time_ranges(epoch, r):
            rows.update(range(lo, hi))
        need = {int(s) + k for s in starts[orders[r]] for k in range(T_IN + T_OUT)}
        assert need == rows


def test_plan_shuffles_per_epoch_and_pads(series):
    plan = ShardPlan(np.arange(11), 2, T_IN, T_OUT, shuffle=True, seed=0)
    assert plan.num_samples(0) == 6  # 6 + 5 -> padded to 6
    assert len(set(plan.rank_order(0, 1).tolist())) == 5
    assert plan.rank_order(1, 0).tolist() != plan.rank_order(2, 0).tolist() or \
        plan.rank_order(1, 1).tolist() != plan.rank_order(2, 1).tolist()
    dropped = ShardPlan(np.arange(11), 2, T_IN, T_OUT, drop_last=True)
    assert dropped.num_samples(0) == 5
    with pytest.raises(ValueError, match="sorted"):
        ShardPlan(np.array([3, 1, 2]), 1, T_IN, T_OUT)
    with pytest.raises(ValueError, match="rank"):
        plan.rank_order(0, 2)


def test_global_batches_are_union_of_rank_batches():
    plan = ShardPlan(np.arange(40), 2, T_IN, T_OUT, blocks_per_rank=2, seed=5)
    batches = plan.global_batches(1, 4)
    o0, o1 = plan.rank_order(1, 0), plan.rank_order(1, 1)
    assert len(batches) == 5
    assert batches[2].tolist() == o0[8:12].tolist() + o1[8:12].tolist()
    sampler = GlobalBatchSampler(plan, 4)
    sampler.set_epoch(1)
    assert [b for b in sampler] == [b.tolist() for b in batches]
    assert len(sampler) == 5


@pytest.mark.parametrize("kind", ["numpy", "memmap", "callable", "dask"])
def test_sharded_dataset_holds_only_its_rows_and_matches_full(series, tmp_path, kind):
    T = series.shape[0]
    starts = window_starts(T, T_IN, T_OUT)
    mean, std = torch.tensor([0.1, -0.2]), torch.tensor([1.5, 0.5])
    full = IndexDataset(series, starts, T_IN, T_OUT, target_features=[0], mean=mean, std=std)
    if kind == "numpy":
        source = series
    elif kind == "memmap":
        np.save(tmp_path / "s.npy", series)
        source = np.load(tmp_path / "s.npy", mmap_mode="r")
    elif kind == "callable":
        calls = []

        def source(lo, hi):
            calls.append((lo, hi))
            return series[lo:hi]
    else:
        da = pytest.importorskip("dask.array")
        source = da.from_array(series, chunks=(10, 3, 2))
    plan = ShardPlan(starts, 2, T_IN, T_OUT, blocks_per_rank=2, seed=0)
    for rank in range(2):
        ds = ShardedIndexDataset(source, plan, rank, target_features=[0], mean=mean, std=std)
        assert ds.time_ranges == plan.time_ranges(0, rank)
        # about half the series: its shard plus one window overlap per block
        assert ds.resident_rows <= T // 2 + 2 * (T_IN + T_OUT)
        ids = plan.rank_order(0, rank)[:7]
        x, y = ds[ids.tolist()]
        xr, yr = full[ids.tolist()]
        assert torch.equal(x, xr) and torch.equal(y, yr)
        x1, y1 = ds[int(ids[0])]
        assert torch.equal(x1, xr[0]) and torch.equal(y1, yr[0])
        foreign = plan.rank_order(0, 1 - rank)[0]
        with pytest.raises(KeyError, match="ShardSampler"):
            ds[int(foreign)]
        ds.set_epoch(3)  # re-deal: new rows are read, old ones dropped
        assert ds.time_ranges == plan.time_ranges(3, rank)
        ids = plan.rank_order(3, rank)
        assert torch.equal(ds[ids.tolist()][0], full[ids.tolist()][0])
    if kind == "callable":
        assert all(hi - lo <= T // 4 + T_IN + T_OUT for lo, hi in calls)


def test_shard_sampler_drives_dataset_epochs(series):
    starts = window_starts(series.shape[0], T_IN, T_OUT)
    plan = ShardPlan(starts, 2, T_IN, T_OUT, blocks_per_rank=2, seed=0)
    ds = ShardedIndexDataset(series, plan, 1)
    sampler = ShardSampler(plan, 1, ds)
    loader = index_dataloader(ds, 5, sampler=sampler)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        assert ds.epoch == epoch
        seen = torch.cat([x[:, 0, 0, 0] for x, _ in loader])
        expected = torch.from_numpy(series[starts[plan.rank_order(epoch, 1)], 0, 0])
        assert torch.equal(seen, expected)
    assert len(sampler) == plan.num_samples(2)


def test_importing_the_runtime_does_not_import_dask():
    import subprocess
    import sys

    code = ("import sys, torch_geometric_temporal, torch_geometric_temporal.distributed; "
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', 'pandas', 'psutil'}); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("num_starts, replicas", [(37, 2), (37, 4), (40, 4)])
def test_eval_plan_visits_every_window_once(num_starts, replicas):
    starts = np.arange(num_starts) * 2
    plan = ShardPlan(starts, replicas, T_IN, T_OUT, shuffle=False, redeal=False, pad=False)
    orders = [plan.rank_order(0, r) for r in range(replicas)]
    assert sorted(np.concatenate(orders).tolist()) == list(range(num_starts))  # no repeats, none left out
    for r, order in enumerate(orders):
        assert len(ShardSampler(plan, r)) == len(order) == plan.num_samples(0, r)
    padded = ShardPlan(starts, replicas, T_IN, T_OUT, shuffle=False, redeal=False)
    assert len(np.concatenate([padded.rank_order(0, r) for r in range(replicas)])) == \
        replicas * max(map(len, orders))  # the training plan still pads to equal steps
    batches = plan.global_batches(0, 4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(num_starts))


def test_plan_takes_a_window_spec(series):
    spec = WindowSpec(T_IN, T_OUT, target_features=[1])
    starts = spec.starts(series.shape[0])
    by_spec = ShardPlan(starts, 2, spec, blocks_per_rank=2, seed=0)
    by_ints = ShardPlan(starts, 2, T_IN, T_OUT, blocks_per_rank=2, seed=0)
    assert by_spec.time_ranges(1, 0) == by_ints.time_ranges(1, 0)
    assert by_spec.block_time_range(0)[1] == int(starts[by_spec.blocks[0][1] - 1]) + spec.span
    full = IndexDataset(series, starts, spec)
    ds = ShardedIndexDataset(series, by_ints, 0, target_features=[1])  # joins the plan's window
    assert ds.spec == spec
    ids = by_ints.rank_order(0, 0)[:5].tolist()
    assert torch.equal(ds[ids][1], full[ids][1])
    with pytest.raises(ValueError, match="0 <= s"):
        ShardPlan(np.array([-1, 0]), 1, spec)
