r"""DCRNN on PeMS-Bay (325 Bay Area sensors, 5-minute speeds), base or index-batching.

Example::

    python scalability_testing/pems_bay_main.py --mode index --data-dir DIR --out-dir runs/pems_bay

Zero speeds are missing readings and are masked out of loss and metrics (DCRNN);
windows are 12 steps (1 hour) in, 12 out.
"""
import sys

from torch_geometric_temporal.train.cli import make_main
from torch_geometric_temporal.train.datasets import DATASETS
from torch_geometric_temporal.train.script import run_script

SPEC = DATASETS["pems_bay"]

main = make_main(SPEC)


if __name__ == "__main__":
    sys.exit(run_script(main))
