r"""Samplers and the loader of index-batching: batches of window indices.

:class:`TensorBatchSampler` yields each batch as one index tensor (a slice of
the epoch's order), :class:`DistributedIndexSampler` splits the windows across
DDP ranks, and :func:`index_dataloader` feeds a window dataset whole batches
(one vectorized gather per batch, no collate).
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Union

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from torch_geometric_temporal.dataset.windows import _as_int

__all__ = [
    "DistributedIndexSampler",
    "TensorBatchSampler",
    "index_dataloader",
    "identity_collate",
    "dataset_device",
    "check_loader_device",
]


def identity_collate(batch: Any) -> Any:
    r"""Collate function returning the batch unchanged (for ``__getitems__`` batches)."""
    return batch


class DistributedIndexSampler(Sampler[int]):
    r"""Splits window indices across ``num_replicas`` ranks, reshuffled every epoch.

    Same semantics and, for the same arguments, the same indices as
    :class:`torch.utils.data.distributed.DistributedSampler`, but it takes a
    length (no process group needed): with ``shuffle`` the permutation comes
    from a generator seeded with ``seed + epoch`` (call :meth:`set_epoch`); with
    ``drop_last=False`` the index list is padded by wrapping around so every rank
    gets ``ceil(n / num_replicas)`` indices, with ``drop_last=True`` the tail is
    dropped so every rank gets ``floor(n / num_replicas)``; rank ``r`` takes
    positions ``r, r + num_replicas, ...``.

    With ``pad=False`` (and ``drop_last=False``) nothing is added or dropped:
    the ranks get uneven shards (sizes differ by at most one, a rank may get
    none) that together hold every index exactly once. Use it for evaluation,
    where padding would count the repeated windows twice and make the
    metrics depend on the number of ranks; it needs a loop without per-batch
    collectives, since the ranks then run different numbers of batches.

    Args:
        dataset_or_length (Dataset or int): dataset (its ``len``) or length.
        num_replicas (int, optional): world size; default from an initialized
            ``torch.distributed`` process group, else ``1``.
        rank (int, optional): this rank; default likewise, else ``0``.
        shuffle (bool): shuffle per epoch (default ``True``).
        seed (int): base seed, identical on all ranks (default ``0``).
        drop_last (bool): drop the tail instead of padding (default ``False``).
        pad (bool): pad to equal shards as :class:`DistributedSampler` does
            (default ``True``); ``False`` for uneven shards, every index once.
    """

    def __init__(self, dataset_or_length, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, pad: bool = True):
        n = dataset_or_length if isinstance(dataset_or_length, (int, np.integer)) \
            else len(dataset_or_length)
        if num_replicas is None or rank is None:
            dist = torch.distributed
            initialized = dist.is_available() and dist.is_initialized()
            if num_replicas is None:
                num_replicas = dist.get_world_size() if initialized else 1
            if rank is None:
                rank = dist.get_rank() if initialized else 0
        self.n = _as_int(n, "length")
        self.num_replicas = _as_int(num_replicas, "num_replicas")
        self.rank = _as_int(rank, "rank")
        if self.num_replicas < 1:
            raise ValueError(f"num_replicas must be >= 1, got {self.num_replicas}.")
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank must be in [0, {self.num_replicas - 1}], got {self.rank}.")
        if self.n < 1:
            raise ValueError("Cannot distribute an empty dataset.")
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.pad = bool(pad)
        self.epoch = 0
        if not self.pad and not self.drop_last:  # uneven shards: positions rank, rank + R, ... < n
            self.num_samples = len(range(self.rank, self.n, self.num_replicas))
            self.total_size = self.n
            return
        if self.drop_last and self.n % self.num_replicas:
            self.num_samples = self.n // self.num_replicas
        else:
            self.num_samples = math.ceil(self.n / self.num_replicas)
        if self.num_samples == 0:
            raise ValueError(f"drop_last=True with {self.n} windows < {self.num_replicas} "
                             f"replicas leaves no window per rank; use drop_last=False.")
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        r"""Set the epoch; it seeds the shuffle (``seed + epoch``) on every rank."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        r"""This rank's indices for the current epoch (``int64``, length ``len(self)``)."""
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).numpy()
        else:
            order = np.arange(self.n, dtype=np.int64)
        if self.total_size > self.n:  # pad by wrapping around
            order = np.resize(order, self.total_size)
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class TensorBatchSampler(BatchSampler):
    r"""A :class:`~torch.utils.data.BatchSampler` that yields each batch as a
    1-D ``int64`` tensor: the same batches, in the same order, consuming the
    same random numbers as ``BatchSampler(sampler, batch_size, drop_last)``.

    For the samplers :func:`index_dataloader` uses
    (:class:`~torch.utils.data.RandomSampler` without replacement,
    :class:`~torch.utils.data.SequentialSampler`, :class:`DistributedIndexSampler`)
    the epoch's order is made as one tensor and sliced, with no Python per
    index; any other sampler is batched by :class:`BatchSampler` and converted.
    Since the batches are slices of one order, :class:`IndexDataset` checks
    and moves the order to its device once per epoch, not each batch.

    Args:
        sampler (Sampler): per-window sampler.
        batch_size (int): windows per batch.
        drop_last (bool): drop the last incomplete batch.
    """

    def _epoch_order(self):
        r"""``(order, after)``: the epoch's indices as a tensor (``None`` if the
        sampler is not one of the known ones) and a callable run where
        :class:`RandomSampler` draws its next permutation on exhaustion."""
        s = self.sampler
        if type(s) is RandomSampler and not s.replacement and s._num_samples is None:
            n, gen = len(s.data_source), s.generator
            if gen is None:  # as RandomSampler: a fresh generator seeded from the global RNG
                seed = int(torch.empty((), dtype=torch.int64).random_().item())
                gen = torch.Generator()
                gen.manual_seed(seed)
            return torch.randperm(n, generator=gen), lambda: torch.randperm(n, generator=gen)
        if type(s) is SequentialSampler:
            return torch.arange(len(s.data_source)), None
        if isinstance(s, DistributedIndexSampler):
            return torch.from_numpy(np.ascontiguousarray(s.indices())), None
        return None, None

    def __iter__(self) -> Iterator[torch.Tensor]:
        order, after = self._epoch_order()
        if order is None:
            for batch in super().__iter__():
                yield torch.from_numpy(np.asarray(batch, dtype=np.int64))
            return
        bs, n = self.batch_size, order.numel()
        full = n // bs
        for i in range(full):
            yield order[i * bs:(i + 1) * bs]
        if after is not None:
            after()
        if n % bs and not self.drop_last:
            yield order[full * bs:]


def dataset_device(dataset: Any) -> torch.device:
    r"""Device holding the data of a loader's dataset: its ``device``
    attribute (:class:`IndexDataset`, :class:`~torch_geometric_temporal.
    distributed.sharding.ShardedIndexDataset`), the device of a
    :class:`~torch.utils.data.TensorDataset`'s tensors, else the CPU."""
    device = getattr(dataset, "device", None)
    if device is None and getattr(dataset, "tensors", None):
        device = dataset.tensors[0].device
    return torch.device(device) if device is not None else torch.device("cpu")


def check_loader_device(device: Optional[Union[str, torch.device]], num_workers: int = 0,
                        pin_memory: bool = False) -> None:
    r"""Refuse DataLoader options that cannot work for data on ``device``:
    worker processes (``num_workers > 0``) would be forked over CUDA memory,
    which CUDA does not support, and ``pin_memory`` pins host memory, which
    CUDA tensors are not. The one check of every loader builder
    (:func:`index_dataloader`, the base mode of ``make_loaders``).

    Args:
        device (torch.device or str, optional): where the dataset's data
            lives (``None``: the CPU).
        num_workers (int): the loader's worker processes.
        pin_memory (bool): the loader's ``pin_memory``.

    Raises:
        ValueError: data off the CPU with ``num_workers > 0`` or ``pin_memory``.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cpu":
        return
    if num_workers:
        raise ValueError(f"the dataset's data is on {device}, so DataLoader worker processes "
                         f"(num_workers={num_workers}) would be forked over GPU memory; use num_workers=0 "
                         f"(batches are gathered on the device, no worker is needed) or keep the data on "
                         f"the CPU (no -g).")
    if pin_memory:
        raise ValueError(f"pin_memory pins host memory, and the dataset's data is on {device}; use "
                         f"pin_memory=False (its batches need no host-to-device copy).")


def index_dataloader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool = False,
    drop_last: bool = False,
    generator: Optional[torch.Generator] = None,
    sampler: Optional[Sampler] = None,
    num_workers: int = 0,
    **kwargs,
) -> DataLoader:
    r"""``DataLoader`` that fetches each batch with one vectorized gather.

    The loader's sampler is a :class:`TensorBatchSampler` (a
    :class:`~torch.utils.data.BatchSampler` yielding index tensors) over
    ``sampler`` (e.g. :class:`DistributedIndexSampler`) or over
    ``RandomSampler(dataset, generator=generator)`` / ``SequentialSampler``,
    with ``batch_size=None``: the dataset receives the whole batch of indices
    and no collate runs. With the same ``generator`` seed it yields the
    same batches in the same order as the base path
    ``DataLoader(TensorDataset(X, Y), batch_size, shuffle=True, generator=g)``.

    Args:
        dataset (IndexDataset): dataset accepting lists of indices.
        batch_size (int): windows per batch.
        shuffle (bool): random order (uses ``generator``); not with ``sampler``.
        drop_last (bool): drop the last incomplete batch.
        generator (torch.Generator, optional): RNG for shuffling (and the loader's
            base seed), for determinism.
        sampler (Sampler, optional): index sampler, e.g.
            :class:`DistributedIndexSampler` (call its ``set_epoch`` each epoch).
        num_workers (int): worker processes (must be 0 for CUDA datasets,
            see :func:`check_loader_device`).
        **kwargs: passed to :class:`~torch.utils.data.DataLoader` (e.g.
            ``pin_memory``, not for CUDA datasets; ``prefetch_factor``).
    """
    bs = _as_int(batch_size, "batch_size")
    if bs < 1:
        raise ValueError(f"batch_size must be >= 1, got {bs}.")
    if sampler is not None and shuffle:
        raise ValueError("Give either shuffle=True or a sampler (which shuffles itself), "
                         "not both.")
    check_loader_device(dataset_device(dataset), num_workers, bool(kwargs.get("pin_memory", False)))
    for k in ("batch_size", "collate_fn", "batch_sampler"):
        if k in kwargs:
            raise ValueError(f"index_dataloader sets {k} itself; do not pass it.")
    if sampler is None:
        sampler = (RandomSampler(dataset, generator=generator) if shuffle
                   else SequentialSampler(dataset))
    return DataLoader(dataset, batch_size=None, sampler=TensorBatchSampler(sampler, bs, drop_last),
                      num_workers=num_workers, generator=generator,
                      collate_fn=identity_collate, **kwargs)

