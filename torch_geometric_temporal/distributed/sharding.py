r"""Distributed-index-batching without replicating the data on every rank.

PGT-I's distributed-index-batching keeps the whole ``(T, N, F)`` array on
every GPU and lets a :class:`~torch.utils.data.DistributedSampler` deal
window indices. Here each rank holds only the time range its windows need.

The window starts (e.g. the training starts of a chronological split) are cut
into ``P * blocks_per_rank`` contiguous, nearly equal *blocks*. Every epoch
the blocks are dealt to the ranks (``blocks_per_rank`` each): in epoch 0
rank ``r`` gets the contiguous blocks ``r * c ... r * c + c - 1``; in later
epochs, when ``redeal=True``, a seeded permutation of the blocks is dealt, so
a rank sees different parts of the series over the epochs. A rank
materializes, for each of its blocks, the rows
``[first_start, last_start + T_in + T_out)`` (the block plus the window
overlap), i.e. about ``1/P`` of the array, and shuffles its own samples every
epoch.

What is equivalent to single-process training and what is not:

* Each epoch still visits every window exactly once overall (up to the
  padding/dropping needed to give every rank the same number of steps), and
  the order is re-drawn every epoch. Evaluation plans (``pad=False``) give
  uneven shards instead, so every validation/test window counts exactly once.
* The *global* batch at step ``s`` is the union of the ranks' local batches,
  so it always holds ``B`` windows from each rank's blocks (a stratified
  shuffle, still an unbiased draw of the epoch's windows). A single process
  with a uniform shuffle draws other batches, so the training trajectory is
  not the same one, only an equally valid one.
* Given the same global batches, DDP with mean-reduced losses and averaged
  gradients gives the same parameters as one process; :meth:`ShardPlan.
  global_batches` lists those batches and :class:`GlobalBatchSampler`
  replays them in one process (that is how the equivalence is tested). With
  a *masked* loss (e.g. missing traffic readings) DDP averages the ranks'
  masked means, which equals the global masked mean only when the ranks'
  batches hold equally many valid entries; this holds for DDP in general,
  replicated or sharded.
* Each rank reads its blocks' time ranges again when the deal changes (from
  a memory map, a Dask array or any sliceable source), which costs one read
  of ``1/P`` of the array per epoch and rank.
"""
import dataclasses
import logging
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.dataset.index_batching import IndexDataset
from torch_geometric_temporal.dataset.samplers import dataset_device
from torch_geometric_temporal.dataset.windows import WindowSpec

logger = logging.getLogger(__name__)


def split_blocks(num_starts: int, num_blocks: int) -> List[Tuple[int, int]]:
    r"""Cut positions ``0 .. num_starts - 1`` into ``num_blocks`` contiguous
    ``(begin, end)`` ranges whose sizes differ by at most one."""
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}.")
    if num_starts < num_blocks:
        raise ValueError(
            f"{num_starts} windows cannot be cut into {num_blocks} blocks; use fewer ranks or "
            f"fewer blocks_per_rank, or a longer series."
        )
    edges = np.linspace(0, num_starts, num_blocks + 1).round().astype(np.int64)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(num_blocks)]


def deal_blocks(
    num_blocks: int, num_replicas: int, epoch: int = 0, seed: int = 0, redeal: bool = True
) -> List[np.ndarray]:
    r"""Deal ``num_blocks`` block ids to ``num_replicas`` ranks for ``epoch``.

    Epoch 0 (or ``redeal=False``) gives rank ``r`` the contiguous blocks
    ``r*c .. r*c + c - 1`` with ``c = num_blocks // num_replicas``; later
    epochs deal a permutation drawn from ``seed + epoch``.
    """
    if num_blocks % num_replicas:
        raise ValueError(f"num_blocks={num_blocks} is not a multiple of num_replicas={num_replicas}.")
    ids = np.arange(num_blocks)
    if redeal and epoch > 0:
        gen = torch.Generator().manual_seed(int(seed) + int(epoch))
        ids = torch.randperm(num_blocks, generator=gen).numpy()
    per = num_blocks // num_replicas
    return [np.sort(ids[r * per:(r + 1) * per]) for r in range(num_replicas)]


class ShardPlan:
    r"""Which windows, and which time rows, each rank owns in each epoch.

    Sample ``i`` is the window starting at ``starts[i]`` (the same indexing as
    :class:`~torch_geometric_temporal.dataset.index_batching.IndexDataset`).

    Args:
        starts (array): sorted window start indices (e.g. the training split).
        num_replicas (int): number of ranks ``P``.
        T_in (WindowSpec or int): the window, or its input length.
        T_out (int, optional): output (horizon) window length (with an int
            ``T_in``).
        blocks_per_rank (int): blocks per rank and epoch; more blocks give
            a finer re-deal across epochs at the cost of re-reading the
            window overlap once per block.
        shuffle (bool): shuffle each rank's samples every epoch.
        redeal (bool): deal the blocks anew every epoch (after epoch 0).
        seed (int): seed of the shuffle and the deal.
        drop_last (bool): give every rank the smallest per-rank sample count
            (drop the rest) instead of padding up to the largest by repeating
            the rank's own samples.
        pad (bool): ``False``: neither pad nor drop; each rank yields exactly
            its own samples (the counts may differ by one), so the ranks
            together visit every window once. For evaluation (use it with
            ``redeal=False``, ``shuffle=False``).
    """

    def __init__(
        self,
        starts: Union[Sequence[int], np.ndarray],
        num_replicas: int,
        T_in: Union[WindowSpec, int],
        T_out: Optional[int] = None,
        blocks_per_rank: int = 1,
        shuffle: bool = True,
        redeal: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        pad: bool = True,
    ):
        self.spec = WindowSpec.of(T_in, T_out)
        starts = self.spec.check(starts, None)  # the series length is not known here
        if np.any(np.diff(starts) < 0):
            raise ValueError("starts must be sorted ascending (pass the chronological split's starts).")
        if num_replicas < 1:
            raise ValueError(f"num_replicas must be >= 1, got {num_replicas}.")
        if blocks_per_rank < 1:
            raise ValueError(f"blocks_per_rank must be >= 1, got {blocks_per_rank}.")
        self.starts = starts
        self.num_replicas = int(num_replicas)
        self.T_in, self.T_out = self.spec.num_timesteps_in, self.spec.num_timesteps_out
        self.blocks_per_rank = int(blocks_per_rank)
        self.shuffle, self.redeal = bool(shuffle), bool(redeal)
        self.seed, self.drop_last, self.pad = int(seed), bool(drop_last), bool(pad)
        self.blocks = split_blocks(len(starts), self.num_replicas * self.blocks_per_rank)

    def rank_blocks(self, epoch: int, rank: int) -> np.ndarray:
        r"""Block ids rank ``rank`` owns in ``epoch``."""
        self._check_rank(rank)
        return deal_blocks(len(self.blocks), self.num_replicas, epoch, self.seed, self.redeal)[rank]

    def block_time_range(self, block: int) -> Tuple[int, int]:
        r"""Rows ``[lo, hi)`` the windows of ``block`` read."""
        begin, end = self.blocks[block]
        return int(self.starts[begin]), int(self.starts[end - 1]) + self.spec.span

    def time_ranges(self, epoch: int, rank: int) -> List[Tuple[int, int]]:
        r"""Rows ``[lo, hi)`` rank ``rank`` must hold in ``epoch`` (one per block)."""
        return [self.block_time_range(b) for b in self.rank_blocks(epoch, rank)]

    def rank_samples(self, epoch: int, rank: int) -> np.ndarray:
        r"""Sample ids (positions in ``starts``) of rank ``rank``'s blocks, sorted."""
        ids = [np.arange(*self.blocks[b]) for b in self.rank_blocks(epoch, rank)]
        return np.concatenate(ids)

    def num_samples(self, epoch: int = 0, rank: Optional[int] = None) -> int:
        r"""Samples every rank yields in ``epoch``; with ``pad=False`` the
        counts differ between ranks: then the count of ``rank`` (default the
        largest)."""
        counts = [len(self.rank_samples(epoch, r)) for r in range(self.num_replicas)]
        if not self.pad and not self.drop_last and rank is not None:
            self._check_rank(rank)
            return counts[rank]
        return min(counts) if self.drop_last else max(counts)

    def rank_order(self, epoch: int, rank: int) -> np.ndarray:
        r"""The sample ids rank ``rank`` visits in ``epoch``, in order.

        Shuffled (if ``shuffle``) with a generator seeded by
        ``seed``, ``epoch`` and ``rank``; truncated or cyclically padded to
        :meth:`num_samples` (unless ``pad=False``).
        """
        ids = self.rank_samples(epoch, rank)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + 1_000_003 * (epoch + 1) + rank)
            ids = ids[torch.randperm(len(ids), generator=gen).numpy()]
        n = self.num_samples(epoch, rank)
        if len(ids) < n:
            ids = np.resize(ids, n)  # repeats the rank's own samples
        return ids[:n]

    def global_batches(self, epoch: int, batch_size: int, drop_last: bool = False) -> List[np.ndarray]:
        r"""The global batches a ``P``-rank run with per-rank ``batch_size``
        trains on in ``epoch``: step ``s`` is the concatenation, in rank
        order, of every rank's ``s``-th local batch. A single process fed these
        batches (with ``P * batch_size``) reproduces the DDP run."""
        orders = [self.rank_order(epoch, r) for r in range(self.num_replicas)]
        n = max(len(o) for o in orders)
        steps = n // batch_size if drop_last else -(-n // batch_size)
        return [
            np.concatenate([o[s * batch_size:(s + 1) * batch_size] for o in orders]) for s in range(steps)
        ]

    def _check_rank(self, rank: int) -> None:
        if not 0 <= rank < self.num_replicas:
            raise ValueError(f"rank {rank} is out of range for num_replicas={self.num_replicas}.")


def _read_rows(source: Any, lo: int, hi: int) -> Any:
    r"""Rows ``[lo, hi)`` of ``source`` as an array this rank owns.

    A Dask array is computed in this process (synchronous scheduler) chunk by
    chunk straight into one preallocated array, so the transient memory is
    one chunk, not a second copy of the rows."""
    rows = source(lo, hi) if callable(source) else source[lo:hi]
    if hasattr(rows, "dask") and hasattr(rows, "compute"):
        da = require("dask.array", "dask", "Reading a Dask array shard")

        out = np.empty(rows.shape, dtype=rows.dtype)
        da.store(rows, out, lock=False, scheduler="synchronous")
        return out
    if isinstance(rows, torch.Tensor):
        return rows if callable(source) else rows.clone()  # a slice is a view of the whole tensor
    # a view of a bigger array or of a memmap: copy, so the rank owns its rows only
    return np.array(rows, copy=True)


class ShardedIndexDataset(torch.utils.data.Dataset):
    r"""The windows one rank owns, holding only their time ranges.

    For each of the rank's blocks the rows :meth:`ShardPlan.time_ranges`
    names are read from ``source`` and wrapped in an
    :class:`~torch_geometric_temporal.dataset.index_batching.IndexDataset`
    with the block's starts shifted to the local rows, so a sample is cut and
    standardized exactly as the single-process dataset does it. Item ``i`` is
    global sample ``i`` (a position in ``plan.starts``); asking for a sample
    the rank does not hold raises :class:`KeyError`.

    Args:
        source: the full ``(T, N, F)`` series as anything sliceable by rows
            (:class:`numpy.ndarray`, :class:`numpy.memmap`, :class:`dask.array.
            Array`, tensor) or a callable ``(lo, hi) -> rows``.
        plan (ShardPlan): the shard plan shared by all ranks.
        rank (int): this rank.
        epoch (int): epoch whose blocks to load first.
        dataset_factory (callable, optional): ``(rows, local_starts) ->
            Dataset``; default :class:`IndexDataset` with ``**dataset_kwargs``.
        **dataset_kwargs: passed to :class:`IndexDataset` (``mean``, ``std``,
            ``device``); ``target_features`` joins the plan's window
            (:attr:`spec`).
    """

    def __init__(
        self,
        source: Any,
        plan: ShardPlan,
        rank: int,
        epoch: int = 0,
        dataset_factory: Optional[Callable[[Any, np.ndarray], Any]] = None,
        **dataset_kwargs: Any,
    ):
        plan._check_rank(rank)
        self.source, self.plan, self.rank = source, plan, int(rank)
        self.dataset_factory = dataset_factory
        target = dataset_kwargs.pop("target_features", None)
        #: the window of the blocks' datasets: the plan's, with the target features
        self.spec = plan.spec if target is None else dataclasses.replace(plan.spec, target_features=target)
        self.dataset_kwargs = dataset_kwargs
        self.epoch: Optional[int] = None
        self._blocks: dict = {}
        self.set_epoch(epoch)

    def _make(self, rows: Any, local_starts: np.ndarray) -> Any:
        if self.dataset_factory is not None:
            return self.dataset_factory(rows, local_starts)
        return IndexDataset(rows, local_starts, self.spec, **self.dataset_kwargs)

    def set_epoch(self, epoch: int) -> None:
        r"""Hold the blocks of ``epoch``: keep blocks that stay, drop the
        others before reading the new ones (peak stays about ``1/P``)."""
        if epoch == self.epoch:
            return
        wanted = [int(b) for b in self.plan.rank_blocks(epoch, self.rank)]
        self._blocks = {b: v for b, v in self._blocks.items() if b in wanted}
        for b in wanted:
            if b in self._blocks:
                continue
            lo, hi = self.plan.block_time_range(b)
            begin, end = self.plan.blocks[b]
            rows = _read_rows(self.source, lo, hi)
            local = self.plan.starts[begin:end] - lo
            self._blocks[b] = (begin, end, (lo, hi), self._make(rows, local))
        self._index = sorted(self._blocks.values(), key=lambda v: v[0])
        self.epoch = int(epoch)
        logger.debug("rank %d epoch %d holds rows %s", self.rank, epoch, self.time_ranges)

    @property
    def time_ranges(self) -> List[Tuple[int, int]]:
        r"""Rows ``[lo, hi)`` held now, one range per block."""
        return [v[2] for v in self._index]

    @property
    def device(self) -> torch.device:
        r"""Device of the held blocks' data (``device`` of the first block,
        else the ``device`` given for the blocks, else the CPU): what the
        loader checks (:func:`~torch_geometric_temporal.dataset.
        samplers.check_loader_device`)."""
        if self._index:
            return dataset_device(self._index[0][3])
        device = self.dataset_kwargs.get("device")
        return torch.device(device) if device is not None else torch.device("cpu")

    @property
    def resident_rows(self) -> int:
        r"""Number of time rows held now (sum over blocks)."""
        return sum(hi - lo for lo, hi in self.time_ranges)

    def __len__(self) -> int:
        return len(self.plan.starts)

    def _locate(self, i: int) -> Tuple[Any, int]:
        for begin, end, _, ds in self._index:
            if begin <= i < end:
                return ds, i - begin
        raise KeyError(
            f"sample {i} is not held by rank {self.rank} in epoch {self.epoch}; draw indices from "
            f"ShardSampler (and call its set_epoch) so that ranks only ask for their own samples."
        )

    def __getitem__(self, index: Any) -> Any:
        r"""One sample for an int; the batch ``(X, Y)`` for a list of ids."""
        if isinstance(index, (int, np.integer)) or (isinstance(index, torch.Tensor) and index.ndim == 0):
            ds, j = self._locate(int(index))
            return ds[j]
        return self.gather(index)

    def __getitems__(self, indices: Sequence[int]) -> Any:
        return self.gather(indices)

    def gather(self, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""Batch ``X (B, T_in, N, F)``, ``Y (B, T_out, N, F_y)`` of global
        sample ids, in the given order; one vectorized gather per block."""
        ids = np.asarray(indices, dtype=np.int64).reshape(-1)
        located = [self._locate(int(i)) for i in ids]
        groups: dict = {}
        for pos, (ds, j) in enumerate(located):
            groups.setdefault(id(ds), (ds, [], []))
            groups[id(ds)][1].append(pos)
            groups[id(ds)][2].append(j)
        if len(groups) == 1:
            ds, _, local = next(iter(groups.values()))
            return ds.gather(local)
        parts = [(pos, ds.gather(local)) for ds, pos, local in groups.values()]
        order = torch.as_tensor(np.argsort(np.concatenate([p for p, _ in parts]), kind="stable"))
        x = torch.cat([b[0] for _, b in parts])[order]
        y = torch.cat([b[1] for _, b in parts])[order]
        return x, y


class ShardSampler(torch.utils.data.Sampler):
    r"""Yields this rank's sample ids for the epoch (:meth:`ShardPlan.rank_order`).

    :meth:`set_epoch` also moves the attached :class:`ShardedIndexDataset`
    to the epoch's blocks, so a harness that calls ``sampler.set_epoch`` each
    epoch (as for :class:`~torch.utils.data.DistributedSampler`) needs no
    other change.
    """

    def __init__(self, plan: ShardPlan, rank: int, dataset: Optional[ShardedIndexDataset] = None):
        plan._check_rank(rank)
        self.plan, self.rank, self.dataset = plan, int(rank), dataset
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if self.dataset is not None:
            self.dataset.set_epoch(self.epoch)

    def __iter__(self) -> Iterator[int]:
        if self.dataset is not None and self.dataset.epoch != self.epoch:
            self.dataset.set_epoch(self.epoch)
        return iter(self.plan.rank_order(self.epoch, self.rank).tolist())

    def __len__(self) -> int:
        return self.plan.num_samples(self.epoch, self.rank)


class GlobalBatchSampler(torch.utils.data.Sampler):
    r"""Batch sampler replaying, in one process, the global batches of a
    ``P``-rank run (:meth:`ShardPlan.global_batches`): use it as
    ``DataLoader(IndexDataset(...), batch_size=None, sampler=...)`` over the
    full split to reproduce sharded DDP training exactly.

    Args:
        plan (ShardPlan): the plan of the DDP run.
        batch_size (int): per-rank batch size of the DDP run.
        drop_last (bool): drop the last incomplete step.
    """

    def __init__(self, plan: ShardPlan, batch_size: int, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.plan, self.batch_size, self.drop_last = plan, int(batch_size), bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[List[int]]:
        for batch in self.plan.global_batches(self.epoch, self.batch_size, self.drop_last):
            yield batch.tolist()

    def __len__(self) -> int:
        n = self.plan.num_samples(self.epoch)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

