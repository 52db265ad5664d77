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
import sys
from typing import Any, Callable, Dict, Optional, Sequence, Set

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.train.config import KEPT_ON_RESUME, RunConfig
from torch_geometric_temporal.train.datasets import DatasetSpec
from torch_geometric_temporal.train.experiment import device_name, run_device, run_experiment
from torch_geometric_temporal.train.models import MODEL_NAMES, RECOMPUTE_MODELS, RECURRENT_CELLS, SEQ2SEQ_K
from torch_geometric_temporal.train.recipes import RECIPES, apply_recipe
from torch_geometric_temporal.train.script import ScriptArgumentParser
from torch_geometric_temporal.train.step import AMP_CHOICES

__all__ = ["str2bool", "device_flag", "build_parser", "given_flags", "finish_config", "parse_args", "make_main"]

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


def _recipe_flags(settings: Dict[str, Any]) -> str:
    def value(v):
        return " ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v).lower() if isinstance(v, bool) else v

    return " ".join(f"--{k.replace('_', '-')} {value(v)}" for k, v in settings.items())


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
                   "(see torch_geometric_temporal.train.models); stgcn, astgcn, mstgcn, gman, mtgnn: the attention "
                   "models (torch_geometric_temporal.train.attention_models)")
    p.add_argument("--out-dir", default=".",
                   help="where the CSVs and checkpoint.pt go (default: the current directory, as PGT-I)")
    p.add_argument("--max-batches", type=int, default=None,
                   help="stop each train/val/test pass after this many batches (smoke runs)")
    p.add_argument("--mmap", help="memory-map the series (out-of-core, .npy datasets)", **flag)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=spec.lr)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--adam-eps", type=float, default=1e-8, help="Adam's epsilon (DCRNN recipe: 1e-3)")
    p.add_argument("--grad-clip", type=float, default=None, help="max gradient norm (off by default)")
    p.add_argument("--lr-milestones", type=int, nargs="*", default=[],
                   help="epochs at which the LR is multiplied by --lr-gamma")
    p.add_argument("--lr-gamma", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=None,
                   help="recurrent units (seq2seq default 64; batched default: PGT-I's F, no head; others 32; "
                   "attention models: their widths, see train.attention_models)")
    p.add_argument("--layers", type=int, default=2,
                   help="recurrent layers of seq2seq and the stacked cells (not batched, a3tgcn); blocks/layers "
                   "of the attention models")
    p.add_argument("-K", "--diffusion-steps", type=int, default=None,
                   help=f"diffusion steps or Chebyshev filter size K (default 3 batched, {SEQ2SEQ_K} seq2seq: K terms "
                   "per direction, DCRNN's max_diffusion_step is K - 1; " +
                   ", ".join(f"{k} {v}" for k, v in RECURRENT_CELLS.items() if v is not None) + "; a3tgcn, " +
                   ", ".join(k for k, v in RECURRENT_CELLS.items() if v is None) + " have none; attention "
                   "models: Chebyshev size, gman heads, mtgnn mix-hop depth, see train.attention_models)")
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
    p.add_argument("--recipe", choices=tuple(RECIPES), default=None,
                   help="a paper's training setup; flags given explicitly win over it. " +
                   "; ".join(f"{name}: {_recipe_flags(recipe.settings)}" for name, recipe in RECIPES.items()) +
                   " (see torch_geometric_temporal.train.recipes)")
    p.add_argument("--recompute", choices=("off", "on", "auto"), default="off",
                   help="recompute the recurrent layers' activations in backward (less memory, same results); "
                   "auto: on when one training step's estimated activations exceed half the device's memory "
                   "(models: " + ", ".join(RECOMPUTE_MODELS) + ")")
    p.add_argument("--amp", choices=tuple(AMP_CHOICES), default="off",
                   help="bf16: autocast the model's forward in bf16 on CUDA (loss and optimizer in fp32); on the "
                   "CPU the run stays fp32 (a warning says why)")
    p.add_argument("--compile", help="torch.compile the recurrent cells' steps", **flag)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    return p


def given_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Set[str]:
    r"""The destinations of the options :obj:`argv` gives explicitly (a
    recipe does not override them): :obj:`parser` parses :obj:`argv` once
    more with every default suppressed."""
    saved = [(action, action.default) for action in parser._actions]
    try:
        for action, _ in saved:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_known_args(list(argv))[0]))
    finally:
        for action, default in saved:
            action.default = default


def finish_config(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]], args: argparse.Namespace,
                  **changes: Any) -> RunConfig:
    r"""The :class:`RunConfig` of parsed :obj:`args` (plus :obj:`changes`):
    the ``--recipe`` applied under the flags :obj:`argv` gives explicitly
    (:func:`given_flags`), and the model options checked; a bad combination
    is :obj:`parser`'s one-line error (exit status 2). Shared by the
    scripts and ``pems_ddp.py``."""
    config = RunConfig(**{**vars(args), **changes})
    try:
        config = apply_recipe(config, given_flags(parser, sys.argv[1:] if argv is None else argv))
    except ValueError as exc:
        parser.error(str(exc))
    if config.recompute == "on" and config.model not in RECOMPUTE_MODELS:
        parser.error(f"--recompute on: --model {config.model} cannot recompute its activations (models that can: "
                     f"{', '.join(RECOMPUTE_MODELS)}); drop --recompute")
    return config


def parse_args(spec: DatasetSpec, argv: Optional[Sequence[str]] = None) -> RunConfig:
    r"""Parse ``argv`` (default ``sys.argv[1:]``) with :func:`build_parser`
    into a :class:`RunConfig`; a bad value is one line and exit status 2."""
    parser = build_parser(spec)
    config = finish_config(parser, argv, parser.parse_args(argv))
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
