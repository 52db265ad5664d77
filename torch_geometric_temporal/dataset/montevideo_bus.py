r"""Montevideo Bus: hourly passenger inflow at the bus stops of 11 lines, October 2020."""
from typing import List, Optional, Tuple

import numpy as np

from torch_geometric_temporal.dataset._files import PathLike
from torch_geometric_temporal.dataset._static_series import StaticSeriesLoader, upstream_zscore
from torch_geometric_temporal.dataset._upstream_json import UPSTREAM_URL, load_json, locate_json
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

FILENAME = "montevideo_bus.json"
URL = UPSTREAM_URL + FILENAME
#: SHA-256 of the upstream file (3.1 MB; not shipped with the package).
SHA256 = "37d9c6286d474077b5c05173c1570c4da42c387013116daa8862c7a6cab86a75"


class MontevideoBusDatasetLoader(StaticSeriesLoader):
    r"""Hourly passenger inflow at bus-stop level for 11 bus lines of
    Montevideo (Uruguay) in October 2020, curated from the open data of the
    city's Metropolitan Transportation System. Vertices are bus stops (675),
    edges (690) link consecutive stops of a line, weighted by road distance.
    The target is the standardized passenger inflow.

    The file is not shipped with the package (3.1 MB): it is read from
    ``<raw_data_dir>/montevideo_bus.json`` (or the ``.json`` path itself);
    without :obj:`raw_data_dir`, from the first of
    ``$PGT_DATA_DIR/montevideo_bus``, upstream's ``./data`` and
    ``~/.cache/torch_geometric_temporal/montevideo_bus`` holding it. A missing file is
    downloaded from :obj:`URL` (upstream's) only when downloads are allowed.

    :meth:`get_index_dataset` batches upstream's default signal (feature
    and target ``"y"``, standardized per stop over all hours): upstream
    PGT-I's 5-tuple, ``x`` and ``y`` of shape ``(B, lags, 675, 1)``,
    ``lags = 4`` by default.

    Args:
        raw_data_dir (str or Path, optional): folder holding the file, or its path.
        download (bool, optional): allow downloading a missing file
            (default: unless ``PGT_OFFLINE`` is set).
    """

    default_lags = 4

    def __init__(self, raw_data_dir: Optional[PathLike] = None,
                 download: Optional[bool] = None):
        self.path = locate_json(FILENAME, "montevideo_bus", SHA256, raw_data_dir, download,
                                packaged=False)
        self._dataset = load_json(self.path)
        self._check()

    def _check(self) -> None:
        name = str(self.path)
        for key in ("nodes", "links"):
            if not isinstance(self._dataset.get(key), list):
                raise ValueError(f"{name} has no {key!r} list; expected the Montevideo Bus "
                                 f"JSON layout {{'nodes': [...], 'links': [...]}}.")
        for i, node in enumerate(self._dataset["nodes"]):
            for key in ("bus_stop", "y", "X"):
                if not isinstance(node, dict) or key not in node:
                    raise ValueError(f"{name}: 'nodes[{i}]' has no {key!r} entry.")
        stops = {node["bus_stop"] for node in self._dataset["nodes"]}
        for i, link in enumerate(self._dataset["links"]):
            for key in ("source", "target", "weight"):
                if not isinstance(link, dict) or key not in link:
                    raise ValueError(f"{name}: 'links[{i}]' has no {key!r} entry.")
            for key in ("source", "target"):
                if link[key] not in stops:
                    raise ValueError(f"{name}: 'links[{i}]/{key}' = {link[key]!r} is not the "
                                     f"'bus_stop' of any node.")

    def _series_of(self, values: list, what: str) -> np.ndarray:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{self.path}: {what} are not equal-length series of numbers "
                             f"({error}).") from error
        if array.ndim != 2:
            raise ValueError(f"{self.path}: {what} are not equal-length series of numbers.")
        return array.T  # (T, columns)

    def _get_node_ids(self) -> List:
        return [node.get("bus_stop") for node in self._dataset["nodes"]]

    def _get_edges(self) -> None:
        ids = {stop: i for i, stop in enumerate(self._get_node_ids())}
        self._edges = np.array([(ids[link["source"]], ids[link["target"]])
                                for link in self._dataset["links"]]).T

    def _get_edge_weights(self) -> None:
        self._edge_weights = np.array([link["weight"] for link in self._dataset["links"]]).T

    def _series(self) -> np.ndarray:
        return upstream_zscore(self._series_of([node["y"] for node in self._dataset["nodes"]],
                                               "'nodes[*]/y'"))

    def _graph(self) -> Tuple[np.ndarray, np.ndarray]:
        self._get_edges()
        self._get_edge_weights()
        return self._edges, self._edge_weights

    def _get_features(self, feature_vars: List[str] = ["y"]) -> None:
        columns = []
        for i, node in enumerate(self._dataset["nodes"]):
            for var in feature_vars:
                if not isinstance(node["X"], dict) or var not in node["X"]:
                    raise ValueError(f"{self.path}: 'nodes[{i}]/X' has no {var!r} entry "
                                     f"(feature_vars).")
                columns.append(node["X"][var])
        stacked = upstream_zscore(self._series_of(columns, f"'nodes[*]/X' {feature_vars}"))
        self.features = [stacked[i:i + self.lags, :].T
                         for i in range(len(stacked) - self.lags)]

    def _get_targets(self, target_var: str = "y") -> None:
        columns = []
        for i, node in enumerate(self._dataset["nodes"]):
            if target_var not in node:
                raise ValueError(f"{self.path}: 'nodes[{i}]' has no {target_var!r} entry "
                                 f"(target_var).")
            columns.append(node[target_var])
        stacked = upstream_zscore(self._series_of(columns, f"'nodes[*]/{target_var}'"))
        self.targets = [stacked[i + self.lags, :].T for i in range(len(stacked) - self.lags)]

    def get_dataset(self, lags: int = 4, target_var: str = "y",
                    feature_vars: List[str] = ["y"]) -> StaticGraphTemporalSignal:
        r"""The Montevideo Bus inflow signal: snapshot ``i`` has
        ``x = F[i:i+lags].T`` (``(675 * len(feature_vars), lags)``, columns
        node-major as upstream) and ``y = Y[i+lags]`` (``(675,)``), each
        series standardized per column over all hours; ``T - lags`` snapshots.

        Args:
            lags (int): the number of time lags.
            target_var (str): the node entry holding the target series.
            feature_vars (list of str): the entries of each node's ``X``
                used as features.
        """
        if lags < 1:
            raise ValueError(f"lags must be >= 1, got {lags}.")
        self.lags = lags
        self._get_edges()
        self._get_edge_weights()
        self._get_features(feature_vars)
        self._get_targets(target_var)
        return StaticGraphTemporalSignal(self._edges, self._edge_weights, self.features,
                                         self.targets)
