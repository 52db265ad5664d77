r"""Windmill output (small): hourly energy output of 11 windmills."""
from typing import Optional

import numpy as np

from torch_geometric_temporal.dataset._files import PathLike
from torch_geometric_temporal.dataset._static_series import StaticSeriesLoader, upstream_zscore
from torch_geometric_temporal.dataset._upstream_json import load_json, locate_json
from torch_geometric_temporal.dataset.windmill import EPS, check_windmill_json
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

FILENAME = "windmill_output_small.json"
#: Upstream's URL. It no longer answers (upstream 0.56.2's constructor raises
#: ``RuntimeError`` for that reason); a local copy is read instead.
URL = "https://graphmining.ai/temporal_datasets/windmill_output_small.json"


class UpstreamWindmillLoader(StaticSeriesLoader):
    r"""The Windmill Output loaders of upstream's ``graphmining.ai`` files
    (small and medium): ``edges`` ``(E, 2)``, ``weights`` ``(E,)`` and
    ``block`` ``(T, N)`` hourly outputs, standardized per windmill over all
    hours (population std + 1e-10), as upstream. Subclasses name the file,
    the URL and the dataset folder.

    The file is read from :obj:`raw_data_dir` (the folder or the ``.json``
    path), else from the default folder of the dataset
    (:func:`~torch_geometric_temporal.dataset._files.resolve_data_dir`).
    Upstream's URL no longer serves it (upstream 0.56.2 raises
    ``RuntimeError`` in the constructor); with a local copy this loader gives
    upstream's snapshots. The SHA-256 is not pinned (unknown, as the files
    are no longer served): a download, should the URL answer again, is not
    checked. :meth:`get_index_dataset` batches the same standardized series
    (5-tuple, ``x`` and ``y`` ``(B, lags, N, 1)``).
    """

    filename: str = FILENAME
    url: str = URL
    name: str = "windmill_small"
    default_lags = 8

    def __init__(self, raw_data_dir: Optional[PathLike] = None,
                 download: Optional[bool] = None):
        self.path = locate_json(self.filename, self.name, None, raw_data_dir, download,
                                packaged=False, url=self.url)
        self._dataset = load_json(self.path)
        check_windmill_json(self._dataset, str(self.path))

    def _series(self) -> np.ndarray:
        return upstream_zscore(np.stack(self._dataset["block"]), eps=EPS)

    def get_dataset(self, lags: int = 8) -> StaticGraphTemporalSignal:
        r"""The Windmill Output signal: snapshot ``i`` has ``x = S[i:i+lags].T``
        (``(N, lags)``) and ``y = S[i+lags]`` (``(N,)``) of the standardized
        outputs ``S``; ``T - lags`` snapshots, as upstream.

        Args:
            lags (int): the number of time lags.
        """
        return self._signal(self._series(), lags)


class WindmillOutputSmallDatasetLoader(UpstreamWindmillLoader):
    r"""Hourly energy output of windmills from a European country for more
    than 2 years. Vertices represent 11 windmills and weighted edges describe
    the strength of their relationships; the target (next hour's output)
    allows for regression tasks.

    The file ``windmill_output_small.json`` (dataset folder
    ``windmill_small``) is read as :class:`UpstreamWindmillLoader` says.

    Args:
        raw_data_dir (str or Path, optional): folder holding the file, or its path.
        download (bool, optional): allow downloading a missing file
            (default: unless ``PGT_OFFLINE`` is set).
    """
