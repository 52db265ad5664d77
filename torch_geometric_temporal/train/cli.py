r"""The command line of the ``scalability_testing`` scripts.

A script names its dataset in the registry and hands its entry point to
:func:`~torch_geometric_temporal.train.script.run_script`::

    from torch_geometric_temporal.train.cli import make_main
    from torch_geometric_temporal.train.datasets import DATASETS

    main = make_main(DATASETS["chickenpox"])  # main(argv, callbacks): raises on bad input (tests call it)

    if __name__ == "__main__":
        sys.exit(run_script(main))  # a user error: one line on stderr, exit status 2

:func:`parse_args` turns the flags into a
:class:`~torch_geometric_temporal.train.config.RunConfig` (the only place an
:class:`argparse.Namespace` exists); :func:`make_main`'s ``main`` runs
:func:`~torch_geometric_temporal.train.experiment.run_experiment` on it.
"""
import argparse
from typing import Any, Callable, Dict, Optional, Sequence

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.train.config import KEPT_ON_RESUME, RunConfig
from torch_geometric_temporal.train.datasets import DatasetSpec
from torch_geometric_temporal.train.experiment import device_name, run_device, run_experiment
from torch_geometric_temporal.train.models import MODEL_NAMES, RECURRENT_CELLS
from torch_geometric_temporal.train.script import ScriptArgumentParser

__all__ = ["str2bool", "device_flag", "build_parser", "parse_args", "make_main"]

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


def str2bool(value) -> bool:
    r"""Parse the ``true/false`` spellings the PGT-I scripts accepted
    (``True``, ``t``, ``yes``, ``y``, ``1`` / ``False``, ``f``, ``no``, ``n``,
    ``0``; any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def device_flag(value: str) -> str:
    r"""Parse ``--device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (any
    case); whether the device exists is checked by
    :func:`~torch_geometric_temporal.train.experiment.run_device`."""
    try:
        return device_name(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser(spec: DatasetSpec) -> argparse.ArgumentParser:
    r"""The command line shared by every script (defaults from ``spec``)."""
    p = ScriptArgumentParser(
        description=spec.description or f"Train a recurrent model on {spec.name}.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    flag = dict(type=str2bool, nargs="?", const=True, default=False, metavar="BOOL")
    p.add_argument("-m", "--mode", choices=("base", "index"), default="base",
                   help="base: materialize every window up front; index: index-batching")
    p.add_argument("-g", "--gpu", help="preprocess the data on the training device (a GPU) and keep it there; "
                   "needs a CUDA --device (auto picks cuda:0)", **flag)
    p.add_argument("--device", type=device_flag, default="auto", metavar="{auto,cpu,cuda,cuda:N}",
                   help="where the model trains: auto is cuda:0 when CUDA is available, else cpu "
                   "(DDP, pems_ddp.py: each rank on its own GPU with -g, else on the CPU)")
    p.add_argument("-d", "--debug", help="debug logging", **flag)
    p.add_argument("-e", "--epochs", type=int, default=spec.epochs)
    p.add_argument("-bs", "--batch-size", type=int, default=spec.batch_size)
    p.add_argument("--data-dir", default=None, help="folder with the raw dataset files")
    p.add_argument("--model", choices=MODEL_NAMES, default="batched",
                   help="batched: PGT-I's per-step BatchedDCRNN; seq2seq: DCRNN encoder-decoder; a3tgcn: PGT-I's "
                   "METR-LA A3TGCN2 (32 channels) + linear read-out; " + ", ".join(RECURRENT_CELLS) +
                   ": --layers stacked cells + linear read-out of the last hidden state to the horizon "
                   "(see torch_geometric_temporal.train.models)")
    p.add_argument("--out-dir", default=".",
                   help="where the CSVs and checkpoint.pt go (default: the current directory, as PGT-I)")
    p.add_argument("--max-batches", type=int, default=None,
                   help="stop each train/val/test pass after this many batches (smoke runs)")
    p.add_argument("--mmap", help="memory-map the series (out-of-core, .npy datasets)", **flag)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=spec.lr)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--grad-clip", type=float, default=None, help="max gradient norm (off by default)")
    p.add_argument("--lr-milestones", type=int, nargs="*", default=[],
                   help="epochs at which the LR is multiplied by --lr-gamma")
    p.add_argument("--lr-gamma", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=None,
                   help="recurrent units (seq2seq default 64; batched default: PGT-I's F, no head; others 32)")
    p.add_argument("--layers", type=int, default=2,
                   help="recurrent layers of seq2seq and the stacked cells (not batched, a3tgcn)")
    p.add_argument("-K", "--diffusion-steps", type=int, default=None,
                   help="diffusion steps or Chebyshev filter size K (default 3 batched, 2 seq2seq, " +
                   ", ".join(f"{k} {v}" for k, v in RECURRENT_CELLS.items() if v is not None) + "; a3tgcn, " +
                   ", ".join(k for k, v in RECURRENT_CELLS.items() if v is None) + " have none)")
    p.add_argument("--curriculum", help="seq2seq curriculum learning (scheduled sampling)", **flag)
    p.add_argument("--cl-decay-steps", type=int, default=2000)
    p.add_argument("--shuffle", help="shuffle the training windows (seeded)",
                   **{**flag, "default": True})
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=spec.threads,
                   help="torch CPU threads (default: PyTorch's choice)")
    p.add_argument("--resume", help="continue the run in --out-dir from its checkpoint.pt: a checkpoint of another "
                   "dataset, mode, model, window, batch size or data is refused; --epochs may grow (more epochs "
                   "extend the run); " + ", ".join(f"--{n.replace('_', '-')}" for n in KEPT_ON_RESUME) +
                   " are taken from the checkpoint (a warning names each new value ignored)", **flag)
    p.add_argument("--overwrite", help="replace the outputs of a previous run found in --out-dir (removed once the "
                   "new run has loaded its data and built its model); without it or --resume such a folder is "
                   "refused", **flag)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    return p


def parse_args(spec: DatasetSpec, argv: Optional[Sequence[str]] = None) -> RunConfig:
    r"""Parse ``argv`` (default ``sys.argv[1:]``) with :func:`build_parser`
    into a :class:`RunConfig`; a bad value is one line and exit status 2."""
    parser = build_parser(spec)
    config = RunConfig(**vars(parser.parse_args(argv)))
    if config.epochs < 0:
        parser.error(f"--epochs must be >= 0, got {config.epochs}")
    if config.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {config.batch_size}")
    if config.max_batches is not None and config.max_batches < 1:
        parser.error(f"--max-batches must be >= 1, got {config.max_batches}")
    if config.threads is not None and config.threads < 1:
        parser.error(f"--threads must be >= 1, got {config.threads}")
    try:  # before anything is loaded or written
        run_device(config)
    except ValueError as exc:
        parser.error(str(exc))
    return config


def make_main(spec: DatasetSpec) -> Callable[..., Dict[str, Any]]:
    r"""The ``main(argv=None, callbacks=())`` of a script training on ``spec``:
    parse ``argv`` with :func:`parse_args`, check the ``[monitor]`` extra and
    run :func:`~torch_geometric_temporal.train.experiment.run_experiment`. It
    raises on bad input; the script's ``__main__`` block reports that as one
    line through :func:`~torch_geometric_temporal.train.script.run_script`."""

    def main(argv: Optional[Sequence[str]] = None,
             callbacks: Sequence[Any] = ()) -> Dict[str, Any]:
        config = parse_args(spec, argv)
        require("psutil", "monitor", "The memory monitor of the training scripts")
        return run_experiment(spec, config, callbacks=callbacks)

    main.__doc__ = f"Train --model on {spec.name}; returns the stats.csv row plus history."
    return main
