r"""The output directory of a training run: one run at a time, no mixing.

:class:`RunDirectory` guards an ``--out-dir`` for the length of a run:

* an exclusive :func:`fcntl.flock` on ``.pgt-run.lock`` inside it (a second
  run into the same folder is refused; the kernel drops the lock when the
  process ends, however it ends, so a killed run never leaves a stale
  lock);
* the temporary files that killed atomic writes of this run's outputs left
  behind are removed;
* a folder that holds a previous run's outputs (:data:`OUTPUT_NAMES`) is
  refused unless the run resumes it (``--resume``) or replaces it
  (``--overwrite``); other files are no reason to refuse (the folder may be
  the current directory);
* ``--overwrite`` removes exactly those outputs, and only once the new run
  has loaded its data and built its model (:meth:`RunDirectory.clear_previous`),
  so a run that fails to start deletes nothing.
"""
import contextlib
import errno
import fcntl
import logging
import os
import re
import socket
from typing import Dict, List, Optional, Sequence, Tuple

from torch_geometric_temporal._atomic import remove_stale_temps
from torch_geometric_temporal.train.checkpoint import CHECKPOINT_NAME, missing_checkpoint_error

__all__ = ["OUTPUT_NAMES", "LOCK_NAME", "OutDirError", "RunDirectory", "clear_outputs", "remove_run_temps"]

log = logging.getLogger(__name__)

#: Every file a training run writes into its ``--out-dir`` (scripts, the DDP
#: harness and ``python -m torch_geometric_temporal.plot``).
OUTPUT_NAMES: Tuple[str, ...] = ("stats.csv", "per_epoch_stats.csv", "system_stats.csv", "test_metrics.csv",
                                 CHECKPOINT_NAME, "ranks.csv", "learning_curves.png", "memory.png")

#: The lock file inside the output directory (removed when the run ends).
LOCK_NAME = ".pgt-run.lock"

# temporary names of earlier versions: tempfile.mkstemp(prefix=".tmp-", suffix=".pt"/".csv"/".png")
_OLD_TEMP = re.compile(r"^\.tmp-[a-z0-9_]{8}\.(pt|csv|png)$")


class OutDirError(ValueError):
    r"""The output directory cannot take this run (in use, or holding a
    previous run's outputs without ``--resume``/``--overwrite``)."""


def remove_run_temps(directory: str) -> List[str]:
    r"""Remove the temporary files that killed writes of a run's outputs
    left in :obj:`directory` (this version's ``.tmp-<name>.*`` and the
    ``.tmp-XXXXXXXX.pt``/``.csv``/``.png`` of earlier versions). Call it only
    while holding the directory's lock. Returns the removed file names."""
    removed = [p.name for p in remove_stale_temps(directory, list(OUTPUT_NAMES))]
    with os.scandir(directory) as entries:
        for entry in entries:
            if _OLD_TEMP.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    if removed:
        log.info("Removed %d temporary file(s) of killed writes in %s: %s", len(removed), directory,
                 ", ".join(sorted(removed)))
    return removed


def clear_outputs(directory: str, keep: Sequence[str] = ()) -> List[str]:
    r"""Remove every file of :data:`OUTPUT_NAMES` from :obj:`directory`
    except :obj:`keep`, and nothing else, ``system_stats.csv`` first (see
    :meth:`RunDirectory.started_since_claim`). Returns the removed names."""
    removed = []
    for name in sorted(OUTPUT_NAMES, key=lambda n: n != "system_stats.csv"):
        if name in keep:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, name))
            removed.append(name)
    if removed:
        log.info("--overwrite: removed the previous run's %s from %s", ", ".join(removed), directory)
    return removed


def _stat_key(path: str) -> Optional[Tuple[int, int, int]]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class RunDirectory:
    r"""Claims an output directory for one run (see the module docstring).

    Use as a context manager; the lock is released (and its file removed) on
    any exit.

    Args:
        path (str): the ``--out-dir``.
        resume (bool): the run continues the checkpoint in :obj:`path`
            (which must exist). (default: ``False``)
        overwrite (bool): the run replaces the outputs found in :obj:`path`
            (removed by :meth:`clear_previous`). (default: ``False``)

    Example:
        >>> with RunDirectory("runs/metr_la", overwrite=True) as run_dir:
        ...     data, model = load(), build()   # may fail: nothing deleted yet
        ...     run_dir.clear_previous()
        ...     train(...)
    """

    def __init__(self, path: str, *, resume: bool = False, overwrite: bool = False):
        if resume and overwrite:
            raise OutDirError("--resume continues the run in --out-dir and --overwrite replaces it; "
                              "pass only one of them.")
        self.path = str(path)
        self.resume = bool(resume)
        self.overwrite = bool(overwrite)
        #: outputs of a previous run found when the directory was claimed
        self.previous: List[str] = []
        self._snapshot: Dict[str, Optional[Tuple[int, int, int]]] = {}
        self._fd: Optional[int] = None

    @property
    def lock_path(self) -> str:
        return os.path.join(self.path, LOCK_NAME)

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.path, CHECKPOINT_NAME)

    @property
    def replacing(self) -> bool:
        r"""``True`` when this run replaces a previous run's outputs."""
        return self.overwrite and bool(self.previous)

    # -- lock --------------------------------------------------------------------
    def _lock(self) -> None:
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                owner = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise OutDirError(
                    f"--out-dir {self.path} is in use by another run (process {owner}); wait for it to "
                    "finish or choose another --out-dir."
                ) from None
            # the previous owner may have removed the file between our open and our lock
            try:
                if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        r"""Release the lock and remove the lock file (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                os.unlink(self.lock_path)  # while still locked, so no one can lock this inode meanwhile
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)

    # -- claim -------------------------------------------------------------------
    def acquire(self) -> "RunDirectory":
        r"""Lock the directory, remove stale temporary files and check what
        it holds against ``resume``/``overwrite``."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise OutDirError(f"--out-dir {self.path} is a file, not a folder; choose a folder.")
        if self.resume and not os.path.isdir(self.path):
            raise missing_checkpoint_error(self.checkpoint_path)  # without creating the folder
        os.makedirs(self.path, exist_ok=True)
        self._lock()
        try:
            remove_run_temps(self.path)
            self.previous = [n for n in OUTPUT_NAMES if os.path.isfile(os.path.join(self.path, n))]
            if self.resume and not os.path.isfile(self.checkpoint_path):
                raise missing_checkpoint_error(self.checkpoint_path)
            if self.previous and not (self.resume or self.overwrite):
                raise OutDirError(
                    f"--out-dir {self.path} holds the outputs of a previous run ({', '.join(self.previous)}); "
                    "pass --resume to continue that run or --overwrite to replace its outputs, or choose "
                    "another --out-dir."
                )
            self._snapshot = {n: _stat_key(os.path.join(self.path, n)) for n in OUTPUT_NAMES}
        except BaseException:
            self.release()
            raise
        return self

    def clear_previous(self, keep: Sequence[str] = ()) -> List[str]:
        r"""With ``overwrite``, remove the previous run's outputs (all of
        :data:`OUTPUT_NAMES` but :obj:`keep`); call it once the new run has
        loaded its data and built its model. A no-op otherwise."""
        if not self.replacing:
            return []
        return clear_outputs(self.path, keep)

    def started_since_claim(self) -> bool:
        r"""``True`` once an output other than ``system_stats.csv`` was
        removed, replaced or created since :meth:`acquire`: the run has
        started (a fresh or resumed :class:`Trainer` writes
        ``per_epoch_stats.csv`` first; ``--overwrite`` removes the old
        outputs, ``system_stats.csv`` first, before that). The memory
        monitor appends to ``system_stats.csv`` only from then on."""
        return any(_stat_key(os.path.join(self.path, n)) != key
                   for n, key in self._snapshot.items() if n != "system_stats.csv")

    def __enter__(self) -> "RunDirectory":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
