r"""Atomic file writes: one definition for every output the package writes.

A file is written to a temporary name in its own folder (``.tmp-<name>.*``),
flushed and ``fsync``-ed, given the permissions a plain ``open()`` would give
it under the current umask, and moved into place with :func:`os.replace`. A
crash at any point leaves either the old file or the new one, never a torn
one; a stray temporary file is the most it can leave, and
:func:`remove_stale_temps` cleans those up. :func:`atomic_write` hands the
writer an open file; :func:`atomic_path` a file name (for writers that open
the file themselves, e.g. HDF5).
"""
import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, List, Tuple, Union

__all__ = ["TEMP_PREFIX", "atomic_path", "atomic_write", "current_umask", "remove_stale_temps"]

PathLike = Union[str, "os.PathLike[str]"]

#: Prefix of every temporary file written by :func:`atomic_write`.
TEMP_PREFIX = ".tmp-"


def current_umask() -> int:
    r"""The process umask (read without changing it for other threads
    longer than the two calls)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Tuple[int, str]]:
    r"""``(fd, name)`` of a new temporary file next to :obj:`path` with the
    umask's permissions; the caller owns (and closes) ``fd``. The file is
    moved onto :obj:`path` on a clean exit and removed on an exception."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        except BaseException:
            os.close(fd)
            raise
        yield fd, tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", fsync: bool = True,
                 **open_kwargs) -> Iterator[IO]:
    r"""Open a temporary file next to :obj:`path` for writing; on a clean
    exit of the ``with`` block it replaces :obj:`path` atomically, on an
    exception it is removed and :obj:`path` is left as it was.

    The file gets mode ``0o666 & ~umask`` (what ``open(path, "w")`` gives),
    not :func:`tempfile.mkstemp`'s ``0o600``.

    Args:
        path (str or Path): the file to write.
        mode (str): ``"wb"`` or ``"w"`` (text). (default: ``"wb"``)
        fsync (bool): ``fsync`` before the rename. (default: ``True``)
        **open_kwargs: passed to :func:`os.fdopen` (e.g. ``newline=""``).

    Example:
        >>> with atomic_write("out/stats.csv", "w", newline="") as f:
        ...     f.write("a,b\n")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write opens files for writing only ('w' or 'wb'), got {mode!r}")
    with _temporary_beside(Path(path)) as (fd, _):
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path: PathLike, fsync: bool = True) -> Iterator[str]:
    r"""Like :func:`atomic_write`, for writers that take a file *name*
    rather than an open file (e.g. :meth:`pandas.DataFrame.to_hdf`): yields
    the name of an empty temporary file next to :obj:`path` to write; on a
    clean exit it is ``fsync``-ed and replaces :obj:`path` atomically, on an
    exception it is removed.

    Args:
        path (str or Path): the file to write.
        fsync (bool): ``fsync`` before the rename. (default: ``True``)

    Example:
        >>> with atomic_path("speeds.h5") as tmp:
        ...     frame.to_hdf(tmp, key="df", mode="w")
    """
    with _temporary_beside(Path(path)) as (fd, tmp):
        os.close(fd)
        yield tmp
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())


def remove_stale_temps(directory: PathLike, names: List[str]) -> List[Path]:
    r"""Remove the temporary files :func:`atomic_write` left in
    :obj:`directory` for the files :obj:`names` (e.g. after a killed write
    of ``checkpoint.pt``). Call it only while holding the directory's run
    lock, so no live writer owns them. Returns the removed paths.
    """
    directory = Path(directory)
    removed = []
    if not directory.is_dir():
        return removed
    prefixes = tuple(f"{TEMP_PREFIX}{name}." for name in names)
    for entry in directory.iterdir():
        if entry.name.startswith(prefixes) and entry.is_file():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry)
    return removed
