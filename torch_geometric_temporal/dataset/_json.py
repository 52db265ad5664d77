r"""Reading the JSON dataset files (Chickenpox, Windmill): parsing with a
clear error when a file is broken, entries as checked numpy arrays, and edge
lists checked against the number of nodes."""
import json
from typing import Any

import numpy as np

from torch_geometric_temporal.dataset._files import PathLike, check_array

__all__ = ["check_edges", "json_array", "read_json_dataset"]


def read_json_dataset(path: PathLike) -> dict:
    r"""Parse a dataset ``.json`` file with a clear error when it is broken.

    Args:
        path (str or Path): the ``.json`` file.

    Raises:
        ValueError: the file is not valid JSON (e.g. truncated).
    """
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it is probably truncated. "
                         f"Delete it and download it again.") from error


def json_array(dataset: dict, key: str, name: str, dtype: Any = None) -> np.ndarray:
    r"""Entry :obj:`key` of a parsed dataset JSON as a numpy array.

    Args:
        dataset (dict): the parsed file (:func:`read_json_dataset`).
        key (str): the entry, e.g. ``"FX"`` (``(T, N)``) or ``"edges"``
            (``(E, 2)``).
        name (str): the file, for the error.
        dtype (numpy dtype, optional): cast to it; default as read.

    Raises:
        ValueError: naming the file and the key when the entry is missing,
            ragged (rows of different lengths) or holds values that are not
            numbers.
    """
    if key not in dataset:
        raise ValueError(f"{name} has no {key!r} entry.")
    try:
        array = np.asarray(dataset[key])  # no dtype: "1" must not pass as 1.0
    except (ValueError, TypeError) as error:
        array, why = None, f" ({error})"
    if array is None or array.dtype.kind not in "biuf":
        why = why if array is None else f" (found {array.dtype} values)"
        raise ValueError(f"{name}: entry {key!r} is not a rectangular array of numbers{why}; "
                         f"every row must have the same length and hold numbers only.")
    return array if dtype is None else array.astype(dtype)


def check_edges(edges: np.ndarray, num_nodes: int, name: str) -> np.ndarray:
    r"""Check a ``(E, 2)`` integer edge list whose ids lie in ``[0, N)``.

    Args:
        edges (np.ndarray): ``(E, 2)`` node ids.
        num_nodes (int): ``N``.
        name (str): the file, for the error.

    Raises:
        ValueError: wrong shape or dtype, or an id outside ``[0, N)``.
    """
    check_array(edges, f"{name} 'edges'", (None, 2), kind="iu")
    if edges.size and (edges.min() < 0 or edges.max() >= num_nodes):
        raise ValueError(f"{name} 'edges' reference node ids outside [0, {num_nodes}).")
    return edges
