r"""The base of the loaders of one regular series on a static graph whose
values upstream standardizes (or not) before cutting the windows: PedalMe,
Montevideo Bus, WikiMaths, Windmill Output small and medium.

Upstream's ``get_dataset(lags)`` snapshot ``i`` holds ``x = S[i:i+lags].T``
``(N, lags)`` and ``y = S[i+lags]`` ``(N,)`` of a ``(T, N)`` series ``S``
already standardized as upstream does (over the whole series, in float64).
Index-batching (:meth:`~WindowedDatasetLoader.get_index_dataset`) serves the
same ``S`` as a float32 ``(T, N, 1)`` array, used as it is, so an index window
starting at ``i`` holds exactly the values of snapshot ``i``: ``x[:, :, 0].T ==
snapshot.x`` and ``y[0, :, 0] == snapshot.y`` (tests/dataset/test_static_series.py).
"""
from typing import Tuple

import numpy as np
import torch

from torch_geometric_temporal.dataset.loader_base import WindowedDatasetLoader
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

__all__ = ["StaticSeriesLoader", "upstream_zscore"]


def upstream_zscore(stacked: np.ndarray, eps: float = 0.0) -> np.ndarray:
    r"""Upstream's standardization of a ``(T, N)`` series: per column over all
    ``T`` steps, population std (plus :obj:`eps`), in float64; a constant
    column without :obj:`eps` gives NaN, as upstream."""
    stacked = np.asarray(stacked, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (stacked - np.mean(stacked, axis=0)) / (np.std(stacked, axis=0) + eps)


class StaticSeriesLoader(WindowedDatasetLoader):
    r"""A static graph and one ``(T, N)`` series (see the module docstring).

    Subclasses define :meth:`_series` (the values upstream's snapshots hold)
    and, unless the file has ``edges`` and ``weights`` entries, :meth:`_graph`;
    :meth:`_signal` builds upstream's
    :class:`StaticGraphTemporalSignal`. :meth:`get_index_dataset` returns
    upstream PGT-I's 5-tuple ``(train, val, test, edges, edge_weights)`` by
    default, with batches ``x`` ``(B, lags, N, 1)`` and ``y``
    ``(B, lags, N, 1)`` of the series as :meth:`_series` gives it.
    """

    #: The series is standardized as upstream's ``get_dataset`` does, before
    #: the windows are cut: :meth:`load` uses it as it is.
    normalize = False
    returns_stats = False

    def _series(self) -> np.ndarray:  # pragma: no cover - abstract
        r"""The ``(T, N)`` series of upstream's snapshots."""
        raise NotImplementedError

    def _graph(self) -> Tuple[np.ndarray, np.ndarray]:
        r"""``(edges (2, E), edge_weights (E,))`` as upstream's numpy arrays,
        from the common layout's ``edges`` ``(E, 2)`` and ``weights`` ``(E,)``
        entries of the parsed file ``self._dataset``."""
        return np.array(self._dataset["edges"]).T, np.array(self._dataset["weights"]).T

    def _signal(self, series: np.ndarray, lags: int) -> StaticGraphTemporalSignal:
        r"""Upstream's snapshots of :obj:`series`: ``T - lags`` of them."""
        if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) \
                or not 1 <= lags < len(series):
            raise ValueError(f"lags must be an integer in [1, {len(series)}) (the series has "
                             f"{len(series)} steps), got {lags!r}.")
        self.lags = int(lags)
        steps = range(len(series) - self.lags)
        self.features = [series[i:i + self.lags, :].T for i in steps]
        self.targets = [series[i + self.lags, :].T for i in steps]
        self._edges, self._edge_weights = self._graph()
        return StaticGraphTemporalSignal(self._edges, self._edge_weights, self.features,
                                         self.targets)

    def read_data(self, mmap: bool = False) -> np.ndarray:
        r"""The series of the snapshots as a float32 ``(T, N, 1)`` array."""
        return np.asarray(self._series(), dtype=np.float32)[..., None]

    def read_graph(self) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""``(edge_index (2, E) long, edge_weight (E,) float)``."""
        edges, weights = self._graph()
        return (torch.as_tensor(np.asarray(edges), dtype=torch.int64).contiguous(),
                torch.as_tensor(np.asarray(weights), dtype=torch.float))
