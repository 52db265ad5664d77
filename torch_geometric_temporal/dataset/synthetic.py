r"""Writers of files in every upstream dataset format, at any size.

For tests (tiny files in the exact formats) and for benchmarks at real scale
(e.g. the real METR-LA or PeMS-BAY graph carrying synthetic speeds). Every
writer is deterministic for a given ``seed`` and writes atomically.

=============================  ==================================================
Writer                         Files (read by)
=============================  ==================================================
:func:`write_chickenpox`       ``chickenpox.json`` (ChickenpoxDatasetLoader)
:func:`write_windmill`         ``windmill_output.json`` (WindmillOutputLarge...)
:func:`write_wikimath`         ``wikivital_mathematics.json`` (WikiMaths...)
:func:`write_mtm`              ``mtm_1.json`` (MTMDatasetLoader)
:func:`write_windmill_small`   ``windmill_output_small.json`` (...Small...)
:func:`write_windmill_medium`  ``windmill_output_medium.json`` (...Medium...)
:func:`write_metr_la`          ``METR-LA.zip`` (METRLADatasetLoader)
:func:`write_pems_bay`         ``PEMS-BAY.zip`` (PemsBayDatasetLoader)
:func:`write_pems_all_la`      ``pems_AllLA_adj_mat.pkl``, ``pems_AllLA_speed.h5``
:func:`write_pems`             ``pems_cali_adj_mat.pkl``, ``pems_cali_speed.h5``
:func:`write_dcrnn_hdf5`       any DCRNN pair, e.g. ``adj_mx.pkl`` + ``metr-la.h5``
=============================  ==================================================

:func:`los_loop_to_metr_la` turns the real 7-day METR-LA speeds
(``los_speed.csv``) and the real graph (``adj_mx.pkl``) into METR-LA files.
"""
import csv
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from torch_geometric_temporal._atomic import atomic_path, atomic_write
from torch_geometric_temporal._optional import require
from torch_geometric_temporal.dataset._files import PathLike, atomic_save_npy, load_adjacency_pickle
from torch_geometric_temporal.dataset._hdf5 import speed_values, time_of_day as _day_fraction
from torch_geometric_temporal.dataset._synthetic_json import (  # noqa: F401 (re-exported)
    write_mtm,
    write_wikimath,
    write_windmill_medium,
    write_windmill_small,
)

AdjLike = Optional[Union[np.ndarray, PathLike]]

#: Start of METR-LA (DCRNN's ``metr-la.h5``) and of PeMS-BAY.
METR_LA_START = "2012-03-01T00:00"
PEMS_BAY_START = "2017-01-01T00:00"


# --------------------------------------------------------------------------- arrays


def time_of_day(num_timesteps: int, start: str = METR_LA_START,
                freq_minutes: int = 5) -> np.ndarray:
    r"""Fraction of the day of each step, ``(T,)`` float64, as DCRNN's
    ``generate_training_data``: ``(t - floor_day(t)) / 1 day``."""
    return _day_fraction(timestamps(num_timesteps, start, freq_minutes))


def timestamps(num_timesteps: int, start: str = METR_LA_START,
               freq_minutes: int = 5) -> np.ndarray:
    r"""``(T,)`` ``datetime64[ns]`` stamps every :obj:`freq_minutes` from :obj:`start`."""
    first = np.datetime64(start, "ns")
    return first + np.arange(num_timesteps) * np.timedelta64(int(freq_minutes), "m")


def synthetic_speeds(num_timesteps: int, num_nodes: int, seed: int = 0,
                     start: str = METR_LA_START, freq_minutes: int = 5) -> np.ndarray:
    r"""Plausible speeds (mph), ``(T, N)`` float32: free flow 55-70 per
    sensor, rush-hour dips at 8:00 and 17:30 of sensor-specific depth, noise.
    Generated in time chunks (memory ~ the output)."""
    rng = np.random.default_rng(seed)
    free = rng.uniform(55.0, 70.0, num_nodes).astype(np.float32)
    depth = rng.uniform(5.0, 35.0, num_nodes).astype(np.float32)
    out = np.empty((num_timesteps, num_nodes), dtype=np.float32)
    tod = time_of_day(num_timesteps, start, freq_minutes).astype(np.float32)
    step = max(1, (16 << 20) // max(1, 4 * num_nodes))
    for a in range(0, num_timesteps, step):
        b = min(a + step, num_timesteps)
        hours = 24.0 * tod[a:b, None]
        dip = np.exp(-((hours - 8.0) ** 2) / 2.0) + np.exp(-((hours - 17.5) ** 2) / 3.0)
        noise = rng.normal(0.0, 2.0, (b - a, num_nodes)).astype(np.float32)
        out[a:b] = np.clip(free - depth * dip + noise, 0.0, 85.0)
    return out


def traffic_node_values(speeds: np.ndarray, start: str = METR_LA_START,
                        freq_minutes: int = 5) -> np.ndarray:
    r"""``(T, N)`` speeds -> ``(T, N, 2)`` float32 (speed, time of day), the
    layout of ``node_values.npy``."""
    speeds = np.asarray(speeds)
    return speed_values(speeds, time_of_day(speeds.shape[0], start, freq_minutes))


def random_adjacency(num_nodes: int, seed: int = 0, neighbours: int = 4) -> np.ndarray:
    r"""A DCRNN-like ``(N, N)`` float32 adjacency: unit self loops and
    Gaussian-kernel weights in ``(0.1, 1)`` to about :obj:`neighbours`
    random other sensors per row (asymmetric, like road networks)."""
    rng = np.random.default_rng(seed)
    adj = np.eye(num_nodes, dtype=np.float32)
    k = min(neighbours, num_nodes - 1)
    for i in range(num_nodes):
        if k <= 0:
            break
        others = rng.choice(num_nodes - 1, size=k, replace=False)
        others = others + (others >= i)
        adj[i, others] = rng.uniform(0.1, 1.0, k).astype(np.float32)
    return adj


def _adjacency(adj: AdjLike, num_nodes: Optional[int], seed: int
               ) -> Tuple[np.ndarray, Optional[list]]:
    if adj is None:
        if num_nodes is None:
            raise ValueError("Give num_nodes or an adjacency (array or DCRNN .pkl path).")
        return random_adjacency(num_nodes, seed), None
    if isinstance(adj, (str, os.PathLike)):
        sensor_ids, _, matrix = load_adjacency_pickle(adj)
        return matrix, sensor_ids
    matrix = np.asarray(adj, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"adj must be a square (N, N) array, got shape {matrix.shape}.")
    return matrix, None


def _check_nodes(adj: np.ndarray, num_nodes: Optional[int]) -> int:
    if num_nodes is not None and num_nodes != adj.shape[0]:
        raise ValueError(f"num_nodes={num_nodes} but the adjacency has {adj.shape[0]} nodes.")
    return adj.shape[0]


# --------------------------------------------------------------------------- json formats


def _write_json(path: PathLike, payload: dict) -> Path:
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    return Path(path)


def write_chickenpox(path: PathLike, num_nodes: int = 20, num_timesteps: int = 521,
                     seed: int = 0) -> Path:
    r"""Write a ``chickenpox.json`` (``edges`` ``(E, 2)``, ``node_ids``,
    ``FX`` ``(T, N)`` standardized counts). :obj:`path` is the file or a folder."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / "chickenpox.json"
    rng = np.random.default_rng(seed)
    adj = random_adjacency(num_nodes, seed, neighbours=5) > 0
    np.fill_diagonal(adj, False)
    adj = adj | adj.T
    edges = np.argwhere(adj)
    fx = rng.standard_normal((num_timesteps, num_nodes))
    payload = {"edges": edges.tolist(),
               "node_ids": {f"COUNTY_{i}": i for i in range(num_nodes)},
               "FX": fx.tolist()}
    return _write_json(path, payload)


def write_windmill(path: PathLike, num_nodes: int = 319, num_timesteps: int = 17472,
                   seed: int = 0) -> Path:
    r"""Write a ``windmill_output.json`` (``edges`` ``(E, 2)``, ``weights``
    ``(E,)``, ``block`` ``(T, N)`` of outputs). :obj:`path` is the file or a folder."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / "windmill_output.json"
    rng = np.random.default_rng(seed)
    adj = random_adjacency(num_nodes, seed, neighbours=6)
    np.fill_diagonal(adj, 0.0)
    edges = np.argwhere(adj > 0)
    hours = np.arange(num_timesteps)[:, None]
    block = 50 + 30 * np.sin(2 * np.pi * hours / 24 + rng.uniform(0, 6.3, num_nodes)) \
        + rng.normal(0, 5, (num_timesteps, num_nodes))
    payload = {"edges": edges.tolist(), "weights": adj[adj > 0].astype(float).tolist(),
               "block": block.tolist()}
    return _write_json(path, payload)


# --------------------------------------------------------------------------- npy zips


def write_npy_zip(zip_path: PathLike, arrays: Sequence[Tuple[str, np.ndarray]],
                  extract_to: Optional[PathLike] = None) -> Path:
    r"""Write ``.npy`` members :obj:`arrays` (``(name, array)`` pairs) into
    a zip archive (deflated), and optionally also as files in :obj:`extract_to`."""
    zip_path = Path(zip_path)
    with atomic_write(zip_path, "wb") as handle, \
            zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays:
            with archive.open(name, "w", force_zip64=True) as member:
                np.save(member, array)
    if extract_to is not None:
        for name, array in arrays:
            save_npy(Path(extract_to) / name, array)
    return zip_path


def save_npy(path: PathLike, array: np.ndarray) -> Path:
    r"""``np.save`` to :obj:`path` atomically."""
    atomic_save_npy(path, array)
    return Path(path)


def _write_traffic_zip(directory: PathLike, zip_name: str, adj_name: str, values_name: str,
                       num_timesteps: int, num_nodes: Optional[int], adj: AdjLike,
                       speeds: Optional[np.ndarray], seed: int, start: str,
                       extract: bool) -> Path:
    directory = Path(directory)
    matrix, _ = _adjacency(adj, num_nodes, seed)
    n = _check_nodes(matrix, num_nodes)
    if speeds is None:
        speeds = synthetic_speeds(num_timesteps, n, seed=seed, start=start)
    elif speeds.shape[1] != n:
        raise ValueError(f"speeds has {speeds.shape[1]} sensors, the adjacency {n}.")
    values = traffic_node_values(speeds, start)
    return write_npy_zip(directory / zip_name, [(adj_name, matrix), (values_name, values)],
                         extract_to=directory if extract else None)


def write_metr_la(directory: PathLike, num_timesteps: int = 34272,
                  num_nodes: Optional[int] = None, adj: AdjLike = None,
                  speeds: Optional[np.ndarray] = None, seed: int = 0,
                  start: str = METR_LA_START, extract: bool = False) -> Path:
    r"""Write ``METR-LA.zip`` (``adj_mat.npy`` ``(N, N)`` float32,
    ``node_values.npy`` ``(T, N, 2)`` float32) into :obj:`directory`.

    Args:
        directory (str or Path): output folder (the loader's ``raw_data_dir``).
        num_timesteps (int): ``T`` (real: 34,272) when speeds are synthetic.
        num_nodes (int, optional): ``N`` of a random graph (real: 207).
        adj (array or path, optional): the adjacency, or a DCRNN ``.pkl`` path
            (e.g. the real ``adj_mx.pkl``); default a random graph.
        speeds (np.ndarray, optional): ``(T, N)`` speeds; default synthetic.
        seed (int): random seed.
        start (str): time stamp of step 0 (sets the time-of-day channel).
        extract (bool): also write the two ``.npy`` files next to the zip.

    Returns:
        The zip's path.
    """
    return _write_traffic_zip(directory, "METR-LA.zip", "adj_mat.npy", "node_values.npy",
                              num_timesteps, num_nodes, adj, speeds, seed, start, extract)


def write_pems_bay(directory: PathLike, num_timesteps: int = 52116,
                   num_nodes: Optional[int] = None, adj: AdjLike = None,
                   speeds: Optional[np.ndarray] = None, seed: int = 0,
                   start: str = PEMS_BAY_START, extract: bool = False) -> Path:
    r"""Write ``PEMS-BAY.zip`` (``pems_adj_mat.npy``, ``pems_node_values.npy``);
    arguments as :func:`write_metr_la` (real: ``N = 325``, ``T = 52,116``)."""
    return _write_traffic_zip(directory, "PEMS-BAY.zip", "pems_adj_mat.npy",
                              "pems_node_values.npy", num_timesteps, num_nodes, adj, speeds,
                              seed, start, extract)


# --------------------------------------------------------------------------- DCRNN pkl + h5


def write_adjacency_pickle(path: PathLike, adj: np.ndarray,
                           sensor_ids: Optional[Sequence[str]] = None,
                           protocol: int = 2) -> Path:
    r"""Write DCRNN's adjacency pickle ``[sensor_ids, id_to_index, adj]``."""
    path = Path(path)
    adj = np.asarray(adj, dtype=np.float32)
    if sensor_ids is None:
        sensor_ids = [str(400000 + i) for i in range(adj.shape[0])]
    sensor_ids = [str(s) for s in sensor_ids]
    payload = [sensor_ids, {s: i for i, s in enumerate(sensor_ids)}, adj]
    with atomic_write(path, "wb") as handle:
        pickle.dump(payload, handle, protocol=protocol)
    return path


def write_speed_h5(path: PathLike, speeds: np.ndarray, sensor_ids: Sequence[str],
                   start: str = METR_LA_START, freq_minutes: int = 5) -> Path:
    r"""Write speeds ``(T, N)`` as a pandas HDF5 table under key ``df``
    (DatetimeIndex x sensor columns), DCRNN's ``metr-la.h5`` layout.
    Needs pandas and tables."""
    pd = require("pandas", "hdf5", "Writing .h5 speed files")

    path = Path(path)
    index = pd.DatetimeIndex(timestamps(len(speeds), start, freq_minutes))
    frame = pd.DataFrame(np.asarray(speeds), index=index, columns=[str(s) for s in sensor_ids])
    with atomic_path(path) as tmp:
        frame.to_hdf(tmp, key="df", mode="w")
    return path


def write_dcrnn_hdf5(directory: PathLike, adj_name: str, speed_name: str,
                     num_timesteps: int = 2016, num_nodes: Optional[int] = None,
                     adj: AdjLike = None, speeds: Optional[np.ndarray] = None, seed: int = 0,
                     start: str = METR_LA_START,
                     sensor_ids: Optional[Sequence[str]] = None) -> Tuple[Path, Path]:
    r"""Write a DCRNN adjacency pickle and HDF5 speed table pair.

    Args: as :func:`write_metr_la`; :obj:`sensor_ids` default to the
    pickle's ids when :obj:`adj` is a ``.pkl`` path, else synthetic ids.

    Returns:
        ``(pkl_path, h5_path)``.
    """
    directory = Path(directory)
    matrix, pkl_ids = _adjacency(adj, num_nodes, seed)
    n = _check_nodes(matrix, num_nodes)
    ids = [str(s) for s in (sensor_ids or pkl_ids or [400000 + i for i in range(n)])]
    if speeds is None:
        speeds = synthetic_speeds(num_timesteps, n, seed=seed, start=start)
    pkl = write_adjacency_pickle(directory / adj_name, matrix, ids)
    h5 = write_speed_h5(directory / speed_name, speeds, ids, start)
    return pkl, h5


def write_pems_all_la(directory: PathLike, num_timesteps: int = 2016,
                      num_nodes: Optional[int] = 64, adj: AdjLike = None,
                      speeds: Optional[np.ndarray] = None, seed: int = 0,
                      start: str = PEMS_BAY_START) -> Tuple[Path, Path]:
    r"""Write ``pems_AllLA_adj_mat.pkl`` and ``pems_AllLA_speed.h5``."""
    return write_dcrnn_hdf5(directory, "pems_AllLA_adj_mat.pkl", "pems_AllLA_speed.h5",
                            num_timesteps, None if adj is not None else num_nodes, adj,
                            speeds, seed, start)


def write_pems(directory: PathLike, num_timesteps: int = 2016,
               num_nodes: Optional[int] = 64, adj: AdjLike = None,
               speeds: Optional[np.ndarray] = None, seed: int = 0,
               start: str = PEMS_BAY_START) -> Tuple[Path, Path]:
    r"""Write ``pems_cali_adj_mat.pkl`` and ``pems_cali_speed.h5`` (real:
    11,160 sensors)."""
    return write_dcrnn_hdf5(directory, "pems_cali_adj_mat.pkl", "pems_cali_speed.h5",
                            num_timesteps, None if adj is not None else num_nodes, adj,
                            speeds, seed, start)


# --------------------------------------------------------------------------- los_loop


def read_los_speed(csv_path: PathLike) -> Tuple[list, np.ndarray]:
    r"""``(sensor_ids, speeds (T, N) float32)`` from T-GCN's ``los_speed.csv``
    (header: sensor ids; one row per 5-minute step)."""
    with open(csv_path, newline="") as handle:
        header = next(csv.reader(handle))
    speeds = np.loadtxt(csv_path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    if speeds.shape[1] != len(header):
        raise ValueError(f"{csv_path}: {len(header)} header ids but {speeds.shape[1]} columns.")
    return [h.strip() for h in header], speeds


def los_loop_to_metr_la(speed_csv: PathLike, adj_pkl: PathLike, out_dir: PathLike,
                        start: str = METR_LA_START, make_zip: bool = True) -> Path:
    r"""Convert the real 7-day METR-LA speeds (``los_speed.csv``, 2,016 steps
    x 207 sensors) and the real graph (DCRNN's ``adj_mx.pkl``) into METR-LA
    files, so they go through :class:`METRLADatasetLoader`'s code path.

    Writes ``adj_mat.npy`` (the pickle's adjacency), ``node_values.npy``
    ``(T, 207, 2)`` (speed, time of day from :obj:`start` in 5-minute steps)
    and, with :obj:`make_zip`, ``METR-LA.zip`` holding both, into
    :obj:`out_dir`. CSV columns are put in the pickle's sensor order.

    Args:
        speed_csv (str or Path): ``los_speed.csv``.
        adj_pkl (str or Path): ``adj_mx.pkl`` (read with the restricted unpickler).
        out_dir (str or Path): output folder; pass it as ``raw_data_dir``.
        start (str): time stamp of the first row (METR-LA: 2012-03-01 00:00).
        make_zip (bool): also write ``METR-LA.zip``.

    Returns:
        :obj:`out_dir` as a :class:`~pathlib.Path`.

    Example::

        out = los_loop_to_metr_la("tests/data/los_loop/los_speed.csv",
                                  "tests/data/metr_la/adj_mx.pkl", tmp_dir)
        loader = METRLADatasetLoader(raw_data_dir=out, download=False)
    """
    out_dir = Path(out_dir)
    sensor_ids, _, adj = load_adjacency_pickle(adj_pkl)
    header, speeds = read_los_speed(speed_csv)
    if header != sensor_ids:
        if sorted(header) != sorted(sensor_ids):
            raise ValueError(f"{speed_csv} and {adj_pkl} list different sensors; they do not "
                             f"belong to the same graph.")
        column = {s: i for i, s in enumerate(header)}
        speeds = speeds[:, [column[s] for s in sensor_ids]]
    values = traffic_node_values(speeds, start)
    save_npy(out_dir / "adj_mat.npy", adj)
    save_npy(out_dir / "node_values.npy", values)
    if make_zip:
        write_npy_zip(out_dir / "METR-LA.zip", [("adj_mat.npy", adj), ("node_values.npy", values)])
    return out_dir
