r"""Common base of the traffic loaders (METR-LA, PeMS-BAY, PeMS-All-LA, PeMS).

Two upstream file layouts are supported:

* :class:`NpyZipTrafficLoader`: a zip (``METR-LA.zip``, ``PEMS-BAY.zip``) of
  ``<adj>.npy`` ``(N, N)`` and ``<values>.npy`` ``(T, N, 2)`` (feature 0 the
  speed, 1 the time of day);
* :class:`HDF5TrafficLoader`: DCRNN's adjacency pickle ``[sensor_ids,
  id_to_index, adj]`` and a pandas HDF5 table under key ``df`` (DatetimeIndex x
  sensors) of speeds; the time of day is derived from the index.

Both expose the series as one ``(T, N, 2)`` float array (:meth:`read_data`),
the graph (:meth:`read_graph`), the base signal (:meth:`get_dataset`) and the
index-batching / materialized loaders (:meth:`get_index_dataset`,
:meth:`get_base_dataset`).
"""
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from torch_geometric_temporal.dataset._files import (
    PathLike,
    atomic_save_npy,
    check_array,
    check_finite_sensors,
    dense_to_edges,
    extract_members,
    fetch,
    load_adjacency_pickle,
    missing_file_error,
    resolve_data_dir,
)
from torch_geometric_temporal.dataset._windows import (
    Device,
    Ratio,
    SplitLoaders,
    WindowedDatasetLoader,
    split_starts,
)
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

log = logging.getLogger(__name__)


def read_speed_table(speed_path: PathLike, sensor_ids: Sequence[str],
                     adj_path: Optional[PathLike] = None) -> Tuple[np.ndarray, np.ndarray]:
    r"""Read a DCRNN-style pandas HDF5 speed table (key ``df``,
    DatetimeIndex x sensors) as ``(speeds (T, N) float32, time_of_day (T,))``.

    Columns are put in :obj:`sensor_ids` order when they are the same ids in
    another order; the time of day is the fraction of the day of each index
    entry, as in DCRNN's ``generate_training_data``. Needs pandas and tables.
    """
    try:
        import pandas as pd
    except ImportError as error:  # pragma: no cover - extra not installed
        raise ImportError("Reading .h5 speed files needs pandas and tables: "
                          "pip install 'torch-geometric-temporal[hdf5]'.") from error
    name, adj_path = str(speed_path), adj_path or "the adjacency"
    try:
        df = pd.read_hdf(speed_path, "df")
    except KeyError as error:
        raise ValueError(f"{name} has no table under key 'df'; expected a pandas HDF5 file "
                         f"written with df.to_hdf(path, key='df').") from error
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"{name} is not a readable pandas HDF5 file ({error}); it is "
                         f"probably truncated.") from error
    if not isinstance(df, pd.DataFrame) or not isinstance(df.index, pd.DatetimeIndex):
        raise ValueError(f"{name}: expected a DataFrame with a DatetimeIndex (time x sensors), "
                         f"got {type(df).__name__} indexed by "
                         f"{type(getattr(df, 'index', None)).__name__}.")
    columns = [str(c) for c in df.columns]
    sensor_ids = [str(s) for s in sensor_ids]
    if len(columns) != len(sensor_ids):
        raise ValueError(f"{name} has {len(columns)} sensor columns but {adj_path} has "
                         f"{len(sensor_ids)} sensors; the files do not belong together.")
    if columns != sensor_ids:
        if sorted(columns) == sorted(sensor_ids):
            order = {c: i for i, c in enumerate(columns)}
            df = df.iloc[:, [order[s] for s in sensor_ids]]
        else:
            log.warning("%s: sensor columns differ from the ids in %s; using column order.",
                        name, adj_path)
    speeds = df.to_numpy(dtype=np.float32)
    stamps = df.index.values
    time_of_day = (stamps - stamps.astype("datetime64[D]")) / np.timedelta64(1, "D")
    return speeds, time_of_day


def speed_values(speeds: np.ndarray, time_of_day: np.ndarray) -> np.ndarray:
    r"""``(T, N)`` speeds and ``(T,)`` time of day -> ``(T, N, 2)`` float32."""
    values = np.empty(speeds.shape + (2,), dtype=np.float32)
    values[..., 0] = speeds
    values[..., 1] = time_of_day[:, None]
    return values


class TrafficDatasetLoader(WindowedDatasetLoader):
    r"""Base of the traffic loaders.

    Args:
        raw_data_dir (str or Path, optional): folder holding the raw files
            (absolute, or relative to the working directory). Default:
            ``$PGT_DATA_DIR/<name>`` or ``~/.cache/torch_geometric_temporal/<name>``.
        index (bool): accepted for upstream compatibility; every method works
            regardless.
        download (bool, optional): download missing files from the upstream
            URLs. Default: allowed unless the ``PGT_OFFLINE`` environment
            variable is set. Files already present are never downloaded.
        num_nodes (int, optional): expected number of sensors; default any
            (synthetic files of any size load), checked for consistency.
        validate (bool): scan the speeds for NaN/inf and NaN-only sensors.
    """

    #: Folder name under the cache root.
    name: str = ""
    #: Target channels of :meth:`get_dataset` (upstream: speed ``0``; an int
    #: gives ``y`` of shape ``(N, T_out)``, ``None`` all, ``(N, F, T_out)``).
    signal_target: Optional[int] = 0
    #: Upstream feature count of the series (speed, time of day).
    num_features: int = 2

    def __init__(self, raw_data_dir: Optional[PathLike] = None, index: bool = False,
                 download: Optional[bool] = None, num_nodes: Optional[int] = None,
                 validate: bool = True):
        self.index = index
        self.raw_data_dir = resolve_data_dir(raw_data_dir, self.name)
        self.download = download
        self.num_nodes = num_nodes
        self.validate = validate
        self._locate_files()

    # -- to implement ------------------------------------------------------
    def _locate_files(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_adjacency(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- graph -------------------------------------------------------------
    def read_graph(self) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""``(edge_index (2, E) long, edge_weight (E,) float)`` of the non-zero
        adjacency entries (as :func:`torch_geometric.utils.dense_to_sparse`)."""
        return dense_to_edges(self.read_adjacency())

    def _check_values(self, values: np.ndarray, name: str, num_nodes: int,
                      sensor_ids: Optional[Sequence[Any]] = None) -> np.ndarray:
        check_array(values, name, (None, num_nodes, self.num_features), kind="f")
        if self.validate:
            check_finite_sensors(values[..., :1], name, sensor_ids=sensor_ids)
        return values

    # -- base signal -------------------------------------------------------
    def get_dataset(self, num_timesteps_in: int = 12, num_timesteps_out: int = 12,
                    ratio: Ratio = (0.7, 0.1, 0.2)) -> StaticGraphTemporalSignal:
        r"""The base signal, upstream semantics: snapshot ``i`` has
        ``x = X[:, :, i:i+T_in]`` of shape ``(N, F, T_in)`` and
        ``y = X[:, 0, i+T_in:i+T_in+T_out]`` of shape ``(N, T_out)`` (speed),
        one snapshot per window start.

        Unlike upstream (statistics over the whole series), features are
        z-scored with the statistics of the training windows (the first
        ``ratio[0]`` of the windows), so the test period never leaks in; the
        snapshots equal the windows of :meth:`get_index_dataset` with the same
        lengths and ratio.

        Args:
            num_timesteps_in (int): input length.
            num_timesteps_out (int): output length.
            ratio (tuple): train/val/test fractions used for the statistics.
        """
        data = self.read_data()
        train = split_starts(data.shape[0], num_timesteps_in, num_timesteps_out, ratio)[0]
        mean, std = self.fit_statistics(data, train, num_timesteps_in)
        series = self.standardized(data, mean, std).numpy()
        del data
        by_node = series.transpose(1, 2, 0)  # (N, F, T) view, as upstream
        count = series.shape[0] - num_timesteps_in - num_timesteps_out + 1
        features = [by_node[:, :, i:i + num_timesteps_in] for i in range(count)]
        target = slice(None) if self.signal_target is None else self.signal_target
        targets = [by_node[:, target, i + num_timesteps_in:i + num_timesteps_in
                           + num_timesteps_out] for i in range(count)]
        edges, weights = self.read_graph()
        return StaticGraphTemporalSignal(edges.numpy(), weights.numpy(), features, targets)

    # -- loaders -----------------------------------------------------------
    def get_index_dataset(self, lags: int = 12, batch_size: int = 64, shuffle: bool = False,
                          allGPU: int = -1, ratio: Ratio = (0.7, 0.1, 0.2),
                          world_size: int = -1, ddp_rank: int = -1,
                          dask_batching: bool = False, *,
                          num_timesteps_in: Optional[int] = None,
                          num_timesteps_out: Optional[int] = None, device: Device = None,
                          mmap: bool = False, seed: int = 0, drop_last: bool = False,
                          num_workers: int = 0,
                          target_features: Optional[Sequence[int]] = (0,)) -> SplitLoaders:
        r"""Index-batching loaders (upstream PGT-I signature and return order).

        The ``(T, N, 2)`` series is z-scored per feature with the statistics of
        the training windows' inputs, held once (on :obj:`device`, or memory
        mapped with :obj:`mmap`), and each batch is cut out by window start:
        ``x`` of shape ``(B, T_in, N, 2)``, ``y`` of shape
        ``(B, T_out, N, len(target_features))``.

        Args:
            lags (int): input and output length (upstream); override each with
                :obj:`num_timesteps_in` / :obj:`num_timesteps_out`.
            batch_size (int): windows per batch.
            shuffle (bool): shuffle every split (seeded by :obj:`seed`).
            allGPU (int): CUDA device id holding the series; ``-1`` for CPU.
            ratio (tuple): chronological train/val/test fractions of windows.
            world_size (int): DDP world size.
            ddp_rank (int): DDP rank, ``-1`` for no DDP; each split then uses a
                :class:`~torch_geometric_temporal.dataset.DistributedIndexSampler`.
            dask_batching (bool): must be ``False`` (see
                :mod:`torch_geometric_temporal.dataset.dask_batching`).
            device (str or torch.device, optional): instead of :obj:`allGPU`.
            mmap (bool): memory-map the ``.npy`` series and standardize at
                gather time (out of core).
            seed, drop_last, num_workers, target_features: see
                :meth:`get_loaders`.

        Returns:
            ``(train_loader, val_loader, test_loader, edges, edge_weights,
            means, stds)`` (a :class:`SplitLoaders`); ``means``/``stds`` of
            shape ``(2,)``.
        """
        return self._upstream_loaders(
            "index", lags, allGPU, dask_batching, num_timesteps_in, num_timesteps_out, device,
            batch_size=batch_size, shuffle=shuffle, ratio=ratio, world_size=world_size,
            ddp_rank=ddp_rank, mmap=mmap, seed=seed, drop_last=drop_last,
            num_workers=num_workers, target_features=target_features)

    def get_base_dataset(self, lags: int = 12, batch_size: int = 64, shuffle: bool = False,
                         allGPU: int = -1, ratio: Ratio = (0.7, 0.1, 0.2),
                         world_size: int = -1, ddp_rank: int = -1,
                         dask_batching: bool = False, *,
                         num_timesteps_in: Optional[int] = None,
                         num_timesteps_out: Optional[int] = None, device: Device = None,
                         mmap: bool = False, seed: int = 0, drop_last: bool = False,
                         num_workers: int = 0,
                         target_features: Optional[Sequence[int]] = (0,)) -> SplitLoaders:
        r"""Like :meth:`get_index_dataset` (same arguments, same statistics,
        same batches in the same order for the same seed) but every window is
        materialized up front into a ``TensorDataset``: the memory-hungry
        baseline index-batching is compared against."""
        return self._upstream_loaders(
            "base", lags, allGPU, dask_batching, num_timesteps_in, num_timesteps_out, device,
            batch_size=batch_size, shuffle=shuffle, ratio=ratio, world_size=world_size,
            ddp_rank=ddp_rank, mmap=mmap, seed=seed, drop_last=drop_last,
            num_workers=num_workers, target_features=target_features)


class NpyZipTrafficLoader(TrafficDatasetLoader):
    r"""Traffic data shipped as a zip of ``<adj>.npy`` and ``<values>.npy``.

    Extracted arrays already in :obj:`raw_data_dir` are used as they are; else
    the zip is used (downloaded first when missing and allowed), checked
    (CRC of every member) and only the two arrays are extracted.
    """

    zip_name: str = ""
    adj_name: str = ""
    values_name: str = ""
    url: Optional[str] = None
    sha256: Optional[str] = None
    #: DCRNN's ``(adjacency pickle, HDF5 speed table)`` of the same dataset,
    #: converted to the two arrays when neither they nor the zip are present.
    dcrnn_names: Optional[Tuple[str, str]] = None
    supports_mmap = True

    def _locate_files(self) -> None:
        self.adj_path = self.raw_data_dir / self.adj_name
        self.values_path = self.raw_data_dir / self.values_name
        if self.adj_path.is_file() and self.values_path.is_file():
            return
        zip_path = self.raw_data_dir / self.zip_name
        if not zip_path.is_file() and self._convert_dcrnn_files():
            return
        try:
            fetch(zip_path, self.url, self.download, sha256=self.sha256)
        except FileNotFoundError as error:
            missing = [p.name for p in (self.adj_path, self.values_path) if not p.is_file()]
            dcrnn = f" or DCRNN's {list(self.dcrnn_names)}" if self.dcrnn_names else ""
            raise FileNotFoundError(
                f"{error} Alternatively place the extracted {missing}{dcrnn} in "
                f"{str(self.raw_data_dir)!r}.") from None
        extract_members(zip_path, [self.adj_name, self.values_name], self.raw_data_dir)

    def _convert_dcrnn_files(self) -> bool:
        if self.dcrnn_names is None:
            return False
        adj_pkl, speed_h5 = (self.raw_data_dir / name for name in self.dcrnn_names)
        if not (adj_pkl.is_file() and speed_h5.is_file()):
            return False
        log.info("Converting DCRNN's %s and %s to %s and %s", adj_pkl, speed_h5,
                 self.adj_name, self.values_name)
        sensor_ids, _, adj = load_adjacency_pickle(adj_pkl, num_nodes=self.num_nodes)
        values = speed_values(*read_speed_table(speed_h5, sensor_ids, adj_pkl))
        atomic_save_npy(self.adj_path, adj)
        atomic_save_npy(self.values_path, values)
        return True

    def read_adjacency(self) -> np.ndarray:
        r"""The ``(N, N)`` float32 adjacency from ``<adj>.npy``."""
        adj = self._load_npy(self.adj_path, mmap=False)
        n = self.num_nodes or (adj.shape[0] if adj.ndim == 2 else -1)
        check_array(adj, str(self.adj_path), (n, n), kind="fiub")
        return adj.astype(np.float32, copy=False)

    def read_data(self, mmap: bool = False) -> np.ndarray:
        r"""The ``(T, N, 2)`` series from ``<values>.npy``: float32 in memory,
        or a read-only memory map with :obj:`mmap` (file dtype)."""
        values = self._load_npy(self.values_path, mmap=mmap)
        num_nodes = self._load_npy(self.adj_path, mmap=True).shape[0]
        self._check_values(values, str(self.values_path), num_nodes)
        if not mmap:
            return values.astype(np.float32, copy=False)
        if values.dtype != np.float32:  # gather in float32: map a float32 copy instead
            values = self._float32_copy(values)
        return values

    def _float32_copy(self, values: np.ndarray) -> np.ndarray:
        path = self.values_path.with_name(self.values_path.stem + ".float32.npy")
        if not (path.is_file() and path.stat().st_mtime >= self.values_path.stat().st_mtime):
            log.info("Writing a float32 copy of %s to %s for memory mapping",
                     self.values_path, path)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npy", dir=path.parent)
            os.close(fd)
            try:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                                shape=values.shape)
                step = max(1, (64 << 20) // max(1, values[0].nbytes))
                for a in range(0, values.shape[0], step):
                    out[a:a + step] = values[a:a + step]
                out.flush()
                del out
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        return np.load(path, mmap_mode="r")

    @staticmethod
    def _load_npy(path: Path, mmap: bool) -> np.ndarray:
        if not path.is_file():
            raise missing_file_error(path, None)
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{path} is not a readable .npy array ({error}); it is probably "
                             f"truncated. Delete it (and its zip) and fetch it again.") from error


class HDF5TrafficLoader(TrafficDatasetLoader):
    r"""Traffic data as DCRNN's adjacency pickle plus a pandas HDF5 speed
    table (key ``df``, DatetimeIndex x sensors). Needs ``pandas`` and
    ``tables`` (the ``[hdf5]`` extra).

    The speed columns are matched to the pickle's sensor ids (reordered when
    they are the same ids in another order). The time of day is the fraction
    of the day of each index entry, as in DCRNN's ``generate_training_data``.
    DCRNN's own ``metr-la.h5``/``pems-bay.h5`` with ``adj_mx.pkl`` load too
    (pass :obj:`adj_filename` and :obj:`speed_filename`).

    Args:
        adj_filename (str, optional): adjacency pickle name in
            :obj:`raw_data_dir` (default: the upstream name).
        speed_filename (str, optional): HDF5 file name (default: upstream).
        **kwargs: see :class:`TrafficDatasetLoader`.
    """

    adj_name: str = ""
    speed_name: str = ""
    urls: Dict[str, str] = {}
    sha256: Dict[str, str] = {}
    supports_mmap = True

    def __init__(self, raw_data_dir: Optional[PathLike] = None, index: bool = False,
                 download: Optional[bool] = None, num_nodes: Optional[int] = None,
                 validate: bool = True, adj_filename: Optional[str] = None,
                 speed_filename: Optional[str] = None):
        self.adj_filename = adj_filename or self.adj_name
        self.speed_filename = speed_filename or self.speed_name
        super().__init__(raw_data_dir, index=index, download=download, num_nodes=num_nodes,
                         validate=validate)

    def _locate_files(self) -> None:
        self.adj_path = fetch(self.raw_data_dir / self.adj_filename,
                              self.urls.get(self.adj_filename), self.download,
                              sha256=self.sha256.get(self.adj_filename))
        self.speed_path = fetch(self.raw_data_dir / self.speed_filename,
                                self.urls.get(self.speed_filename), self.download,
                                sha256=self.sha256.get(self.speed_filename))

    def read_sensors(self) -> Tuple[list, Dict[str, int], np.ndarray]:
        r"""``(sensor_ids, id_to_index, adj)`` from the restricted unpickler
        (cached while the file is unchanged: PeMS' adjacency is ~0.5 GB)."""
        stat = self.adj_path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = getattr(self, "_sensors", None)
        if cached is None or cached[0] != key:
            cached = (key, load_adjacency_pickle(self.adj_path, num_nodes=self.num_nodes,
                                                 sha256=self.sha256.get(self.adj_filename)))
            self._sensors = cached
        return cached[1]

    def read_adjacency(self) -> np.ndarray:
        return self.read_sensors()[2]

    @property
    def cache_path(self) -> Path:
        r"""``.npy`` copy of the ``(T, N, 2)`` series written for :obj:`mmap`."""
        return self.speed_path.with_name(self.speed_path.stem + "_node_values.npy")

    def read_speeds(self) -> Tuple[np.ndarray, np.ndarray]:
        r"""``(speeds (T, N) float32, time_of_day (T,) float64)`` in the
        pickle's sensor order (see :func:`read_speed_table`)."""
        return read_speed_table(self.speed_path, self.read_sensors()[0], self.adj_path)

    def read_data(self, mmap: bool = False) -> np.ndarray:
        r"""The ``(T, N, 2)`` float32 series (speed, time of day). With
        :obj:`mmap`, a ``.npy`` copy (:attr:`cache_path`) is written once
        (atomically) and memory-mapped read-only; it is rewritten when the speed
        table or the adjacency pickle (which fixes the sensor order) is newer, or
        its sensor count differs from the pickle's."""
        newest_source = max(self.speed_path.stat().st_mtime, self.adj_path.stat().st_mtime)
        if mmap and self.cache_path.is_file() and \
                self.cache_path.stat().st_mtime >= newest_source:
            values = np.load(self.cache_path, mmap_mode="r")
            if values.ndim == 3 and values.shape[1:] == (len(self.read_sensors()[0]),
                                                        self.num_features):
                check_array(values, str(self.cache_path), (None, None, self.num_features),
                            kind="f")
                return values
            del values  # another sensor set: stale, rewrite it below
        values = speed_values(*self.read_speeds())
        self._check_values(values, str(self.speed_path), values.shape[1],
                           sensor_ids=self.read_sensors()[0])
        if not mmap:
            return values
        atomic_save_npy(self.cache_path, values)
        del values
        return np.load(self.cache_path, mmap_mode="r")

