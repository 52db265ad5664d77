r"""File handling shared by the dataset loaders.

Where the raw files live (:func:`resolve_data_dir`), fetching a missing file
only when allowed (:func:`fetch`), checksums (:func:`sha256sum`), zip
integrity and member extraction (:func:`extract_members`), array checks
(:func:`check_array`, :func:`check_edge_weights`), a restricted unpickler for
DCRNN's adjacency pickle (:func:`load_adjacency_pickle`), and derived files
(extracted or converted arrays) keyed on their sources' content
(:func:`derived_path`, :func:`is_fresh`, :func:`record_sources`). Library
code here never prints; it logs.
"""
import codecs
import hashlib
import json
import logging
import os
import pickle
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from torch_geometric_temporal._atomic import atomic_write

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

#: Environment variable naming the root under which each dataset gets a folder.
DATA_DIR_ENV = "PGT_DATA_DIR"
#: Environment variable that, when set to ``1``/``true``, forbids downloads.
OFFLINE_ENV = "PGT_OFFLINE"


def default_data_dir(name: str) -> Path:
    r"""The folder where missing raw files of dataset :obj:`name` are
    downloaded to.

    ``$PGT_DATA_DIR/<name>`` when :obj:`PGT_DATA_DIR` is set, else
    ``$XDG_CACHE_HOME/torch_geometric_temporal/<name>`` (``~/.cache`` when
    :obj:`XDG_CACHE_HOME` is unset). Never the working directory (files
    already in upstream's ``./data`` are found by :func:`resolve_data_dir`).

    Args:
        name (str): the dataset's folder name, e.g. ``"metr_la"``.
    """
    root = os.environ.get(DATA_DIR_ENV)
    if root:
        return Path(root).expanduser().resolve() / name
    return cache_root() / name


def cache_root() -> Path:
    r"""``$XDG_CACHE_HOME/torch_geometric_temporal`` (``~/.cache`` when
    :obj:`XDG_CACHE_HOME` is unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser().resolve() / "torch_geometric_temporal"


#: What a dataset needs in one folder: alternatives, each one file name or a
#: tuple of names that must all be present (e.g. ``["METR-LA.zip",
#: ("adj_mat.npy", "node_values.npy")]``).
FileAlternatives = Sequence[Union[str, Sequence[str]]]


def searched_dirs(raw_data_dir: Optional[PathLike], name: str) -> List[Path]:
    r"""The folders a loader looks in, in order: :obj:`raw_data_dir` alone
    when given (absolute or relative to the working directory), else
    ``$PGT_DATA_DIR/<name>`` (when :obj:`PGT_DATA_DIR` is set), upstream's
    default ``os.path.join(os.getcwd(), "data")``, and
    ``~/.cache/torch_geometric_temporal/<name>`` (see :func:`cache_root`).

    Args:
        raw_data_dir (str or Path, optional): the user's folder.
        name (str): the dataset's folder name, e.g. ``"metr_la"``.
    """
    if raw_data_dir is not None:
        return [Path(raw_data_dir).expanduser().resolve()]
    dirs = [default_data_dir(name)] if os.environ.get(DATA_DIR_ENV) else []
    dirs += [Path(os.getcwd(), "data").resolve(), cache_root() / name]
    return list(dict.fromkeys(dirs))


def _holds(folder: Path, files: FileAlternatives) -> bool:
    for alternative in files:
        names = [alternative] if isinstance(alternative, str) else list(alternative)
        if names and all((folder / n).is_file() for n in names):
            return True
    return False


def resolve_data_dir(raw_data_dir: Optional[PathLike], name: str,
                     files: FileAlternatives = ()) -> Path:
    r"""The absolute folder of dataset :obj:`name`'s raw files.

    :obj:`raw_data_dir` when given. Otherwise the first of
    :func:`searched_dirs` (``$PGT_DATA_DIR/<name>``, ``./data``, the cache
    folder) that holds one complete alternative of :obj:`files`; when none
    does (or :obj:`files` is empty), :func:`default_data_dir`, where a
    download goes (never ``./data``). A loader passes the same
    :func:`searched_dirs` to :func:`fetch` so that its error lists every
    folder looked in.

    Args:
        raw_data_dir (str or Path, optional): the user's folder.
        name (str): the dataset's folder name, e.g. ``"metr_la"``.
        files (sequence): what the dataset needs in one folder: each item a
            file name or a tuple of names that must all be present.
    """
    if raw_data_dir is not None:
        return Path(raw_data_dir).expanduser().resolve()
    for folder in searched_dirs(None, name) if files else ():
        if _holds(folder, files):
            return folder
    return default_data_dir(name)


def downloads_allowed(download: Optional[bool]) -> bool:
    r"""Whether a missing file may be downloaded: :obj:`download` when given,
    else ``True`` unless the :obj:`PGT_OFFLINE` environment variable is set."""
    if download is not None:
        return bool(download)
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in {"1", "true", "yes", "on"}


def sha256sum(path: PathLike, chunk_size: int = 1 << 20) -> str:
    r"""Hex SHA-256 digest of the file at :obj:`path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: PathLike, expected: Optional[str]) -> None:
    r"""Raise :class:`ValueError` when :obj:`path`'s SHA-256 differs from
    :obj:`expected` (no check when :obj:`expected` is ``None``)."""
    if expected is None:
        return
    actual = sha256sum(path)
    if actual != expected.lower():
        raise ValueError(
            f"{path} has SHA-256 {actual}, expected {expected}: the file is corrupt or a "
            f"different version. Delete it and download it again."
        )


def missing_file_error(path: Path, url: Optional[str], why: str = "",
                       searched: Sequence[PathLike] = ()) -> FileNotFoundError:
    r"""A :class:`FileNotFoundError` naming the file, its folder, the URL and
    every folder in :obj:`searched` (see :func:`searched_dirs`)."""
    where = f"Download it from {url} and save it as {path.name!r} in {str(path.parent)!r}" if url \
        else f"Place {path.name!r} in {str(path.parent)!r}"
    reason = f" ({why})" if why else ""
    places = [str(p) for p in searched if Path(p) != path.parent]
    looked = f" Also looked in {places}." if places else ""
    return FileNotFoundError(
        f"Dataset file {str(path)!r} is missing{reason}.{looked} {where}, or pass "
        f"raw_data_dir=<folder holding it> (without it: ${DATA_DIR_ENV}/<dataset> when set, "
        f"else ./data, else ~/.cache/torch_geometric_temporal/<dataset>)."
    )


def is_present(path: PathLike) -> bool:
    r"""Whether the dataset file :obj:`path` exists (``False`` when it is
    missing).

    Raises:
        IsADirectoryError: :obj:`path` is a directory (or something else that
            is not a regular file) where a file is expected; a missing file
            would be downloaded, this must not be.
    """
    path = Path(path)
    if path.is_file():
        return True
    if path.exists():
        what = "a directory" if path.is_dir() else "not a regular file"
        raise IsADirectoryError(
            f"{path} is {what}, expected a dataset file of that name. Remove or rename it and "
            f"place the file there (or pass raw_data_dir=<folder holding the file>).")
    return False


def fetch(path: Path, url: Optional[str], download: Optional[bool],
          sha256: Optional[str] = None, searched: Sequence[PathLike] = ()) -> Path:
    r"""Return :obj:`path`, downloading it from :obj:`url` first when it is
    missing and downloads are allowed (:func:`downloads_allowed`).

    The download goes to a temporary file in the same folder, is checked
    against :obj:`sha256` when given, then moved into place atomically.

    Raises:
        FileNotFoundError: the file is missing and cannot be downloaded; the
            message names the file, the folder, the URL and the other folders
            in :obj:`searched` (those :func:`resolve_data_dir` looked in).
    """
    path = Path(path)
    if is_present(path):
        return path
    if url is None or not downloads_allowed(download):
        raise missing_file_error(path, url, "downloads are disabled" if url else "", searched)
    path.parent.mkdir(parents=True, exist_ok=True)
    download_url = _pyg_download_url()
    tmp_dir = tempfile.mkdtemp(prefix=".download-", dir=path.parent)
    try:
        log.info("Downloading %s to %s", url, path)
        try:
            tmp = download_url(url, tmp_dir, log=False, filename=path.name)
        except Exception as error:  # network errors come in many types
            raise missing_file_error(path, url, f"download failed: {error}",
                                         searched) from error
        verify_sha256(tmp, sha256)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def _pyg_download_url():
    from torch_geometric_temporal._pyg import pyg

    return pyg("data").download_url


def extract_members(zip_path: Path, members: Sequence[str], dest: Path) -> List[Path]:
    r"""Check the zip at :obj:`zip_path` and extract only :obj:`members`
    (matched by base name, at any depth in the archive) into :obj:`dest`.

    Every member's CRC is checked (:meth:`zipfile.ZipFile.testzip`) before
    anything is written; each file is written to a temporary name and moved
    into place, so a failure never leaves a partial array behind.

    Raises:
        ValueError: the archive is truncated/corrupt or lacks a member.
    """
    dest = Path(dest)
    try:
        archive = zipfile.ZipFile(zip_path, "r")
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(
            f"{zip_path} is not a readable zip archive ({error}); it is probably truncated. "
            f"Delete it and download it again."
        ) from error
    with archive:
        try:
            bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
            bad = f"<{error}>"
        if bad is not None:
            raise ValueError(
                f"{zip_path} is corrupt (member {bad} fails its CRC check); delete it and "
                f"download it again."
            )
        by_name = {Path(info.filename).name: info for info in archive.infolist()
                   if not info.is_dir()}
        out = []
        for member in members:
            if member not in by_name:
                raise ValueError(
                    f"{zip_path} has no member {member!r} (it holds {sorted(by_name)}); "
                    f"is it the right archive?"
                )
            target = dest / member
            with archive.open(by_name[member]) as stream, atomic_write(target, "wb") as handle:
                shutil.copyfileobj(stream, handle, 1 << 22)
            out.append(target)
    return out


def atomic_save_npy(path: PathLike, array: np.ndarray) -> None:
    r"""Write :obj:`array` to ``.npy`` file :obj:`path` atomically."""
    with atomic_write(path, "wb") as out:
        np.save(out, array)


# --------------------------------------------------------------------------- derived files
#: Suffix of the JSON sidecar recording what a derived file was made from.
SOURCE_SUFFIX = ".source.json"


def file_fingerprint(path: PathLike, known: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    r"""``{size, mtime_ns, ctime_ns, ino, sha256}`` of :obj:`path`. The
    SHA-256 is taken from :obj:`known` when its stat fields are all
    unchanged (a replaced or touched file always changes ``ctime``), else the
    file is hashed."""
    st = os.stat(path)
    quick = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
             "ino": st.st_ino}
    if known and known.get("sha256") and all(known.get(k) == v for k, v in quick.items()):
        return dict(quick, sha256=known["sha256"])
    return dict(quick, sha256=sha256sum(path))


def _sidecar(derived: Path) -> Path:
    return derived.with_name(derived.name + SOURCE_SUFFIX)


def _derived_stat(derived: Path) -> Dict[str, int]:
    st = derived.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_fresh(derived: PathLike, sources: Sequence[PathLike]) -> bool:
    r"""Whether :obj:`derived` (an extracted or converted file) was made
    from the current content of :obj:`sources`, per its sidecar
    ``<derived>.source.json`` (see :func:`record_sources`): the derived file
    is unchanged and every source has the recorded SHA-256 (rehashed only
    when its size, mtime, ctime or inode changed). No sidecar: not fresh."""
    derived = Path(derived)
    try:
        record = json.loads(_sidecar(derived).read_text(encoding="utf-8"))
        if record.get("derived") != _derived_stat(derived):
            return False
        recorded = record["sources"]
        if sorted(recorded) != sorted(Path(p).name for p in sources):
            return False
        current = {Path(p).name: file_fingerprint(p, recorded[Path(p).name]) for p in sources}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    if any(current[n]["sha256"] != recorded[n].get("sha256") for n in current):
        return False
    if current != recorded:  # same content, new stat: save the rehash next time
        try:
            record_sources(derived, current)
        except OSError:
            pass
    return True


def fingerprints(sources: Sequence[PathLike]) -> Dict[str, Dict[str, Any]]:
    r""":func:`file_fingerprint` of each source, by file name (take them
    before deriving, pass them to :func:`record_sources` after)."""
    return {Path(p).name: file_fingerprint(p) for p in sources}


def record_sources(derived: PathLike, sources: Dict[str, Dict[str, Any]]) -> None:
    r"""Write the sidecar of :obj:`derived` (after writing :obj:`derived`)
    recording the :func:`fingerprints` of the sources it was made from."""
    derived = Path(derived)
    payload = {"derived": _derived_stat(derived), "sources": sources}
    with atomic_write(_sidecar(derived), "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=1, sort_keys=True)


def _writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK | os.X_OK)


def derived_path(source_dir: PathLike, name: str, filename: str) -> Path:
    r"""Where a file derived from the data in :obj:`source_dir` lives:
    :obj:`source_dir` itself when that folder is writable, else
    ``$XDG_CACHE_HOME/torch_geometric_temporal/derived/<name>-<hash of the
    folder>/`` (``~/.cache`` when :obj:`XDG_CACHE_HOME` is unset), so a
    read-only dataset folder can be used.

    Args:
        source_dir (str or Path): the folder of the source files.
        name (str): the dataset's folder name, e.g. ``"metr_la"``.
        filename (str): the derived file's name.
    """
    source_dir = Path(source_dir).resolve()
    if _writable(source_dir):
        return source_dir / filename
    tag = hashlib.sha256(str(source_dir).encode("utf-8")).hexdigest()[:16]
    return cache_root() / "derived" / f"{name}-{tag}" / filename


def check_array(array: np.ndarray, name: str, shape: Sequence[Optional[int]],
                kind: str = "fc") -> np.ndarray:
    r"""Check :obj:`array`'s rank, shape (``None`` = any size) and dtype kind.

    Args:
        array (np.ndarray): the array to check.
        name (str): what to call it in the error (e.g. the file path).
        shape (sequence of int or None): the expected shape.
        kind (str): accepted :attr:`numpy.dtype.kind` letters (``"f"`` float,
            ``"i"``/``"u"`` integer, ``"c"`` complex, ``"b"`` bool).

    Raises:
        ValueError: naming the expected and the actual shape/dtype.
    """
    want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
    wrong = any(s is not None and s != a for s, a in zip(shape, array.shape))
    if array.ndim != len(shape) or wrong:
        raise ValueError(f"{name} has shape {tuple(array.shape)}, expected {want}; the file is "
                         f"not in the expected format (or belongs to another dataset).")
    if array.dtype.kind not in kind:
        raise ValueError(f"{name} has dtype {array.dtype}, expected a numeric dtype of kind "
                         f"{kind!r}; the file is not in the expected format.")
    return array


def check_edge_weights(weights: np.ndarray, name: str) -> np.ndarray:
    r"""Refuse non-finite or negative edge weights (a dense adjacency or a
    weight vector): they train to NaN metrics without any other error.

    Args:
        weights (np.ndarray): adjacency ``(N, N)`` or weights ``(E,)``.
        name (str): the file (and entry) to name in the error.

    Raises:
        ValueError: naming the file, the count and the first bad entry.
    """
    weights = np.asarray(weights)
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}: {int(bad.sum())} edge weight(s) are NaN, infinite or negative (first at "
            f"{first[0] if len(first) == 1 else first}: {weights[first]}). Edge weights must be "
            f"finite and >= 0; fix the file (0 means no edge).")
    return weights


def _allowed_globals() -> Dict[Tuple[str, str], Any]:
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float32(0).__reduce__()[0]
    allowed: Dict[Tuple[str, str], Any] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    # Python 3 writes the bytes of arrays in protocol <= 2 pickles as
    # _codecs.encode(str, "latin1"): a pure data transform.
    allowed[("_codecs", "encode")] = codecs.encode
    for module in ("builtins", "__builtin__"):
        for name, obj in (("set", set), ("frozenset", frozenset), ("complex", complex),
                          ("bytearray", bytearray), ("list", list), ("dict", dict),
                          ("tuple", tuple), ("int", int), ("float", float), ("str", str),
                          ("bytes", bytes), ("bool", bool)):
            allowed[(module, name)] = obj
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    r"""A :class:`pickle.Unpickler` that resolves only the numpy and builtin
    data types a DCRNN adjacency pickle needs (``ndarray``, ``dtype``, the
    array reconstructor, numpy scalars, builtin containers, and
    ``_codecs.encode`` which Python 3 uses for array bytes in protocol 2). Any other global
    (a class or function) raises :class:`pickle.UnpicklingError` before it is
    imported, so a pickle cannot run foreign code."""

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle global {module}.{name}: only numpy arrays/dtypes and "
                f"builtin containers are allowed in an adjacency pickle"
            ) from None


def restricted_loads(data: bytes, encoding: str = "latin1") -> Any:
    r"""Unpickle the bytes :obj:`data` with :class:`RestrictedUnpickler`.

    Raises:
        pickle.UnpicklingError: the pickle references a disallowed global.
    """
    import io

    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()


def restricted_load(path: PathLike, encoding: str = "latin1") -> Any:
    r"""Unpickle :obj:`path` with :class:`RestrictedUnpickler`.

    Raises:
        ValueError: the pickle references a disallowed global or is corrupt.
    """
    with open(path, "rb") as handle:
        try:
            return RestrictedUnpickler(handle, encoding=encoding).load()
        except pickle.UnpicklingError as error:
            raise ValueError(f"{path}: {error}. Only DCRNN-style [sensor_ids, id_to_index, "
                             f"adj] pickles are accepted.") from error
        except (EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"{path} is not a valid pickle ({type(error).__name__}: {error}); "
                             f"it is probably truncated.") from error


def load_adjacency_pickle(path: PathLike, num_nodes: Optional[int] = None,
                          sha256: Optional[str] = None
                          ) -> Tuple[List[str], Dict[str, int], np.ndarray]:
    r"""Load DCRNN's adjacency pickle ``[sensor_ids, id_to_index, adj]``.

    The file is validated before unpickling (exists, non-empty, SHA-256 when
    :obj:`sha256` is given, a pickle protocol header) and unpickled with
    :class:`RestrictedUnpickler`; the result's structure is checked after.

    Args:
        path (str or Path): the ``.pkl`` file.
        num_nodes (int, optional): the expected number of sensors.
        sha256 (str, optional): the expected SHA-256 of the file.

    Returns:
        ``(sensor_ids, id_to_index, adj)`` with ``adj`` a float32 ``(N, N)``
        array; sensor ids are strings.
    """
    path = Path(path)
    size = path.stat().st_size
    if size < 2:
        raise ValueError(f"{path} is empty or truncated ({size} bytes); download it again.")
    verify_sha256(path, sha256)
    with open(path, "rb") as handle:
        head = handle.read(1)
    if head not in (b"\x80", b"(", b"]", b"}"):
        raise ValueError(f"{path} does not start like a pickle; is it the adjacency .pkl file?")
    obj = restricted_load(path)
    if not (isinstance(obj, (list, tuple)) and len(obj) == 3):
        raise ValueError(f"{path} holds a {type(obj).__name__}, expected the DCRNN layout "
                         f"[sensor_ids, id_to_index, adj_mx].")
    sensor_ids, id_to_index, adj = obj
    if not isinstance(adj, np.ndarray):
        raise ValueError(f"{path}: the adjacency (item 2) is a {type(adj).__name__}, "
                         f"expected a numpy array.")
    n = adj.shape[0] if adj.ndim == 2 else -1
    check_array(adj, f"{path} adjacency", (num_nodes or n, num_nodes or n), kind="fiub")
    if not isinstance(sensor_ids, (list, tuple)) or len(sensor_ids) != adj.shape[0]:
        raise ValueError(f"{path}: sensor_ids (item 0) must be a list of {adj.shape[0]} ids.")
    if not isinstance(id_to_index, dict) or len(id_to_index) != adj.shape[0]:
        raise ValueError(f"{path}: id_to_index (item 1) must be a dict of {adj.shape[0]} ids.")
    sensor_ids = [str(s) for s in sensor_ids]
    id_to_index = {str(k): int(v) for k, v in id_to_index.items()}
    if any(id_to_index.get(s) != i for i, s in enumerate(sensor_ids)):
        raise ValueError(f"{path}: id_to_index does not map sensor_ids[i] to i.")
    check_edge_weights(adj, f"{path} adjacency")
    return sensor_ids, id_to_index, adj.astype(np.float32, copy=False)


def dense_to_edges(adj: Union[np.ndarray, "Any"]) -> Tuple["Any", "Any"]:
    r"""``(edge_index (2, E) long, edge_weight (E,) float)`` torch tensors of
    the non-zero entries of a dense adjacency, in row-major order (as
    :func:`torch_geometric.utils.dense_to_sparse`)."""
    import torch

    from torch_geometric_temporal._pyg import pyg

    adj_t = torch.as_tensor(np.asarray(adj, dtype=np.float32))
    edge_index, edge_weight = pyg("utils").dense_to_sparse(adj_t)
    return edge_index, edge_weight.to(torch.float32)
