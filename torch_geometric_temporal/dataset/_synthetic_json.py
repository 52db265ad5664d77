r"""Writers of synthetic files in the JSON formats of upstream's loaders
whose files are not available offline: WikiMaths, MTM-1 and Windmill Output
small and medium (re-exported by :mod:`torch_geometric_temporal.dataset.synthetic`).

Each writes upstream's keys and nesting exactly, is deterministic for a
given ``seed`` and writes atomically; :obj:`path` is the file or a folder
(then upstream's file name is used).
"""
import json
from pathlib import Path

import numpy as np

from torch_geometric_temporal._atomic import atomic_write
from torch_geometric_temporal.dataset._files import PathLike

__all__ = ["write_mtm", "write_wikimath", "write_windmill_medium", "write_windmill_small"]


def _target(path: PathLike, filename: str) -> Path:
    path = Path(path)
    return path if path.suffix == ".json" else path / filename


def _dump(path: Path, payload: dict) -> Path:
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    return path


def _weighted_edges(rng: np.random.Generator, num_nodes: int, degree: int):
    r"""``(edges (E, 2), weights (E,))``: each node links to ``degree`` others."""
    edges = [(i, int(j)) for i in range(num_nodes)
             for j in rng.choice(np.delete(np.arange(num_nodes), i),
                                 size=min(degree, num_nodes - 1), replace=False)]
    return edges, rng.uniform(0.1, 1.0, len(edges))


def write_wikimath(path: PathLike, num_nodes: int = 1068, num_timesteps: int = 731,
                   seed: int = 0) -> Path:
    r"""Write a ``wikivital_mathematics.json`` (WikiMathsDatasetLoader):
    ``edges`` ``(E, 2)``, integer link counts ``weights`` ``(E,)``,
    ``node_ids`` (page title to id), ``time_periods`` ``T`` and per day
    ``"0"`` .. ``"T-1"`` an object ``{"index", "year", "month", "day", "y"}``
    whose ``y`` holds the ``N`` daily visit counts (days from 2019-03-16)."""
    rng = np.random.default_rng(seed)
    edges, weights = _weighted_edges(rng, num_nodes, 4)
    base = rng.uniform(50, 2000, num_nodes)
    days = np.arange(num_timesteps)[:, None]
    visits = np.maximum(0, base * (1 + 0.3 * np.sin(2 * np.pi * days / 7))
                        + rng.normal(0, 20, (num_timesteps, num_nodes))).round().astype(int)
    payload = {"edges": [list(e) for e in edges],
               "weights": [int(w * 10) + 1 for w in weights],
               "node_ids": {f"Page_{i}": i for i in range(num_nodes)},
               "time_periods": num_timesteps}
    start = np.datetime64("2019-03-16")
    for t in range(num_timesteps):
        year, month, day = (int(v) for v in str(start + t).split("-"))
        payload[str(t)] = {"index": t, "year": year, "month": month, "day": day,
                           "y": visits[t].tolist()}
    return _dump(_target(path, "wikivital_mathematics.json"), payload)


#: The 19 ``edges`` of the real ``mtm_1.json`` (MediaPipe Hands' 21 keypoints, in the order
#: and direction of the script that wrote it; upstream's own test asserts 19 edges).
HAND_BONES = [(0, 1), (0, 5), (0, 9), (0, 17), (1, 2), (2, 3), (3, 4), (6, 5), (6, 7), (7, 8),
              (9, 10), (10, 11), (11, 12), (13, 14), (14, 15), (15, 16), (17, 18), (18, 19),
              (19, 20)]


def write_mtm(path: PathLike, num_timesteps: int = 200, num_classes: int = 6,
              seed: int = 0) -> Path:
    r"""Write an ``mtm_1.json`` (MTMDatasetLoader): ``edges`` (the real file's 19
    hand bones, ``(E, 2)``), per joint ``"0"`` .. ``"20"`` an object mapping each
    frame (``"0"``, ``"1"``, ...) to the keypoint string ``"(x, y, z)"``, and
    ``LABEL`` mapping each frame to its class in ``[0, num_classes)`` (runs
    of frames per motion; the largest class occurs)."""
    rng = np.random.default_rng(seed)
    frames = [str(t) for t in range(num_timesteps)]
    xyz = rng.uniform(0, 1, (21, 3)) + np.cumsum(rng.normal(0, 0.01, (num_timesteps, 21, 3)), 0)
    payload = {"edges": [list(b) for b in HAND_BONES]}
    for j in range(21):
        payload[str(j)] = {f: "({}, {}, {})".format(*(repr(float(v)) for v in xyz[t, j]))
                           for t, f in enumerate(frames)}
    labels = np.repeat(rng.integers(0, num_classes, num_timesteps // 8 + 1), 8)[:num_timesteps]
    labels[-1] = num_classes - 1
    payload["LABEL"] = {f: int(labels[t]) for t, f in enumerate(frames)}
    return _dump(_target(path, "mtm_1.json"), payload)


def _write_windmill_json(path: Path, num_nodes: int, num_timesteps: int, seed: int) -> Path:
    r"""The real Windmill files' graphs are complete, self loops included: upstream's
    own tests assert ``N * N`` edges (121 small, 676 medium, 101761 = 319 * 319 large)."""
    rng = np.random.default_rng(seed)
    edges = [(i, j) for i in range(num_nodes) for j in range(num_nodes)]
    weights = rng.uniform(0.1, 1.0, len(edges))
    hours = np.arange(num_timesteps)[:, None]
    block = 0.5 + 0.3 * np.sin(2 * np.pi * hours / 24 + rng.uniform(0, 6.3, num_nodes)) \
        + rng.normal(0, 0.05, (num_timesteps, num_nodes))
    payload = {"edges": [list(e) for e in edges], "weights": weights.tolist(),
               "block": block.tolist()}
    return _dump(path, payload)


def write_windmill_small(path: PathLike, num_nodes: int = 11, num_timesteps: int = 17472,
                         seed: int = 0) -> Path:
    r"""Write a ``windmill_output_small.json`` (WindmillOutputSmallDatasetLoader):
    ``edges`` ``(N * N, 2)`` (the complete graph, self loops included, as in the real
    file), ``weights`` ``(N * N,)``, ``block`` ``(T, N)`` of outputs."""
    return _write_windmill_json(_target(path, "windmill_output_small.json"), num_nodes,
                                num_timesteps, seed)


def write_windmill_medium(path: PathLike, num_nodes: int = 26, num_timesteps: int = 17472,
                          seed: int = 0) -> Path:
    r"""Write a ``windmill_output_medium.json`` (WindmillOutputMediumDatasetLoader):
    ``edges`` ``(N * N, 2)`` (the complete graph, self loops included, as in the real
    file), ``weights`` ``(N * N,)``, ``block`` ``(T, N)`` of outputs."""
    return _write_windmill_json(_target(path, "windmill_output_medium.json"), num_nodes,
                                num_timesteps, seed)
