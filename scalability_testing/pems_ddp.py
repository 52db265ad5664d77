r"""DCRNN (or any ``--model``) with PyTorch DDP on Dask workers (PGT-I's ``pems_ddp.py``).

One Dask worker per rank (per GPU), ``nthreads=1``. On one machine a
``LocalCluster`` on 127.0.0.1 with ``-np`` workers is started::

    python scalability_testing/pems_ddp.py --dataset pems-bay -m dask-index -np 2 --epochs 30

On several machines start a scheduler and one ``dask worker`` per GPU that
share a scheduler file, on a private interface (Dask's defaults listen on
0.0.0.0; the README shows TLS too), then run with ``--dist``::

    dask scheduler --scheduler-file $SHARED/scheduler.json --interface ib0 \
        --dashboard-address 127.0.0.1:8787 &
    dask worker --scheduler-file $SHARED/scheduler.json --interface ib0 --no-dashboard \
        --dashboard-address 127.0.0.1:0 --nthreads 1 --nworkers 4   # on each node
        # (these workers see every GPU: rank r of a node uses cuda:<r % GPUs>; a worker with its
        # own CUDA_VISIBLE_DEVICES, e.g. from dask-cuda, uses its first visible GPU)
    python scalability_testing/pems_ddp.py --dist --scheduler-file $SHARED/scheduler.json \
        -np 4 --nodes 2 -g --dataset pems

Modes: ``index`` (every rank holds the whole series: PGT-I's
distributed-index-batching), ``dask-index`` (Dask preprocessing, each rank
holds only its shard's time range), ``dask`` (all windows materialized and
persisted in the cluster: the Dask baseline).
"""
import logging
import sys
from typing import Any, Dict, Optional, Sequence, Tuple

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.train.cli import build_parser, finish_config, str2bool
from torch_geometric_temporal.train.config import RunConfig
from torch_geometric_temporal.train.datasets import DATASETS, DatasetSpec
from torch_geometric_temporal.train.experiment import configure_logging as configure_run_logging
from torch_geometric_temporal.train.script import cuda_problem, error_line, run_script

#: ``--dataset`` choices: the registry's datasets (the defaults of each
#: dataset's ``*_main.py`` script), spelled with dashes.
SPECS: Dict[str, DatasetSpec] = {name.replace("_", "-"): spec for name, spec in DATASETS.items()}


def build_ddp_parser(spec: DatasetSpec):
    r"""The shared single-node parser plus the DDP options."""
    p = build_parser(spec)
    p.description = "A recurrent model (--model) trained with PyTorch DDP on Dask workers (one worker per rank)."
    for action in p._actions:  # same flag, DDP modes
        if action.dest == "mode":
            action.choices = ("dask", "index", "dask-index")
            action.default = "index"
            action.help = ("index: every rank holds the whole series; dask-index: Dask preprocessing, each rank "
                           "holds its shard only; dask: windows materialized in the cluster (baseline)")
    flag = dict(type=str2bool, nargs="?", const=True, default=False, metavar="BOOL")
    p.add_argument("--dataset", choices=tuple(SPECS), default="pems-bay")
    p.add_argument("--dist", help="connect to a cluster through --scheduler-file instead of starting one", **flag)
    p.add_argument("--scheduler-file", "--dask-cluster-file", dest="scheduler_file", default="scheduler.json",
                   help="Dask scheduler file (with --dist); --dask-cluster-file is PGT-I's name for it")
    p.add_argument("-np", "--npar", type=int, default=1, help="workers (ranks) per node")
    p.add_argument("--nodes", type=int, default=1, help="nodes (with --dist): ranks = npar * nodes")
    p.add_argument("--blocks-per-rank", type=int, default=4,
                   help="dask-index: shard blocks per rank, re-dealt every epoch")
    p.add_argument("--timeout", type=float, default=24 * 3600.0, help="seconds the whole DDP run may take")
    p.add_argument("--collective-timeout", type=float, default=None,
                   help="process-group timeout in seconds: a rank waiting on a dead or hung peer fails after "
                        "this (default 600 for gloo; 300 with -g, as NCCL never notices a dead peer)")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> Tuple[DatasetSpec, RunConfig]:
    r"""``(spec, config)`` of ``argv``: the dataset of ``--dataset`` (which
    fixes the defaults) and the run's settings."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = build_ddp_parser(SPECS["pems-bay"]).parse_known_args(argv)[0]  # the dataset fixes the defaults
    spec = SPECS[pre.dataset]
    parser = build_ddp_parser(spec)
    args = parser.parse_args(argv)
    for name in ("npar", "nodes", "blocks_per_rank", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.epochs < 0:
        parser.error(f"--epochs must be >= 0, got {args.epochs}")
    if args.collective_timeout is None:
        from torch_geometric_temporal.distributed.ddp import default_backend, default_collective_timeout

        args.collective_timeout = default_collective_timeout(default_backend(bool(args.gpu)))
    elif not args.collective_timeout > 0:
        parser.error(f"--collective-timeout must be > 0 seconds, got {args.collective_timeout}")
    if args.gpu and args.num_workers > 0 and args.mode != "dask":
        parser.error(f"-g keeps each rank's data on its GPU, where DataLoader worker processes cannot gather; "
                     f"drop --num-workers {args.num_workers} (batches are gathered on the GPU) or drop -g")
    # a local cluster runs its ranks on this machine: check the GPUs before starting it
    # (with --dist the workers, not this process, need them)
    if args.gpu and not args.dist and cuda_problem(args.npar) is not None:
        parser.error(cuda_problem(args.npar))
    return spec, finish_config(parser, argv, args)  # --recipe, model checks: as every script


def require_extras(config: RunConfig) -> None:
    r"""Raise :class:`~torch_geometric_temporal._optional.MissingExtraError`
    before anything starts when an extra this run needs is missing:
    ``[dask]`` always, ``[gpu]`` for ``-g`` on a local cluster."""
    for module in ("dask", "distributed"):
        require(module, "dask", "pems_ddp (Dask-launched DDP)")
    if config.gpu and not config.dist:
        require("dask_cuda", "gpu", "pems_ddp -g (one Dask-CUDA worker per GPU)")


#: Loggers of the Dask machinery in this process (scheduler, nannies, client).
DASK_LOGGERS = ("distributed", "tornado", "asyncio")
_CLOSED_ERRORS = ("CommClosedError", "StreamClosedError")


class DropClosedCommErrors(logging.Filter):
    r"""Drop the Dask machinery's records about a closed connection
    (``CommClosedError``/``StreamClosedError``), which the nannies, the
    scheduler and the client log while the cluster shuts down. A real
    failure still ends the run with a :class:`DDPRunError`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] not in DASK_LOGGERS:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ in _CLOSED_ERRORS:
            return False
        message = record.getMessage()
        return not any(name in message for name in _CLOSED_ERRORS)


def configure_logging(config: RunConfig) -> None:
    r"""Log level from ``-d``/``-q`` (as every script). With ``-q`` the Dask
    machinery of the local cluster logs errors only (no INFO lines about the
    scheduler, nannies and workers, no teardown warnings) and the benign
    closed-comm errors of the teardown are dropped."""
    configure_run_logging(config)
    if config.quiet:
        require("distributed", "dask", "pems_ddp")  # importing it sets its logger to INFO: override after
        for name in DASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        for handler in logging.getLogger().handlers + logging.getLogger("distributed").handlers:
            if not any(isinstance(f, DropClosedCommErrors) for f in handler.filters):
                handler.addFilter(DropClosedCommErrors())


def main(argv: Optional[Sequence[str]] = None, callbacks: Sequence[Any] = ()) -> Dict[str, Any]:
    from torch_geometric_temporal.distributed.ddp import DDPRunError
    from torch_geometric_temporal.train.ddp_experiment import run_ddp_experiment

    spec, config = parse_args(argv)
    require_extras(config)
    configure_logging(config)
    try:
        return run_ddp_experiment(spec, config, callbacks=callbacks)
    except DDPRunError as error:
        raise DDPRunError(f"{error_line(error).rstrip('.')}. Fix the cause, then rerun with --resume to continue from "
                          f"{config.out_dir}/checkpoint.pt.") from error


if __name__ == "__main__":
    sys.exit(run_script(main))
