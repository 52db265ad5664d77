r"""Accuracy table: the recurrent models (``--models``, any ``--model`` of the
training scripts; DCRNN by default) vs the last-value and historical-average
baselines.

* Chickenpox (shipped data, default script settings): test MAE of the
  seq2seq and the per-step (PGT-I) DCRNN vs last value, all on the same test
  windows (4 weeks in, 4 out).
* METR-LA, the 7 real days (``tests/data/los_loop/los_speed.csv`` on the real
  graph, converted to METR-LA files): test MAE at 15 / 30 / 60 minutes
  (horizon steps 3 / 6 / 12) of the seq2seq DCRNN vs last value and
  historical average (per sensor and 5-minute time-of-day slot, over the
  training period; zeros = missing readings masked, as in DCRNN).

Usage::

    python benchmarks/bench_baselines.py --dataset chickenpox
    python benchmarks/bench_baselines.py --dataset metr_la_7d   # 12 epochs, 32 units, 1 layer
"""
import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from torch_geometric_temporal.train.models import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[1]
HORIZONS = {3: "15 min", 6: "30 min", 12: "60 min"}


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scalability_testing" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chickenpox(args):
    from torch_geometric_temporal.dataset import ChickenpoxDatasetLoader
    from torch_geometric_temporal.dataset.index_batching import chronological_split, window_starts
    from torch_geometric_temporal.train.baselines import last_value_forecast, score_forecast, window_targets

    series = ChickenpoxDatasetLoader().read_data()[..., 0]
    _, _, test = chronological_split(window_starts(series.shape[0], 4, 4))
    truth = window_targets(series, test, 4, 4)
    rows = [("last value", score_forecast(last_value_forecast(series, test, 4, 4), truth, None), "")]
    script = load_script("chicken_pox_main")
    for model in args.models:
        out = os.path.join(args.out_dir, f"chickenpox_{model}")
        argv = ["--mode", "index", "--model", model, "--out-dir", out, "--overwrite", "-q", "--threads", str(args.threads)]
        if args.epochs is not None:
            argv += ["--epochs", str(args.epochs)]
        t0 = time.perf_counter()
        result = script.main(argv)
        cmd = "python scalability_testing/chicken_pox_main.py " + " ".join(argv)
        rows.append((_label(model), result["test"], f"{time.perf_counter() - t0:.0f}s: `{cmd}`"))
    print("\n### Chickenpox (test windows, 4 weeks ahead, no masking)\n")
    print("| forecast | test MAE | MAE wk 1 | MAE wk 2 | MAE wk 3 | MAE wk 4 | run |")
    print("|---|---|---|---|---|---|---|")
    for name, m, note in rows:
        steps = " | ".join(f"{v:.4f}" for v in m["mae_per_step"])
        print(f"| {name} | {m['mae']:.4f} | {steps} | {note} |")


def metr_la_7d(args):
    from torch_geometric_temporal.dataset import METRLADatasetLoader, synthetic
    from torch_geometric_temporal.dataset.index_batching import chronological_split, window_starts
    from torch_geometric_temporal.train.baselines import (
        HistoricalAverage,
        last_value_forecast,
        score_forecast,
        time_of_day_slots,
        window_targets,
    )

    data_dir = os.path.join(args.out_dir, "metr_la_7d_data")
    synthetic.los_loop_to_metr_la(ROOT / "tests/data/los_loop/los_speed.csv",
                                  ROOT / "tests/data/metr_la/adj_mx.pkl", data_dir)
    values = METRLADatasetLoader(raw_data_dir=data_dir, download=False).read_data()  # (T, N, 2)
    speed, slots = values[..., 0], time_of_day_slots(values[:, 0, 1])
    train, _, test = chronological_split(window_starts(speed.shape[0], 12, 12))
    span = int(train.max()) + 12  # steps read as input by the training windows
    truth = window_targets(speed, test, 12, 12)
    lv = score_forecast(last_value_forecast(speed, test, 12, 12), truth, 0.0)
    ha_model = HistoricalAverage(288, null_value=0.0).fit(speed[:span], slots[:span])
    target_slots = slots[test[:, None] + 12 + np.arange(12)[None, :]]
    ha = score_forecast(ha_model.predict(target_slots), truth, 0.0)
    per_slot = ha_model.counts.mean()
    rows = [("last value", lv, ""), (f"historical average ({per_slot:.1f} values/slot/sensor)", ha, "")]
    script = load_script("metr_la_main")
    for model in args.models:
        out = os.path.join(args.out_dir, f"metr_la_7d_{model}")
        argv = ["--mode", "index", "--model", model, "--data-dir", data_dir, "--out-dir", out, "--overwrite",
                "--epochs", str(args.epochs or 12), "--batch-size", str(args.batch_size),
                "--lr", str(args.lr), "--hidden", str(args.hidden), "--layers", str(args.layers),
                "--grad-clip", "5", "--threads", str(args.threads), "-q"]
        t0 = time.perf_counter()
        result = script.main(argv)
        cmd = "python scalability_testing/metr_la_main.py " + " ".join(argv).replace(data_dir, "DATA")
        rows.append((_label(model), result["test"], f"{time.perf_counter() - t0:.0f}s: `{cmd}`"))
    print(f"\n### METR-LA, 7 real days ({speed.shape[0]} steps x {speed.shape[1]} sensors; "
          f"{len(train)} train / {len(test)} test windows), masked MAE (mph)\n")
    print("| forecast | 15 min | 30 min | 60 min | all 12 steps | run |")
    print("|---|---|---|---|---|---|")
    for name, m, note in rows:
        cells = " | ".join(f"{m['mae_per_step'][h - 1]:.3f}" for h in HORIZONS)
        print(f"| {name} | {cells} | {m['mae']:.3f} | {note} |")


def _label(model):
    """The table's name of a ``--model`` run."""
    return {"batched": "DCRNN, PGT-I per-step BatchedDCRNN", "seq2seq": "DCRNN seq2seq"}.get(
        model, f"`--model {model}`")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("chickenpox", "metr_la_7d"), required=True)
    p.add_argument("--models", nargs="*", default=["seq2seq"], choices=MODEL_NAMES,
                   help="--model names of the training scripts (default: seq2seq)")
    p.add_argument("--epochs", type=int, default=None, help="default: the script's (chickenpox), 12 (METR-LA)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads of the training runs")
    p.add_argument("--out-dir", default=None)
    args = p.parse_args(argv)
    args.out_dir = args.out_dir or tempfile.mkdtemp(prefix="bench_baselines_")
    {"chickenpox": chickenpox, "metr_la_7d": metr_la_7d}[args.dataset](args)


if __name__ == "__main__":
    sys.exit(main())
