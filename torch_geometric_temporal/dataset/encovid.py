r"""England Covid: daily COVID-19 cases and mobility between England NUTS3 regions."""
from typing import Optional

import numpy as np

from torch_geometric_temporal.dataset._files import PathLike, check_array
from torch_geometric_temporal.dataset._json import json_array
from torch_geometric_temporal.dataset._upstream_json import UPSTREAM_URL, load_json, locate_json
from torch_geometric_temporal.signal import DynamicGraphTemporalSignal

FILENAME = "england_covid.json"
URL = UPSTREAM_URL + FILENAME
#: SHA-256 of the upstream file (also shipped as package data).
SHA256 = "497056cc4585b58951fd5cd17554fe0c535f68ea0c907a5b5727ae30e3913450"


class EnglandCovidDatasetLoader(object):
    r"""A dataset of mobility and reported COVID-19 cases in England's NUTS3
    regions, 3 March to 12 May 2020 (`"Transfer Graph Neural Networks for
    Pandemic Forecasting" <https://arxiv.org/abs/2009.08388>`_). The graph is
    directed, weighted and changes every day (people moving between
    regions). Node features are the standardized case counts of the past
    ``lags`` days; the target is the next day's (standardized) count.

    By default the file shipped with the package is read (nothing is
    downloaded). Given :obj:`raw_data_dir`, ``<raw_data_dir>/england_covid.json``
    (or the ``.json`` file itself) is read, downloaded from :obj:`URL` only
    when missing and downloads are allowed.

    Args:
        raw_data_dir (str or Path, optional): folder holding the file, or its path.
        download (bool, optional): allow downloading a missing file
            (default: unless ``PGT_OFFLINE`` is set).
    """

    def __init__(self, raw_data_dir: Optional[PathLike] = None,
                 download: Optional[bool] = None):
        self.path = locate_json(FILENAME, "england_covid", SHA256, raw_data_dir, download,
                                packaged=True)
        self._dataset = load_json(self.path)
        self._check()

    def _check(self) -> None:
        name = str(self.path)
        for key in ("time_periods", "edge_mapping", "y"):
            if key not in self._dataset:
                raise ValueError(f"{name} has no {key!r} entry; expected the England Covid JSON "
                                 f"layout {{'edge_mapping', 'time_periods', 'y'}}.")
        periods = self._dataset["time_periods"]
        if not isinstance(periods, int) or periods < 1:
            raise ValueError(f"{name}: entry 'time_periods' must be a positive integer, "
                             f"got {periods!r}.")
        y = json_array(self._dataset, "y", name, np.float64)
        check_array(y, f"{name} 'y'", (None, None), kind="f")
        if y.shape[0] < periods:
            raise ValueError(f"{name}: entry 'y' has {y.shape[0]} rows, fewer than "
                             f"'time_periods' = {periods}.")
        mapping = self._dataset["edge_mapping"]
        for key in ("edge_index", "edge_weight"):
            if not isinstance(mapping, dict) or key not in mapping:
                raise ValueError(f"{name}: entry 'edge_mapping' has no {key!r} entry.")
        for time in range(periods):
            for key in ("edge_index", "edge_weight"):
                if str(time) not in mapping[key]:
                    raise ValueError(f"{name}: entry 'edge_mapping/{key}' has no key "
                                     f"'{time}' (one per time period).")

    def _get_edges(self) -> None:
        mapping = self._dataset["edge_mapping"]["edge_index"]
        self._edges = [np.array(mapping[str(time)]).T
                       for time in range(self._dataset["time_periods"] - self.lags)]

    def _get_edge_weights(self) -> None:
        mapping = self._dataset["edge_mapping"]["edge_weight"]
        self._edge_weights = [np.array(mapping[str(time)])
                              for time in range(self._dataset["time_periods"] - self.lags)]

    def _get_targets_and_features(self) -> None:
        stacked = np.array(self._dataset["y"])
        standardized = (stacked - np.mean(stacked, axis=0)) / (np.std(stacked, axis=0) + 1e-10)
        steps = range(self._dataset["time_periods"] - self.lags)
        self.features = [standardized[i:i + self.lags, :].T for i in steps]
        self.targets = [standardized[i + self.lags, :].T for i in steps]

    def get_dataset(self, lags: int = 8) -> DynamicGraphTemporalSignal:
        r"""The England Covid signal: ``time_periods - lags`` snapshots;
        snapshot ``i`` has the day-``i`` mobility graph, ``x`` the
        standardized cases of days ``i .. i+lags-1`` (``(129, lags)``) and
        ``y`` those of day ``i+lags`` (``(129,)``); the series is standardized
        per region over all days, as upstream.

        Args:
            lags (int): the number of time lags.
        """
        periods = self._dataset["time_periods"]
        if lags < 1 or lags >= periods:
            raise ValueError(f"lags must be in [1, {periods}), got {lags}.")
        self.lags = lags
        self._get_edges()
        self._get_edge_weights()
        self._get_targets_and_features()
        return DynamicGraphTemporalSignal(self._edges, self._edge_weights, self.features,
                                          self.targets)
