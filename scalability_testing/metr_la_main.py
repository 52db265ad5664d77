r"""DCRNN on METR-LA (207 Los Angeles loop detectors, 5-minute speeds), base or index-batching.

Example::

    python scalability_testing/metr_la_main.py --mode index --data-dir DIR --out-dir runs/metr_la

PGT-I's METR-LA A3TGCN2 model (32 channels, a linear read-out to the 12 steps;
any ``--model`` works, see ``torch_geometric_temporal.train.models``)::

    python scalability_testing/metr_la_main.py --mode index --model a3tgcn --batch-size 32 --data-dir DIR

Zero speeds are missing readings and are masked out of loss and metrics (DCRNN);
windows are 12 steps (1 hour) in, 12 out.
"""
import sys

from torch_geometric_temporal.train.cli import make_main
from torch_geometric_temporal.train.datasets import DATASETS
from torch_geometric_temporal.train.script import run_script

SPEC = DATASETS["metr_la"]

main = make_main(SPEC)


if __name__ == "__main__":
    sys.exit(run_script(main))
