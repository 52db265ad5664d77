r"""WikiMaths: daily visits of the vital mathematics articles of Wikipedia, 2019-2021."""
from typing import Optional

import numpy as np

from torch_geometric_temporal.dataset._files import PathLike, check_array, check_edge_weights
from torch_geometric_temporal.dataset._json import check_edges, json_array
from torch_geometric_temporal.dataset._static_series import StaticSeriesLoader, upstream_zscore
from torch_geometric_temporal.dataset._upstream_json import UPSTREAM_URL, load_json, locate_json
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

FILENAME = "wikivital_mathematics.json"
URL = UPSTREAM_URL + FILENAME
#: Not pinned: the upstream file was not available when this loader was
#: written, so its SHA-256 is unknown and a download is not checked.
SHA256: Optional[str] = None


class WikiMathsDatasetLoader(StaticSeriesLoader):
    r"""A dataset of vital mathematics articles from Wikipedia, made public
    with PyTorch Geometric Temporal (`"PyTorch Geometric Temporal:
    Spatiotemporal Signal Processing with Neural Machine Learning Models"
    <https://arxiv.org/abs/2104.07788>`_). The graph is static, directed and
    weighted: vertices are Wikipedia pages (1,068), edges links between them
    weighted by the number of links from source to target page. The target
    is the daily number of visits between March 16th 2019 and March 15th
    2021 (731 days), standardized per page over all days as upstream.

    File (upstream layout): ``wikivital_mathematics.json`` with ``edges``
    ``(E, 2)``, ``weights`` ``(E,)``, ``time_periods`` ``T`` and, per day
    ``"0"`` .. ``"T-1"``, an object whose ``y`` holds the ``N`` visit counts.
    It is not shipped with the package: it is read from
    ``<raw_data_dir>/wikivital_mathematics.json`` (or the ``.json`` path
    itself); without :obj:`raw_data_dir`, from the default folder of dataset
    ``wikimath`` (:func:`~torch_geometric_temporal.dataset._files.resolve_data_dir`).
    A missing file is downloaded from :obj:`URL` (upstream's) only when
    downloads are allowed; its SHA-256 is not pinned (:obj:`SHA256`).

    Args:
        raw_data_dir (str or Path, optional): folder holding the file, or its path.
        download (bool, optional): allow downloading a missing file
            (default: unless ``PGT_OFFLINE`` is set).
    """

    default_lags = 8

    def __init__(self, raw_data_dir: Optional[PathLike] = None,
                 download: Optional[bool] = None):
        self.path = locate_json(FILENAME, "wikimath", SHA256, raw_data_dir, download,
                                packaged=False, url=URL)
        self._dataset = load_json(self.path)
        self._check()

    def _check(self) -> None:
        name = str(self.path)
        periods = self._dataset.get("time_periods")
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 2:
            raise ValueError(f"{name}: entry 'time_periods' must be the number of days (an "
                             f"integer >= 2), got {periods!r}; expected the WikiMaths JSON "
                             f"layout {{'edges', 'weights', 'time_periods', '0': {{'y'}}, ...}}.")
        for time in range(periods):
            day = self._dataset.get(str(time))
            if not isinstance(day, dict) or "y" not in day:
                raise ValueError(f"{name}: entry {str(time)!r} has no 'y' (the day's visits); "
                                 f"'time_periods' is {periods}, so days '0'..'{periods - 1}' "
                                 f"must all be present.")
        visits = self._stacked()
        edges = check_edges(json_array(self._dataset, "edges", name), visits.shape[1], name)
        weights = json_array(self._dataset, "weights", name, np.float64)
        check_array(weights, f"{name} 'weights'", (edges.shape[0],), kind="f")
        check_edge_weights(weights, f"{name} 'weights'")

    def _stacked(self) -> np.ndarray:
        days = {"y": [self._dataset[str(t)]["y"] for t in range(self._dataset["time_periods"])]}
        visits = json_array(days, "y", f"{self.path} (the days' 'y')", np.float64)
        check_array(visits, f"{self.path} 'y' of the days", (None, None), kind="f")
        return visits

    def _series(self) -> np.ndarray:
        return upstream_zscore(self._stacked())

    def get_dataset(self, lags: int = 8) -> StaticGraphTemporalSignal:
        r"""The Wikipedia Vital Mathematics signal: snapshot ``i`` has
        ``x = S[i:i+lags].T`` (``(N, lags)``) and ``y = S[i+lags]`` (``(N,)``)
        of the standardized visits ``S`` (per page, over all days, as
        upstream); ``T - lags`` snapshots.

        Args:
            lags (int): the number of time lags.
        """
        return self._signal(self._series(), lags)
