r"""CSV outputs of a training run: ``stats.csv``, ``per_epoch_stats.csv`` and
``system_stats.csv``.

Rows are written whole: each row is formatted in memory and written with one
``write`` call, then flushed and ``fsync``-ed, so a run killed at any moment
leaves only complete rows. Whole files (``stats.csv``, a rewritten
``per_epoch_stats.csv`` on resume) are written with
:func:`~torch_geometric_temporal._atomic.atomic_write` (a temporary file
moved into place with :func:`os.replace`). Every file gets the permissions
the umask gives a plain ``open()``.
"""
import csv
import io
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from torch_geometric_temporal._atomic import atomic_write

__all__ = [
    "Columns",
    "GPU_COLUMNS",
    "STATS_COLUMNS",
    "PER_EPOCH_COLUMNS",
    "SYSTEM_COLUMNS",
    "TEST_METRICS_COLUMNS",
    "CSVAppender",
    "write_csv_atomic",
    "read_csv",
]

class Columns(list):
    r"""The column names of one CSV file: this package's own, then PGT-I's
    names (the index-batching paper's scripts and analysis code read them),
    each repeating the value of one of ours in the same unit. A row written
    with these columns (:class:`CSVAppender`, :func:`write_csv_atomic`) gets
    the PGT-I cells filled from their sources.

    Args:
        names (sequence of str): this package's columns.
        aliases (dict, optional): PGT-I's column name -> the column of
            :obj:`names` whose value it repeats.
    """

    def __init__(self, names: Sequence[str], aliases: Optional[Mapping[str, str]] = None):
        aliases = dict(aliases or {})
        unknown = set(aliases.values()) - set(names)
        if unknown:
            raise ValueError(f"aliases name columns {sorted(unknown)} that are not in {list(names)}")
        super().__init__([*names, *aliases])
        self.aliases = aliases


#: GPU columns of ``stats.csv`` and ``ranks.csv`` (MB), empty when the run
#: trains on the CPU: ``gpu_memory_total_mb`` / ``gpu_memory_peak_mb`` are
#: NVML's size and peak sampled used memory of the training GPU (device-wide:
#: other processes on that GPU count too; sampled about once a second),
#: ``gpu_max_allocated_mb`` / ``gpu_max_reserved_mb`` the exact peaks of this
#: run's tensors and of what PyTorch's caching allocator reserved. Under DDP
#: ``stats.csv`` holds the maximum over the ranks and ``ranks.csv`` each rank's.
GPU_COLUMNS: List[str] = ["gpu_memory_total_mb", "gpu_memory_peak_mb", "gpu_max_allocated_mb",
                          "gpu_max_reserved_mb"]

#: Columns of ``stats.csv`` (one row per run). Memory in MB; the GPU columns
#: (:data:`GPU_COLUMNS`) are empty for a CPU run. Then PGT-I's names: ``preprocessing``,
#: ``training``, ``total`` (seconds), ``t_mae``/``v_mae`` (best train/validation MAE),
#: ``max_system_mem`` (peak system memory used, MB), ``gpu_memory_total`` and
#: ``max_gpu_mem`` (the training GPU's size and peak used memory, MB).
STATS_COLUMNS: Columns = Columns([
    "dataset",
    "mode",
    "model",
    "epochs",
    "batch_size",
    "preprocessing_seconds",
    "training_seconds",
    "total_seconds",
    "best_train_mae",
    "best_val_mae",
    "test_mae",
    "test_rmse",
    "test_mape",
    "system_memory_total_mb",
    "system_memory_peak_mb",
    "process_rss_peak_mb",
    *GPU_COLUMNS,
], aliases={
    "preprocessing": "preprocessing_seconds",
    "training": "training_seconds",
    "total": "total_seconds",
    "t_mae": "best_train_mae",
    "v_mae": "best_val_mae",
    "max_system_mem": "system_memory_peak_mb",
    "gpu_memory_total": "gpu_memory_total_mb",
    "max_gpu_mem": "gpu_memory_peak_mb",
})

#: Columns of ``per_epoch_stats.csv`` (one row per finished epoch), then
#: PGT-I's ``runtime`` (seconds), ``t_mae`` and ``v_mae`` (the epoch's MAEs).
PER_EPOCH_COLUMNS: Columns = Columns(
    ["epoch", "runtime_seconds", "train_mae", "val_mae", "lr"],
    aliases={"runtime": "runtime_seconds", "t_mae": "train_mae", "v_mae": "val_mae"})

#: Columns of ``system_stats.csv`` (one row per monitor sample, ~1 per second;
#: the GPU columns are NVML's device-wide figures of the training GPU, empty
#: for a CPU run), then PGT-I's ``Timestamp`` (the same local time,
#: ``YYYY-MM-DD HH:MM:SS``) and ``System_Memory_Used`` (MB).
SYSTEM_COLUMNS: Columns = Columns([
    "timestamp",
    "process_rss_mb",
    "system_memory_used_mb",
    "system_memory_total_mb",
    "gpu_memory_used_mb",
    "gpu_memory_total_mb",
], aliases={"Timestamp": "timestamp", "System_Memory_Used": "system_memory_used_mb"})

#: Columns of ``test_metrics.csv`` (one row per horizon step, plus ``all``).
TEST_METRICS_COLUMNS: List[str] = ["horizon", "mae", "rmse", "mape"]


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        return repr(value)
    return str(value)


def _row_text(fieldnames: Sequence[str], row: Mapping[str, object]) -> str:
    aliases = getattr(fieldnames, "aliases", {})
    if aliases:
        row = {**{alias: row[source] for alias, source in aliases.items() if source in row}, **row}
    unknown = set(row) - set(fieldnames)
    if unknown:
        raise ValueError(
            f"CSV row has unknown columns {sorted(unknown)}; expected a subset of {list(fieldnames)}."
        )
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_format(row.get(k)) for k in fieldnames])
    return buf.getvalue()


class CSVAppender:
    r"""Appends whole rows to a CSV file, flushing and ``fsync``-ing each.

    Writes the header when the file is new or empty. Missing values and
    ``None`` become empty cells.

    Args:
        path (str): file to append to.
        fieldnames (list of str): column names, in order.
        fsync (bool): also ``os.fsync`` after every row. (default: ``True``)
    """

    def __init__(self, path: str, fieldnames: Sequence[str], fsync: bool = True):
        self.path = str(path)
        self.fieldnames = fieldnames if isinstance(fieldnames, Columns) else list(fieldnames)
        self.fsync = fsync
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            self._write(",".join(self.fieldnames) + "\n")

    def _write(self, text: str) -> None:
        with open(self.path, "a", newline="") as f:
            f.write(text)
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())

    def append(self, row: Mapping[str, object]) -> None:
        r"""Write one row (a mapping from column name to value)."""
        self._write(_row_text(self.fieldnames, row))


def write_csv_atomic(path: str, fieldnames: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    r"""Write a whole CSV file atomically (temporary file, ``fsync``,
    :func:`os.replace`; permissions from the umask)."""
    text = ",".join(fieldnames) + "\n" + "".join(_row_text(fieldnames, r) for r in rows)
    with atomic_write(path, "w", newline="") as f:
        f.write(text)


def write_stats(out_dir: str, *, dataset: str, args: Any, preprocessing_seconds: float,
                training_seconds: float, total_seconds: float, best_train_mae: float,
                best_val_mae: float, test: Mapping[str, float],
                peaks: Mapping[str, object], epochs: Optional[int] = None) -> Dict[str, Any]:
    r"""Write the one-row ``stats.csv`` of a run atomically and return the row.

    Args:
        out_dir (str): the run's output directory.
        dataset (str): dataset name.
        args (argparse.Namespace): the script's arguments (``mode``, ``model``,
            ``epochs``, ``batch_size``).
        preprocessing_seconds, training_seconds, total_seconds (float): timings.
        best_train_mae, best_val_mae (float): best epoch metrics.
        test (dict): test metrics with keys ``mae``, ``rmse``, ``mape``.
        peaks (dict): memory peaks from :meth:`SystemMonitor.peaks`.
        epochs (int, optional): epochs the model was trained, resumed runs
            included (default: ``args.epochs``).
    """
    row: Dict[str, Any] = {
        "dataset": dataset,
        "mode": args.mode,
        "model": args.model,
        "epochs": args.epochs if epochs is None else epochs,
        "batch_size": args.batch_size,
        "preprocessing_seconds": round(preprocessing_seconds, 6),
        "training_seconds": round(training_seconds, 6),
        "total_seconds": round(total_seconds, 6),
        "best_train_mae": best_train_mae,
        "best_val_mae": best_val_mae,
        "test_mae": test.get("mae"),
        "test_rmse": test.get("rmse"),
        "test_mape": test.get("mape"),
    }
    row.update(peaks)
    write_csv_atomic(os.path.join(out_dir, "stats.csv"), STATS_COLUMNS, [row])
    return row


def read_csv(path: str) -> List[Dict[str, str]]:
    r"""Read a CSV written by this module into a list of dicts (strings)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def parse_float(value: Optional[str]) -> Optional[float]:
    r"""``float(value)``, or ``None`` for an empty cell."""
    if value is None or value == "":
        return None
    return float(value)
