r"""DCRNN on Windmill Output Large (319 wind farms, hourly energy output), base or index-batching.

Example::

    python scalability_testing/windmill_main.py --mode index --data-dir DIR --out-dir runs/windmill

Energy output is standardized and a zero is a real value, so no target is masked
(``null_value=None``); windows are PGT-I's ``lags = 8`` steps in, 8 out.
"""
import sys

from torch_geometric_temporal.train.cli import make_main
from torch_geometric_temporal.train.datasets import DATASETS
from torch_geometric_temporal.train.script import run_script

SPEC = DATASETS["windmill"]

main = make_main(SPEC)


if __name__ == "__main__":
    sys.exit(run_script(main))
