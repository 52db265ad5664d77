r"""Shared command line and experiment runner of the ``scalability_testing``
scripts.

Every script is a :class:`DatasetSpec` plus its entry points::

    SPEC = DatasetSpec(name="chickenpox", loader="torch_geometric_temporal.dataset."
                       "chickenpox:ChickenpoxDatasetLoader", ...)

    main = make_main(SPEC)  # main(argv, callbacks): raises on bad input (tests call it)

    if __name__ == "__main__":
        sys.exit(run_script(main))  # a user error: one line on stderr, exit status 2

:func:`run_experiment` picks the device (:func:`run_device`: ``--device``,
``--gpu``), loads the data (``--mode base|index``, ``--gpu``: kept on that
device, ``--mmap``), builds the model (``--model batched|seq2seq``), trains it
with :class:`~torch_geometric_temporal.train.trainer.Trainer` while a
:class:`~torch_geometric_temporal.train.monitor.SystemMonitor` samples memory,
and writes ``stats.csv``, ``per_epoch_stats.csv``, ``system_stats.csv`` and
``test_metrics.csv`` into ``--out-dir``.
"""
import argparse
import importlib
import inspect
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence

import torch

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.train.checkpoint import check_identity, data_fingerprint, kept_settings, load_checkpoint
from torch_geometric_temporal.train.metrics import StandardScaler
from torch_geometric_temporal.train.models import MODEL_NAMES, build_model
from torch_geometric_temporal.train.run_dir import RunDirectory
from torch_geometric_temporal.train.script import ScriptArgumentParser, cuda_problem
from torch_geometric_temporal.train.stats import write_stats
from torch_geometric_temporal.train.trainer import TrainConfig, Trainer, seed_everything

__all__ = ["DatasetSpec", "str2bool", "device_flag", "run_device", "build_parser", "parse_args", "load_data",
           "run_experiment", "run_identity", "apply_checkpoint_settings", "KEPT_ON_RESUME"]

log = logging.getLogger(__name__)

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
    case); whether the device exists is checked by :func:`run_device`."""
    text = str(value).strip().lower()
    if text in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {value!r}")


def run_device(args: argparse.Namespace) -> torch.device:
    r"""The device a single-process run trains on, from ``--device`` and
    ``-g/--gpu``.

    ``auto`` (the default) is ``cuda:0`` (the first device
    ``CUDA_VISIBLE_DEVICES`` shows) when CUDA is available, else the CPU;
    ``cuda`` is ``cuda:0``. ``-g`` also keeps the data on that device, so it
    needs a CUDA device: ``-g`` with ``--device cpu``, or on a machine
    without CUDA, is refused.

    Args:
        args (argparse.Namespace): ``device`` (default ``"auto"``) and ``gpu``.

    Raises:
        ValueError: one line naming the problem and the fix: no CUDA device,
            ``cuda:N`` beyond the devices there are, ``-g`` with
            ``--device cpu``.
    """
    name = device_flag(getattr(args, "device", None) or "auto")
    gpu = bool(getattr(args, "gpu", False))
    if name == "cpu":
        if gpu:
            raise ValueError("-g/--gpu keeps the data on the GPU, and --device cpu trains on the CPU; "
                             "drop -g or --device cpu")
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if name == "auto":
            if gpu:
                raise ValueError(cuda_problem())
            return torch.device("cpu")
        raise ValueError(f"--device {name}: this machine has no CUDA device; use --device cpu (or auto)")
    index = int(name.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"--device {name}: this machine has {count} CUDA device{'s' if count != 1 else ''} "
                         f"(cuda:0 to cuda:{count - 1}); choose one of them or --device auto")
    return torch.device("cuda", index)


@dataclass
class DatasetSpec:
    r"""What a script fixes about its dataset.

    Args:
        name (str): short name (default output folder ``runs/<name>``).
        loader (str): ``"module:Class"`` of the dataset loader.
        description (str): ``--help`` text.
        epochs (int): default ``--epochs`` (PGT-I's value).
        batch_size (int): default ``--batch-size``.
        num_timesteps_in (int): input window length.
        num_timesteps_out (int): forecast horizon.
        null_value (float, optional): masked target value (``0.0`` for
            traffic, where zero means a missing reading; ``None`` otherwise).
        lr (float): default Adam learning rate.
        loader_kwargs (dict): extra arguments of ``get_index_dataset``.
        lags_argument (bool): the loader takes ``lags`` (Chickenpox,
            Windmill) rather than ``num_timesteps_in/out`` only.
        threads (int, optional): default ``--threads`` (``None``: PyTorch's
            default). Tiny graphs train fastest on one thread, especially on
            a busy machine.
    """

    name: str
    loader: str
    description: str = ""
    epochs: int = 100
    batch_size: int = 64
    num_timesteps_in: int = 12
    num_timesteps_out: int = 12
    null_value: Optional[float] = 0.0
    lr: float = 1e-3
    loader_kwargs: Dict[str, Any] = field(default_factory=dict)
    lags_argument: bool = False
    threads: Optional[int] = None


def make_main(spec: DatasetSpec) -> Callable[..., Dict[str, Any]]:
    r"""The ``main(argv=None, callbacks=())`` of a script training on ``spec``:
    parse ``argv`` with :func:`parse_args`, check the ``[monitor]`` extra and
    run :func:`run_experiment`. It raises on bad input; the script's
    ``__main__`` block reports that as one line through
    :func:`~torch_geometric_temporal.train.script.run_script`."""

    def main(argv: Optional[Sequence[str]] = None,
             callbacks: Sequence[Any] = ()) -> Dict[str, Any]:
        args = parse_args(spec, argv)
        require("psutil", "monitor", "The memory monitor of the training scripts")
        return run_experiment(spec, args, callbacks=callbacks)

    main.__doc__ = f"Train DCRNN on {spec.name}; returns the stats.csv row plus history."
    return main


#: Flags a resumed run takes from the checkpoint (the optimizer, scheduler and
#: random states come from it, so a new value could not take effect consistently).
KEPT_ON_RESUME = ("lr", "weight_decay", "grad_clip", "lr_milestones", "lr_gamma", "seed", "max_batches")


def build_parser(spec: DatasetSpec) -> argparse.ArgumentParser:
    r"""The command line shared by every script (defaults from ``spec``)."""
    p = ScriptArgumentParser(
        description=spec.description or f"Train DCRNN on {spec.name}.",
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
                   help="batched: PGT-I's per-step BatchedDCRNN; seq2seq: DCRNN encoder-decoder")
    p.add_argument("--out-dir", default=os.path.join("runs", spec.name),
                   help="where the CSVs and checkpoints go")
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
                   help="recurrent units (seq2seq default 64; batched default: PGT-I's F, no head)")
    p.add_argument("--layers", type=int, default=2, help="seq2seq recurrent layers")
    p.add_argument("-K", "--diffusion-steps", type=int, default=None,
                   help="diffusion steps K (default 3 batched, 2 seq2seq)")
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


def parse_args(spec: DatasetSpec, argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    r"""Parse ``argv`` (default ``sys.argv[1:]``) with :func:`build_parser`."""
    parser = build_parser(spec)
    args = parser.parse_args(argv)
    if args.epochs < 0:
        parser.error(f"--epochs must be >= 0, got {args.epochs}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.max_batches is not None and args.max_batches < 1:
        parser.error(f"--max-batches must be >= 1, got {args.max_batches}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    try:  # before anything is loaded or written
        run_device(args)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def _import(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _accepted(fn, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


@dataclass
class LoadedData:
    r"""Loaders and graph of one dataset."""

    train_loader: Any
    val_loader: Any
    test_loader: Any
    edge_index: torch.Tensor
    edge_weight: Optional[torch.Tensor]
    mean: Optional[torch.Tensor]
    std: Optional[torch.Tensor]
    num_nodes: int
    num_features: int
    num_timesteps_out: int


def load_data(spec: DatasetSpec, args: argparse.Namespace, world_size: int = -1, ddp_rank: int = -1,
              device: Optional[torch.device] = None) -> LoadedData:
    r"""Instantiate ``spec.loader`` and return its split loaders in
    ``args.mode`` (``get_index_dataset`` or ``get_base_dataset``).

    Args:
        spec (DatasetSpec): the dataset.
        args (argparse.Namespace): from :func:`parse_args` (``mode``,
            ``gpu``, ``mmap``, ``batch_size``, ...).
        world_size (int): DDP world size (``-1``: no DDP).
        ddp_rank (int): this process's DDP rank (``-1``: no DDP).
        device (torch.device, optional): the device this process trains
            on; with ``args.gpu`` the data is preprocessed and kept there
            (a DDP rank passes its own GPU). ``None``: :func:`run_device`.
            Without ``args.gpu`` the data stays on the CPU.
    """
    cls = _import(spec.loader)
    init_kwargs = {"raw_data_dir": args.data_dir} if args.data_dir else {}
    loader = cls(**_accepted(cls.__init__, init_kwargs))
    method = getattr(loader, "get_index_dataset" if args.mode == "index" else "get_base_dataset", None)
    if method is None:
        raise ValueError(f"{cls.__name__} has no {args.mode} mode; use --mode index.")
    kwargs: Dict[str, Any] = dict(spec.loader_kwargs)
    kwargs.update(batch_size=args.batch_size, shuffle=bool(args.shuffle), seed=args.seed,
                  num_workers=args.num_workers, return_stats=True,
                  num_timesteps_in=spec.num_timesteps_in, num_timesteps_out=spec.num_timesteps_out,
                  world_size=world_size, ddp_rank=ddp_rank)
    if spec.lags_argument:
        kwargs["lags"] = spec.num_timesteps_in
    if args.gpu:
        device = run_device(args) if device is None else torch.device(device)
        if device.type != "cuda":
            raise ValueError(f"-g/--gpu keeps the data on a CUDA device, and this run trains on {device}; drop -g.")
        kwargs["device"] = device
    if args.mmap:
        kwargs["mmap"] = True
    accepted = _accepted(method, kwargs)
    if args.mmap and "mmap" not in accepted:
        raise ValueError(f"{cls.__name__} cannot memory-map its data; drop --mmap.")
    if args.gpu and "device" not in accepted:
        raise ValueError(f"{cls.__name__} cannot keep its data on a GPU; drop -g.")
    out = tuple(method(**accepted))
    if len(out) == 7:
        train, val, test, edges, weights, mean, std = out
    elif len(out) == 5:
        (train, val, test, edges, weights), mean, std = out, None, None
    else:
        raise ValueError(f"{cls.__name__}.{method.__name__} returned {len(out)} items; expected 5 or 7.")
    x, y = train.dataset[0]
    return LoadedData(train, val, test, edges, weights, mean, std, num_nodes=int(x.shape[-2]),
                      num_features=int(x.shape[-1]), num_timesteps_out=int(y.shape[0]))


def run_identity(spec: DatasetSpec, args: argparse.Namespace, world_size: int = 1) -> Dict[str, Any]:
    r"""What a checkpoint of this run must match to be resumed (besides the
    data fingerprint, known once the data is loaded): dataset, mode, model
    and its hyper-parameters, windows, batch size, shuffling and ranks."""
    return {"dataset": spec.name, "mode": args.mode, "model": args.model, "hidden": args.hidden,
            "layers": args.layers, "K": args.diffusion_steps, "curriculum": bool(args.curriculum),
            "cl_decay_steps": args.cl_decay_steps, "num_timesteps_in": spec.num_timesteps_in,
            "num_timesteps_out": spec.num_timesteps_out, "batch_size": args.batch_size,
            "shuffle": bool(args.shuffle), "ranks": int(world_size)}


def data_identity(edge_index, edge_weight, mean, std, loaders: Sequence[Any], num_nodes: int,
                  num_features: int, windows: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    r""":func:`~torch_geometric_temporal.train.checkpoint.data_fingerprint`
    with the windows per split counted from :obj:`loaders` (or given)."""
    if windows is None:
        windows = [len(loader.dataset) if loader is not None else 0 for loader in loaders]
    return data_fingerprint(edge_index, edge_weight, mean, std, windows=windows, num_nodes=num_nodes,
                            num_features=num_features)


def apply_checkpoint_settings(spec: DatasetSpec, args: argparse.Namespace, path: str,
                              world_size: int = 1) -> None:
    r"""Before a resumed run loads its data: refuse a checkpoint of another
    run (:func:`run_identity`), and set the :data:`KEPT_ON_RESUME` flags of
    :obj:`args` (in place) to the checkpoint's values, warning once about
    every new value ignored."""
    state = load_checkpoint(path)
    check_identity(state.get("identity"), run_identity(spec, args, world_size), path)
    saved = dict(state.get("config") or {})
    kept = kept_settings(saved, {name: getattr(args, name) for name in KEPT_ON_RESUME})
    if kept:
        def show(value):
            if isinstance(value, (list, tuple)):
                value = " ".join(map(str, value))
            return "none" if value is None or value == "" else str(value)

        log.warning("--resume keeps the checkpoint's settings and ignores the new values: %s",
                    ", ".join(f"--{n.replace('_', '-')} {show(old)} (given {show(new)})" for n, old, new in kept))
    for name, old, _ in kept:
        setattr(args, name, list(old) if isinstance(old, tuple) else old)


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    tqdm = require("tqdm.auto", "monitor", "Progress bars").tqdm

    def bar(iterable, desc=None, total=None, leave=False):
        return tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True)

    return bar


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else (logging.WARNING if args.quiet else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("torch_geometric_temporal").setLevel(level)


def run_experiment(spec: DatasetSpec, args: argparse.Namespace, callbacks: Sequence[Any] = ()) -> Dict[str, Any]:
    r"""Load, train, test and write the output CSVs; returns the
    ``stats.csv`` row (plus ``"test"``, the full test metrics).

    Args:
        spec (DatasetSpec): the dataset.
        args (argparse.Namespace): from :func:`parse_args`.
        callbacks (list): passed to :class:`Trainer` (tests use them to kill
            a run mid-epoch).
    """
    t_start = time.perf_counter()
    _configure_logging(args)
    args = argparse.Namespace(**vars(args))  # resuming may replace some values
    device = run_device(args)
    if device.type == "cuda":  # the current device: nothing (a context, an allocation) lands on cuda:0 by default
        torch.cuda.set_device(device)
    with RunDirectory(args.out_dir, resume=bool(args.resume),
                      overwrite=bool(getattr(args, "overwrite", False))) as run_dir:
        if args.resume:
            apply_checkpoint_settings(spec, args, run_dir.checkpoint_path)
        threads = torch.get_num_threads()
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        try:
            row = _run(spec, args, callbacks, run_dir, device, t_start)
        finally:
            torch.set_num_threads(threads)
    return row


def _run(spec, args, callbacks, run_dir: RunDirectory, device, t_start) -> Dict[str, Any]:
    from torch_geometric_temporal.train.monitor import SystemMonitor

    out_dir = run_dir.path
    # memory samples reach system_stats.csv once training started: a failed start writes nothing
    with SystemMonitor(os.path.join(out_dir, "system_stats.csv"), device=device,
                       write_when=run_dir.started_since_claim) as monitor:
        seed_everything(args.seed)
        data = load_data(spec, args, device=device)
        preprocessing = time.perf_counter() - t_start

        seed_everything(args.seed)  # model init independent of the data path taken
        model = build_model(
            args.model, data.num_features, data.num_timesteps_out, hidden_channels=args.hidden,
            num_layers=args.layers, K=args.diffusion_steps, use_curriculum_learning=bool(args.curriculum),
            cl_decay_steps=args.cl_decay_steps,
        ).to(device)
        config = TrainConfig(
            epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
            lr_milestones=tuple(args.lr_milestones), lr_gamma=args.lr_gamma, seed=args.seed,
            max_batches=args.max_batches, null_value=spec.null_value,
        )
        scaler = StandardScaler(data.mean, data.std, channel=0, num_nodes=data.num_nodes,
                                num_features=data.num_features)
        loaders = (data.train_loader, data.val_loader, data.test_loader)
        identity = {**run_identity(spec, args),
                    **data_identity(data.edge_index, data.edge_weight, data.mean, data.std, loaders,
                                    data.num_nodes, data.num_features)}
        trainer = Trainer(
            model, *loaders, edge_index=data.edge_index, edge_weight=data.edge_weight, scaler=scaler,
            config=config, out_dir=out_dir, device=device, progress=_progress(args.quiet),
            callbacks=callbacks, identity=identity,
        )
        run_dir.clear_previous()  # --overwrite: only now that the data loaded and the model was built
        if trainer.progress is not None:  # log lines above the bars, not through them
            redirect = require("tqdm.contrib.logging", "monitor", "Progress bars").logging_redirect_tqdm

            with redirect():
                result = trainer.fit(resume=bool(args.resume))
        else:
            result = trainer.fit(resume=bool(args.resume))
    total = time.perf_counter() - t_start

    row = write_stats(out_dir, dataset=spec.name, args=args, preprocessing_seconds=preprocessing,
                      training_seconds=result.training_seconds, total_seconds=total,
                      best_train_mae=result.best_train_mae, best_val_mae=result.best_val_mae,
                      test=result.test, peaks=monitor.peaks(), epochs=len(result.history))
    log.info("Runtime %.2fs; best train MAE %.4f; best val MAE %.4f; test MAE %s", total,
             result.best_train_mae, result.best_val_mae, row["test_mae"])
    return {**row, "test": result.test, "history": result.history}
