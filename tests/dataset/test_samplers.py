"""dataset/samplers.py: TensorBatchSampler, DistributedIndexSampler, index_dataloader."""
import numpy as np
import pytest
import torch
from test_index_batching import _as_source, _series
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from torch_geometric_temporal.dataset.index_batching import IndexDataset, materialize_windows
from torch_geometric_temporal.dataset.samplers import (
    DistributedIndexSampler,
    TensorBatchSampler,
    identity_collate,
    index_dataloader,
)
from torch_geometric_temporal.dataset.windows import window_starts


# --------------------------------------------------------------------------- loader
@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (True, True), (False, False)])
def test_loader_matches_tensor_dataset(shuffle, drop_last):
    raw = _series(70, 4, 2)
    starts = window_starts(70, 6, 4, stride=1)
    X, Y = materialize_windows(raw, starts, 6, 4, target_features=[0])
    ds = IndexDataset(raw, starts, 6, 4, target_features=[0])
    for seed in (0, 7):
        base = DataLoader(TensorDataset(X, Y), batch_size=8, shuffle=shuffle,
                          drop_last=drop_last, generator=torch.Generator().manual_seed(seed))
        ours = index_dataloader(ds, 8, shuffle=shuffle, drop_last=drop_last,
                                generator=torch.Generator().manual_seed(seed))
        assert len(base) == len(ours)
        n = 0
        for (xb, yb), (xi, yi) in zip(base, ours, strict=True):
            assert torch.equal(xb, xi) and torch.equal(yb, yi)
            n += 1
        assert n == len(base)
    # two epochs from one generator: still identical (epochs consume the same draws)
    gb, gi = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    base = DataLoader(TensorDataset(X, Y), batch_size=8, shuffle=True, generator=gb)
    ours = index_dataloader(ds, 8, shuffle=True, generator=gi)
    for _ in range(2):
        for (xb, _), (xi, _) in zip(base, ours, strict=True):
            assert torch.equal(xb, xi)


class _EveryOther(torch.utils.data.Sampler):  # a sampler TensorBatchSampler does not know
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(0, self.n, 2))

    def __len__(self):
        return (self.n + 1) // 2


@pytest.mark.parametrize("n, bs", [(37, 8), (32, 8), (5, 8), (1, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("kind", ["random", "random-global", "sequential", "distributed", "other"])
def test_tensor_batch_sampler_equals_batch_sampler(n, bs, drop_last, kind):
    def make(seed):
        gen = torch.Generator().manual_seed(seed)
        if kind == "random":
            return RandomSampler(range(n), generator=gen), gen
        if kind == "random-global":
            return RandomSampler(range(n)), gen
        if kind == "sequential":
            return SequentialSampler(range(n)), gen
        if kind == "distributed":
            return DistributedIndexSampler(n, num_replicas=2, rank=1, seed=seed), gen
        return _EveryOther(n), gen

    (ref_s, ref_g), (our_s, our_g) = make(5), make(5)
    ref, ours = BatchSampler(ref_s, bs, drop_last), TensorBatchSampler(our_s, bs, drop_last)
    assert len(ours) == len(ref)
    for epoch in range(3):  # the same draws per epoch: later epochs agree too
        torch.manual_seed(epoch)  # RandomSampler without a generator seeds from the global RNG
        want = list(ref)
        torch.manual_seed(epoch)
        got = list(ours)
        assert len(got) == len(want)
        for a, b in zip(want, got):
            assert b.dtype == torch.int64 and b.tolist() == a
        assert torch.equal(ref_g.get_state(), our_g.get_state())
        for s in (ref_s, our_s):
            if hasattr(s, "set_epoch"):
                s.set_epoch(epoch + 1)
    # stopping mid-epoch leaves the generator where BatchSampler leaves it
    if kind == "random" and n // bs >= 1:
        (ref_s, ref_g), (our_s, our_g) = make(9), make(9)
        next(iter(BatchSampler(ref_s, bs, drop_last)))
        next(iter(TensorBatchSampler(our_s, bs, drop_last)))
        assert torch.equal(ref_g.get_state(), our_g.get_state())


def test_loader_shuffle_changes_order_and_is_deterministic():
    raw = _series(70, 2, 1)
    ds = IndexDataset(raw, window_starts(70, 3, 3), 3, 3)
    first = [x for x, _ in index_dataloader(ds, 16, shuffle=True,
                                           generator=torch.Generator().manual_seed(0))]
    again = [x for x, _ in index_dataloader(ds, 16, shuffle=True,
                                           generator=torch.Generator().manual_seed(0))]
    seq = [x for x, _ in index_dataloader(ds, 16)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], seq[0])
    assert torch.equal(torch.cat(seq), ds[np.arange(len(ds))][0])


def test_loader_workers_and_getitems_memmap(tmp_path):
    raw = _series(50, 3, 2)
    mm = _as_source(raw, "memmap", tmp_path)
    starts = window_starts(50, 4, 4)
    X, Y = materialize_windows(raw, starts, 4, 4)
    ds = IndexDataset(mm, starts, 4, 4)
    ours = index_dataloader(ds, 5, num_workers=1)
    assert torch.equal(torch.cat([x for x, _ in ours]), X)
    # DataLoader automatic batching with __getitems__ and an identity collate
    dl = DataLoader(ds, batch_size=5, collate_fn=identity_collate)
    assert torch.equal(torch.cat([y for _, y in dl]), Y)


def test_index_dataloader_bad_input():
    ds = IndexDataset(_series(30, 2, 1), window_starts(30, 3, 3), 3, 3)
    with pytest.raises(ValueError, match="shuffle=True or a sampler"):
        index_dataloader(ds, 4, shuffle=True, sampler=DistributedIndexSampler(ds, 2, 0))
    with pytest.raises(ValueError, match="batch_size"):
        index_dataloader(ds, 0)


# --------------------------------------------------------------------------- sampler
@pytest.mark.parametrize("n, replicas, drop_last", [(40, 4, False), (43, 4, False),
                                                    (43, 4, True), (5, 3, False), (7, 1, False)])
def test_distributed_sampler(n, replicas, drop_last):
    for epoch in (0, 1):
        parts = []
        for r in range(replicas):
            smp = DistributedIndexSampler(n, replicas, r, shuffle=True, seed=5, drop_last=drop_last)
            smp.set_epoch(epoch)
            idx = list(smp)
            assert len(idx) == len(smp)
            # same indices as torch's DistributedSampler
            ref = DistributedSampler(range(n), replicas, r, shuffle=True, seed=5,
                                     drop_last=drop_last)
            ref.set_epoch(epoch)
            assert idx == list(ref)
            parts.append(idx)
        assert len({len(p) for p in parts}) == 1  # every rank runs the same number of steps
        flat = np.concatenate(parts)
        if n % replicas == 0:
            assert sorted(flat.tolist()) == list(range(n))  # each index exactly once
        elif drop_last:
            assert len(set(flat.tolist())) == len(flat) == n - n % replicas
        else:
            assert set(flat.tolist()) == set(range(n))
            assert len(flat) == replicas * -(-n // replicas)
    s0 = DistributedIndexSampler(40, 2, 0, seed=1)
    e0 = list(s0)
    s0.set_epoch(1)
    assert list(s0) != e0
    s0.set_epoch(0)
    assert list(s0) == e0
    assert list(DistributedIndexSampler(10, 2, 1, shuffle=False)) == [1, 3, 5, 7, 9]


@pytest.mark.parametrize("n, replicas, shuffle", [(43, 4, True), (43, 4, False), (40, 4, True),
                                                  (2, 3, False), (7, 1, True)])
def test_distributed_sampler_without_padding(n, replicas, shuffle):
    # evaluation shards: uneven, every index exactly once, a rank may get none
    for epoch in (0, 1):
        parts = []
        for r in range(replicas):
            smp = DistributedIndexSampler(n, replicas, r, shuffle=shuffle, seed=5, pad=False)
            smp.set_epoch(epoch)
            idx = smp.indices()
            assert len(idx) == len(smp) == len(range(r, n, replicas))
            padded = DistributedIndexSampler(n, replicas, r, shuffle=shuffle, seed=5)
            padded.set_epoch(epoch)
            assert idx.tolist() == list(padded)[:len(idx)]  # the padded order without the repeats
            parts.append(idx)
        assert sorted(np.concatenate(parts).tolist()) == list(range(n))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert list(DistributedIndexSampler(2, 3, 2, shuffle=False, pad=False)) == []
    # drop_last wins over pad=False
    assert len(DistributedIndexSampler(43, 4, 0, drop_last=True, pad=False)) == 10


def test_ddp_loaders_evaluate_every_window_once():
    from torch_geometric_temporal.dataset.loader_base import make_loaders, split_starts

    data = torch.from_numpy(_series(90, 3, 2))
    splits = split_starts(90, 4, 4, (0.7, 0.1, 0.2))
    assert len(splits[2]) % 3 and len(splits[0]) % 3  # padding would be needed for 3 ranks
    seen = [[], [], []]
    for rank in range(3):
        for split, loader in enumerate(make_loaders(data, splits, 4, 4, batch_size=4, world_size=3,
                                                    ddp_rank=rank, seed=1, shuffle=True)):
            seen[split] += torch.cat(list(loader.batch_sampler or loader.sampler)).tolist()
    train, val, test = seen
    assert len(train) == 3 * -(-len(splits[0]) // 3)  # training keeps DistributedSampler's padding
    assert set(train) == set(range(len(splits[0])))
    assert sorted(val) == list(range(len(splits[1])))  # no repeats: metrics independent of -np
    assert sorted(test) == list(range(len(splits[2])))


def test_distributed_sampler_with_loader():
    raw = _series(80, 3, 2)
    starts = window_starts(80, 4, 4)
    X, _ = materialize_windows(raw, starts, 4, 4)
    ds = IndexDataset(raw, starts, 4, 4)
    seen = []
    for r in range(3):
        smp = DistributedIndexSampler(ds, 3, r, seed=2)
        smp.set_epoch(4)
        loader = index_dataloader(ds, 6, sampler=smp)
        for (x, _), idx in zip(loader, np.array_split(smp.indices(), range(6, len(smp), 6))):
            assert torch.equal(x, X[idx])
        seen.append(smp.indices())
    assert set(np.concatenate(seen).tolist()) == set(range(len(ds)))


def test_distributed_sampler_bad_input():
    with pytest.raises(ValueError, match="rank"):
        DistributedIndexSampler(10, 2, 2)
    with pytest.raises(ValueError, match="empty"):
        DistributedIndexSampler(0, 1, 0)
    with pytest.raises(ValueError, match="drop_last"):
        DistributedIndexSampler(2, 3, 0, drop_last=True)
    assert DistributedIndexSampler(10).num_replicas == 1  # no process group: single rank
