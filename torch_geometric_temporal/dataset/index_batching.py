r"""Index-batching: sliding windows cut from one ``(T, N, F)`` array at batch time.

The standard spatio-temporal pipeline materializes every sliding window, which
for 12-in/12-out forecasting costs about ``24 x`` the raw array. Index-batching
(`PGT-I, SC'25 <https://arxiv.org/abs/2507.11683>`_) keeps the raw array once
and stores only the window start of every sample; a batch is cut out by index.

This module holds the gather and the datasets built on it:

* :class:`IndexDataset`, whose ``__getitem__``/``__getitems__`` turn a whole batch
  of window indices into ``(B, T_in, N, F)`` / ``(B, T_out, N, F_y)`` tensors with
  one vectorized gather, on numpy, torch (CPU or CUDA: *GPU-index-batching*) or
  memory-mapped ``.npy`` sources (*out-of-core*, standardized at gather time);
* :func:`materialize_windows`, the *base* (materialized) path, built on the same
  gather so that both modes give bit-identical batches;
* :func:`add_time_of_day`, a chunked copy with the time-of-day feature.

The rest of the path lives in one module per concept, and its public names
are re-exported here: the window (:class:`~torch_geometric_temporal.dataset.
windows.WindowSpec`, :func:`window_starts`, :func:`chronological_split`) in
:mod:`~torch_geometric_temporal.dataset.windows`; the array source (memmap,
``pread``, batch buffers) in :mod:`~torch_geometric_temporal.dataset._source`;
the z-score statistics (:func:`fit_statistics`, :func:`standardize_`) in
:mod:`~torch_geometric_temporal.dataset.scaling`; the samplers and
:func:`index_dataloader` in :mod:`~torch_geometric_temporal.dataset.samplers`.

Example::

    data = np.load("pems_bay.npy")                          # (T, N, F) float32
    spec = WindowSpec(12, 12, target_features=[0])
    train, val, test = spec.split(data.shape[0])            # chronological
    mean, std = fit_statistics(data, train, 12, features=[0])
    standardize_(data, mean, std)                           # in place
    ds = IndexDataset(data, train, spec)
    for x, y in index_dataloader(ds, 64, shuffle=True, generator=g):
        ...                                                 # x: (64, 12, N, F)

    # out of core: read-only memmap, standardization at gather time
    # (g = torch.Generator().manual_seed(0) makes the shuffle reproducible)
    mm = np.load("pems.npy", mmap_mode="r")
    ds = IndexDataset(mm, train, spec, mean=mean, std=std)
"""
from __future__ import annotations

import logging
from typing import Optional, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from torch_geometric_temporal.dataset._buffers import _unused  # noqa: F401 (tests)
from torch_geometric_temporal.dataset._hdf5 import time_of_day
from torch_geometric_temporal.dataset._source import (  # noqa: F401 (re-exported)
    CHUNK_BYTES,
    ArrayLike,
    _from_numpy,
    _nonfinite_error,
    _Source,
    series_to,
)
from torch_geometric_temporal.dataset.scaling import (  # noqa: F401 (re-exported)
    _RowStats,
    _stats_for,
    fit_statistics,
    standardize_,
)
from torch_geometric_temporal.dataset.samplers import (  # noqa: F401 (re-exported)
    DistributedIndexSampler,
    TensorBatchSampler,
    check_loader_device,
    dataset_device,
    identity_collate,
    index_dataloader,
)
from torch_geometric_temporal.dataset.windows import (  # noqa: F401 (re-exported)
    Features,
    WindowSpec,
    _as_int,
    _feature_index,
    _num_selected,
    chronological_split,
    window_starts,
)

__all__ = [
    "WindowSpec",
    "window_starts",
    "chronological_split",
    "fit_statistics",
    "standardize_",
    "add_time_of_day",
    "materialize_windows",
    "WindowBatchDataset",
    "IndexDataset",
    "DistributedIndexSampler",
    "TensorBatchSampler",
    "index_dataloader",
    "identity_collate",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------
def add_time_of_day(
    data: ArrayLike,
    timestamps=None,
    *,
    steps_per_day: Optional[int] = None,
    start_step: int = 0,
    out: Optional[ArrayLike] = None,
) -> ArrayLike:
    r"""Append a PeMS/DCRNN-style time-of-day feature: ``(T, N, F) -> (T, N, F + 1)``.

    The new last feature is the fraction of the day in ``[0, 1)`` of each time
    step, equal for all nodes, as in DCRNN's ``generate_training_data``
    (``(t - floor_day(t)) / 1 day``). The result is written chunk by chunk into
    ``out``: the input features are copied over in time chunks and the
    time-of-day column is broadcast from a ``(T,)`` vector, so no temporary
    ``(T, N, F)`` (or ``(T, N, 1)`` tile) is created. Pass a preallocated
    ``out`` (e.g. ``np.lib.format.open_memmap(path, "w+", ...)`` for data larger
    than memory) to bound memory by ``out`` plus one chunk.

    Args:
        data (numpy.ndarray, numpy.memmap or torch.Tensor): ``(T, N, F)``.
        timestamps (array-like of datetime64, optional): ``(T,)`` time stamps
            (numpy ``datetime64`` array or a ``pandas.DatetimeIndex``).
        steps_per_day (int, optional): instead of ``timestamps``, the sampling rate
            (e.g. ``288`` for 5-minute data); step ``t`` gets
            ``((start_step + t) % steps_per_day) / steps_per_day``.
        start_step (int): step-of-day of ``data[0]`` when ``steps_per_day`` is used.
        out (numpy.ndarray or torch.Tensor, optional): writable ``(T, N, F + 1)``
            destination; default a new array of the same kind, dtype and device.

    Returns:
        ``out``.
    """
    src = _Source(data)
    T, N, F = src.shape
    if (timestamps is None) == (steps_per_day is None):
        raise ValueError("Give exactly one of timestamps=... or steps_per_day=... "
                         "(e.g. steps_per_day=288 for 5-minute data).")
    if timestamps is not None:
        ts = np.asarray(timestamps, dtype="datetime64[ns]").reshape(-1)
        if len(ts) != T:
            raise ValueError(f"timestamps has {len(ts)} entries, data has T = {T} time steps.")
        tod = time_of_day(ts)
    else:
        spd = _as_int(steps_per_day, "steps_per_day")
        if spd < 1:
            raise ValueError(f"steps_per_day must be >= 1, got {spd}.")
        tod = ((int(start_step) + np.arange(T, dtype=np.int64)) % spd) / spd
    if out is None:
        if isinstance(data, torch.Tensor):
            out = torch.empty((T, N, F + 1), dtype=data.dtype, device=data.device)
        else:
            out = np.empty((T, N, F + 1), dtype=data.dtype)
    if tuple(out.shape) != (T, N, F + 1):
        raise ValueError(f"out must have shape {(T, N, F + 1)}, got {tuple(out.shape)}.")
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise ValueError("out must be writable.")
    o = out if isinstance(out, torch.Tensor) else _from_numpy(out)
    tod_t = torch.from_numpy(tod).to(device=o.device, dtype=o.dtype)
    step = src.chunk_rows(o.element_size())
    for a in range(0, T, step):
        b = min(a + step, T)
        o[a:b, :, :F].copy_(src.rows(a, b))
        o[a:b, :, F].copy_(tod_t[a:b, None].expand(b - a, N))
    if isinstance(out, np.memmap):
        out.flush()
    return out


# ---------------------------------------------------------------------------
# Gather (shared by the index and the base path)
# ---------------------------------------------------------------------------
def _gather(src: _Source, s: torch.Tensor, t_in: int, t_out: int,
            target: Optional[Union[slice, torch.Tensor]],
            stats: Optional[_RowStats],
            ) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Windows for the starts ``s`` (1-D int64, on the source device for tensors).

    Returns ``X (B, T_in, N, F)`` and ``Y (B, T_out, N, F_y)``, each contiguous;
    both are views of one fresh buffer, so a batch is one allocation (fewer
    page faults than two, measured: the copy itself is the rest of the cost).
    """
    _, N, F = src.shape
    B = s.numel()
    f_y = _num_selected(target, F)
    n_x, n_y = B * t_in * N * F, B * t_out * N * f_y
    if src.kind == "torch":
        data = src.tensor
        block = (src.new_block(n_x + n_y) if src.np_dtype is not None else
                 torch.empty(n_x + n_y, dtype=data.dtype, device=data.device))
        x, y = block[:n_x].view(B, t_in, N, F), block[n_x:].view(B, t_out, N, f_y)

        def rows(a: int, b: int) -> torch.Tensor:  # time rows of every window, flattened
            return (s[:, None] + torch.arange(a, b, device=data.device)).reshape(-1)

        win_x = src.windows(0, t_in)
        if win_x is not None:  # one contiguous run per window
            torch.index_select(win_x, 0, s, out=x.view(B, t_in * N * F))
        else:
            torch.index_select(data, 0, rows(0, t_in), out=x.view(B * t_in, N, F))
        win_y = src.windows(t_in, t_out) if target is None else None
        rows_y = rows(t_in, t_in + t_out) if n_y and win_y is None else None
        if n_y == 0:
            pass
        elif win_y is not None:
            torch.index_select(win_y, 0, s, out=y.view(B, t_out * N * F))
        elif target is None:
            torch.index_select(data, 0, rows_y, out=y.view(B * t_out, N, F))
        elif isinstance(target, slice) and src.np_view is not None:
            # numpy's fancy indexing copies a strided feature slice faster than torch
            y.view(B * t_out, N, f_y).numpy()[...] = src.np_view[rows_y.numpy(), :, target]
        elif isinstance(target, slice):  # strided view, gathered contiguously
            torch.index_select(data[:, :, target], 0, rows_y, out=y.view(B * t_out, N, f_y))
        else:
            full = data.index_select(0, rows_y).view(B, t_out, N, F)
            torch.index_select(full, 3, target.to(data.device), out=y)
    else:  # file: one preadv per window (x and y rows are adjacent in the file)
        block = src.new_block(n_x + n_y).numpy()
        x_np = block[:n_x].reshape(B, t_in, N, F)
        y_np = block[n_x:].reshape(B, t_out, N, f_y)
        # y with a feature subset is read into a reused scratch buffer (no fresh pages)
        y_rd = y_np if target is None else src.scratch((B, t_out, N, F), src.np_dtype)
        for b, sb in enumerate(s.numpy().tolist()):
            src._pread_into(sb, x_np[b], y_rd[b])
        if target is not None:  # numpy: ~3 x faster than torch for this strided copy
            sel = target if isinstance(target, slice) else target.numpy()
            np.copyto(y_np, y_rd[..., sel])
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    if stats is not None:
        _RowStats.apply_(x, stats.x)
        _RowStats.apply_(y, stats.y)
    return x, y


def _check_read_rows(src: _Source, starts: np.ndarray, span: int) -> None:
    r"""The NaN/inf check of in-memory data: only the rows
    ``[min(starts), max(starts) + span)`` the windows read, so the splits of
    one series (whose windows tile it) scan it once between them.

    Raises:
        ValueError: counting the NaN and infinite values found.
    """
    if len(starts):
        n_nan, n_inf = src.count_nonfinite(int(starts.min()), int(starts.max()) + span)
        if n_nan or n_inf:
            raise _nonfinite_error(n_nan, n_inf, "data")


def materialize_windows(
    data: ArrayLike,
    starts: np.ndarray,
    num_timesteps_in: Union[WindowSpec, int],
    num_timesteps_out: Optional[int] = None,
    target_features: Features = None,
    mean=None,
    std=None,
    chunk_windows: int = 1024,
    allow_nan: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Base (materialized) mode: stack all windows into two tensors.

    Uses the same gather as :class:`IndexDataset`, so ``X[idx]`` is bit-identical
    to ``IndexDataset(data, starts, ...)[idx][0]``. Costs
    :math:`S \cdot (T_{in} + T_{out})` time steps of memory, about ``24 x`` the
    raw array for 12/12 windows: use it for comparison, small data, or with
    ``TensorDataset`` + ``DataLoader``.

    Args:
        data (numpy.ndarray, numpy.memmap or torch.Tensor): ``(T, N, F)``.
        starts (numpy.ndarray): window starts.
        num_timesteps_in (WindowSpec or int): the window, or its input length.
        num_timesteps_out (int, optional): output length (with an int
            ``num_timesteps_in``).
        target_features (int, slice or sequence of int, optional): features of
            ``Y`` (default: all; with an int ``num_timesteps_in``).
        mean, std (optional): standardize the windows (same arithmetic as
            :func:`standardize_`).
        chunk_windows (int): windows gathered per step (bounds temporaries).
        allow_nan (bool): if ``False`` (default), NaN/inf in the rows the windows
            cover raise ``ValueError``.

    Returns:
        ``X (S, T_in, N, F)``, ``Y (S, T_out, N, F_y)`` on the device of ``data``.
    """
    src = _Source(data)
    T, N, F = src.shape
    spec = WindowSpec.of(num_timesteps_in, num_timesteps_out, target_features)
    t_in, t_out = spec.num_timesteps_in, spec.num_timesteps_out
    starts = spec.check(starts, T)
    target = spec.target_index(F)
    if not allow_nan:
        _check_read_rows(src, starts, spec.span)
    stats = None
    if mean is not None or std is not None:
        if mean is None or std is None:
            raise ValueError("Give both mean and std (or neither).")
        stats = _RowStats(*_stats_for(mean, std, F, src.dtype, src.device, N), N, target)
    f_y = _num_selected(target, F)
    S = len(starts)
    X = torch.empty((S, t_in, N, F), dtype=src.dtype, device=src.device)
    Y = torch.empty((S, t_out, N, f_y), dtype=src.dtype, device=src.device)
    s_all = torch.from_numpy(starts).to(src.device)
    for a in range(0, S, chunk_windows):
        b = min(a + chunk_windows, S)
        X[a:b], Y[a:b] = _gather(src, s_all[a:b], t_in, t_out, target, stats)
    return X, Y


# ---------------------------------------------------------------------------
# Dataset, sampler, loader
# ---------------------------------------------------------------------------
class WindowBatchDataset(Dataset):
    r"""Indexing shared by the window datasets: subclasses define
    ``gather(indices) -> (X, Y)`` for a 1-D batch of window indices.

    ``ds[i]`` (an int or 0-d tensor) gives one window ``(x, y)``; a slice, list,
    array or 1-D tensor gives the whole batch from one :meth:`gather`.
    """

    def gather(self, indices) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)) or (
                isinstance(index, torch.Tensor) and index.ndim == 0):
            x, y = self.gather([int(index)])
            return x[0], y[0]
        if isinstance(index, slice):
            index = range(len(self))[index]
        return self.gather(index)

    def __getitems__(self, indices) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""Batch for ``indices``; used by ``DataLoader`` with automatic batching
        (then pass ``collate_fn=identity_collate``)."""
        return self.gather(indices)


class IndexDataset(WindowBatchDataset):
    r"""Index-batching dataset over one ``(T, N, F)`` array
    (`PGT-I <https://arxiv.org/abs/2507.11683>`_).

    Item ``i`` is the window starting at ``s = starts[i]``:
    ``x = data[s : s + T_in]`` of shape ``(T_in, N, F)`` and
    ``y = data[s + T_in : s + T_in + T_out, :, target_features]`` of shape
    ``(T_out, N, F_y)``. Indexing with a list / 1-D tensor / array of indices
    (or calling :meth:`__getitems__`) returns the whole batch
    ``X (B, T_in, N, F)``, ``Y (B, T_out, N, F_y)`` built with one vectorized
    gather; :func:`index_dataloader` feeds it batches of indices.

    Modes:

    * **in RAM** (numpy array or CPU tensor, used zero-copy): standardize it first
      with :func:`standardize_`, or pass ``mean``/``std``.
    * **GPU-index-batching** (``device="cuda"`` or a CUDA tensor): the array and
      statistics are moved to the device once here; batches are gathered and
      returned on the device, with no host-to-device copy per batch (the
      loader's window order is moved once per epoch) and no host sync.
    * **out-of-core** (an unsliced, C-contiguous ``numpy.memmap`` such as
      ``np.load(path, mmap_mode="r")``): each window is read with ``os.preadv``
      straight into the batch buffer, so RSS stays near the batch size; pass
      ``mean``/``std`` to standardize at gather time.

    Args:
        data (numpy.ndarray, numpy.memmap or torch.Tensor): ``(T, N, F)`` array.
        starts (numpy.ndarray): window starts (e.g. a split from
            :func:`chronological_split`).
        num_timesteps_in (WindowSpec or int): the window (lengths and target
            features), or the input length :math:`T_{in}`.
        num_timesteps_out (int, optional): output length :math:`T_{out}`
            (with an int ``num_timesteps_in``).
        target_features (int, slice or sequence of int, optional): features of
            ``y`` (default: all ``F``; with an int ``num_timesteps_in``).
        mean, std (tensor or array ``(F,)`` or per node ``(N, F)``, optional):
            standardize at gather time, with the arithmetic of
            :meth:`Scaler.transform_ <torch_geometric_temporal.dataset.scaling.Scaler.transform_>`
            (bit-identical), e.g. a fitted scaler's ``mean``/``std``.
        device (torch.device or str, optional): move array and statistics there
            once; batches come out there. Default: where ``data`` is.
        allow_nan (bool): if ``False`` (default) non-finite values in the
            rows the windows read raise ``ValueError``: checked once here for
            in-memory data (as :func:`materialize_windows`), per batch for
            memory-mapped data (a full check would read the whole file).
    """

    def __init__(
        self,
        data: ArrayLike,
        starts: np.ndarray,
        num_timesteps_in: Union[WindowSpec, int],
        num_timesteps_out: Optional[int] = None,
        target_features: Features = None,
        mean=None,
        std=None,
        device: Optional[Union[str, torch.device]] = None,
        allow_nan: bool = False,
    ):
        src = _Source(data)
        T, N, F = src.shape
        self.spec = WindowSpec.of(num_timesteps_in, num_timesteps_out, target_features)
        self.num_timesteps_in = self.spec.num_timesteps_in
        self.num_timesteps_out = self.spec.num_timesteps_out
        starts = self.spec.check(starts, T)
        if device is not None:
            device = torch.device(device)
            if device.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(f"device={str(device)!r} requested but CUDA is not available; "
                                 f"use device=None (or 'cpu').")
            src = src.to(device)
        self._src = src
        self.allow_nan = bool(allow_nan)
        self._target = self.spec.target_index(F)
        if isinstance(self._target, torch.Tensor) and src.kind == "torch":
            self._target = self._target.to(src.device)  # once, not per batch
        if mean is not None or std is not None:
            if mean is None or std is None:
                raise ValueError("Give both mean and std (or neither).")
            if not src.dtype.is_floating_point:
                raise ValueError(f"Standardization needs floating point data, got {src.dtype}.")
            self.mean, self.std = _stats_for(mean, std, F, src.dtype, src.device, N)
            self._stats = _RowStats(self.mean, self.std, N, self._target)
        else:
            self.mean = self.std = self._stats = None
        if not self.allow_nan and src.kind == "torch":
            _check_read_rows(src, starts, self.spec.span)
        self.starts = torch.from_numpy(starts.copy())
        self._starts_dev = self.starts.to(src.device) if src.kind == "torch" else self.starts
        #: (order, its version, starts of the order on the device), see _order_starts
        self._order: Optional[Tuple[torch.Tensor, int, torch.Tensor]] = None

    # -- properties --------------------------------------------------------
    @property
    def device(self) -> torch.device:
        r"""Device on which batches are returned."""
        return self._src.device

    @property
    def data(self) -> Union[torch.Tensor, np.ndarray]:
        r"""The underlying array (tensor for in-memory data, the memmap otherwise)."""
        return self._src.tensor if self._src.kind == "torch" else self._src.data

    @property
    def num_nodes(self) -> int:
        return self._src.shape[1]

    @property
    def num_features(self) -> int:
        return self._src.shape[2]

    def __len__(self) -> int:
        return int(self.starts.numel())

    def release_buffers(self) -> None:
        r"""Free the recycled batch buffers kept for reuse (CPU sources keep up to
        4 batches' worth, e.g. after a loop ends); live batches stay valid."""
        self._src.__dict__.pop("_pool", None)
        self._src.__dict__.pop("_local", None)

    # -- gathering ----------------------------------------------------------
    def _order_starts(self, idx: torch.Tensor) -> Optional[torch.Tensor]:
        r"""Window starts of ``idx`` when it is a contiguous slice of a 1-D
        ``int64`` CPU tensor, the epoch order :class:`TensorBatchSampler`
        slices its batches from; ``None`` otherwise.

        The whole order is range-checked and its starts gathered on the
        dataset's device once per order (per epoch); every batch is then a
        view of them: no per-batch host-to-device copy of the indices and no
        per-batch device-to-host sync for the range check, on any device.
        """
        base = idx._base
        if (base is None or idx.dtype != torch.long or base.dtype != torch.long or idx.ndim != 1
                or base.ndim != 1 or idx.device.type != "cpu" or not base.is_contiguous()
                or (idx.numel() > 1 and idx.stride(0) != 1)):
            return None
        off = idx.storage_offset() - base.storage_offset()
        if off < 0 or off + idx.numel() > base.numel():
            return None
        cached = self._order
        if cached is None or cached[0] is not base or cached[1] != base._version:
            n = len(self)
            order = base
            if base.numel():
                lo, hi = (int(v) for v in torch.aminmax(base))
                if lo < -n or hi >= n:
                    return None  # the per-batch path raises for the batch that holds them
                if lo < 0:
                    order = base % n
            starts = torch.index_select(self._starts_dev, 0, order.to(self._starts_dev.device))
            cached = self._order = (base, base._version, starts)
        return cached[2][off:off + idx.numel()]

    def gather(self, indices) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""Batch for window indices ``indices`` (sequence, array or 1-D tensor)."""
        s = self._order_starts(indices) if isinstance(indices, torch.Tensor) else None
        if s is None:
            s = self._starts_of(indices)
        x, y = _gather(self._src, s, self.num_timesteps_in, self.num_timesteps_out,
                       self._target, self._stats)
        if not self.allow_nan and self._src.kind == "file":
            # cheap test first: a sum is finite unless an entry is NaN/inf (or it overflows)
            if bool(torch.isfinite(x.sum() + y.sum())):
                return x, y
            n_nan = int(torch.isnan(x).sum()) + int(torch.isnan(y).sum())
            n_inf = int(torch.isinf(x).sum()) + int(torch.isinf(y).sum())
            if n_nan or n_inf:
                raise _nonfinite_error(n_nan, n_inf, "This batch of the memory-mapped data")
        return x, y

    def _starts_of(self, indices) -> torch.Tensor:
        r"""Window starts of any batch of indices, checked and moved per call."""
        if isinstance(indices, torch.Tensor):
            idx = indices
        else:  # numpy converts a list of ints ~4 x faster than torch.as_tensor
            arr = np.asarray(indices)
            if arr.dtype.kind in "ui":
                arr = arr.astype(np.int64, copy=False)
            idx = torch.from_numpy(np.ascontiguousarray(arr))
        if idx.numel() and (idx.dtype == torch.bool or idx.is_floating_point()):
            raise ValueError(f"indices must be integers, got dtype {idx.dtype}.")
        idx = idx.long()
        if idx.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {tuple(idx.shape)}.")
        n = len(self)
        if idx.numel():
            lo, hi = (int(v) for v in torch.aminmax(idx))
            if lo < -n or hi >= n:
                raise IndexError(f"index out of range for IndexDataset of length {n}.")
            if lo < 0:
                idx = idx % n
        # index_select: ~4 x less overhead than advanced indexing for a batch
        return torch.index_select(self._starts_dev, 0, idx.to(self._starts_dev.device))

    def __repr__(self) -> str:
        T, N, F = self._src.shape
        return (f"{self.__class__.__name__}(windows={len(self)}, T={T}, N={N}, F={F}, "
                f"in={self.num_timesteps_in}, out={self.num_timesteps_out}, "
                f"source={self._src.kind}, device={self.device})")


