r"""Common base of the traffic loaders (METR-LA, PeMS-BAY, PeMS-All-LA, PeMS).

Two upstream file layouts are supported:

* :class:`NpyZipTrafficLoader`: a zip (``METR-LA.zip``, ``PEMS-BAY.zip``) of
  ``<adj>.npy`` ``(N, N)`` and ``<values>.npy`` ``(T, N, 2)`` (feature 0 the
  speed, 1 the time of day);
* :class:`HDF5TrafficLoader`: DCRNN's adjacency pickle ``[sensor_ids,
  id_to_index, adj]`` (restricted unpickler) and a pandas HDF5 table under key
  ``df`` (DatetimeIndex x sensors) of speeds, read without unpickling; the
  time of day is derived from the index.

Both expose the series as one ``(T, N, 2)`` float array (:meth:`read_data`),
the graph (:meth:`read_graph`), the base signal (:meth:`get_dataset`) and the
index-batching / materialized loaders (:meth:`get_index_dataset`,
:meth:`get_base_dataset`).
"""
import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from torch_geometric_temporal._atomic import atomic_write
from torch_geometric_temporal.dataset._files import (
    PathLike,
    atomic_save_npy,
    check_array,
    check_edge_weights,
    dense_to_edges,
    derived_path,
    extract_members,
    fetch,
    fingerprints,
    is_fresh,
    is_present,
    load_adjacency_pickle,
    missing_file_error,
    record_sources,
    resolve_data_dir,
    searched_dirs,
)
from torch_geometric_temporal.dataset._finite import FiniteSensorScan, check_finite_sensors
from torch_geometric_temporal.dataset._hdf5 import (
    SpeedTable,
    open_speed_table,
    speed_values,
    time_of_day,
)
from torch_geometric_temporal.dataset.loader_base import (
    Device,
    Ratio,
    SplitLoaders,
    WindowedDatasetLoader,
    as_float32_tensor,
)
from torch_geometric_temporal.dataset.windows import WindowSpec
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

log = logging.getLogger(__name__)

#: Bytes of ``(n, N, 2)`` float32 output converted per row block by
#: :func:`save_speed_npy` (what bounds the memory of a ``.h5`` -> ``.npy``
#: conversion, whatever the length of the series).
CONVERT_CHUNK_BYTES = 64 << 20


def column_order(columns: Sequence[Any], sensor_ids: Sequence[Any]) -> Optional[List[int]]:
    r"""Positions in :obj:`columns` that put them in :obj:`sensor_ids` order:
    ``None`` when they already are in that order or are not the same ids
    (compared as strings)."""
    columns, sensor_ids = [str(c) for c in columns], [str(s) for s in sensor_ids]
    if columns == sensor_ids or sorted(columns) != sorted(sensor_ids):
        return None
    position = {c: i for i, c in enumerate(columns)}
    return [position[s] for s in sensor_ids]


def open_sensor_table(speed_path: PathLike, sensor_ids: Sequence[str],
                      adj_path: Optional[PathLike] = None
                      ) -> Tuple[SpeedTable, Optional[List[int]]]:
    r"""``(table, order)``: the layout of a DCRNN-style pandas HDF5 speed
    table (nothing but metadata is read) and the column positions that put it
    in :obj:`sensor_ids` order (``None``: file order), checked against the
    sensors. Needs tables."""
    name, adj_path = str(speed_path), adj_path or "the adjacency"
    table = open_speed_table(speed_path, "df")
    if table.unit is None:
        raise ValueError(f"{name}: expected a DataFrame with a DatetimeIndex (time x sensors), "
                         f"the index holds integers; the time of day needs timestamps.")
    if len(table.columns) != len(sensor_ids):
        raise ValueError(f"{name} has {len(table.columns)} sensor columns but {adj_path} has "
                         f"{len(sensor_ids)} sensors; the files do not belong together.")
    order = column_order(table.columns, sensor_ids)
    if order is None and [str(s) for s in sensor_ids] != table.columns:
        log.warning("%s: sensor columns differ from the ids in %s; using column order.",
                    name, adj_path)
    return table, order


def read_speed_table(speed_path: PathLike, sensor_ids: Sequence[str],
                     adj_path: Optional[PathLike] = None) -> Tuple[np.ndarray, np.ndarray]:
    r"""Read a DCRNN-style pandas HDF5 speed table (key ``df``,
    DatetimeIndex x sensors) as ``(speeds (T, N) float32, time_of_day (T,))``
    without unpickling anything (see
    :func:`~torch_geometric_temporal.dataset._hdf5.open_speed_table`).

    Columns are put in :obj:`sensor_ids` order when they are the same ids in
    another order; the time of day is the fraction of the day of each index
    entry, as in DCRNN's ``generate_training_data``. Needs tables.
    """
    table, order = open_sensor_table(speed_path, sensor_ids, adj_path)
    speeds, index = table.read(order=order)
    return speeds, time_of_day(index)


def save_speed_npy(path: PathLike, table: SpeedTable, order: Optional[Sequence[int]],
                   check: Optional[Callable[[np.ndarray], None]] = None,
                   finish: Optional[Callable[[], None]] = None,
                   chunk_bytes: Optional[int] = None) -> None:
    r"""Write the ``(T, N, 2)`` float32 series of :obj:`table` (speed, time
    of day; columns in :obj:`order`) to the ``.npy`` file :obj:`path` out of
    core: row blocks of about :obj:`chunk_bytes` (default
    :data:`CONVERT_CHUNK_BYTES`) are read and appended to a temporary file
    next to :obj:`path`, which replaces it atomically once complete. The file
    equals ``np.save(path, speed_values(*read_speed_table(...)))`` byte for
    byte.

    Args:
        check (callable, optional): called with each block in order.
        finish (callable, optional): called once every block is written,
            before the file is published.
        chunk_bytes (int, optional): output bytes per block.

    An exception (from :obj:`check`, :obj:`finish` or the read) leaves
    :obj:`path` as it was and no temporary file.
    """
    num_rows, num_nodes = table.num_rows, len(table.columns)
    row_bytes = num_nodes * 2 * np.dtype(np.float32).itemsize
    step = max(1, (chunk_bytes or CONVERT_CHUNK_BYTES) // max(1, row_bytes))
    with atomic_write(path, "wb") as handle:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                  "fortran_order": False, "shape": (num_rows, num_nodes, 2)}
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, num_rows, step):
            speeds, index = table.read(start, start + step, order)
            block = speed_values(speeds, time_of_day(index))
            del speeds
            if check is not None:
                check(block)
            handle.write(block.data)
        if finish is not None:
            finish()


class TrafficDatasetLoader(WindowedDatasetLoader):
    r"""Base of the traffic loaders.

    Args:
        raw_data_dir (str or Path, optional): folder holding the raw files
            (absolute, or relative to the working directory). Default: the
            first of ``$PGT_DATA_DIR/<name>`` (when set), upstream's
            ``./data`` and ``~/.cache/torch_geometric_temporal/<name>`` that
            holds the files (see
            :func:`~torch_geometric_temporal.dataset._files.resolve_data_dir`).
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
        self.searched = searched_dirs(raw_data_dir, self.name)
        self.raw_data_dir = resolve_data_dir(raw_data_dir, self.name, self.file_alternatives())
        self.download = download
        self.num_nodes = num_nodes
        self.validate = validate
        self._locate_files()

    # -- to implement ------------------------------------------------------
    def file_alternatives(self) -> List[Tuple[str, ...]]:  # pragma: no cover - abstract
        r"""The file sets any one of which makes a folder this dataset's
        (see :func:`~torch_geometric_temporal.dataset._files.resolve_data_dir`)."""
        raise NotImplementedError

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
        window = WindowSpec(num_timesteps_in, num_timesteps_out)
        scaler = self.fit_scaler(data, window.split(data.shape[0], ratio)[0], window)
        series = scaler.transform_(as_float32_tensor(data)).numpy()
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
                          target_features: Optional[Sequence[int]] = None,
                          mode: str = "index") -> SplitLoaders:
        r"""Index-batching loaders (upstream PGT-I signature and return order).

        The ``(T, N, 2)`` series is z-scored per feature with the statistics of
        the training windows' inputs, held once (on :obj:`device`, or memory
        mapped with :obj:`mmap`), and each batch is cut out by window start:
        ``x`` of shape ``(B, T_in, N, 2)``, ``y`` of shape ``(B, T_out, N, 2)``
        (both features, upstream's targets: the loss of upstream's
        ``masked_mae_loss((outputs * std) + mean, (y * std) + mean)`` needs
        them), or ``(B, T_out, N, len(target_features))`` with
        :obj:`target_features` (``(0,)``: the speed, what the scripts train on).
        :meth:`~torch_geometric_temporal.dataset.loader_base.WindowedDatasetLoader.get_base_dataset`
        takes the same arguments.

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
            seed, drop_last, num_workers: see :meth:`get_loaders`.
            target_features (sequence of int, optional): target channels;
                ``None`` (default, upstream): both.
            mode (str): ``"base"`` materializes every window (the baseline,
                :meth:`get_base_dataset`).

        Returns:
            ``(train_loader, val_loader, test_loader, edges, edge_weights,
            means, stds)`` (a :class:`SplitLoaders`); ``means``/``stds`` of
            shape ``(2,)``.
        """
        return self._upstream(
            mode, lags, allGPU, dask_batching, num_timesteps_in, num_timesteps_out, device,
            batch_size=batch_size, shuffle=shuffle, ratio=ratio, world_size=world_size,
            ddp_rank=ddp_rank, mmap=mmap, seed=seed, drop_last=drop_last,
            num_workers=num_workers, target_features=target_features)


class NpyZipTrafficLoader(TrafficDatasetLoader):
    r"""Traffic data shipped as a zip of ``<adj>.npy`` and ``<values>.npy``.

    The source, in this order of precedence: the zip in :obj:`raw_data_dir`
    (checked -- CRC of every member -- and only the two arrays extracted);
    else DCRNN's adjacency pickle and HDF5 speed table (:attr:`dcrnn_names`),
    converted to the two arrays; else the two arrays themselves, used as they
    are; else the zip is downloaded (when allowed) and extracted.

    Extracted or converted arrays are derived files: they are written next to
    the source when its folder is writable, else under
    ``$XDG_CACHE_HOME/torch_geometric_temporal/derived/`` (see
    :func:`~torch_geometric_temporal.dataset._files.derived_path`), each with
    a ``.source.json`` sidecar recording the source's size, times and
    SHA-256; they are made again whenever the source's content changed (a
    replaced zip, an older ``.h5`` copied in), never trusted by mtime alone.
    """

    zip_name: str = ""
    adj_name: str = ""
    values_name: str = ""
    url: Optional[str] = None
    sha256: Optional[str] = None
    #: DCRNN's ``(adjacency pickle, HDF5 speed table)`` of the same dataset,
    #: converted to the two arrays when the zip is not present.
    dcrnn_names: Optional[Tuple[str, str]] = None
    supports_mmap = True

    def file_alternatives(self) -> List[Tuple[str, ...]]:
        return [(self.zip_name,), tuple(self.dcrnn_names or ()), (self.adj_name, self.values_name)]

    def _locate_files(self) -> None:
        raw = self.raw_data_dir
        zip_path = raw / self.zip_name
        if is_present(zip_path):
            return self._derive([zip_path], self._extract)
        dcrnn = [raw / name for name in self.dcrnn_names or ()]
        if dcrnn and all(is_present(path) for path in dcrnn):
            return self._derive(dcrnn, self._convert)
        self.adj_path, self.values_path = raw / self.adj_name, raw / self.values_name
        if is_present(self.adj_path) and is_present(self.values_path):
            return None
        try:
            fetch(zip_path, self.url, self.download, sha256=self.sha256, searched=self.searched)
        except FileNotFoundError as error:
            missing = [p.name for p in (self.adj_path, self.values_path) if not p.is_file()]
            also = f" or DCRNN's {list(self.dcrnn_names)}" if self.dcrnn_names else ""
            raise FileNotFoundError(
                f"{error} Alternatively place the extracted {missing}{also} in "
                f"{str(raw)!r}.") from None
        return self._derive([zip_path], self._extract)

    def _derive(self, sources: List[Path], make: Callable[[List[Path], Path, Path], None]
                ) -> None:
        r"""Point :attr:`adj_path`/:attr:`values_path` at the arrays derived
        from :obj:`sources`, making them first unless they are fresh."""
        adj = derived_path(self.raw_data_dir, self.name, self.adj_name)
        values = derived_path(self.raw_data_dir, self.name, self.values_name)
        if not (is_fresh(adj, sources) and is_fresh(values, sources)):
            prints = fingerprints(sources)
            make(sources, adj, values)
            for derived in (adj, values):
                record_sources(derived, prints)
        self.adj_path, self.values_path = adj, values

    def _extract(self, sources: List[Path], adj: Path, values: Path) -> None:
        log.info("Extracting %s and %s from %s to %s", self.adj_name, self.values_name,
                 sources[0], adj.parent)
        extract_members(sources[0], [self.adj_name, self.values_name], adj.parent)

    def _convert(self, sources: List[Path], adj: Path, values: Path) -> None:
        adj_pkl, speed_h5 = sources
        log.info("Converting DCRNN's %s and %s to %s and %s", adj_pkl, speed_h5, adj, values)
        sensor_ids, _, matrix = load_adjacency_pickle(adj_pkl, num_nodes=self.num_nodes)
        atomic_save_npy(adj, matrix)
        save_speed_npy(values, *open_sensor_table(speed_h5, sensor_ids, adj_pkl))

    def read_adjacency(self) -> np.ndarray:
        r"""The ``(N, N)`` float32 adjacency from ``<adj>.npy`` (finite,
        non-negative weights)."""
        adj = self._load_npy(self.adj_path, mmap=False)
        n = self.num_nodes or (adj.shape[0] if adj.ndim == 2 else -1)
        check_array(adj, str(self.adj_path), (n, n), kind="fiub")
        check_edge_weights(adj, str(self.adj_path))
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
        path = derived_path(self.values_path.parent, self.name,
                            self.values_path.stem + ".float32.npy")
        if not is_fresh(path, [self.values_path]):
            log.info("Writing a float32 copy of %s to %s for memory mapping",
                     self.values_path, path)
            prints = fingerprints([self.values_path])
            step = max(1, (64 << 20) // max(1, values[0].nbytes))
            with atomic_write(path, "wb") as handle:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                          "fortran_order": False, "shape": tuple(values.shape)}
                np.lib.format.write_array_header_1_0(handle, header)
                for a in range(0, values.shape[0], step):
                    handle.write(np.ascontiguousarray(values[a:a + step], np.float32).tobytes())
            record_sources(path, prints)
        return np.load(path, mmap_mode="r", allow_pickle=False)

    @staticmethod
    def _load_npy(path: Path, mmap: bool) -> np.ndarray:
        if not is_present(path):
            raise missing_file_error(path, None)
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{path} is not a readable .npy array ({error}); it is probably "
                             f"truncated. Delete it (and its zip) and fetch it again.") from error


class HDF5TrafficLoader(TrafficDatasetLoader):
    r"""Traffic data as DCRNN's adjacency pickle plus a pandas HDF5 speed
    table (key ``df``, DatetimeIndex x sensors). Needs ``tables`` (the
    ``[hdf5]`` extra); the table is read without unpickling anything (see
    :func:`~torch_geometric_temporal.dataset._hdf5.open_speed_table`).

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
    #: PGT-I's ``(adjacency pickle, speed table)`` names of the same files,
    #: accepted when upstream's are not present.
    pgti_names: Tuple[Tuple[str, str], ...] = ()
    urls: Dict[str, str] = {}
    sha256: Dict[str, str] = {}
    supports_mmap = True

    def __init__(self, raw_data_dir: Optional[PathLike] = None, index: bool = False,
                 download: Optional[bool] = None, num_nodes: Optional[int] = None,
                 validate: bool = True, adj_filename: Optional[str] = None,
                 speed_filename: Optional[str] = None):
        self.explicit_names = adj_filename is not None or speed_filename is not None
        self.adj_filename = adj_filename or self.adj_name
        self.speed_filename = speed_filename or self.speed_name
        super().__init__(raw_data_dir, index=index, download=download, num_nodes=num_nodes,
                         validate=validate)

    def file_alternatives(self) -> List[Tuple[str, ...]]:
        names = [(self.adj_filename, self.speed_filename)]
        return names if self.explicit_names else names + list(self.pgti_names)

    def _locate_files(self) -> None:
        raw = self.raw_data_dir
        upstream = all((raw / n).is_file() for n in (self.adj_filename, self.speed_filename))
        for adj, speed in [] if upstream else self.file_alternatives()[1:]:
            if is_present(raw / adj) and is_present(raw / speed):
                log.info("Using PGT-I's file names %s and %s in %s", adj, speed, raw)
                self.adj_filename, self.speed_filename = adj, speed
                break
        try:
            self.adj_path = fetch(raw / self.adj_filename, self.urls.get(self.adj_filename),
                                  self.download, sha256=self.sha256.get(self.adj_filename),
                                  searched=self.searched)
            self.speed_path = fetch(raw / self.speed_filename,
                                    self.urls.get(self.speed_filename), self.download,
                                    sha256=self.sha256.get(self.speed_filename),
                                    searched=self.searched)
        except FileNotFoundError as error:
            if self.explicit_names or not self.pgti_names:
                raise
            pairs = " or ".join(f"{a!r} + {b!r}" for a, b in self.pgti_names)
            raise FileNotFoundError(f"{error} PGT-I's names are accepted too: {pairs}.") from None

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
        r"""``.npy`` copy of the ``(T, N, 2)`` series written for :obj:`mmap`:
        next to the speed table when its folder is writable, else in the
        cache folder (see :func:`~torch_geometric_temporal.dataset._files.derived_path`)."""
        return derived_path(self.speed_path.parent, self.name,
                            self.speed_path.stem + "_node_values.npy")

    def read_speeds(self) -> Tuple[np.ndarray, np.ndarray]:
        r"""``(speeds (T, N) float32, time_of_day (T,) float64)`` in the
        pickle's sensor order (see :func:`read_speed_table`)."""
        return read_speed_table(self.speed_path, self.read_sensors()[0], self.adj_path)

    def read_data(self, mmap: bool = False) -> np.ndarray:
        r"""The ``(T, N, 2)`` float32 series (speed, time of day). With
        :obj:`mmap`, a ``.npy`` copy (:attr:`cache_path`) is written once
        (atomically, block by block: memory bounded by
        :data:`CONVERT_CHUNK_BYTES`, not by the series) and memory-mapped
        read-only; it is rewritten whenever the content of the speed table
        or of the adjacency pickle (which fixes the sensor order) differs from
        what it was made from (recorded in its ``.source.json`` sidecar: size,
        times, SHA-256)."""
        sources = [self.speed_path, self.adj_path]
        cache = self.cache_path
        if mmap and is_fresh(cache, sources):
            values = np.load(cache, mmap_mode="r", allow_pickle=False)
            return check_array(values, str(cache), (None, None, self.num_features), kind="f")
        if not mmap:
            values = speed_values(*self.read_speeds())
            self._check_values(values, str(self.speed_path), values.shape[1],
                               sensor_ids=self.read_sensors()[0])
            return values
        prints = fingerprints(sources)
        self._convert_cache(cache)
        record_sources(cache, prints)
        return np.load(cache, mmap_mode="r", allow_pickle=False)

    def _convert_cache(self, cache: Path) -> None:
        r"""Write :attr:`cache` from the speed table block by block
        (:func:`save_speed_npy`), running :meth:`_check_values`' checks on the
        way: shape and dtype per block, NaN/inf readings and NaN-only sensors
        accumulated over the blocks and raised (same messages) before the file
        is published."""
        sensor_ids = self.read_sensors()[0]
        table, order = open_sensor_table(self.speed_path, sensor_ids, self.adj_path)
        name, num_nodes = str(self.speed_path), len(table.columns)
        scan = FiniteSensorScan(num_nodes)

        def check(block: np.ndarray) -> None:
            check_array(block, name, (None, num_nodes, self.num_features), kind="f")
            if self.validate:
                scan.update(block[..., :1])

        def finish() -> None:
            if self.validate:
                scan.check(name, sensor_ids=sensor_ids)

        log.info("Converting %s to %s for memory mapping", self.speed_path, cache)
        save_speed_npy(cache, table, order, check=check, finish=finish)
