r"""Shared machinery of the loaders: one ``(T, N, F)`` array, windows cut by
start index, chronological train/val/test split, training-window statistics,
and the two ways to batch them: index-batching (:class:`IndexDataset`) and the
materialized baseline (``TensorDataset`` over :func:`materialize_windows`),
which see the same windows in the same order for the same seed.
"""
from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    TensorDataset,
)

Ratio = Tuple[float, float, float]
Device = Optional[Union[str, torch.device]]


class SplitLoaders(NamedTuple):
    r"""What :meth:`get_index_dataset`/:meth:`get_base_dataset` return, in
    upstream PGT-I order; unpacks like upstream's 7-tuple."""

    train_loader: DataLoader
    val_loader: DataLoader
    test_loader: DataLoader
    edges: torch.Tensor
    edge_weights: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor

    def set_epoch(self, epoch: int) -> None:
        r"""Call ``set_epoch`` on each loader's sampler that has one (the
        :class:`DistributedIndexSampler` of DDP runs), in both modes."""
        for loader in self[:3]:
            set_loader_epoch(loader, epoch)


def loader_sampler(loader: DataLoader) -> Sampler:
    r"""The per-window sampler of a loader from :func:`make_loaders`: below
    the :class:`~torch.utils.data.BatchSampler` in index mode, the loader's
    sampler in base mode."""
    sampler = loader.sampler
    return getattr(sampler, "sampler", sampler) if isinstance(sampler, BatchSampler) else sampler


def set_loader_epoch(loader: DataLoader, epoch: int) -> None:
    r"""``set_epoch(epoch)`` on :obj:`loader`'s window sampler, if it has one."""
    sampler = loader_sampler(loader)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def _index_batching():
    from torch_geometric_temporal.dataset import index_batching

    return index_batching


def resolve_device(device: Device, allGPU: int = -1) -> Optional[torch.device]:
    r"""``device`` if given, else ``cuda:<allGPU>`` when ``allGPU != -1``
    (upstream PGT-I's argument), else ``None`` (data stays on the CPU)."""
    if device is not None:
        return torch.device(device)
    if allGPU is not None and allGPU != -1:
        return torch.device(f"cuda:{int(allGPU)}")
    return None


def split_starts(num_timesteps: int, num_timesteps_in: int, num_timesteps_out: int,
                 ratio: Ratio) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Window starts of a series of :obj:`num_timesteps` steps, split
    chronologically into train/val/test by :obj:`ratio`."""
    ib = _index_batching()
    starts = ib.window_starts(num_timesteps, num_timesteps_in, num_timesteps_out)
    return ib.chronological_split(starts, ratio)


def train_span(train: np.ndarray, num_timesteps_in: int) -> int:
    r"""Number of leading time steps seen as input by the training windows."""
    if len(train) == 0:
        raise ValueError("The training split is empty; raise ratio[0] or use a longer series.")
    return int(np.max(train)) + num_timesteps_in


def _sampler(length: int, shuffle: bool, seed: int, world_size: int, ddp_rank: int,
             drop_last: bool, pad: bool = True) -> Sampler:
    if ddp_rank is not None and ddp_rank != -1:
        if world_size is None or world_size < 1:
            raise ValueError(f"ddp_rank={ddp_rank} needs world_size >= 1, got {world_size}.")
        return _index_batching().DistributedIndexSampler(
            length, num_replicas=world_size, rank=ddp_rank, shuffle=shuffle, seed=seed,
            drop_last=drop_last, pad=pad)
    if shuffle:
        generator = torch.Generator()
        generator.manual_seed(seed)
        return RandomSampler(range(length), generator=generator)
    return SequentialSampler(range(length))


def make_loaders(data: Any, splits: Sequence[np.ndarray], num_timesteps_in: int,
                 num_timesteps_out: int, *, mode: str = "index", batch_size: int = 64,
                 shuffle: bool = False, target_features: Optional[Sequence[int]] = None,
                 mean: Optional[torch.Tensor] = None, std: Optional[torch.Tensor] = None,
                 device: Device = None, world_size: int = -1, ddp_rank: int = -1, seed: int = 0,
                 drop_last: bool = False, num_workers: int = 0) -> Tuple[DataLoader, ...]:
    r"""One :class:`~torch.utils.data.DataLoader` per split.

    Args:
        data: ``(T, N, F)`` array/tensor, already standardized unless
            :obj:`mean`/:obj:`std` are given (then standardized at gather time).
        splits: window starts of each split.
        mode (str): ``"index"`` (:class:`IndexDataset`, windows cut per batch)
            or ``"base"`` (all windows materialized up front).
        num_workers (int): DataLoader workers; must be ``0`` when the data
            is on a GPU (``device`` or a CUDA ``data``), in both modes.

    Both modes draw batch order from the same sampler (sequential, seeded
    :class:`~torch.utils.data.RandomSampler`, or
    :class:`DistributedIndexSampler` when :obj:`ddp_rank` is not ``-1``), so
    they yield the same windows in the same order. Under DDP the training
    split (the first) is padded to equal shards as by
    :class:`~torch.utils.data.distributed.DistributedSampler`; the
    evaluation splits are dealt unevenly without padding, so that every
    window is evaluated exactly once whatever the number of ranks.
    """
    if mode not in ("index", "base"):
        raise ValueError(f"mode must be 'index' or 'base', got {mode!r}.")
    ib = _index_batching()
    # refuse worker processes over GPU data before anything is moved or materialized
    ib.check_loader_device(device if device is not None else getattr(data, "device", None), num_workers)
    loaders = []
    for i, starts in enumerate(splits):
        sampler = _sampler(len(starts), shuffle, seed, world_size, ddp_rank, drop_last, pad=i == 0)
        if mode == "index":
            dataset = ib.IndexDataset(data, starts, num_timesteps_in, num_timesteps_out,
                                      target_features=target_features, mean=mean, std=std,
                                      device=device)
            # The splits share one array: moved to the device once, not per split.
            data = dataset.data
            loader = ib.index_dataloader(dataset, batch_size, drop_last=drop_last,
                                         sampler=sampler, num_workers=num_workers)
        else:
            x, y = ib.materialize_windows(data, starts, num_timesteps_in, num_timesteps_out,
                                          target_features=target_features, mean=mean, std=std)
            if device is not None:
                x, y = x.to(device), y.to(device)
            loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, sampler=sampler,
                                drop_last=drop_last, num_workers=num_workers)
        loaders.append(loader)
    return tuple(loaders)


def as_float32_tensor(data: Any) -> torch.Tensor:
    r"""A writable float32 tensor sharing :obj:`data`'s memory when it is a
    writable float32 numpy array, else a float32 copy."""
    if isinstance(data, torch.Tensor):
        return data.to(torch.float32)
    array = np.asarray(data)
    if array.dtype == np.float32 and array.flags.writeable and array.flags.c_contiguous:
        return torch.from_numpy(array)
    return torch.tensor(array, dtype=torch.float32)


class WindowedDatasetLoader:
    r"""Base of the loaders: turns :meth:`read_data` (a ``(T, N, F)`` array)
    and :meth:`read_graph` into split loaders in index or base mode.

    Subclasses set :attr:`normalize` and may override :meth:`fit_statistics`
    / :meth:`standardized` (e.g. per-node statistics).
    """

    #: Whether :meth:`get_loaders` z-scores the data with training statistics.
    normalize: bool = True
    #: Whether :meth:`read_data` can memory-map its array (``.npy`` files).
    supports_mmap: bool = False

    def read_data(self, mmap: bool = False) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_graph(self) -> Tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit_statistics(self, data: Any, train: np.ndarray, num_timesteps_in: int
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""Per-feature ``(mean, std)`` over the steps the training windows
        read as input (never the validation/test period); zeros/ones when
        :attr:`normalize` is ``False``."""
        if not self.normalize:
            num_features = data.shape[-1]
            return torch.zeros(num_features), torch.ones(num_features)
        return _index_batching().fit_statistics(data, train, num_timesteps_in)

    def standardized(self, data: Any, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        r""":obj:`data` (a fresh array from :meth:`read_data`) as a float32
        tensor, z-scored in place: no second full-size copy."""
        tensor = as_float32_tensor(data)
        if self.normalize:
            _index_batching().standardize_(tensor, mean, std)
        return tensor

    def _upstream_loaders(self, mode: str, lags: int, allGPU: int, dask_batching: bool,
                          num_timesteps_in: Optional[int], num_timesteps_out: Optional[int],
                          device: Device, **kwargs: Any) -> SplitLoaders:
        r""":meth:`get_loaders` from upstream PGT-I's arguments: window lengths
        default to :obj:`lags`, :obj:`allGPU` names a CUDA device."""
        if dask_batching:
            raise ValueError("dask_batching is provided by torch_geometric_temporal.dataset."
                             "dask_batching, not by the loaders; pass dask_batching=False.")
        num_timesteps_in = lags if num_timesteps_in is None else num_timesteps_in
        num_timesteps_out = lags if num_timesteps_out is None else num_timesteps_out
        return self.get_loaders(mode, num_timesteps_in, num_timesteps_out,
                                device=resolve_device(device, allGPU), **kwargs)

    def get_loaders(self, mode: str = "index", num_timesteps_in: int = 12,
                    num_timesteps_out: int = 12, batch_size: int = 64, shuffle: bool = False,
                    ratio: Ratio = (0.7, 0.1, 0.2), device: Device = None,
                    world_size: int = -1, ddp_rank: int = -1, seed: int = 0,
                    drop_last: bool = False, num_workers: int = 0,
                    target_features: Optional[Sequence[int]] = (0,),
                    mmap: bool = False) -> SplitLoaders:
        r"""Train/val/test loaders of ``(x, y)`` batches, ``x`` of shape
        ``(B, num_timesteps_in, N, F)`` and ``y`` of shape
        ``(B, num_timesteps_out, N, len(target_features))``, plus the graph
        and the training statistics.

        Args:
            mode (str): ``"index"`` (index-batching: one standardized copy of
                the series, windows cut per batch) or ``"base"`` (every window
                materialized up front, the memory-hungry baseline). Both give
                the same batches in the same order for the same seed.
            num_timesteps_in (int): input window length.
            num_timesteps_out (int): output (horizon) length.
            batch_size (int): windows per batch.
            shuffle (bool): shuffle every split (seeded by :obj:`seed`).
            ratio (tuple): train/val/test fractions of the windows,
                split chronologically.
            device (str or torch.device, optional): where the series (index
                mode) or the windows (base mode) live, e.g. ``"cuda:0"``.
            world_size (int): DDP world size (with :obj:`ddp_rank`).
            ddp_rank (int): this process's DDP rank; ``-1`` for no DDP. Each
                split then uses a :class:`DistributedIndexSampler`, padded
                for training, uneven (every window once) for val/test.
            seed (int): seed of the shuffling.
            drop_last (bool): drop each split's last incomplete batch.
            num_workers (int): DataLoader workers.
            target_features (sequence of int, optional): target channels
                (``None`` for all); default the first (speed).
            mmap (bool): memory-map the series (``.npy`` datasets) and
                standardize at gather time instead of holding a copy (with a
                :obj:`device`, the series is read from the map to the device).

        With a :obj:`device` the raw series is moved there first (read in
        chunks from a memory map), and the training statistics are fitted
        and the series standardized in place there.

        Returns:
            :class:`SplitLoaders` ``(train_loader, val_loader, test_loader,
            edges, edge_weights, means, stds)``.
        """
        if mmap and not self.supports_mmap:
            raise ValueError(f"{type(self).__name__} has no .npy array to memory-map; "
                             f"use mmap=False.")
        data = self.read_data(mmap=mmap)
        splits = split_starts(data.shape[0], num_timesteps_in, num_timesteps_out, ratio)
        if device is not None:  # preprocess where the data will live: fit and z-score there
            data = _index_batching().series_to(data, device)
        mean, std = self.fit_statistics(data, splits[0], num_timesteps_in)
        if mmap and device is None:
            gather_mean, gather_std = (mean, std) if self.normalize else (None, None)
        else:
            data = self.standardized(data, mean, std)
            gather_mean = gather_std = None
        loaders = make_loaders(
            data, splits, num_timesteps_in, num_timesteps_out, mode=mode,
            batch_size=batch_size, shuffle=shuffle, target_features=target_features,
            mean=gather_mean, std=gather_std, device=device, world_size=world_size,
            ddp_rank=ddp_rank, seed=seed, drop_last=drop_last, num_workers=num_workers)
        edges, edge_weights = self.read_graph()
        return SplitLoaders(*loaders, edges, edge_weights, mean, std)
