r"""Dask preprocessing and Dask-backed batching.

PGT-I (`"PGT-I: Scaling Spatiotemporal GNNs with Memory-Efficient Distributed
Training" <https://arxiv.org/abs/2507.11683>`_) uses Dask for two things: to
read and preprocess datasets larger than memory in chunks, and, as a
baseline, to materialize every sliding window as a persisted Dask array
(about ``T_in + T_out`` times the raw data). This module provides

* chunked readers of the raw files into a ``(T, N, F)``
  :class:`dask.array.Array` whose graph holds only file names and row ranges
  (cheap to send to workers; a worker computing a row slice reads only the
  chunks it needs): :func:`npy_to_dask`, :func:`hdf_to_dask` (pandas HDF5
  tables, DCRNN layout, with the time-of-day feature), :func:`zarr_to_dask`,
  and :func:`read_dask_array` (a path or a dataset loader);
* :func:`dask_fit_scaler` (and :func:`dask_fit_statistics`), the training
  :class:`~torch_geometric_temporal.dataset.scaling.Scaler` computed with
  Dask, one task per chunk, by the scaler's own definition;
* :class:`DaskIndexDataset`: index-batching on a Dask array; a batch is
  fetched with one ``compute`` of the contiguous time range(s) its windows
  need;
* the materialized baseline (``--mode dask``): :func:`dask_materialize_windows`
  and :class:`DaskWindowDataset`.

Dask and pandas are imported inside the functions.
"""
import functools
import logging
import os
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.dataset._hdf5 import open_speed_table, read_speed_rows
from torch_geometric_temporal.dataset._source import _nonfinite_error
from torch_geometric_temporal.dataset.index_batching import IndexDataset, WindowBatchDataset
from torch_geometric_temporal.dataset.scaling import (
    Scaler,
    _check_per,
    _finish,
    _fitted_features,
    _shift,
    _sums,
    training_weights,
)
from torch_geometric_temporal.dataset.windows import Features, WindowSpec

log = logging.getLogger(__name__)

#: Target bytes per chunk of the arrays built here (also the transient
#: memory of reading one chunk).
CHUNK_BYTES = 16 * 2**20

__all__ = [
    "npy_to_dask",
    "hdf_to_dask",
    "zarr_to_dask",
    "read_dask_array",
    "dask_fit_scaler",
    "dask_fit_statistics",
    "dask_materialize_windows",
    "DaskIndexDataset",
    "DaskWindowDataset",
    "window_ranges",
]


def _dask_array():
    return require("dask.array", "dask", "Dask batching")


def _chunk_rows(row_bytes: int, chunk_rows: Optional[int]) -> int:
    if chunk_rows is not None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}.")
        return int(chunk_rows)
    return max(1, CHUNK_BYTES // max(1, row_bytes))


def _from_row_reader(reader, T: int, row_shape: Tuple[int, ...], dtype, chunk_rows: int, name: str):
    r"""A dask array of ``T`` rows; chunk ``[a, b)`` is ``reader(a, b)``."""
    dask = require("dask", "dask", "Dask batching")

    da = _dask_array()
    blocks = []
    for a in range(0, T, chunk_rows):
        b = min(a + chunk_rows, T)
        part = dask.delayed(reader, pure=True)(a, b, dask_key_name=f"{name}-{a}-{b}")
        blocks.append(da.from_delayed(part, shape=(b - a,) + row_shape, dtype=dtype))
    return da.concatenate(blocks, axis=0)


def _npy_layout(path: str) -> Tuple[Tuple[int, ...], np.dtype, bool, int]:
    r"""``(shape, dtype, fortran_order, data_offset)`` of a ``.npy`` file."""
    fmt = np.lib.format
    with open(path, "rb") as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:  # another header version: read through a memory map instead
            return (), np.dtype(object), True, 0
        return tuple(shape), dtype, fortran, f.tell()


def _read_npy_rows(path: str, a: int, b: int, dtype: Optional[str] = None) -> np.ndarray:
    # Read the bytes of rows [a, b) into a fresh array (no memory map: the
    # pages of the file are not mapped into the process, so RSS grows by
    # this chunk only).
    shape, file_dtype, fortran, offset = _npy_layout(path)
    if fortran or file_dtype.hasobject:
        mm = np.load(path, mmap_mode="r", allow_pickle=False)
        rows = np.array(mm[a:b], dtype=dtype or mm.dtype, copy=True)
        del mm
        return rows
    row_items = int(np.prod(shape[1:], dtype=np.int64))
    with open(path, "rb") as f:
        f.seek(offset + a * row_items * file_dtype.itemsize)
        rows = np.fromfile(f, dtype=file_dtype, count=(b - a) * row_items).reshape((b - a,) + tuple(shape[1:]))
    if dtype is not None and np.dtype(dtype) != file_dtype:
        rows = rows.astype(dtype)
    return rows


def npy_to_dask(path: Union[str, os.PathLike], chunk_rows: Optional[int] = None,
                dtype: Optional[Union[str, np.dtype]] = "float32") -> Any:
    r"""A ``.npy`` array as a Dask array chunked along time.

    Each chunk task reads its rows' bytes from the file (no memory map), so
    computing a slice reads only the chunks it overlaps.

    Args:
        path (str): the ``.npy`` file, e.g. ``(T, N, F)``.
        chunk_rows (int, optional): time steps per chunk (default: about
            16 MiB per chunk).
        dtype (str, optional): cast chunks to this dtype (default
            ``float32``, as the loaders); ``None`` keeps the file's.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} does not exist; pass the .npy file of the series "
                                f"(e.g. node_values.npy extracted from the dataset zip).")
    mm = np.load(path, mmap_mode="r", allow_pickle=False)
    shape, file_dtype = mm.shape, mm.dtype
    del mm
    if len(shape) < 1:
        raise ValueError(f"{path} holds a scalar; expected a (T, N, F) array.")
    out_dtype = np.dtype(dtype) if dtype is not None else file_dtype
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * out_dtype.itemsize
    stat = os.stat(path)
    name = "npy-" + _token(path, stat.st_mtime_ns, stat.st_size, stat.st_ino, out_dtype.str)
    # a partial of a module-level function: the graph pickles (DataLoader
    # workers, Dask workers), unlike a closure
    reader = functools.partial(_read_npy_rows, path, dtype=out_dtype.str)
    return _from_row_reader(reader, shape[0], tuple(shape[1:]), out_dtype,
                            _chunk_rows(row_bytes, chunk_rows), name)


def hdf_to_dask(path: Union[str, os.PathLike], key: str = "df", columns: Optional[Sequence[Any]] = None,
                time_of_day: bool = True, chunk_rows: Optional[int] = None) -> Any:
    r"""A pandas HDF5 speed table (time x sensors, DCRNN layout) as a
    ``(T, N, 2)`` float32 Dask array: feature 0 the speed, 1 the time of day
    (fraction of the day of the ``DatetimeIndex``, as the HDF5 loaders and
    DCRNN compute it). Chunks read their rows only, with the package's
    HDF5 reader (fixed and table formats; numeric blocks only, nothing is
    unpickled: see :func:`~torch_geometric_temporal.dataset._hdf5.open_speed_table`).

    Args:
        path (str): the ``.h5`` file.
        key (str): table key (default ``"df"``).
        columns (list, optional): sensor ids in the wanted node order (e.g.
            the adjacency pickle's); default the file's order.
        time_of_day (bool): append the time-of-day feature (``F = 2``);
            ``False`` gives ``(T, N, 1)``.
        chunk_rows (int, optional): time steps per chunk.
    """
    from torch_geometric_temporal.dataset._traffic import column_order

    path = os.fspath(path)
    table = open_speed_table(path, key)
    if table.unit is None and time_of_day:
        raise ValueError(f"{path}: the time of day needs a DatetimeIndex, the index holds "
                         f"integers; pass time_of_day=False.")
    order = None
    if columns is not None:
        columns = [str(c) for c in columns]
        missing = sorted(set(columns) - set(table.columns))
        if missing or len(columns) != len(table.columns):
            raise ValueError(f"{path}: sensor columns do not match the given ids (missing "
                             f"{missing[:5]}...); the files do not belong together.")
        order = column_order(table.columns, columns)
    N, F = len(table.columns), 2 if time_of_day else 1
    stat = os.stat(path)
    name = "hdf-" + _token(path, stat.st_mtime_ns, stat.st_size, stat.st_ino, key, order, time_of_day)
    reader = functools.partial(read_speed_rows, path, key, order=order, with_time_of_day=time_of_day)
    return _from_row_reader(reader, table.num_rows, (N, F), np.float32, _chunk_rows(N * F * 4, chunk_rows),
                            name)


def zarr_to_dask(path: Union[str, os.PathLike], component: Optional[str] = None) -> Any:
    r"""A zarr array as a Dask array (:func:`dask.array.from_zarr`; needs the
    ``zarr`` package, which is not a dependency)."""
    require("zarr", None, "Reading .zarr stores")  # in no extra: the message names the package
    return _dask_array().from_zarr(os.fspath(path), component=component)


def read_dask_array(source: Any, chunk_rows: Optional[int] = None, **kwargs: Any) -> Any:
    r"""The ``(T, N, F)`` series of ``source`` as a chunked Dask array.

    Args:
        source: a path (``.npy``, ``.h5``/``.hdf5``/``.hdf``, ``.zarr``), a
            dataset loader (traffic loaders read their raw ``.npy`` or HDF5
            file in chunks, in the loader's node order; other loaders are
            read whole with ``read_data()`` and wrapped), a numpy array or a
            Dask array (returned rechunked along time only if
            ``chunk_rows`` is given).
        chunk_rows (int, optional): time steps per chunk.
        **kwargs: passed to the reader (e.g. ``key=``).
    """
    da = _dask_array()
    if isinstance(source, da.Array):
        return source.rechunk({0: chunk_rows}) if chunk_rows else source
    if isinstance(source, np.ndarray):
        rows = _chunk_rows(int(np.prod(source.shape[1:], dtype=np.int64)) * source.itemsize, chunk_rows)
        return da.from_array(source, chunks=(rows,) + source.shape[1:])
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        ext = os.path.splitext(path.rstrip("/"))[1].lower()
        if ext == ".npy":
            return npy_to_dask(path, chunk_rows, **kwargs)
        if ext in (".h5", ".hdf5", ".hdf"):
            return hdf_to_dask(path, chunk_rows=chunk_rows, **kwargs)
        if ext == ".zarr":
            return zarr_to_dask(path, **kwargs)
        raise ValueError(f"Unknown file type {ext!r} of {path!r}; use .npy, .h5 or .zarr.")
    values_path = getattr(source, "values_path", None)
    if values_path is not None:
        source.read_adjacency()  # validates the pair of files like read_data does
        return npy_to_dask(values_path, chunk_rows)
    speed_path = getattr(source, "speed_path", None)
    if speed_path is not None and hasattr(source, "read_sensors"):
        return hdf_to_dask(speed_path, columns=source.read_sensors()[0], chunk_rows=chunk_rows)
    if hasattr(source, "read_data"):
        data = source.read_data()
        data = data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
        return read_dask_array(data, chunk_rows)
    raise ValueError(f"Cannot read a series from {type(source).__name__}; pass a path, an array "
                     f"or a dataset loader.")


def _token(*parts: Any) -> str:
    return require("dask.base", "dask", "Dask batching").tokenize(*parts)


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
def _block_sums(block: np.ndarray, w: np.ndarray, shift: np.ndarray, per: str, allow_nan: bool
                ) -> Optional[Tuple[np.ndarray, ...]]:
    r"""The weighted shifted sums of :mod:`~torch_geometric_temporal.dataset.scaling`
    over one time block (a Dask task); ``None`` when no row of it is weighted."""
    keep = w > 0
    if not keep.any():
        return None
    x = torch.from_numpy(np.asarray(block[keep], dtype=np.float64))  # a fresh copy: the sums work in place
    return tuple(t.numpy() for t in _sums(x, torch.from_numpy(w[keep]), torch.from_numpy(shift), per, allow_nan))


def dask_fit_scaler(data: Any, train_starts: np.ndarray, spec: WindowSpec, per: str = "feature", *,
                    weighting: str = "windows", eps: float = 0.0, features: Features = None,
                    unbiased: bool = False, allow_nan: bool = False, scheduler: Optional[str] = None) -> Scaler:
    r""":meth:`Scaler.fit <torch_geometric_temporal.dataset.scaling.Scaler.fit>`
    with Dask: the same weighted shifted sums, one task per time chunk (in
    parallel on a cluster when a client is active), added up and finished
    by the scaler's own definition.

    Args:
        data (dask.array.Array or array): ``(T, N, F)`` (see :func:`read_dask_array`).
        train_starts (numpy.ndarray): training window starts.
        spec (WindowSpec): the window (its input length and target features).
        per, weighting, eps, features, unbiased, allow_nan: as for :meth:`Scaler.fit`.
        scheduler (str, optional): Dask scheduler (default: Dask's default).

    Returns:
        A :class:`~torch_geometric_temporal.dataset.scaling.Scaler` with float32
        CPU statistics.
    """
    dask = require("dask", "dask", "Dask batching")

    data = read_dask_array(data)
    if data.ndim != 3:
        raise ValueError(f"data must have shape (T, N, F), got {data.shape}.")
    T, N, F = (int(s) for s in data.shape)
    per = _check_per(per)
    starts = WindowSpec(spec.num_timesteps_in, 0).check(train_starts, T)  # the inputs of the training windows
    fit = _fitted_features(features, F)
    lo, hi, weights = training_weights(starts, spec.num_timesteps_in, T, weighting)
    x = data[lo:hi][:, :, fit].astype(np.float64).rechunk({1: -1, 2: -1})
    bounds = np.concatenate([[0], np.cumsum(x.chunks[0])])
    first, = dask.compute(x[: bounds[1]], scheduler=scheduler)
    shift = _shift(torch.from_numpy(first[weights[: bounds[1]] > 0]), per, allow_nan).numpy()
    parts = [dask.delayed(_block_sums, pure=True)(block, weights[a:b], shift, per, allow_nan)
             for block, a, b in zip(x.to_delayed()[:, 0, 0], bounds[:-1], bounds[1:])]
    parts = [p for p in dask.compute(*parts, scheduler=scheduler) if p is not None]
    s1, s2, count = (torch.from_numpy(sum(p[i] for p in parts)) for i in range(3))
    if not bool(torch.isfinite(s1).all() and torch.isfinite(s2).all()):
        da = _dask_array()
        n_nan, n_inf = (int(v) for v in dask.compute(da.isnan(x).sum(), da.isinf(x).sum(), scheduler=scheduler))
        if not (n_nan and allow_nan and not n_inf):
            raise _nonfinite_error(n_nan, n_inf, "The training part of data")
    shape = (F,) if per == "feature" else (N, F)
    mean, std = _finish(s1, s2, count, torch.from_numpy(shift), fit, shape, unbiased, eps, torch.float32)
    return Scaler(mean, std, per, spec.target_features)


def dask_fit_statistics(data: Any, train_starts: np.ndarray, num_timesteps_in: int,
                        features: Optional[Union[int, Sequence[int]]] = None, unbiased: bool = False,
                        scheduler: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Per-feature ``(mean, std)`` of the training input windows, with Dask:
    :func:`~torch_geometric_temporal.dataset.scaling.fit_statistics` computed
    by :func:`dask_fit_scaler`.

    Args:
        data (dask.array.Array or array): ``(T, N, F)``.
        train_starts (numpy.ndarray): training window starts.
        num_timesteps_in (int): input length.
        features (int or list of int, optional): features to fit (the others
            get mean 0, std 1); default all.
        unbiased (bool): Bessel-corrected std.
        scheduler (str, optional): Dask scheduler (default: Dask's default).

    Returns:
        ``(mean, std)`` float32 CPU tensors of shape ``(F,)``; a zero std is
        replaced by 1.
    """
    scaler = dask_fit_scaler(data, train_starts, WindowSpec(num_timesteps_in, 0), features=features,
                             unbiased=unbiased, scheduler=scheduler)
    return scaler.mean, scaler.std


# ---------------------------------------------------------------------------
# batching
# ---------------------------------------------------------------------------
def window_ranges(starts: np.ndarray, span: int) -> List[Tuple[int, int]]:
    r"""Merge the rows ``[s, s + span)`` of sorted ``starts`` into disjoint
    contiguous ``(lo, hi)`` ranges (windows that overlap or touch share one).

    Args:
        starts (numpy.ndarray): sorted window starts ``(S,)``.
        span (int): rows one window reads (:attr:`WindowSpec.span`).
    """
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        return []
    ranges = []
    lo, hi = int(starts[0]), int(starts[0]) + span
    for s in starts[1:].tolist():
        if s <= hi:
            hi = max(hi, s + span)
        else:
            ranges.append((lo, hi))
            lo, hi = s, s + span
    ranges.append((lo, hi))
    return ranges


class DaskIndexDataset(WindowBatchDataset):
    r"""Index-batching over a Dask array: the series stays in Dask (on disk
    or on a cluster) and each batch computes only the rows its windows need.

    For a batch of window starts the rows are merged into contiguous ranges
    (:func:`window_ranges`; one range for a batch of consecutive windows) and
    fetched with a single ``dask.compute``; the windows are then cut and
    standardized by
    :class:`~torch_geometric_temporal.dataset.index_batching.IndexDataset`, so
    batches equal those of an in-memory ``IndexDataset`` bit for bit.

    Args:
        data (dask.array.Array): ``(T, N, F)`` series, e.g. from
            :func:`read_dask_array`.
        starts (numpy.ndarray): window starts.
        num_timesteps_in (WindowSpec or int): the window, or its input length.
        num_timesteps_out (int, optional): output length (with an int
            ``num_timesteps_in``).
        target_features (int or list of int, optional): features of ``y``
            (with an int ``num_timesteps_in``).
        mean, std (tensor ``(F,)``, optional): standardize at gather time.
        scheduler (str, optional): Dask scheduler for the fetch; default
            ``"synchronous"`` (read in this process: right for file-backed
            arrays and inside a Dask worker); ``None`` for Dask's default
            (e.g. the active distributed client).
        device (torch.device, optional): device of the returned batches.
    """

    def __init__(self, data: Any, starts: np.ndarray, num_timesteps_in: Union[WindowSpec, int],
                 num_timesteps_out: Optional[int] = None, target_features: Features = None, mean=None, std=None,
                 scheduler: Optional[str] = "synchronous", device: Optional[Union[str, torch.device]] = None):
        self.data = read_dask_array(data)
        if self.data.ndim != 3:
            raise ValueError(f"data must have shape (T, N, F), got {self.data.shape}.")
        self.spec = WindowSpec.of(num_timesteps_in, num_timesteps_out, target_features)
        self.starts = self.spec.check(starts, int(self.data.shape[0]))
        self.mean, self.std = mean, std
        self.scheduler = scheduler
        self.device = device

    def __len__(self) -> int:
        return int(self.starts.size)

    def fetch_rows(self, starts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        r"""Rows the windows at ``starts`` need, with one compute: returns
        ``(rows, local_starts)`` with ``rows[local_starts[i]:][:spec.span]``
        the window of ``starts[i]``."""
        dask = require("dask", "dask", "Dask batching")

        order = np.unique(starts)
        ranges = window_ranges(order, self.spec.span)
        parts = dask.compute(*[self.data[lo:hi] for lo, hi in ranges], scheduler=self.scheduler)
        offsets, total = [], 0
        for (lo, hi) in ranges:
            offsets.append(total - lo)
            total += hi - lo
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        range_lo = np.array([lo for lo, _ in ranges], dtype=np.int64)
        which = np.searchsorted(range_lo, starts, side="right") - 1
        return np.ascontiguousarray(rows), starts + np.asarray(offsets, dtype=np.int64)[which]

    def gather(self, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""Batch ``X (B, T_in, N, F)``, ``Y (B, T_out, N, F_y)`` for window indices."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        starts = self.starts[idx]
        rows, local = self.fetch_rows(starts)
        ds = IndexDataset(rows, local, self.spec, mean=self.mean, std=self.std, device=self.device)
        return ds.gather(np.arange(len(local)))


def _cut_windows(rows: np.ndarray, local_starts: np.ndarray, spec: WindowSpec, mean, std, part: int):
    ds = IndexDataset(rows, local_starts, spec, mean=mean, std=std)
    return ds.gather(np.arange(len(local_starts)))[part].numpy()


def dask_materialize_windows(data: Any, starts: np.ndarray, num_timesteps_in: Union[WindowSpec, int],
                             num_timesteps_out: Optional[int] = None, target_features: Features = None,
                             mean=None, std=None, windows_per_chunk: Optional[int] = None) -> Tuple[Any, Any]:
    r"""The Dask baseline: every window materialized as Dask arrays.

    Returns ``X (S, T_in, N, F)`` and ``Y (S, T_out, N, F_y)``, chunked by
    windows; persisting them (``client.persist``) holds about
    ``T_in + T_out`` times the series in the cluster's memory (PGT-I's Dask
    baseline). Each chunk task reads only the rows of its windows.

    Args:
        data: ``(T, N, F)`` series (see :func:`read_dask_array`).
        starts (numpy.ndarray): window starts.
        num_timesteps_in, num_timesteps_out, target_features, mean, std: as
            for :class:`DaskIndexDataset`.
        windows_per_chunk (int, optional): windows per output chunk (default:
            about 16 MiB of ``X`` per chunk).
    """
    dask = require("dask", "dask", "Dask batching")

    da = _dask_array()
    data = read_dask_array(data)
    T, N, F = (int(s) for s in data.shape)
    spec = WindowSpec.of(num_timesteps_in, num_timesteps_out, target_features)
    t_in, t_out = spec.num_timesteps_in, spec.num_timesteps_out
    starts = spec.check(starts, T)
    itemsize = np.dtype(data.dtype).itemsize
    per = windows_per_chunk or max(1, CHUNK_BYTES // max(1, t_in * N * F * itemsize))
    f_y = spec.num_targets(F)
    xs, ys = [], []
    for a in range(0, len(starts), per):
        s = starts[a:a + per]
        lo, hi = int(s.min()), int(s.max()) + spec.span
        rows = data[lo:hi]
        for part, (length, f, out) in enumerate(((t_in, F, xs), (t_out, f_y, ys))):
            block = dask.delayed(_cut_windows, pure=True)(rows, s - lo, spec, mean, std, part)
            out.append(da.from_delayed(block, shape=(len(s), length, N, f), dtype=data.dtype))
    return da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)


class DaskWindowDataset(WindowBatchDataset):
    r"""Batches of the materialized baseline: indexes the (persisted) ``X``
    and ``Y`` of :func:`dask_materialize_windows` and computes a batch with
    one ``compute``.

    Args:
        X, Y (dask.array.Array): materialized windows.
        client (distributed.Client, optional): compute through this client
            (e.g. ``distributed.get_client()`` inside a worker); default
            ``dask.compute`` with Dask's default scheduler.
    """

    def __init__(self, X: Any, Y: Any, client: Any = None):
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X and Y hold {X.shape[0]} and {Y.shape[0]} windows; they must match.")
        self.X, self.Y, self.client = X, Y, client

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def gather(self, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        order, inverse = np.unique(idx, return_inverse=True)
        x, y = self.X[order], self.Y[order]
        if self.client is not None:
            x, y = self.client.compute([x, y], sync=True)
        else:
            dask = require("dask", "dask", "Dask batching")

            x, y = dask.compute(x, y)
        return torch.from_numpy(np.ascontiguousarray(x[inverse])), torch.from_numpy(np.ascontiguousarray(y[inverse]))
