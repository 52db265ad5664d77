r"""DCRNN on Windmill Output Large (319 wind farms, hourly energy output), base or index-batching.

Example::

    python scalability_testing/windmill_main.py --mode index --data-dir DIR --out-dir runs/windmill

Energy output is standardized and a zero is a real value, so no target is masked
(``null_value=None``); windows are PGT-I's ``lags = 8`` steps in, 8 out.
"""
import sys

from torch_geometric_temporal.train.cli import DatasetSpec, make_main
from torch_geometric_temporal.train.script import run_script

SPEC = DatasetSpec(
    name="windmill",
    loader="torch_geometric_temporal.dataset.windmill:WindmillOutputLargeDatasetLoader",
    description="Demo of index batching with the Windmill Output Large dataset (DCRNN).",
    num_timesteps_in=8,
    num_timesteps_out=8,
    null_value=None,
    lags_argument=True,
)


main = make_main(SPEC)


if __name__ == "__main__":
    sys.exit(run_script(main))
