r"""Twitter Tennis: mention graphs of Roland-Garros 2017 and US Open 2017."""
from pathlib import Path
from typing import List, Optional

import numpy as np

from torch_geometric_temporal.dataset._files import (
    PathLike,
    check_array,
    fetch,
    missing_file_error,
    verify_sha256,
)
from torch_geometric_temporal.dataset._json import check_edges, json_array, read_json_dataset
from torch_geometric_temporal.signal import DynamicGraphTemporalSignal

EVENTS = ("rg17", "uo17")
FEATURE_MODES = (None, "diagonal", "encoded")
URL_ROOT = ("https://raw.githubusercontent.com/ferencberes/pytorch_geometric_temporal/"
            "developer/dataset/")
#: SHA-256 of the upstream files (also shipped as package data).
SHA256 = {
    "rg17": "1f9c3501a96881bbc26c899483c3fce73f36081f2df29d91fcd33c6dc4edf9c8",
    "uo17": "1c566bf220272c9a6f8b83161b432a77c9f8973e34f748e1d0c8f6d5ee138579",
}
DATA_DIR = Path(__file__).resolve().parent / "data"
DEGREE_CUTOFF = 4
TRANSITIVITY_BINS = 11


def _one_hot(codes: np.ndarray, width: int, what: str, name: str) -> np.ndarray:
    codes = codes.astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= width):
        raise ValueError(f"{name}: 'X' {what} codes must lie in [0, {width}), found "
                         f"[{codes.min()}, {codes.max()}].")
    out = np.zeros((codes.shape[0], width))
    out[np.arange(codes.shape[0]), codes] = 1.0
    return out


def encode_features(X, log_degree_cutoff: int = DEGREE_CUTOFF, name: str = "X") -> np.ndarray:
    r"""One-hot encode raw ``(N, 2)`` [degree, transitivity] node features:
    ``min(ceil(log(degree + 1)), cutoff)`` in ``cutoff + 1`` columns followed
    by ``floor(10 * transitivity)`` in 11 columns."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, 2)
    degree = np.minimum(np.ceil(np.log(X[:, 0] + 1.0)), log_degree_cutoff)
    transitivity = np.floor(X[:, 1] * 10)
    return np.concatenate((_one_hot(degree, log_degree_cutoff + 1, "degree", name),
                           _one_hot(transitivity, TRANSITIVITY_BINS, "transitivity", name)),
                          axis=1)


class TwitterTennisDatasetLoader(object):
    r"""Twitter mention graphs of two major tennis tournaments of 2017
    (`"Temporal Walk Based Centrality Metric for Graph Streams"
    <https://doi.org/10.1007/s41109-018-0080-5>`_), as made public with
    PyTorch Geometric Temporal. Nodes are the 1000 most popular Twitter
    accounts, edges are mentions between them in an hourly snapshot; the
    target of a node is ``log(1 + mentions received)`` :obj:`target_offset`
    snapshots later (the last snapshot repeats at the end). Roland-Garros
    2017 has 120 snapshots, US Open 2017 has 112.

    The files ship with the package, so nothing is downloaded by default.
    Given :obj:`raw_data_dir`, ``<raw_data_dir>/twitter_tennis_<event_id>.json``
    (or the ``.json`` file itself) is read instead; it is downloaded from
    upstream only when missing and downloads are allowed.

    Args:
        event_id (str): ``"rg17"`` (Roland-Garros 2017) or ``"uo17"`` (US
            Open 2017).
        N (int, optional): keep only the ``N`` most popular nodes (ids
            ``< N``) and the edges among them; ``None`` keeps all 1000.
        feature_mode (str, optional): ``None``: raw ``(N, 2)`` [degree,
            transitivity] features; ``"encoded"``: their one-hot encoding,
            ``(N, 16)``; ``"diagonal"``: the identity matrix ``(N, N)``.
        target_offset (int): how many snapshots ahead the targets are.
        raw_data_dir (str or Path, optional): folder holding the file, or the
            file's path. ``None`` reads the package data.
        download (bool, optional): download a missing file; ``None``: unless
            ``PGT_OFFLINE`` is set.
    """

    def __init__(self, event_id: str = "rg17", N: Optional[int] = None,
                 feature_mode: Optional[str] = "encoded", target_offset: int = 1,
                 raw_data_dir: Optional[PathLike] = None, download: Optional[bool] = None):
        if event_id not in EVENTS:
            raise ValueError("Invalid 'event_id'! Choose 'rg17' or 'uo17' to load the "
                             "Roland-Garros 2017 or the USOpen 2017 Twitter tennis dataset "
                             f"respectively (got {event_id!r}).")
        if feature_mode not in FEATURE_MODES:
            raise ValueError("Choose feature_mode from values [None, 'diagonal', 'encoded'] "
                             f"(got {feature_mode!r}).")
        if isinstance(target_offset, bool) or not isinstance(target_offset, (int, np.integer)) \
                or target_offset < 0:
            raise ValueError(f"target_offset must be an integer >= 0, got {target_offset!r}.")
        if N is not None and (isinstance(N, bool) or not isinstance(N, (int, np.integer))
                              or N < 1):
            raise ValueError(f"N must be None or an integer >= 1, got {N!r}.")
        self.event_id = event_id
        self.N = N
        self.feature_mode = feature_mode
        self.target_offset = target_offset
        self.filename = f"twitter_tennis_{event_id}.json"
        self.url = URL_ROOT + self.filename
        self.path = self._locate(raw_data_dir, download)
        self._dataset = read_json_dataset(self.path)
        self._check()

    def _locate(self, raw_data_dir: Optional[PathLike], download: Optional[bool]) -> Path:
        sha256 = SHA256[self.event_id]
        if raw_data_dir is None:
            path = DATA_DIR / self.filename
            if not path.is_file():  # pragma: no cover - broken install
                raise missing_file_error(path, self.url, "package data not installed")
            verify_sha256(path, sha256)
            return path
        path = Path(raw_data_dir).expanduser().resolve()
        if path.suffix != ".json":
            path = path / self.filename
        return fetch(path, self.url, download, sha256=sha256)

    def _check(self) -> None:
        name = str(self.path)
        data = self._dataset
        if not isinstance(data, dict) or "time_periods" not in data:
            raise ValueError(f"{name} has no 'time_periods' entry; expected the Twitter Tennis "
                             "JSON layout {'time_periods', '0': {'edges', 'weights', 'X', 'y'}, "
                             "...}.")
        periods = data["time_periods"]
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
            raise ValueError(f"{name}: entry 'time_periods' must be a positive integer, "
                             f"got {periods!r}.")
        self._snapshots = []
        for time in range(periods):
            key = str(time)
            snap = data.get(key)
            if not isinstance(snap, dict):
                raise ValueError(f"{name} has no snapshot entry {key!r} (time_periods is "
                                 f"{periods}).")
            where = f"{name} snapshot {key!r}"
            X = json_array(snap, "X", where, np.float64)
            check_array(X, f"{where} 'X'", (None, 2), kind="f")
            num_nodes = X.shape[0]
            y = json_array(snap, "y", where, np.float64)
            check_array(y, f"{where} 'y'", (num_nodes,), kind="f")
            edges = json_array(snap, "edges", where)
            if edges.size == 0:  # a snapshot without mentions
                edges = edges.reshape(0, 2).astype(np.int64)
            check_edges(edges, num_nodes, where)
            weights = json_array(snap, "weights", where, np.float64).reshape(-1)
            if weights.shape[0] != edges.shape[0]:
                raise ValueError(f"{where}: entry 'weights' has {weights.shape[0]} values for "
                                 f"{edges.shape[0]} edges.")
            self._snapshots.append((edges, weights, X, y))

    def _get_edges(self) -> None:
        self.edges: List[np.ndarray] = []
        self.edge_indices = []
        for edges, _, _, _ in self._snapshots:
            if self.N is not None:
                keep = np.where((edges[:, 0] < self.N) & (edges[:, 1] < self.N))
                edges = edges[keep]
                self.edge_indices.append(keep)
            self.edges.append(edges.T)

    def _get_edge_weights(self) -> None:
        self.edge_weights: List[np.ndarray] = []
        for i, (_, weights, _, _) in enumerate(self._snapshots):
            if self.N is not None:
                weights = weights[self.edge_indices[i]]
            self.edge_weights.append(weights)

    def _get_features(self) -> None:
        self.features: List[np.ndarray] = []
        for time, (_, _, X, _) in enumerate(self._snapshots):
            if self.N is not None:
                X = X[:self.N]
            if self.feature_mode == "diagonal":
                X = np.identity(X.shape[0])
            elif self.feature_mode == "encoded":
                X = encode_features(X, name=f"{self.path} snapshot '{time}'")
            self.features.append(X)

    def _get_targets(self) -> None:
        self.targets: List[np.ndarray] = []
        T = len(self._snapshots)
        for time in range(T):
            y = self._snapshots[min(time + self.target_offset, T - 1)][3]
            y = np.log(1.0 + y)  # targets: log-transformed future in-degrees
            if self.N is not None:
                y = y[:self.N]
            self.targets.append(y)

    def get_dataset(self) -> DynamicGraphTemporalSignal:
        r"""The selected Twitter Tennis signal, one snapshot per hour:
        ``edge_index`` ``(2, E_t)``, ``edge_weight`` ``(E_t,)`` mention
        counts, ``x`` per :obj:`feature_mode` and ``y`` ``(N,)``."""
        self._get_edges()
        self._get_edge_weights()
        self._get_features()
        self._get_targets()
        return DynamicGraphTemporalSignal(self.edges, self.edge_weights, self.features,
                                          self.targets)
