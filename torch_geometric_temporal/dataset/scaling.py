r"""Z-score scaling fitted on the training windows: the one :class:`Scaler`.

A :class:`Scaler` is fitted on the training slice only (the inputs of the
training windows, never the validation or test period), standardizes the
series in place (:meth:`Scaler.transform_`) or at gather time (memory-mapped
series, through :class:`~torch_geometric_temporal.dataset.index_batching.IndexDataset`),
and is the single place that inverts the standardization of the targets
(:meth:`Scaler.inverse`), so the trainer never guesses statistics from shapes.

Statistics are kept per feature (``mean``/``std`` of shape ``(F,)``: traffic)
or per node and feature (``(N, F)``: Windmill). They are weighted sums over
the time steps the training windows read: with ``weighting="windows"`` (the
default) step :math:`t` counts once per training window whose input covers
it, so the statistics equal those of the materialized training inputs; with
``weighting="steps"`` every covered step counts once (upstream Windmill).

Example::

    spec = WindowSpec(12, 12, target_features=[0])
    train, val, test = spec.split(data.shape[0])
    scaler = Scaler.fit(data, train, spec)            # statistics of the training inputs
    scaler.transform_(data)                           # in place, chunked
    ...
    speed = scaler.inverse(pred, features=0)          # (B, T, N) back to data units
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from torch_geometric_temporal.dataset._source import ArrayLike, _from_numpy, _nonfinite_error, _Source
from torch_geometric_temporal.dataset.windows import Features, WindowSpec, _feature_index

__all__ = ["Scaler", "fit_statistics", "standardize_", "training_weights"]

log = logging.getLogger(__name__)

#: What the statistics are kept per: ``"feature"`` ``(F,)`` or ``"node"`` ``(N, F)``.
PER = ("feature", "node")
#: How covered time steps are weighted: per training window or once.
WEIGHTINGS = ("windows", "steps")


# ---------------------------------------------------------------------------
# The one weighted-moments definition (in memory, on a GPU, or per Dask chunk)
# ---------------------------------------------------------------------------
def training_weights(train_starts: np.ndarray, num_timesteps_in: int, num_timesteps: int,
                     weighting: str = "windows") -> Tuple[int, int, np.ndarray]:
    r"""Weights of the time steps the training windows read as input.

    Args:
        train_starts (numpy.ndarray): checked training window starts ``(S,)``.
        num_timesteps_in (int): input length :math:`T_{in}`.
        num_timesteps (int): length :math:`T` of the series.
        weighting (str): ``"windows"``: :math:`w_t = |\{s: s \le t < s + T_{in}\}|`,
            the number of training windows whose input covers step :math:`t`;
            ``"steps"``: :math:`w_t = 1` for every covered step.

    Returns:
        ``(lo, hi, w)``: the covered rows ``[lo, hi)`` and their ``float64``
        weights ``w`` of shape ``(hi - lo,)`` (``0`` for rows in no window).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}.")
    diff = np.zeros(num_timesteps + 1, dtype=np.int64)  # difference array of the coverage
    np.add.at(diff, train_starts, 1)
    np.add.at(diff, train_starts + num_timesteps_in, -1)
    lo, hi = int(train_starts.min()), int(train_starts.max()) + num_timesteps_in
    w = np.cumsum(diff[:num_timesteps])[lo:hi]
    if weighting == "steps":
        w = w > 0
    return lo, hi, w.astype(np.float64)


def _reduce(x: Tensor, w: Tensor, per: str) -> Tensor:
    r"""``sum_t w_t x_t`` of a ``(t, N, k)`` chunk: summed over the nodes too
    (``(k,)``) per feature, kept per node (``(N, k)``) otherwise."""
    if per == "feature":
        return (x.sum(dim=1) * w[:, None]).sum(0)  # no BLAS: no extra buffers
    return (x * w[:, None, None]).sum(0)


def _shift(x: Tensor, per: str, allow_nan: bool) -> Tensor:
    r"""A rough mean of a first chunk, subtracted before summing (exact shifted sums)."""
    dims = (0, 1) if per == "feature" else (0,)
    shift = torch.nanmean(x, dim=dims) if allow_nan else x.mean(dim=dims)
    return torch.nan_to_num(shift, nan=0.0, posinf=0.0, neginf=0.0)


def _sums(x: Tensor, w: Tensor, shift: Tensor, per: str, allow_nan: bool) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Weighted shifted sums ``(s1, s2, count)`` of one fresh ``float64``
    chunk ``x`` ``(t, N, k)`` (overwritten) with row weights ``w`` ``(t,)``."""
    x.sub_(shift)
    if allow_nan:
        valid = ~torch.isnan(x)
        x.masked_fill_(~valid, 0.0)
        count = _reduce(valid.to(torch.float64), w, per)
    else:
        n = x.shape[1] if per == "feature" else 1  # exact: integer sums in float64
        count = (w.sum() * n).expand(x.shape[2] if per == "feature" else x.shape[1:]).clone()
    return _reduce(x, w, per), _reduce(x.square_(), w, per), count


def _finish(s1: Tensor, s2: Tensor, count: Tensor, shift: Tensor, fit: np.ndarray, shape: Tuple[int, ...],
            unbiased: bool, eps: float, dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    r"""``(mean, std)`` of shape ``shape`` (``(F,)`` or ``(N, F)``) from the
    sums of the fitted features ``fit``; the others get ``0`` and ``1``."""
    if bool((count == 0).any()):
        raise ValueError("A fitted feature has no valid (non-NaN) training value.")
    m1 = s1 / count
    var = torch.clamp(s2 / count - m1 * m1, min=0.0)
    if unbiased:
        var = var * count / torch.clamp(count - 1, min=1.0)
    mean = torch.zeros(shape, dtype=torch.float64)
    std = torch.ones(shape, dtype=torch.float64)
    idx = torch.as_tensor(fit)
    mean[..., idx] = (m1 + shift).cpu()
    fitted = var.sqrt().cpu() + eps
    constant = (fitted == 0).reshape(-1, len(fit)).any(0).numpy()
    if constant.any():
        log.warning("fit_statistics: features %s are constant over the training inputs; "
                    "using std = 1 for them.", fit[constant].tolist())
        fitted[fitted == 0] = 1.0
    std[..., idx] = fitted
    return mean.to(dtype), std.to(dtype)


def _fitted_features(features: Features, F: int, name: str = "features") -> np.ndarray:
    r"""The selected features (``None``: all) as an index array ``(k,)``."""
    fsel = _feature_index(features, F, name)
    return np.arange(F) if fsel is None else np.arange(F)[fsel if isinstance(fsel, slice) else fsel.numpy()]


def _check_per(per: str) -> str:
    if per not in PER:
        raise ValueError(f"per must be one of {PER}, got {per!r}.")
    return per


# ---------------------------------------------------------------------------
# Statistics in the layout of the data (gather time and in place)
# ---------------------------------------------------------------------------
def _stats_for(mean, std, F: int, dtype: torch.dtype, device, num_nodes: Optional[int] = None
               ) -> Tuple[Tensor, Tensor]:
    r"""Statistics checked and cast for data of ``F`` features: ``(F,)`` (a
    single value or one per feature) or, with ``num_nodes``, ``(N, F)``."""
    mean = torch.as_tensor(mean).to(device=device, dtype=dtype)
    std = torch.as_tensor(std).to(device=device, dtype=dtype)
    node_shape = None if num_nodes is None else (num_nodes, F)
    if mean.dim() == 2 and tuple(mean.shape) == node_shape and tuple(std.shape) == node_shape:
        out = mean.contiguous(), std.contiguous()
    else:
        mean, std = mean.reshape(-1), std.reshape(-1)
        if mean.numel() not in (1, F) or std.numel() not in (1, F):
            raise ValueError(f"mean and std must have F = {F} entries (or 1"
                             + ("" if node_shape is None else f", or shape {node_shape}")
                             + f"), got {mean.numel()} and {std.numel()}.")
        out = mean.expand(F).contiguous(), std.expand(F).contiguous()
    if bool((out[1] == 0).any()):
        raise ValueError("std contains zeros; fit_statistics replaces zero std by 1, do the same.")
    return out


class _RowStats:
    r"""Statistics tiled to rows of ``N * F`` values, for x and (target) y.

    Standardizing ``t.view(-1, N * F)`` with a tiled ``(N * F,)`` row applies the
    same IEEE float ops to every element as broadcasting the ``(F,)`` (or
    ``(N, F)``) statistics (so the same bits), but with a long contiguous inner
    loop: about 10 x faster than broadcasting over ``F = 2``.
    """

    def __init__(self, mean: Tensor, std: Tensor, N: int, target: Optional[Union[slice, Tensor]]):
        self.mean, self.std = mean, std
        F = mean.shape[-1]
        m, s = mean.expand(N, F), std.expand(N, F)
        self.x = (m.reshape(-1).contiguous(), s.reshape(-1).contiguous())
        if target is None:
            self.y = self.x
        else:
            t = target if isinstance(target, slice) else target.to(mean.device)
            self.y = (m[:, t].reshape(-1).contiguous(), s[:, t].reshape(-1).contiguous())

    @staticmethod
    def apply_(t: Tensor, row: Tuple[Tensor, Tensor]) -> Tensor:
        if t.numel() and t.is_contiguous():
            t.view(-1, row[0].numel()).sub_(row[0]).div_(row[1])
        elif t.numel():  # same ops, broadcast over the (N * F) trailing elements
            shape = t.shape[-2:]
            t.sub_(row[0].view(shape)).div_(row[1].view(shape))
        return t


# ---------------------------------------------------------------------------
# The scaler
# ---------------------------------------------------------------------------
class Scaler:
    r"""Z-score scaler: :math:`z = (x - \mu) / \sigma`, fitted on the training
    windows (:meth:`fit`), applied in place (:meth:`transform_`) or at gather
    time, and inverted for the targets (:meth:`inverse`).

    Args:
        mean (Tensor): ``(F,)`` per feature or ``(N, F)`` per node.
        std (Tensor): same shape as ``mean``, no zeros.
        per (str): ``"feature"`` or ``"node"``, naming the shape of the statistics.
        target_features (int, slice or sequence of int, optional): the data
            features of the targets ``y`` (``None``: all), as in
            :class:`~torch_geometric_temporal.dataset.windows.WindowSpec`.
        identity (bool): the data is used as it is (``mean = 0``, ``std = 1``):
            :meth:`transform_` and gather-time scaling do nothing.

    Shapes:
        - **transform_ / transform**: ``(..., N, F)`` (or ``(..., F)`` per feature).
        - **inverse**: ``(..., N, F_y)``, or ``(..., N)`` for one feature.
    """

    def __init__(self, mean: Tensor, std: Tensor, per: str = "feature", target_features: Features = None,
                 identity: bool = False):
        self.per = _check_per(per)
        if mean is None or std is None:
            raise ValueError("Scaler needs both mean and std; for data used as it is take "
                             "Scaler.identity_for(num_features).")
        self.mean, self.std = torch.as_tensor(mean), torch.as_tensor(std)
        want = 1 if per == "feature" else 2
        if self.mean.dim() != want or self.mean.shape != self.std.shape:
            raise ValueError(f"per={per!r} needs mean and std of one shape "
                             f"{'(F,)' if want == 1 else '(N, F)'}, got {tuple(self.mean.shape)} and "
                             f"{tuple(self.std.shape)}.")
        if target_features is not None and not isinstance(target_features, (int, slice)):
            target_features = tuple(int(f) for f in np.asarray(target_features).reshape(-1))
        self.target_features = target_features  # as WindowSpec keeps it: None, int, slice or tuple
        #: the data features of y's channels, in order (checked against F here, once)
        self._targets = tuple(_fitted_features(target_features, self.mean.shape[-1], "target_features").tolist())
        self.identity = bool(identity)
        self._on: Dict[tuple, Tensor] = {}  # statistics already moved, per (feature, device, dtype)

    # -- construction ------------------------------------------------------
    @classmethod
    def fit(cls, data: ArrayLike, train_starts: np.ndarray, spec: WindowSpec, per: str = "feature", *,
            weighting: str = "windows", eps: float = 0.0, features: Features = None, unbiased: bool = False,
            allow_nan: bool = False, dtype: torch.dtype = torch.float32) -> "Scaler":
        r"""Fit on the inputs of the training windows of ``data``.

        One pass over the covered rows in ``float64`` chunks (shifted sums
        for numerical stability) on the data's device; no full-size copy,
        memory-mapped sources are read with ``pread``. With the default
        ``per="feature"``, ``weighting="windows"`` the result equals
        ``X.mean((0, 1, 2))`` and ``X.std((0, 1, 2))`` of the materialized
        training inputs ``X = materialize_windows(data, train_starts, T_in, 0)[0]``.

        Args:
            data (numpy.ndarray, numpy.memmap or torch.Tensor): ``(T, N, F)`` floating array.
            train_starts (numpy.ndarray): training window starts.
            spec (WindowSpec): the window (its input length and target features).
            per (str): ``"feature"`` (statistics ``(F,)``) or ``"node"`` (``(N, F)``).
            weighting (str): ``"windows"`` or ``"steps"``, see :func:`training_weights`.
            eps (float): added to every fitted std (Windmill: ``1e-10``).
            features (int, slice or sequence of int, optional): features to fit;
                the others get ``mean = 0`` and ``std = 1`` so scaling leaves
                them unchanged bit for bit (e.g. time of day). Default: all.
            unbiased (bool): Bessel-corrected std instead of the population std.
            allow_nan (bool): ignore NaN entries instead of raising ``ValueError``.
            dtype (torch.dtype): dtype of the statistics (default ``float32``).

        Returns:
            A :class:`Scaler` with CPU statistics. A fitted std of exactly 0
            (constant feature) is replaced by 1 with a logged warning.
        """
        per = _check_per(per)
        src = _Source(data)
        T, N, F = src.shape
        t_in = spec.num_timesteps_in
        starts = WindowSpec(t_in, 0).check(train_starts, T)  # the inputs of the training windows
        if not src.dtype.is_floating_point:
            raise ValueError(f"data must be floating point for statistics, got {src.dtype}.")
        fit = _fitted_features(features, F)
        lo, hi, w_np = training_weights(starts, t_in, T, weighting)
        dev = src.device
        w_all = torch.from_numpy(w_np).to(dev)
        fit_t = torch.as_tensor(fit, device=dev)
        shift, sums = None, None
        step = src.chunk_rows(8)
        for a in range(lo, hi, step):
            b = min(a + step, hi)
            x, w = src.rows(a, b), w_all[a - lo:b - lo]
            keep = w > 0
            if not bool(keep.all()):  # rows in no training window (stride > T_in): skip them
                x, w = x[keep], w[keep]  # (so NaN there is not an error either)
                if w.numel() == 0:
                    continue
            x = (x if len(fit) == F else x.index_select(2, fit_t)).to(torch.float64, copy=True)
            if shift is None:
                shift = _shift(x, per, allow_nan)
            part = _sums(x, w, shift, per, allow_nan)
            if sums is None:
                sums = part
            else:
                for total, p in zip(sums, part):
                    total.add_(p)
        s1, s2, count = sums
        if not bool(torch.isfinite(s2).all()):
            n_nan, n_inf = src.count_nonfinite(lo, hi)
            if not (n_nan and allow_nan and not n_inf):
                raise _nonfinite_error(n_nan, n_inf, "The training part of data")
        shape = (F,) if per == "feature" else (N, F)
        mean, std = _finish(s1, s2, count, shift, fit, shape, unbiased, eps, dtype)
        return cls(mean, std, per, spec.target_features)

    @classmethod
    def identity_for(cls, num_features: int, target_features: Features = None) -> "Scaler":
        r"""The scaler of data used as it is (``mean = 0``, ``std = 1`` per feature)."""
        return cls(torch.zeros(num_features), torch.ones(num_features), "feature", target_features, identity=True)

    # -- applying ------------------------------------------------------------
    def gather_stats(self) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        r"""``(mean, std)`` for a dataset that standardizes at gather time
        (``IndexDataset(..., mean=, std=)``); ``(None, None)`` for the identity."""
        return (None, None) if self.identity else (self.mean, self.std)

    def transform_(self, data: ArrayLike) -> ArrayLike:
        r"""Standardize ``data`` ``(T, N, F)`` in place, chunked over time (no
        second full-size array), with the arithmetic of the gather (the
        statistics cast to the data dtype, then ``sub_`` and ``div_``).

        Args:
            data (numpy.ndarray or torch.Tensor): writable floating array (a
                ``numpy.memmap`` opened with ``mode="r+"`` writes through).

        Returns:
            ``data`` (the same object).
        """
        if self.identity:
            return data
        return _standardize(data, self.mean, self.std, self.per == "node")

    def transform(self, x: Tensor, features: Optional[Union[int, Sequence[int]]] = None) -> Tensor:
        r"""Standardized copy of ``x``.

        Args:
            x (Tensor): values in data units.
            features (int or sequence of int, optional): the data features
                ``x`` holds: ``None`` all ``F`` on the last axis (``(..., N, F)``,
                the layout of the inputs); a sequence: those on the last axis;
                an ``int``: that one feature, without a feature axis (``(..., N)``).
        """
        mean, std = self._cast(tuple(range(self.mean.shape[-1])) if features is None else features, x)
        return (x - mean) / std

    def target_feature(self, channel: int) -> int:
        r"""The data feature of the target channel ``channel`` of ``y``."""
        return self._targets[channel]

    def inverse(self, x: Tensor, features: Optional[Union[int, Sequence[int]]] = None) -> Tensor:
        r"""Map standardized values back to data units: :math:`x \sigma + \mu`.

        Args:
            x (Tensor): standardized values.
            features (int or sequence of int, optional): the data features
                ``x`` holds. ``None``: the target features, on the last axis
                (``x`` shaped like the targets ``y``, ``(..., N, F_y)``); a
                sequence: those features on the last axis; an ``int``: that
                one feature, ``x`` without a feature axis (``(..., N)``).
        """
        mean, std = self._cast(features, x)
        return x * std + mean

    def _cast(self, features, x: Tensor) -> Tuple[Tensor, Tensor]:
        r"""Statistics of ``features`` on ``x``'s device and dtype, moved there
        once (not per batch), shaped to broadcast against ``x``."""
        key = (features if isinstance(features, (int, type(None))) else tuple(features), x.device, x.dtype)
        cached = self._on.get(key)
        if cached is None or cached[0] is not self.mean or cached[1] is not self.std:
            idx = features if isinstance(features, int) else torch.as_tensor(
                list(self._targets if features is None else features), dtype=torch.long)
            mean, std = self.mean[..., idx], self.std[..., idx]
            cached = self._on[key] = (self.mean, self.std, mean.to(device=x.device, dtype=x.dtype),
                                      std.to(device=x.device, dtype=x.dtype))
        return cached[2], cached[3]

    # -- state -----------------------------------------------------------------
    def to(self, device: Union[str, torch.device]) -> "Scaler":
        r"""A scaler with its statistics on ``device``."""
        return Scaler(self.mean.to(device), self.std.to(device), self.per, self.target_features, self.identity)

    def state_dict(self) -> Dict[str, Any]:
        r"""``{"mean", "std", "per", "target_features", "identity"}`` (CPU tensors)."""
        return {"mean": self.mean.cpu(), "std": self.std.cpu(), "per": self.per,
                "target_features": self.target_features,
                "identity": self.identity}

    @classmethod
    def from_state_dict(cls, state: Dict[str, Any]) -> "Scaler":
        r"""The scaler saved by :meth:`state_dict`."""
        return cls(state["mean"], state["std"], state["per"], state.get("target_features"),
                   bool(state.get("identity", False)))

    def upstream_stats(self) -> Tuple[Tensor, Tensor]:
        r"""``(means, stds)`` as upstream PGT-I's loaders return them: ``(F,)``
        per feature; per node ``(N,)`` for a single-feature series (Windmill's
        per-windmill statistics), ``(N, F)`` otherwise."""
        if self.per == "node" and self.mean.shape[-1] == 1:
            return self.mean[:, 0], self.std[:, 0]
        return self.mean, self.std

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(per={self.per!r}, shape={tuple(self.mean.shape)}, "
                f"target_features={self.target_features!r}{', identity' if self.identity else ''})")


def _standardize(data: ArrayLike, mean, std, per_node: bool) -> ArrayLike:
    src = _Source(data)
    if isinstance(data, np.ndarray) and not data.flags.writeable:
        raise ValueError(
            "standardize_ needs writable data, got a read-only array (e.g. np.load(..., "
            "mmap_mode='r')). Pass mean=..., std=... to IndexDataset to standardize at "
            "gather time instead, or open the memmap with mmap_mode='r+'.")
    if not src.dtype.is_floating_point:
        raise ValueError(f"standardize_ needs floating point data, got {src.dtype}.")
    t = data if isinstance(data, torch.Tensor) else _from_numpy(data)
    T, N, F = src.shape
    stats = _RowStats(*_stats_for(mean, std, F, t.dtype, t.device, N if per_node else None), N, None)
    step = src.chunk_rows(t.element_size())
    for a in range(0, T, step):
        _RowStats.apply_(t[a:a + step], stats.x)
    if isinstance(data, np.memmap):
        data.flush()
    return data


# ---------------------------------------------------------------------------
# Public functions (API kept): thin wrappers over Scaler
# ---------------------------------------------------------------------------
def fit_statistics(
    data: ArrayLike,
    train_starts: np.ndarray,
    num_timesteps_in: int,
    features: Features = None,
    unbiased: bool = False,
    allow_nan: bool = False,
    dtype: torch.dtype = torch.float32,
) -> Tuple[Tensor, Tensor]:
    r"""Per-feature z-score statistics of the materialized training *input*
    windows: ``(mean, std)`` of :meth:`Scaler.fit` with ``per="feature"``.

    Args:
        data (numpy.ndarray, numpy.memmap or torch.Tensor): ``(T, N, F)`` array.
        train_starts (numpy.ndarray): training window starts.
        num_timesteps_in (int): input length :math:`T_{in}`.
        features (int, slice or sequence of int, optional): features to fit
            (the others get ``mean = 0``, ``std = 1``). Default: all.
        unbiased (bool): Bessel-corrected std. Default ``False``.
        allow_nan (bool): ignore NaN entries instead of raising. Default ``False``.
        dtype (torch.dtype): dtype of the returned tensors (default ``float32``).

    Returns:
        ``(mean, std)``, CPU tensors of shape ``(F,)``.
    """
    scaler = Scaler.fit(data, train_starts, WindowSpec(num_timesteps_in, 0), features=features,
                        unbiased=unbiased, allow_nan=allow_nan, dtype=dtype)
    return scaler.mean, scaler.std


def standardize_(data: ArrayLike, mean, std) -> ArrayLike:
    r"""Z-score ``data`` in place: ``data = (data - mean) / std`` per feature
    (:meth:`Scaler.transform_`), with the arithmetic :class:`IndexDataset`
    applies at gather time, so both give bit-identical batches.

    Args:
        data (numpy.ndarray or torch.Tensor): writable ``(T, N, F)`` floating array.
        mean, std (tensor or array, shape ``(F,)``): e.g. from :func:`fit_statistics`.

    Returns:
        ``data`` (the same object).
    """
    return _standardize(data, mean, std, per_node=False)
