r"""Reading pandas HDF5 speed tables without unpickling anything.

``pandas.read_hdf`` unpickles object-dtype blocks, and PyTables itself
unpickles every node attribute that was stored as a pickle as soon as the
node is opened (``tables.open_file`` runs the root's, ``get_node`` the
node's). A crafted ``.h5`` can therefore run code through either. This
module reads the layout pandas writes (DCRNN's ``metr-la.h5`` and
``pems-bay.h5``, ``DataFrame.to_hdf(path, key="df")`` in the ``"fixed"``
and ``"table"`` formats) with PyTables while

* every attribute pickle PyTables meets is decoded by the package's
  :class:`~torch_geometric_temporal.dataset._files.RestrictedUnpickler`
  (builtin containers and numpy data only; anything else stays raw bytes and
  is never called) -- see :func:`safe_tables`;
* only numeric arrays are read: value blocks of float/integer dtype, a
  datetime64 or integer index, column labels as fixed-width strings or
  integers. Object blocks (``VLArray`` of ``ObjectAtom``), unknown
  ``pandas_type`` values and any other layout are refused with a
  :class:`ValueError` naming the file and what was found.

:func:`open_speed_table` reads the metadata; :meth:`SpeedTable.read` reads a
row range ``[start, stop)`` in any column order, so Dask chunk tasks read only
their rows.
"""
import contextlib
import os
import pickle
import threading
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.dataset._files import PathLike, is_present, restricted_loads

__all__ = ["SpeedTable", "open_speed_table", "read_speed_rows", "safe_tables",
           "speed_values", "time_of_day"]

_guard = threading.local()
_install_lock = threading.Lock()


class _GuardedPickle:
    r"""Stands in for the :mod:`pickle` module inside PyTables: in a thread
    that is inside :func:`safe_tables`, ``loads`` is the restricted
    unpickler; elsewhere it is :func:`pickle.loads` (so pandas and other
    users of PyTables in the process behave as before)."""

    def __init__(self, real: Any):
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def loads(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_guard, "depth", 0):
            return restricted_loads(bytes(data), encoding=kwargs.get("encoding", "latin1"))
        return self._real.loads(data, *args, **kwargs)


def _tables() -> Any:
    tables = require("tables", "hdf5", "Reading .h5 speed files")
    with _install_lock:
        for module in (tables.attributeset, tables.atom):
            if not isinstance(getattr(module, "pickle", None), _GuardedPickle):
                module.pickle = _GuardedPickle(pickle)
    return tables


@contextlib.contextmanager
def safe_tables(path: PathLike) -> Iterator[Any]:
    r"""Open the HDF5 file :obj:`path` read-only with PyTables so that no
    pickle in it can run code: attribute pickles are decoded with the
    restricted unpickler (a disallowed one stays raw bytes).

    Raises:
        ValueError: :obj:`path` is empty, truncated, corrupt or not HDF5.
        IsADirectoryError: :obj:`path` is a directory.
        FileNotFoundError: :obj:`path` does not exist.
    """
    tables = _tables()
    path = os.fspath(path)
    if not is_present(path):
        raise FileNotFoundError(f"{path!r} does not exist; pass the pandas HDF5 speed file.")
    size = os.path.getsize(path)
    _guard.depth = getattr(_guard, "depth", 0) + 1
    try:
        try:
            handle = tables.open_file(path, mode="r")
        except Exception as error:  # HDF5ExtError, OSError, ...: one clear line
            what = "empty (0 bytes)" if size == 0 else f"not a readable HDF5 file ({size} bytes)"
            raise ValueError(f"{path} is {what}: it is probably truncated or not an HDF5 "
                             f"file. Delete it and download (or write) it again.") from None
        try:
            yield handle
        except tables.HDF5ExtError as error:  # a damaged chunk inside a well-formed file
            raise ValueError(f"{path} could not be read ({str(error).splitlines()[0]}): it "
                             f"is corrupt. Delete it and download (or write) it again.") from None
        finally:
            handle.close()
    finally:
        _guard.depth -= 1


def _attr(node: Any, name: str, default: Any = None) -> Any:
    attrs = node._v_attrs
    if name not in attrs._v_attrnames:
        return default
    value = getattr(attrs, name)
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    return value


def _fail(path: str, key: str, what: str) -> ValueError:
    return ValueError(
        f"{path}: refusing to read key {key!r}: {what}. Only pandas HDF5 speed tables of "
        f"numeric values (time x sensors, datetime64 or integer index, string or integer "
        f"column labels) are read; nothing stored as pickled objects. Rewrite it with "
        f"df.astype('float32').to_hdf(path, key={key!r}).")


def _leaf(handle: Any, path: str, key: str, where: str, kinds: str) -> Any:
    tables = _tables()
    try:
        node = handle.get_node(where)
    except tables.NoSuchNodeError:
        raise _fail(path, key, f"node {where} is missing") from None
    if not isinstance(node, (tables.Array, tables.Table)):
        raise _fail(path, key, f"node {where} is a {type(node).__name__} "
                               f"(pickled Python objects)")
    if isinstance(node, tables.Array) and node.dtype.kind not in kinds:
        raise _fail(path, key, f"node {where} holds dtype {node.dtype}")
    return node


def _labels(node: Any, path: str, key: str, encoding: str) -> List[str]:
    values = node.read()
    if values.dtype.kind == "S":
        return [v.decode(encoding) for v in values.tolist()]
    if values.dtype.kind in "Uiu":
        return [str(v) for v in values.tolist()]
    raise _fail(path, key, f"column labels {node._v_pathname} have dtype {values.dtype}")


def _index_unit(kind: Any, path: str, key: str) -> Optional[str]:
    r"""The datetime64 unit of an index ``kind`` attribute, ``None`` for an
    integer index."""
    kind = _text(kind)
    if kind == "integer":
        return None
    if kind == "datetime64":  # pandas < 2 wrote nanoseconds without a unit
        return "ns"
    if isinstance(kind, str) and kind.startswith("datetime64[") and kind.endswith("]"):
        unit = kind[len("datetime64["):-1]
        if unit in ("s", "ms", "us", "ns"):
            return unit
    raise _fail(path, key, f"the index is of kind {kind!r}, expected datetime64 or integer")


@dataclass
class SpeedTable:
    r"""Metadata of a pandas HDF5 speed table (read by :func:`open_speed_table`).

    Args:
        path (str): the file.
        key (str): the pandas key.
        columns (list of str): column labels in file order.
        num_rows (int): number of time steps.
        unit (str, optional): datetime64 unit of the index; ``None`` for an
            integer index.
        blocks (list): ``(node path, column positions, transposed)`` of each
            value block (``fixed``) or ``(field, positions, None)`` (``table``).
        table (str, optional): the ``Table`` node of the ``table`` format.
    """

    path: str
    key: str
    columns: List[str]
    num_rows: int
    unit: Optional[str]
    blocks: List[Tuple[str, List[int], Optional[bool]]]
    table: Optional[str] = None

    def read(self, start: int = 0, stop: Optional[int] = None,
             order: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
        r"""Rows ``[start, stop)`` as ``(values (n, N) float32, index (n,))``;
        the index is ``datetime64[unit]`` or int64. :obj:`order` picks and
        orders the columns (positions in :attr:`columns`)."""
        stop = self.num_rows if stop is None else min(int(stop), self.num_rows)
        start = max(0, int(start))
        n = max(0, stop - start)
        with safe_tables(self.path) as handle:
            out = np.empty((n, len(self.columns)), dtype=np.float32)
            if self.table is not None:
                table = handle.get_node(self.table)
                index = table.read(start, stop, field="index")
                for field, positions, _ in self.blocks:
                    out[:, positions] = table.read(start, stop, field=field).reshape(n, -1)
            else:
                index = handle.get_node(f"/{self.key.strip('/')}/axis1")[start:stop]
                for node_path, positions, transposed in self.blocks:
                    node = handle.get_node(node_path)
                    block = node[start:stop] if transposed else node[:, start:stop].T
                    out[:, positions] = block
        index = np.asarray(index, dtype=np.int64)
        if self.unit is not None:
            index = index.view(f"datetime64[{self.unit}]")
        if order is not None:
            out = out[:, list(order)]
        return out, index


def _fixed_layout(handle: Any, path: str, key: str, group: Any) -> SpeedTable:
    where = group._v_pathname
    encoding = _text(_attr(group, "encoding", "UTF-8")) or "UTF-8"
    for axis in ("axis0", "axis1"):
        variety = _text(_attr(group, f"{axis}_variety", "regular"))
        if variety != "regular":
            raise _fail(path, key, f"{axis} is a {variety!r} index (e.g. a MultiIndex)")
    nblocks = _attr(group, "nblocks")
    if not isinstance(nblocks, int) or nblocks < 1:
        raise _fail(path, key, f"the frame has nblocks={nblocks!r}")
    columns = _labels(_leaf(handle, path, key, f"{where}/axis0", "SUiu"), path, key, encoding)
    axis1 = _leaf(handle, path, key, f"{where}/axis1", "iu")
    unit = _index_unit(_attr(axis1, "kind"), path, key)
    num_rows = int(axis1.shape[0])
    position = {c: i for i, c in enumerate(columns)}
    if len(position) != len(columns):
        raise _fail(path, key, "the column labels are not unique")
    blocks, seen = [], 0
    for i in range(nblocks):
        items = _labels(_leaf(handle, path, key, f"{where}/block{i}_items", "SUiu"), path, key,
                        encoding)
        values = _leaf(handle, path, key, f"{where}/block{i}_values", "fiu")
        transposed = bool(_attr(values, "transposed", False))
        shape = tuple(values.shape) if transposed else tuple(values.shape)[::-1]
        if shape != (num_rows, len(items)) or any(c not in position for c in items):
            raise _fail(path, key, f"block {i} of shape {tuple(values.shape)} does not match "
                                   f"{num_rows} rows x its {len(items)} columns")
        blocks.append((values._v_pathname, [position[c] for c in items], transposed))
        seen += len(items)
    if seen != len(columns):
        raise _fail(path, key, f"the blocks hold {seen} columns, the frame {len(columns)}")
    return SpeedTable(path, key, columns, num_rows, unit, blocks)


def _table_layout(handle: Any, path: str, key: str, group: Any) -> SpeedTable:
    where = group._v_pathname
    table = _leaf(handle, path, key, f"{where}/table", "")
    non_index = _attr(group, "non_index_axes")
    values_cols = _attr(group, "values_cols")
    try:
        (axis, columns), = non_index
        columns = [str(_text(c)) for c in columns]
        values_cols = [str(c) for c in values_cols]
        assert axis == 1
    except Exception:
        raise _fail(path, key, "the table's column labels are not plain strings or integers "
                               f"(non_index_axes={non_index!r:.80})") from None
    unit = _index_unit(_attr(table, "index_kind"), path, key)
    names = table.colnames
    if "index" not in names or table.coldtypes["index"].base.kind not in "iu":
        raise _fail(path, key, "the table has no integer/datetime 'index' column")
    position = {c: i for i, c in enumerate(columns)}
    blocks, seen = [], 0
    for field in values_cols:
        items = _attr(table, f"{field}_kind")
        dtype = _text(_attr(table, f"{field}_dtype"))
        meta = _attr(table, f"{field}_meta")
        if field not in names or not isinstance(items, list) or meta is not None or \
                not isinstance(dtype, str) or not dtype.startswith(("float", "int", "uint")) or \
                table.coldtypes[field].base.kind not in "fiu":
            raise _fail(path, key, f"column block {field!r} is not numeric (dtype {dtype!r})")
        items = [str(_text(c)) for c in items]
        if any(c not in position for c in items):
            raise _fail(path, key, f"column block {field!r} names unknown columns")
        blocks.append((field, [position[c] for c in items], None))
        seen += len(items)
    if seen != len(columns):
        raise _fail(path, key, f"the blocks hold {seen} columns, the frame {len(columns)}")
    return SpeedTable(path, key, columns, int(table.nrows), unit, blocks,
                      table=table._v_pathname)


def open_speed_table(path: PathLike, key: str = "df") -> SpeedTable:
    r"""Read and check the layout of the pandas HDF5 speed table :obj:`key`
    in :obj:`path` (nothing but metadata is read).

    Args:
        path (str or Path): the ``.h5`` file.
        key (str): the pandas key (default ``"df"``, DCRNN's).

    Raises:
        ValueError: the file is not a readable HDF5 file, has no such key, or
            holds anything but numeric blocks (object/pickled blocks,
            unknown ``pandas_type``); the message names the file and what was
            found.
    """
    tables = _tables()
    path = os.fspath(path)
    where = "/" + key.strip("/")
    with safe_tables(path) as handle:
        try:
            group = handle.get_node(where)
        except tables.NoSuchNodeError:
            keys = [g._v_pathname for g in handle.root._f_iter_nodes("Group")]
            raise ValueError(f"{path} has no table under key {key!r} (keys: {keys}); expected "
                             f"a pandas HDF5 file written with df.to_hdf(path, key={key!r}).") \
                from None
        if not isinstance(group, tables.Group):
            raise _fail(path, key, f"{where} is a {type(group).__name__}, not a pandas group")
        kind = _text(_attr(group, "pandas_type"))
        if kind == "frame":
            layout = _fixed_layout(handle, path, key, group)
        elif kind == "frame_table":
            layout = _table_layout(handle, path, key, group)
        else:
            raise _fail(path, key, f"pandas_type is {kind!r}; only DataFrames ('frame' or "
                                   f"'frame_table') are read")
    if layout.num_rows == 0 or not layout.columns:
        raise ValueError(f"{path}: the table {key!r} is empty ({layout.num_rows} rows x "
                         f"{len(layout.columns)} columns).")
    return layout


def time_of_day(index: np.ndarray) -> np.ndarray:
    r"""Fraction of the day of each ``datetime64`` stamp, ``(T,)`` float64
    (DCRNN's ``generate_training_data``: ``(t - floor_day(t)) / 1 day``).
    The one definition of the feature in the package."""
    return (index - index.astype("datetime64[D]")) / np.timedelta64(1, "D")


def speed_values(speeds: np.ndarray, time_of_day: np.ndarray) -> np.ndarray:
    r"""``(T, N)`` speeds and ``(T,)`` time of day -> ``(T, N, 2)`` float32
    (speed, time of day): the layout of the traffic loaders' series."""
    values = np.empty(np.shape(speeds) + (2,), dtype=np.float32)
    values[..., 0] = speeds
    values[..., 1] = np.asarray(time_of_day)[:, None]
    return values


def read_speed_rows(path: PathLike, key: str, start: int, stop: int,
                    order: Optional[Sequence[int]], with_time_of_day: bool) -> np.ndarray:
    r"""Rows ``[start, stop)`` of a speed table as ``(n, N, F)`` float32
    (``F = 2`` with the time of day, else 1): a module-level function, so
    Dask graphs and DataLoader workers can pickle it."""
    table = open_speed_table(path, key)
    speeds, index = table.read(start, stop, order)
    if not with_time_of_day:
        return speeds[:, :, None]
    return speed_values(speeds, time_of_day(index))
