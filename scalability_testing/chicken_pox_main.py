r"""DCRNN on Chickenpox Hungary (20 counties, 521 weeks), base or index-batching.

Example (the README's main job, a few seconds on 2 cores)::

    python scalability_testing/chicken_pox_main.py --mode index --out-dir runs/chickenpox

Chickenpox counts are already standardized and a zero is a real value, not a
missing reading, so no target is masked (``null_value=None``); windows are
PGT-I's ``lags = 4`` weeks in, 4 weeks out. The graph is tiny, so the default
is one CPU thread (``--threads``).
"""
import sys

from torch_geometric_temporal.train.cli import make_main
from torch_geometric_temporal.train.datasets import DATASETS
from torch_geometric_temporal.train.script import run_script

SPEC = DATASETS["chickenpox"]

main = make_main(SPEC)


if __name__ == "__main__":
    sys.exit(run_script(main))
