r"""Plots of a training run's CSVs (matplotlib, PNG).

Usage::

    python -m torch_geometric_temporal.plot runs/chickenpox

writes ``learning_curves.png`` (train and validation MAE per epoch, from
``per_epoch_stats.csv``) and ``memory.png`` (process RSS, system memory and,
with a GPU, GPU memory over time, from ``system_stats.csv``) into the run's
folder (or ``--out``).
"""
import logging
import os
from datetime import datetime
from typing import List, Optional, Sequence, Tuple

from torch_geometric_temporal._atomic import atomic_write
from torch_geometric_temporal._optional import require
from torch_geometric_temporal.train.stats import parse_float, read_csv

__all__ = ["plot_learning_curves", "plot_memory", "plot_run", "main"]

log = logging.getLogger(__name__)


def _pyplot():
    matplotlib = require("matplotlib", "monitor", "Plotting")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", "monitor", "Plotting")

    return plt


def _save(plt, fig, png_path: str) -> None:
    try:  # atomic, with the umask's permissions
        with atomic_write(png_path, "wb") as f:
            fig.savefig(f, format="png", dpi=120)
    finally:
        plt.close(fig)


def _require(path: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} does not exist; pass the --out-dir of a training run "
            "(e.g. runs/chickenpox after `make run`)."
        )
    return path


def _rows(csv_path: str, empty: str) -> List[dict]:
    rows = read_csv(_require(csv_path))
    if not rows:
        raise ValueError(f"{csv_path} {empty}")
    return rows


def _plot_columns(ax, x: Sequence[float], rows: List[dict], series: Sequence[Tuple[str, str]],
                  **style) -> None:
    r"""One line per ``(column, label)`` of :obj:`series` that has a value
    (empty cells are gaps)."""
    for column, label in series:
        values = [parse_float(r.get(column)) for r in rows]
        if any(v is not None for v in values):
            ax.plot(x, [float("nan") if v is None else v for v in values], label=label, **style)


def _finish(plt, fig, ax, title: str, png_path: str) -> str:
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save(plt, fig, png_path)
    return png_path


def plot_learning_curves(per_epoch_csv: str, png_path: str, title: Optional[str] = None) -> str:
    r"""Train / validation MAE per epoch from ``per_epoch_stats.csv``."""
    rows = _rows(per_epoch_csv, "has no epoch rows yet; plot after the first epoch.")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    _plot_columns(ax, [int(r["epoch"]) for r in rows], rows,
                  (("train_mae", "train MAE"), ("val_mae", "validation MAE")), marker="o", markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (data units)")
    return _finish(plt, fig, ax, title or "Learning curves", png_path)


def _seconds(stamps: Sequence[str]) -> List[float]:
    times = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S") for s in stamps]
    return [(t - times[0]).total_seconds() for t in times]


def plot_memory(system_csv: str, png_path: str, title: Optional[str] = None) -> str:
    r"""Memory timeline from ``system_stats.csv`` (MB over seconds)."""
    rows = _rows(system_csv, "has no samples; the monitor writes one per second.")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    _plot_columns(ax, _seconds([r["timestamp"] for r in rows]), rows,
                  (("process_rss_mb", "process RSS"), ("system_memory_used_mb", "system memory used"),
                   ("gpu_memory_used_mb", "GPU memory used")))
    total = parse_float(rows[-1].get("system_memory_total_mb"))
    gpu_total = parse_float(rows[-1].get("gpu_memory_total_mb"))
    totals = [f"system total {total:,.0f} MB" if total is not None else "",
              f"GPU total {gpu_total:,.0f} MB" if gpu_total is not None else ""]
    note = ", ".join(t for t in totals if t)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("MB")
    ax.set_ylim(bottom=0)
    return _finish(plt, fig, ax, (title or "Memory") + (f" ({note})" if note else ""), png_path)


def plot_run(run_dir: str, out_dir: Optional[str] = None) -> List[str]:
    r"""Both plots of the run in ``run_dir``; returns the PNG paths."""
    out_dir = out_dir or run_dir
    os.makedirs(out_dir, exist_ok=True)
    name = os.path.basename(os.path.normpath(run_dir))
    return [
        plot_learning_curves(os.path.join(run_dir, "per_epoch_stats.csv"),
                             os.path.join(out_dir, "learning_curves.png"), f"Learning curves: {name}"),
        plot_memory(os.path.join(run_dir, "system_stats.csv"), os.path.join(out_dir, "memory.png"),
                    f"Memory: {name}"),
    ]


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    from torch_geometric_temporal.train.script import ScriptArgumentParser

    p = ScriptArgumentParser(prog="python -m torch_geometric_temporal.plot",
                                description="Plot learning curves and the memory timeline of a run.")
    p.add_argument("run_dir", help="the --out-dir of a training run")
    p.add_argument("--out", default=None, help="folder for the PNGs (default: run_dir)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = plot_run(args.run_dir, args.out)
    for path in paths:
        log.info("wrote %s", path)
    return paths


if __name__ == "__main__":
    import sys

    from torch_geometric_temporal.train.script import run_script

    sys.exit(run_script(main, prog="python -m torch_geometric_temporal.plot"))
