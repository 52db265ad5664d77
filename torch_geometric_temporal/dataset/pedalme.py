r"""PedalMe London: weekly bicycle delivery demand in London localities."""
from typing import Optional

import numpy as np

from torch_geometric_temporal.dataset._files import PathLike, check_array
from torch_geometric_temporal.dataset._json import check_edges, json_array
from torch_geometric_temporal.dataset._static_series import StaticSeriesLoader
from torch_geometric_temporal.dataset._upstream_json import UPSTREAM_URL, load_json, locate_json
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

FILENAME = "pedalme_london.json"
URL = UPSTREAM_URL + FILENAME
#: SHA-256 of the upstream file (also shipped as package data).
SHA256 = "8c42b893441901fb805c4f0f937543d5bb9297884ac3dec7622a3e9f7c35a79b"


class PedalMeDatasetLoader(StaticSeriesLoader):
    r"""A dataset of PedalMe bicycle delivery orders in London between 2020
    and 2021, made public with PyTorch Geometric Temporal. The graph is
    static: 15 localities, 225 weighted spatial connections. Node features
    are lagged weekly delivery counts; the target is the next week's count.

    By default the file shipped with the package is read (nothing is
    downloaded). Given :obj:`raw_data_dir`, ``<raw_data_dir>/pedalme_london.json``
    (or the ``.json`` file itself) is read, downloaded from :obj:`URL` only
    when missing and downloads are allowed.

    :meth:`get_index_dataset` batches the same series (raw counts, as
    upstream's snapshots hold them): upstream PGT-I's 5-tuple, ``x`` and ``y``
    of shape ``(B, lags, 15, 1)``, ``lags = 4`` by default.

    Args:
        raw_data_dir (str or Path, optional): folder holding the file, or its path.
        download (bool, optional): allow downloading a missing file
            (default: unless ``PGT_OFFLINE`` is set).
    """

    default_lags = 4

    def __init__(self, raw_data_dir: Optional[PathLike] = None,
                 download: Optional[bool] = None):
        self.path = locate_json(FILENAME, "pedalme", SHA256, raw_data_dir, download,
                                packaged=True)
        self._dataset = load_json(self.path)
        self._check()

    def _check(self) -> None:
        name = str(self.path)
        x = json_array(self._dataset, "X", name, np.float64)
        check_array(x, f"{name} 'X'", (None, None), kind="f")
        edges = check_edges(json_array(self._dataset, "edges", name), x.shape[1], name)
        weights = json_array(self._dataset, "weights", name, np.float64)
        if weights.shape != (edges.shape[0],):
            raise ValueError(f"{name}: entry 'weights' has shape {weights.shape}, expected "
                             f"({edges.shape[0]},) (one weight per edge in 'edges').")

    def _series(self) -> np.ndarray:
        return np.array(self._dataset["X"])

    def get_dataset(self, lags: int = 4) -> StaticGraphTemporalSignal:
        r"""The PedalMe London demand signal: snapshot ``i`` has
        ``x = X[i:i+lags].T`` (``(15, lags)``) and ``y = X[i+lags]``
        (``(15,)``), ``T - lags`` snapshots.

        Args:
            lags (int): the number of time lags.
        """
        return self._signal(self._series(), lags)
