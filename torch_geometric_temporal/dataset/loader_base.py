r"""The loader base class, :class:`WindowedDatasetLoader`: one ``(T, N, F)``
array (:meth:`~WindowedDatasetLoader.read_data`) and a graph
(:meth:`~WindowedDatasetLoader.read_graph`) turned into train/val/test
loaders by one call, :meth:`~WindowedDatasetLoader.load`, which returns a
:class:`LoadedData`.

Windows are cut by start index and split chronologically; the statistics come
from the training windows. The two ways to batch them, index-batching
(:class:`IndexDataset`) and the materialized baseline (``TensorDataset`` over
:func:`materialize_windows`), see the same windows in the same order for the
same seed. The upstream PGT-I methods (``get_index_dataset``,
``get_base_dataset``) are thin translations of their arguments into
:meth:`~WindowedDatasetLoader.load`.
"""
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

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

from torch_geometric_temporal.dataset import index_batching as ib
from torch_geometric_temporal.dataset.scaling import Scaler
from torch_geometric_temporal.dataset.windows import WindowSpec, split_starts  # noqa: F401 (re-exported)

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


def resolve_device(device: Device, allGPU: int = -1) -> Optional[torch.device]:
    r"""``device`` if given, else ``cuda:<allGPU>`` when ``allGPU != -1``
    (upstream PGT-I's argument), else ``None`` (data stays on the CPU)."""
    if device is not None:
        return torch.device(device)
    if allGPU is not None and allGPU != -1:
        return torch.device(f"cuda:{int(allGPU)}")
    return None


def _sampler(length: int, shuffle: bool, seed: int, world_size: int, ddp_rank: int,
             drop_last: bool, pad: bool = True) -> Sampler:
    if ddp_rank is not None and ddp_rank != -1:
        if world_size is None or world_size < 1:
            raise ValueError(f"ddp_rank={ddp_rank} needs world_size >= 1, got {world_size}.")
        return ib.DistributedIndexSampler(
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


@dataclass
class LoadedData:
    r"""What :meth:`WindowedDatasetLoader.load` returns: the three split
    loaders of ``(x, y)`` batches, ``x`` of shape ``(B, T_in, N, F)`` and
    ``y`` of shape ``(B, T_out, N, F_y)``, the graph and the statistics.

    Args:
        train, val, test (DataLoader): loaders of the chronological splits.
        edge_index (torch.Tensor): ``(2, E)`` long.
        edge_weight (torch.Tensor): ``(E,)`` float.
        scaler (Scaler): fitted on the training windows (the identity when
            the loader does not normalize), statistics on the CPU; it
            de-standardizes the targets (:meth:`Scaler.inverse`).
        num_nodes (int): :math:`N`.
        num_features (int): :math:`F` of ``x``.
        window (WindowSpec): the windows cut.
    """

    train: DataLoader
    val: DataLoader
    test: DataLoader
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    scaler: Scaler
    num_nodes: int
    num_features: int
    window: WindowSpec

    @property
    def loaders(self) -> Tuple[DataLoader, DataLoader, DataLoader]:
        r"""``(train, val, test)``."""
        return self.train, self.val, self.test

    @property
    def mean(self) -> torch.Tensor:
        r"""The training means as upstream's ``means`` (see :meth:`Scaler.upstream_stats`)."""
        return self.scaler.upstream_stats()[0]

    @property
    def std(self) -> torch.Tensor:
        r"""The training stds as upstream's ``stds``."""
        return self.scaler.upstream_stats()[1]

    def split_loaders(self) -> SplitLoaders:
        r"""The upstream 7-tuple :class:`SplitLoaders`."""
        return SplitLoaders(*self.loaders, self.edge_index, self.edge_weight, *self.scaler.upstream_stats())


class WindowedDatasetLoader:
    r"""Base of the loaders: turns :meth:`read_data` (a ``(T, N, F)`` array)
    and :meth:`read_graph` into split loaders in index or base mode
    (:meth:`load`), and defines upstream PGT-I's ``get_index_dataset`` /
    ``get_base_dataset`` over it (lags-only family: Chickenpox, Windmill;
    the traffic loaders override :meth:`get_index_dataset` with their
    signature).

    Subclasses set :attr:`normalize` and :attr:`scaling` (e.g. per-node
    statistics); :meth:`fit_scaler` is the one statistics step.
    """

    #: Whether :meth:`load` z-scores the data with training statistics.
    normalize: bool = True
    #: How :meth:`fit_scaler` fits the statistics: keyword arguments of
    #: :meth:`Scaler.fit` (default: per feature, weighted by the training windows).
    scaling: Mapping[str, Any] = MappingProxyType({"per": "feature"})
    #: Whether :meth:`read_data` can memory-map its array (``.npy`` files).
    supports_mmap: bool = False
    #: Upstream defaults of :meth:`get_index_dataset`: ``lags``, ``batch_size``.
    default_lags: int = 12
    default_batch_size: int = 64
    #: Whether :meth:`get_index_dataset` returns ``means``/``stds`` (the
    #: 7-tuple) unless ``return_stats`` says otherwise.
    returns_stats: bool = True

    def read_data(self, mmap: bool = False) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_graph(self) -> Tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit_scaler(self, data: Any, train: np.ndarray, window: WindowSpec,
                   fit: Optional[Callable[..., Scaler]] = None) -> Scaler:
        r"""The :class:`Scaler` of the inputs of the training windows
        :obj:`train` (never the validation/test period), fitted as
        :attr:`scaling` says on the data's device; the identity when
        :attr:`normalize` is ``False``.

        Args:
            data: the raw ``(T, N, F)`` series (array, memmap or tensor; a
                Dask array with ``fit=dask_fit_scaler``).
            train (numpy.ndarray): training window starts.
            window (WindowSpec): the windows (input length, target features).
            fit (callable, optional): :meth:`Scaler.fit` (default) or
                :func:`~torch_geometric_temporal.dataset.dask_batching.dask_fit_scaler`
                (same arguments).
        """
        if not self.normalize:
            return Scaler.identity_for(int(data.shape[-1]), window.target_features)
        return (fit or Scaler.fit)(data, train, window, **self.scaling)

    def load(self, window: WindowSpec, batch_size: int = 64, *, mode: str = "index",
             shuffle: bool = False, seed: int = 0, device: Device = None, mmap: bool = False,
             world_size: int = -1, rank: int = -1, num_workers: int = 0, drop_last: bool = False,
             ratio: Ratio = (0.7, 0.1, 0.2)) -> LoadedData:
        r"""Train/val/test loaders of the windows of :obj:`window`, the graph
        and the training statistics: the one call every route to the data
        (scripts, DDP ranks, the upstream methods) makes.

        Args:
            window (WindowSpec): input/output lengths and target features
                (``None``: all); ``y`` has ``window.num_targets(F)`` channels.
            batch_size (int): windows per batch.
            mode (str): ``"index"`` (index-batching: one standardized copy of
                the series, windows cut per batch) or ``"base"`` (every window
                materialized up front, the memory-hungry baseline). Both give
                the same batches in the same order for the same seed.
            shuffle (bool): shuffle every split (seeded by :obj:`seed`).
            seed (int): seed of the shuffling.
            device (str or torch.device, optional): where the series (index
                mode) or the windows (base mode) live, e.g. ``"cuda:0"``: the
                raw series is moved there first (read in chunks from a memory
                map), and the statistics are fitted and the series
                standardized in place there.
            mmap (bool): memory-map the series (``.npy`` datasets) and
                standardize at gather time instead of holding a copy (with a
                :obj:`device`, the series is read from the map to the device).
            world_size (int): DDP world size (with :obj:`rank`).
            rank (int): this process's DDP rank; ``-1`` for no DDP. Each split
                then uses a :class:`DistributedIndexSampler`, padded for
                training, uneven (every window once) for val/test.
            num_workers (int): DataLoader workers.
            drop_last (bool): drop each split's last incomplete batch.
            ratio (tuple): train/val/test fractions of the windows, split
                chronologically.
        """
        if mmap and not self.supports_mmap:
            raise ValueError(f"{type(self).__name__} has no .npy array to memory-map; "
                             f"use mmap=False.")
        t_in, t_out = window.num_timesteps_in, window.num_timesteps_out
        data = self.read_data(mmap=mmap)
        num_nodes, num_features = int(data.shape[1]), int(data.shape[2])
        splits = window.split(data.shape[0], ratio)
        if device is not None:  # preprocess where the data will live: fit and z-score there
            data = ib.series_to(data, device)
        scaler = self.fit_scaler(data, splits[0], window)
        if mmap and device is None:  # standardized at gather time
            gather_mean, gather_std = scaler.gather_stats()
        else:  # a fresh array: z-scored in place, no second full-size copy
            data = scaler.transform_(as_float32_tensor(data))
            gather_mean = gather_std = None
        train, val, test = make_loaders(
            data, splits, t_in, t_out, mode=mode, batch_size=batch_size, shuffle=shuffle,
            target_features=window.target_features, mean=gather_mean, std=gather_std,
            device=device, world_size=world_size, ddp_rank=rank, seed=seed, drop_last=drop_last,
            num_workers=num_workers)
        edge_index, edge_weight = self.read_graph()
        return LoadedData(train, val, test, edge_index, edge_weight, scaler,
                          num_nodes=num_nodes, num_features=num_features, window=window)

    def get_loaders(self, mode: str = "index", num_timesteps_in: int = 12,
                    num_timesteps_out: int = 12, batch_size: int = 64, shuffle: bool = False,
                    ratio: Ratio = (0.7, 0.1, 0.2), device: Device = None,
                    world_size: int = -1, ddp_rank: int = -1, seed: int = 0,
                    drop_last: bool = False, num_workers: int = 0,
                    target_features: Optional[Sequence[int]] = None,
                    mmap: bool = False) -> SplitLoaders:
        r""":meth:`load` with the window given by its parts, as the upstream
        7-tuple :class:`SplitLoaders` ``(train_loader, val_loader,
        test_loader, edges, edge_weights, means, stds)``; :obj:`ddp_rank` is
        :meth:`load`'s ``rank``, :obj:`target_features` defaults to every
        channel (upstream's targets); ``(0,)`` keeps the first (the speed)."""
        window = WindowSpec(num_timesteps_in, num_timesteps_out, target_features=target_features)
        return self.load(window, batch_size, mode=mode, shuffle=shuffle, seed=seed, device=device,
                         mmap=mmap, world_size=world_size, rank=ddp_rank, num_workers=num_workers,
                         drop_last=drop_last, ratio=ratio).split_loaders()

    def _upstream(self, mode: str, lags: int, allGPU: int, dask_batching: bool,
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

    def get_index_dataset(self, lags: Optional[int] = None, batch_size: Optional[int] = None,
                          shuffle: bool = False, allGPU: int = -1, ratio: Ratio = (0.7, 0.1, 0.2),
                          dask_batching: bool = False, *,
                          num_timesteps_in: Optional[int] = None,
                          num_timesteps_out: Optional[int] = None, device: Device = None,
                          world_size: int = -1, ddp_rank: int = -1, seed: int = 0,
                          drop_last: bool = False, num_workers: int = 0,
                          target_features: Optional[Sequence[int]] = None, mmap: bool = False,
                          return_stats: Optional[bool] = None, mode: str = "index") -> tuple:
        r"""Index-batching loaders (upstream PGT-I signature of Chickenpox and
        Windmill).

        Batches are ``x`` of shape ``(B, num_timesteps_in, N, F)`` and ``y``
        of shape ``(B, num_timesteps_out, N, F)`` (every feature, as upstream;
        ``target_features=(0,)`` keeps the first); both lengths default to
        :obj:`lags` as upstream. Windows are split chronologically by
        :obj:`ratio`.

        Args:
            lags (int, optional): input (and, by default, output) length;
                default :attr:`default_lags` (Chickenpox 4, Windmill 8).
            batch_size (int, optional): windows per batch; default
                :attr:`default_batch_size`.
            shuffle (bool): shuffle every split (seeded by :obj:`seed`).
            allGPU (int): CUDA device id holding the data; ``-1`` for CPU.
            ratio (tuple): train/val/test fractions.
            dask_batching (bool): must be ``False`` (see
                :mod:`torch_geometric_temporal.dataset.dask_batching`).
            device (str or torch.device, optional): instead of :obj:`allGPU`.
            world_size, ddp_rank, seed, drop_last, num_workers,
                target_features, mmap: see :meth:`get_loaders`.
            return_stats (bool, optional): also return ``means`` and ``stds``
                (default :attr:`returns_stats`: Chickenpox returns upstream's
                5-tuple, Windmill the 7-tuple).
            mode (str): ``"base"`` materializes every window
                (:meth:`get_base_dataset`).

        Returns:
            ``(train_loader, val_loader, test_loader, edges, edge_weights)``,
            or with the statistics the 7-tuple :class:`SplitLoaders`.
        """
        out = self._upstream(
            mode, self.default_lags if lags is None else lags, allGPU, dask_batching,
            num_timesteps_in, num_timesteps_out, device,
            batch_size=self.default_batch_size if batch_size is None else batch_size,
            shuffle=shuffle, ratio=ratio, world_size=world_size, ddp_rank=ddp_rank, seed=seed,
            drop_last=drop_last, num_workers=num_workers, target_features=target_features,
            mmap=mmap)
        return out if (self.returns_stats if return_stats is None else return_stats) else tuple(out)[:5]

    def get_base_dataset(self, *args: Any, **kwargs: Any) -> tuple:
        r"""Like :meth:`get_index_dataset` (same arguments, same statistics,
        same batches in the same order for the same seed) but every window is
        materialized up front into a ``TensorDataset``: the memory-hungry
        baseline index-batching is compared against."""
        return self.get_index_dataset(*args, mode="base", **kwargs)
