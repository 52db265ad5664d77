r"""Chickenpox Hungary: weekly county-level chickenpox cases, 2004-2014."""
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

from torch_geometric_temporal.dataset._files import (
    PathLike,
    check_array,
    fetch,
    missing_file_error,
    verify_sha256,
)
from torch_geometric_temporal.dataset._json import check_edges, json_array, read_json_dataset
from torch_geometric_temporal.dataset.loader_base import WindowedDatasetLoader
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

FILENAME = "chickenpox.json"
URL = ("https://raw.githubusercontent.com/benedekrozemberczki/pytorch_geometric_temporal/"
       "master/dataset/chickenpox.json")
#: SHA-256 of the upstream file (also shipped as package data).
SHA256 = "724b48cfb274b2ecbb855bdb99b970b5ef9dd3671694fa477435dc1e08293735"
PACKAGE_FILE = Path(__file__).resolve().parent / "data" / FILENAME


class ChickenpoxDatasetLoader(WindowedDatasetLoader):
    r"""A dataset of county level chicken pox cases in Hungary between 2004
    and 2014, made public with PyTorch Geometric Temporal
    (`"PyTorch Geometric Temporal: Spatiotemporal Signal Processing with
    Neural Machine Learning Models" <https://arxiv.org/abs/2104.07788>`_).
    The graph is static: 20 counties, 102 directed neighbourhood edges. The
    series ``FX`` holds ``T = 521`` weekly (already standardized) case counts.

    By default the file shipped with the package is read, so nothing is
    downloaded. Given :obj:`raw_data_dir`, ``<raw_data_dir>/chickenpox.json``
    (or the ``.json`` file itself) is read instead; it is downloaded from the
    upstream GitHub repository only when missing and :obj:`download` is set.

    Args:
        raw_data_dir (str or Path, optional): folder holding
            ``chickenpox.json``, or the path of the file. ``None`` reads the
            package data.
        index (bool): accepted for upstream compatibility; both
            :meth:`get_dataset` and :meth:`get_index_dataset` always work.
        download (bool): download a missing file from :obj:`URL`.
    """

    normalize = False  # ``FX`` is already standardized upstream.
    default_lags = 4
    default_batch_size = 4
    returns_stats = False  # upstream: (train, val, test, edges, edge_weights)

    def __init__(self, raw_data_dir: Optional[PathLike] = None, index: bool = False,
                 download: bool = False):
        if isinstance(raw_data_dir, bool):  # upstream's positional ChickenpoxDatasetLoader(index)
            raw_data_dir, index = None, raw_data_dir
        self.index = index
        self.path = self._locate(raw_data_dir, download)
        self._dataset = read_json_dataset(self.path)
        self._check()

    @staticmethod
    def _locate(raw_data_dir: Optional[PathLike], download: bool) -> Path:
        if raw_data_dir is None:
            if not PACKAGE_FILE.is_file():  # pragma: no cover - broken install
                raise missing_file_error(PACKAGE_FILE, URL, "package data not installed")
            verify_sha256(PACKAGE_FILE, SHA256)
            return PACKAGE_FILE
        path = Path(raw_data_dir).expanduser().resolve()
        if path.suffix != ".json":
            path = path / FILENAME
        return fetch(path, URL, download, sha256=SHA256)

    def _check(self) -> None:
        name = str(self.path)
        for key in ("edges", "FX"):
            if key not in self._dataset:
                raise ValueError(f"{name} has no {key!r} entry; expected the Chickenpox JSON "
                                 f"layout {{'edges', 'node_ids', 'FX'}}.")
        fx = json_array(self._dataset, "FX", name, np.float64)
        check_array(fx, f"{name} 'FX'", (None, None), kind="f")
        check_edges(json_array(self._dataset, "edges", name), fx.shape[1], name)

    def _get_edges(self) -> None:
        self._edges = np.array(self._dataset["edges"]).T

    def _get_edge_weights(self) -> None:
        self._edge_weights = np.ones(self._edges.shape[1])

    def _get_targets_and_features(self) -> None:
        stacked = np.array(self._dataset["FX"])
        lags, horizon = self.lags, self.num_timesteps_out
        steps = range(stacked.shape[0] - lags - horizon + 1)
        self.features = [stacked[i:i + lags, :].T for i in steps]
        if horizon == 1:  # upstream: one week ahead, y of shape (N,)
            self.targets = [stacked[i + lags, :].T for i in steps]
        else:
            self.targets = [stacked[i + lags:i + lags + horizon, :].T for i in steps]

    def get_dataset(self, lags: int = 4, num_timesteps_out: int = 1
                    ) -> StaticGraphTemporalSignal:
        r"""The Chickenpox Hungary signal.

        Snapshot ``i`` has ``x = FX[i:i+lags].T`` of shape ``(20, lags)`` and
        ``y = FX[i+lags]`` of shape ``(20,)`` (upstream semantics, ``T - lags``
        snapshots); with :obj:`num_timesteps_out` ``> 1`` (sequence to
        sequence) ``y = FX[i+lags:i+lags+num_timesteps_out].T`` of shape
        ``(20, num_timesteps_out)``.

        Args:
            lags (int): number of input weeks.
            num_timesteps_out (int): number of target weeks.
        """
        if lags < 1 or num_timesteps_out < 1:
            raise ValueError(f"lags and num_timesteps_out must be >= 1, got {lags}, "
                             f"{num_timesteps_out}.")
        self.lags = lags
        self.num_timesteps_out = num_timesteps_out
        self._get_edges()
        self._get_edge_weights()
        self._get_targets_and_features()
        return StaticGraphTemporalSignal(self._edges, self._edge_weights, self.features,
                                         self.targets)

    def read_data(self, mmap: bool = False) -> np.ndarray:
        r"""The series as a float32 ``(T, N, 1)`` array."""
        return np.asarray(self._dataset["FX"], dtype=np.float32)[..., None]

    def read_graph(self) -> Tuple[torch.Tensor, torch.Tensor]:
        r"""``(edge_index (2, E) long, edge_weight (E,) float ones)``."""
        edges = torch.tensor(self._dataset["edges"], dtype=torch.int64).T.contiguous()
        return edges, torch.ones(edges.shape[1], dtype=torch.float)
