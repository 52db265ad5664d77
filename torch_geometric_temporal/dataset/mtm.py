r"""MTM-1: Methods-Time Measurement hand motions as 21 3D hand keypoints per video frame."""
from typing import Optional

import numpy as np

from torch_geometric_temporal.dataset._files import PathLike
from torch_geometric_temporal.dataset._json import check_edges, json_array
from torch_geometric_temporal.dataset._upstream_json import UPSTREAM_URL, load_json, locate_json
from torch_geometric_temporal.signal import StaticGraphTemporalSignal

FILENAME = "mtm_1.json"
URL = UPSTREAM_URL + FILENAME
#: Not pinned: the upstream file was not available when this loader was
#: written, so its SHA-256 is unknown and a download is not checked.
SHA256: Optional[str] = None
#: Hand keypoints (MediaPipe Hands), the JSON entries ``"0"`` .. ``"20"``.
NUM_JOINTS = 21


def _xyz(value: object, where: str) -> list:
    r"""A keypoint string ``"(x, y, z)"`` as three floats."""
    try:
        xyz = [float(v) for v in value.strip("()").split(",")]
    except (AttributeError, ValueError) as error:
        raise ValueError(f"{where} = {value!r} is not a keypoint string '(x, y, z)' "
                         f"({error}).") from error
    if len(xyz) != 3:
        raise ValueError(f"{where} = {value!r} has {len(xyz)} coordinates, expected 3 '(x, y, z)'.")
    return xyz


class MTMDatasetLoader:
    r"""A dataset of `Methods-Time Measurement-1
    <https://en.wikipedia.org/wiki/Methods-time_measurement>`_ (MTM-1)
    motions, as consecutive video frames of 21 3D hand keypoints acquired
    with `MediaPipe Hands <https://google.github.io/mediapipe/solutions/hands.html>`_
    from RGB video. Vertices are the finger joints, edges the bones between
    them. Every frame is labeled with one of the five MTM-1 motions (Grasp,
    Release, Move, Reach, Position) or a negative class (no hand): a
    classification of :math:`T` consecutive frames. ``x`` has shape
    ``(3, 21, T)``, the target is one-hot ``(T, C)`` (upstream's encoding
    ``{0: Grasp, 1: Move, 2: Negative, 3: Position, 4: Reach, 5: Release}``,
    ``C`` = the largest label + 1).

    File (upstream layout): ``mtm_1.json`` with ``edges`` ``(E, 2)``, per
    joint ``"0"`` .. ``"20"`` an object mapping each frame to the string
    ``"(x, y, z)"``, and ``LABEL`` mapping each frame to its class. It is not
    shipped with the package: it is read from ``<raw_data_dir>/mtm_1.json``
    (or the ``.json`` path itself), else from the default folder of dataset
    ``mtm``; a missing file is downloaded from :obj:`URL` (upstream's) only
    when downloads are allowed; its SHA-256 is not pinned (:obj:`SHA256`).

    There is no ``get_index_dataset``: the windows are not forecasts of a
    series (``x`` and ``y`` cover the same frames, ``y`` holds labels, not
    future values of ``x``), so index-batching's ``(x, y)`` of consecutive
    input and output periods does not apply.

    Args:
        raw_data_dir (str or Path, optional): folder holding the file, or its path.
        download (bool, optional): allow downloading a missing file
            (default: unless ``PGT_OFFLINE`` is set).
    """

    def __init__(self, raw_data_dir: Optional[PathLike] = None,
                 download: Optional[bool] = None):
        self.path = locate_json(FILENAME, "mtm", SHA256, raw_data_dir, download,
                                packaged=False, url=URL)
        self._dataset = load_json(self.path)
        self._check()

    def _check(self) -> None:
        name = str(self.path)
        for key in [str(j) for j in range(NUM_JOINTS)] + ["LABEL"]:
            if not isinstance(self._dataset.get(key), dict):
                raise ValueError(f"{name} has no {key!r} object; expected the MTM-1 JSON layout "
                                 f"{{'edges', '0': {{frame: '(x, y, z)'}}, ..., '20', "
                                 f"'LABEL': {{frame: class}}}}.")
        frames = len(self._dataset["0"])
        for key in [str(j) for j in range(1, NUM_JOINTS)] + ["LABEL"]:
            if len(self._dataset[key]) != frames:
                raise ValueError(f"{name}: entry {key!r} has {len(self._dataset[key])} frames, "
                                 f"entry '0' has {frames}; every joint and 'LABEL' need one "
                                 f"value per frame.")
        labels = json_array({"LABEL": list(self._dataset["LABEL"].values())}, "LABEL", name)
        if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
            raise ValueError(f"{name}: entry 'LABEL' must hold class ids (integers >= 0).")
        check_edges(json_array(self._dataset, "edges", name), NUM_JOINTS, name)

    def _get_edges(self) -> None:
        self._edges = np.array(self._dataset["edges"]).T

    def _get_edge_weights(self) -> None:
        self._edge_weights = np.ones(len(self._dataset["edges"]), dtype=np.int64)

    def _get_features(self) -> None:
        frames = len(self._dataset["0"])
        features = np.zeros((frames, NUM_JOINTS, 3))
        for j in range(NUM_JOINTS):
            for t, xyz in enumerate(self._dataset[str(j)].values()):  # file order, as upstream
                features[t, j, :] = _xyz(xyz, f"{self.path}: entry '{j}' frame {t}")
        self.features = [features[i:i + self.frames, :].T
                         for i in range(len(features) - self.frames)]

    def _get_targets(self) -> None:
        labels = list(self._dataset["LABEL"].values())
        one_hot = np.eye(max(labels) + 1)[labels]
        self.targets = [one_hot[i:i + self.frames, :] for i in range(len(one_hot) - self.frames)]

    def get_dataset(self, frames: int = 16) -> StaticGraphTemporalSignal:
        r"""The MTM-1 motion signal: snapshot ``i`` has ``x`` of shape
        ``(3, 21, frames)`` (the keypoints of frames ``i..i+frames-1``) and
        ``y`` of shape ``(frames, C)`` (their one-hot labels); one snapshot
        per start ``i < T - frames``, as upstream.

        Args:
            frames (int): the number of consecutive frames :math:`T`.
        """
        total = len(self._dataset["0"])
        if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) \
                or not 1 <= frames < total:
            raise ValueError(f"frames must be an integer in [1, {total}) (the file has {total} "
                             f"frames), got {frames!r}.")
        self.frames = int(frames)
        self._get_edges()
        self._get_edge_weights()
        self._get_features()
        self._get_targets()
        return StaticGraphTemporalSignal(self._edges, self._edge_weights, self.features,
                                         self.targets)
