r"""The window: which time steps a forecasting sample reads.

A sample of a ``(T, N, F)`` series is the window starting at ``s``: inputs
``[s, s + T_in)``, targets ``[s + T_in, s + T_in + T_out)``. This module holds
the arithmetic every mode shares (index-batching, base, Dask, the DDP shard
plan, the baselines): the window starts of a series and their chronological
train / validation / test split, and the checks of window starts.
:class:`WindowSpec` is the one object that knows the window; everything that
cuts windows asks it.

Example::

    spec = WindowSpec(12, 12, target_features=[0])
    train, val, test = spec.split(data.shape[0])   # chronological split of spec.starts(T)
    spec.check(train, data.shape[0])               # int64, non-empty, inside the series
    spec.span                                      # 24 time steps per window
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = ["WindowSpec", "window_starts", "chronological_split", "split_starts"]

Features = Optional[Union[int, Sequence[int], slice]]
Ratio = Sequence[float]


@dataclass(frozen=True)
class WindowSpec:
    r"""The window of a forecasting sample: input length, output length,
    stride between window starts and the target features.

    Window ``s`` reads the inputs ``data[s : s + T_in]`` (all ``F`` features)
    and the targets ``data[s + T_in : s + T_in + T_out, :, target_features]``.

    Args:
        num_timesteps_in (int): input length :math:`T_{in} \geq 1`.
        num_timesteps_out (int): output (horizon) length :math:`T_{out} \geq 0`.
        stride (int): step between consecutive window starts (default ``1``).
        target_features (int, slice or sequence of int, optional): features of
            the targets; ``None`` (default) for all ``F``. A sequence is kept
            as a tuple (the spec is immutable and hashable).
    """

    num_timesteps_in: int
    num_timesteps_out: int
    stride: int = 1
    target_features: Features = None

    def __post_init__(self) -> None:
        t_in = _as_int(self.num_timesteps_in, "num_timesteps_in")
        t_out = _as_int(self.num_timesteps_out, "num_timesteps_out")
        stride = _as_int(self.stride, "stride")
        if t_in < 1:
            raise ValueError(f"num_timesteps_in must be >= 1, got {t_in}.")
        if t_out < 0:
            raise ValueError(f"num_timesteps_out must be >= 0, got {t_out}.")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}.")
        target = self.target_features
        if target is not None and not isinstance(target, (slice, int, np.integer)):
            target = tuple(np.asarray(target).reshape(-1).tolist()) \
                if not isinstance(target, torch.Tensor) else tuple(target.reshape(-1).tolist())
        for name, value in (("num_timesteps_in", t_in), ("num_timesteps_out", t_out),
                            ("stride", stride), ("target_features", target)):
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, window: Union["WindowSpec", int], num_timesteps_out: Optional[int] = None,
           target_features: Features = None) -> "WindowSpec":
        r"""``window`` itself when it is a :class:`WindowSpec`, else the spec
        ``WindowSpec(window, num_timesteps_out, target_features=...)``: lets the
        datasets take either a spec or the upstream ``(T_in, T_out)`` integers.

        Args:
            window (WindowSpec or int): a spec, or the input length.
            num_timesteps_out (int, optional): output length (with an int ``window``).
            target_features (optional): target features (with an int ``window``).
        """
        if isinstance(window, WindowSpec):
            if num_timesteps_out is not None or target_features is not None:
                raise ValueError("Give either a WindowSpec or num_timesteps_in, num_timesteps_out "
                                 "and target_features, not both.")
            return window
        if num_timesteps_out is None:
            raise ValueError("num_timesteps_out is required with an integer num_timesteps_in.")
        return cls(window, num_timesteps_out, target_features=target_features)

    @property
    def span(self) -> int:
        r"""Time steps one window reads: :math:`T_{in} + T_{out}`."""
        return self.num_timesteps_in + self.num_timesteps_out

    def starts(self, num_timesteps: int) -> np.ndarray:
        r"""All window starts of a series of ``num_timesteps`` steps, ``(S,)``
        int64 (see :func:`window_starts`); raises if the window is longer than
        the series."""
        T = _as_int(num_timesteps, "num_timesteps")
        if self.span > T:
            t_in, t_out = self.num_timesteps_in, self.num_timesteps_out
            raise ValueError(
                f"Window horizon num_timesteps_in + num_timesteps_out = {t_in} + {t_out} = "
                f"{self.span} is longer than the series ({T} time steps). Use shorter "
                f"input/output lengths or a longer series.")
        return np.arange(0, T - self.span + 1, self.stride, dtype=np.int64)

    def split(self, num_timesteps: int, ratios: Ratio = (0.7, 0.1, 0.2),
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""``(train, val, test)`` window starts: :func:`chronological_split`
        of :meth:`starts`."""
        return chronological_split(self.starts(num_timesteps), ratios)

    def check(self, starts, num_timesteps: Optional[int], allow_empty: bool = False) -> np.ndarray:
        r"""The one check of window starts: 1-D integers (a torch tensor is
        accepted), non-empty (unless ``allow_empty``), and every window inside
        the series, ``0 <= s`` and ``s + T_in + T_out <= T``.

        Args:
            starts (array-like or torch.Tensor): window starts ``(S,)``.
            num_timesteps (int, optional): length :math:`T` of the series;
                ``None`` when it is not known (e.g. a shard plan): then only
                ``0 <= s`` is checked.
            allow_empty (bool): accept ``S = 0`` (default ``False``: raise).

        Returns:
            ``starts`` as an ``int64`` numpy array ``(S,)`` (no copy if it is one).

        Raises:
            ValueError: what is wrong and how to build valid starts.
        """
        if num_timesteps is not None and self.span > num_timesteps:
            self.starts(num_timesteps)  # raises: the window is longer than the series
        starts = _check_starts_array(starts)
        if len(starts) == 0:
            if allow_empty:
                return starts
            raise ValueError("starts is empty: no windows to serve. Check the split ratios and "
                             "the series length (chronological_split / window_starts).")
        lo, hi = int(starts.min()), int(starts.max())
        if lo < 0 or (num_timesteps is not None and hi + self.span > num_timesteps):
            t_in, t_out = self.num_timesteps_in, self.num_timesteps_out
            raise ValueError(
                f"Window starts must satisfy 0 <= s and s + {t_in} + {t_out} <= T = {num_timesteps}; "
                f"got starts in [{lo}, {hi}]. Build them with window_starts(T, T_in, T_out).")
        return starts

    def target_index(self, num_features: int) -> Optional[Union[slice, torch.Tensor]]:
        r"""The target features of a series with ``num_features`` features as
        ``None`` (all), a ``slice`` or an index tensor; raises if out of range."""
        return _feature_index(self.target_features, num_features, "target_features")

    def num_targets(self, num_features: int) -> int:
        r"""Number :math:`F_y` of target features of a series with ``F`` features."""
        return _num_selected(self.target_index(num_features), num_features)


def window_starts(
    num_timesteps: int,
    num_timesteps_in: int,
    num_timesteps_out: int,
    stride: int = 1,
) -> np.ndarray:
    r"""Start indices of all sliding windows over a series of ``num_timesteps`` steps.

    Window ``s`` covers the inputs ``[s, s + T_in)`` and the targets
    ``[s + T_in, s + T_in + T_out)``; every returned start satisfies
    ``s + T_in + T_out <= T``.

    Args:
        num_timesteps (int): length :math:`T` of the series.
        num_timesteps_in (int): input length :math:`T_{in} \geq 1`.
        num_timesteps_out (int): output (horizon) length :math:`T_{out} \geq 0`,
            independent of :math:`T_{in}`.
        stride (int): step between consecutive window starts (default ``1``).

    Returns:
        :class:`numpy.ndarray` of ``int64``, shape ``(S,)`` with
        :math:`S = \lfloor (T - T_{in} - T_{out}) / \text{stride} \rfloor + 1`.
    """
    return WindowSpec(num_timesteps_in, num_timesteps_out, stride).starts(num_timesteps)


def chronological_split(
    starts: np.ndarray,
    ratios: Sequence[float] = (0.7, 0.1, 0.2),
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Split window starts chronologically into train / validation / test.

    As in PGT-I's ``get_index_dataset`` (and DCRNN): the first
    ``round(S * ratios[0])`` windows are training windows, the last
    ``round(S * ratios[2])`` test windows and the ones in between validation
    windows. Windows are not shuffled before splitting (no look-ahead); as in
    those pipelines, the targets of the last training windows overlap the inputs
    of the first validation windows.

    Args:
        starts (numpy.ndarray): 1-D window starts, e.g. from :func:`window_starts`.
        ratios (sequence of 3 floats): train/val/test fractions, non-negative,
            summing to 1 (default ``(0.7, 0.1, 0.2)``).

    Returns:
        ``(train_starts, val_starts, test_starts)``, each an ``int64`` array
        (a copy, so the splits do not keep ``starts`` alive).
    """
    starts = _check_starts_array(starts)
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3:
        raise ValueError(f"ratios must have 3 entries (train, val, test), got {len(ratios)}.")
    if any(r < 0 or not math.isfinite(r) for r in ratios):
        raise ValueError(f"ratios must be finite and non-negative, got {ratios}.")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(
            f"ratios must sum to 1, got {ratios} (sum {sum(ratios):.6g}). "
            f"Use e.g. (0.7, 0.1, 0.2).")
    S = len(starts)
    n_train = int(round(S * ratios[0]))
    n_test = min(int(round(S * ratios[2])), S - n_train)
    n_val = S - n_train - n_test
    parts = (starts[:n_train], starts[n_train:n_train + n_val], starts[n_train + n_val:])
    for name, part, r in zip(("train", "validation", "test"), parts, ratios):
        if r > 0 and len(part) == 0:
            raise ValueError(
                f"The {name} split is empty ({S} windows, ratios {ratios}). Use a longer "
                f"series, a smaller stride or shorter windows, or larger ratio for {name}.")
    return tuple(p.copy() for p in parts)  # type: ignore[return-value]


def split_starts(num_timesteps: int, num_timesteps_in: int, num_timesteps_out: int,
                 ratio: Ratio) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Window starts of a series of ``num_timesteps`` steps, split
    chronologically into train/val/test by ``ratio``
    (``WindowSpec(num_timesteps_in, num_timesteps_out).split(num_timesteps, ratio)``)."""
    return WindowSpec(num_timesteps_in, num_timesteps_out).split(num_timesteps, ratio)


def _as_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {v!r}.")
    return int(v)


def _check_starts_array(starts) -> np.ndarray:
    if isinstance(starts, torch.Tensor):
        starts = starts.detach().cpu().numpy()
    starts = np.asarray(starts)
    if starts.ndim != 1:
        raise ValueError(f"starts must be 1-D, got shape {starts.shape}.")
    if starts.size and not np.issubdtype(starts.dtype, np.integer):
        raise ValueError(f"starts must be integers, got dtype {starts.dtype}.")
    return starts.astype(np.int64, copy=False)


def _feature_index(features: Features, F: int, name: str) -> Optional[Union[slice, torch.Tensor]]:
    r"""Normalize a feature selection to ``None`` (all), a ``slice`` (view) or an index tensor."""
    if features is None:
        return None
    if isinstance(features, slice):
        idx = np.arange(F)[features]
    else:
        idx = np.atleast_1d(np.asarray(features))
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"{name} must be an int, a slice or a 1-D sequence of ints, got "
                             f"{features!r}.")
        if idx.size and (idx.min() < -F or idx.max() >= F):
            raise ValueError(f"{name} {features!r} out of range for F = {F} features.")
        idx = np.where(idx < 0, idx + F, idx).astype(np.int64)
    if idx.size == 0:
        raise ValueError(f"{name} selects no feature.")
    if len(idx) == F and np.array_equal(idx, np.arange(F)):
        return None
    if np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return torch.as_tensor(idx, dtype=torch.long)


def _num_selected(index: Optional[Union[slice, torch.Tensor]], F: int) -> int:
    r"""Number of features an index from :func:`_feature_index` selects out of ``F``."""
    if index is None:
        return F
    return len(range(F)[index]) if isinstance(index, slice) else index.numel()
