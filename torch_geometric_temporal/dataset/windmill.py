r"""Windmill output (large): hourly energy output of 319 windmills."""
from types import MappingProxyType
from typing import Optional, Tuple

import numpy as np
import torch

from torch_geometric_temporal.dataset._files import (
    PathLike,
    check_array,
    check_edge_weights,
)
from torch_geometric_temporal.dataset.loader_base import (
    Ratio,
    WindowedDatasetLoader,
    as_float32_tensor,
)
from torch_geometric_temporal.dataset._json import check_edges, json_array, read_json_dataset
from torch_geometric_temporal.dataset._upstream_json import locate_json
from torch_geometric_temporal.dataset.scaling import Scaler
from torch_geometric_temporal.dataset.windows import WindowSpec
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

FILENAME = "windmill_output.json"
#: Argonne Box link used by upstream PGT-I.
URL = "https://anl.app.box.com/shared/static/wgwb75lt3ty3pv5a15y9bilx1mjhcq59"
#: Added to the per-windmill std, as upstream.
EPS = 1e-10


def check_windmill_json(dataset: dict, name: str) -> None:
    r"""Check a parsed Windmill Output file (large, medium or small): ``edges``
    ``(E, 2)`` ids in ``[0, N)``, finite non-negative ``weights`` ``(E,)``,
    ``block`` ``(T, N)`` of numbers.

    Raises:
        ValueError: naming the file (:obj:`name`) and the entry.
    """
    for key in ("edges", "weights", "block"):
        if key not in dataset:
            raise ValueError(f"{name} has no {key!r} entry; expected the Windmill JSON "
                             f"layout {{'edges', 'weights', 'block'}}.")
    block = json_array(dataset, "block", name, np.float64)
    check_array(block, f"{name} 'block'", (None, None), kind="f")
    edges = check_edges(json_array(dataset, "edges", name), block.shape[1], name)
    weights = json_array(dataset, "weights", name, np.float64)
    check_array(weights, f"{name} 'weights'", (edges.shape[0],), kind="f")
    check_edge_weights(weights, f"{name} 'weights'")


class WindmillOutputLargeDatasetLoader(WindowedDatasetLoader):
    r"""Hourly energy output of windmills from a European country for more
    than 2 years (upstream: 319 windmills, 17,472 hours). Vertices are
    windmills, weighted edges the strength of their relationships; the target
    is the next hour's output (regression).

    File (upstream layout): ``windmill_output.json`` with ``edges`` ``(E, 2)``,
    ``weights`` ``(E,)`` and ``block`` ``(T, N)``. Each windmill's series is
    z-scored (std + 1e-10, as upstream) with statistics of the training
    period only (the steps read by the first ``ratio[0]`` of the windows),
    never the test period.

    Args:
        raw_data_dir (str or Path, optional): folder holding the file (or the
            file's path); default: the first of
            ``$PGT_DATA_DIR/windmill_large``, upstream's ``./data`` and
            ``~/.cache/torch_geometric_temporal/windmill_large`` holding
            ``windmill_output.json``.
        index (bool): accepted for upstream compatibility.
        download (bool, optional): allow downloading a missing file (default:
            unless ``PGT_OFFLINE`` is set).
    """

    name = "windmill_large"
    #: Per windmill, every step of the training period once, std + 1e-10 (upstream).
    scaling = MappingProxyType({"per": "node", "weighting": "steps", "eps": EPS})
    default_lags = 8

    def __init__(self, raw_data_dir: Optional[PathLike] = None, index: bool = False,
                 download: Optional[bool] = None):
        self.index = index
        self.path = locate_json(FILENAME, self.name, None, raw_data_dir, download,
                                packaged=False, url=URL)
        self.raw_data_dir = self.path.parent
        self._dataset = read_json_dataset(self.path)
        self._check()

    def _check(self) -> None:
        check_windmill_json(self._dataset, str(self.path))

    # -- data --------------------------------------------------------------
    def read_data(self, mmap: bool = False) -> np.ndarray:
        r"""The raw series as a float32 ``(T, N, 1)`` array."""
        return np.asarray(self._dataset["block"], dtype=np.float32)[..., None]

    def read_graph(self) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""``(edge_index (2, E) long, edge_weight (E,) float)``."""
        edges = torch.tensor(self._dataset["edges"], dtype=torch.int64).T.contiguous()
        return edges, torch.tensor(self._dataset["weights"], dtype=torch.float)

    # -- upstream API --------------------------------------------------------
    def get_dataset(self, lags: int = 8, ratio: Ratio = (0.7, 0.1, 0.2)
                    ) -> StaticGraphTemporalSignal:
        r"""The Windmill Output signal: snapshot ``i`` has ``x`` of shape
        ``(N, lags)`` (standardized steps ``i..i+lags-1``) and ``y`` of shape
        ``(N,)`` (step ``i+lags``), ``T - lags`` snapshots as upstream.

        The statistics are those of ``get_index_dataset(lags, ratio=ratio)``
        (:meth:`training_scaler`): the same training period, so the index
        window starting at ``i`` holds exactly snapshot ``i``'s values.

        Args:
            lags (int): number of input hours.
            ratio (tuple): train/val/test fractions of the index windows; the
                statistics come from the steps of the training windows.
        """
        data = self.read_data()
        scaler = self.training_scaler(data, lags, ratio)
        series = scaler.transform_(as_float32_tensor(data))[..., 0].numpy()  # (T, N)
        steps = range(series.shape[0] - lags)
        features = [series[i:i + lags, :].T for i in steps]
        targets = [series[i + lags, :].T for i in steps]
        edges = np.array(self._dataset["edges"]).T
        weights = np.array(self._dataset["weights"]).T
        return StaticGraphTemporalSignal(edges, weights, features, targets)

    def training_scaler(self, data: np.ndarray, lags: int, ratio: Ratio = (0.7, 0.1, 0.2)
                        ) -> Scaler:
        r"""The one set of training statistics of both paths: those
        ``get_index_dataset(lags, ratio=ratio)`` fits (windows of :obj:`lags`
        input and :obj:`lags` output hours), per windmill over every step of
        the training windows' inputs once.

        Args:
            data (numpy.ndarray): the raw ``(T, N, 1)`` series (:meth:`read_data`).
            lags (int): the input (and output) length of the index windows.
            ratio (tuple): train/val/test fractions.
        """
        window = WindowSpec(lags, lags)
        return self.fit_scaler(data, window.split(data.shape[0], ratio)[0], window)
