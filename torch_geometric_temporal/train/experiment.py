r"""The experiment harness of the ``scalability_testing`` scripts: the one
place that turns a :class:`~torch_geometric_temporal.train.config.RunConfig`
into a device, data, a model, an optimizer configuration, a scaler, logging
and a :class:`~torch_geometric_temporal.train.trainer.Trainer`, for a single
process (:func:`run_experiment`) and for every DDP rank
(:mod:`torch_geometric_temporal.train.ddp_experiment` calls
:func:`load_data` and :func:`build_trainer`).

The path of ``--batch-size`` to the gather: :func:`run_experiment` ->
:func:`load_data` ->
:meth:`~torch_geometric_temporal.dataset.loader_base.WindowedDatasetLoader.load`
-> :func:`~torch_geometric_temporal.dataset.loader_base.make_loaders` ->
:func:`~torch_geometric_temporal.dataset.samplers.index_dataloader` ->
:class:`~torch_geometric_temporal.dataset.samplers.TensorBatchSampler`, whose
batches of window indices reach ``IndexDataset.__getitems__``.
"""
import logging
import os
import re
import sys
import time
from typing import Any, Callable, Dict, Optional, Sequence

import torch

from torch_geometric_temporal._memory import return_freed_memory
from torch_geometric_temporal._optional import require
from torch_geometric_temporal.dataset.loader_base import LoadedData
from torch_geometric_temporal.train.checkpoint import check_identity, data_fingerprint, kept_settings, load_checkpoint
from torch_geometric_temporal.train.config import RunConfig
from torch_geometric_temporal.train.datasets import DatasetSpec
from torch_geometric_temporal.train.activation import activation_bytes, plan_recompute
from torch_geometric_temporal.train.models import RECOMPUTE_MODELS, build_model
from torch_geometric_temporal.train.recipes import check_recipe_data
from torch_geometric_temporal.train.run_dir import RunDirectory
from torch_geometric_temporal.train.script import cuda_problem
from torch_geometric_temporal.train.stats import write_stats
from torch_geometric_temporal.train.trainer import TrainConfig, Trainer, seed_everything

__all__ = ["device_name", "run_device", "load_data", "run_identity", "data_identity", "apply_checkpoint_settings",
           "configure_logging", "build_trainer", "run_experiment"]

log = logging.getLogger(__name__)


def device_name(value: str) -> str:
    r"""Normalize a ``--device`` value: ``auto``, ``cpu``, ``cuda`` or
    ``cuda:N`` (any case); raises :class:`ValueError` otherwise."""
    text = str(value).strip().lower()
    if text in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {value!r}")


def run_device(config: RunConfig) -> torch.device:
    r"""The device a single-process run trains on, from ``--device`` and
    ``-g/--gpu``.

    ``auto`` (the default) is ``cuda:0`` (the first device
    ``CUDA_VISIBLE_DEVICES`` shows) when CUDA is available, else the CPU;
    ``cuda`` is ``cuda:0``. ``-g`` also keeps the data on that device, so it
    needs a CUDA device: ``-g`` with ``--device cpu``, or on a machine
    without CUDA, is refused.

    Args:
        config (RunConfig): ``device`` and ``gpu``.

    Raises:
        ValueError: one line naming the problem and the fix: no CUDA device,
            ``cuda:N`` beyond the devices there are, ``-g`` with
            ``--device cpu``.
    """
    name = device_name(config.device or "auto")
    gpu = bool(config.gpu)
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


def load_data(spec: DatasetSpec, config: RunConfig, world_size: int = -1, rank: int = -1,
              device: Optional[torch.device] = None) -> LoadedData:
    r"""The split loaders of :obj:`spec`'s dataset, as :obj:`config` asks
    (``mode``, ``batch_size``, ``shuffle``, ``seed``, ``num_workers``,
    ``mmap``, ``gpu``, ``data_dir``).

    Args:
        spec (DatasetSpec): the dataset (its loader class and window).
        config (RunConfig): the run's settings.
        world_size (int): DDP world size (``-1``: no DDP).
        rank (int): this process's DDP rank (``-1``: no DDP).
        device (torch.device, optional): the device this process trains
            on; with ``config.gpu`` the data is preprocessed and kept there
            (a DDP rank passes its own GPU). ``None``: :func:`run_device`.
            Without ``config.gpu`` the data stays on the CPU.
    """
    data_device = None
    if config.gpu:
        data_device = run_device(config) if device is None else torch.device(device)
        if data_device.type != "cuda":
            raise ValueError(f"-g/--gpu keeps the data on a CUDA device, and this run trains on {data_device}; "
                             f"drop -g.")
    loader = spec.open(config.data_dir or None)
    if config.mmap and not loader.supports_mmap:
        raise ValueError(f"{type(loader).__name__} cannot memory-map its data; drop --mmap.")
    return loader.load(spec.window, config.batch_size, mode=config.mode, shuffle=bool(config.shuffle),
                       seed=config.seed, device=data_device, mmap=bool(config.mmap), world_size=world_size,
                       rank=rank, num_workers=config.num_workers)


def run_identity(spec: DatasetSpec, config: RunConfig, world_size: int = 1) -> Dict[str, Any]:
    r"""What a checkpoint of this run must match to be resumed (besides the
    data fingerprint, known once the data is loaded): dataset, mode, model
    and its hyper-parameters, ``--amp`` (bf16 changes the numbers), windows,
    batch size, shuffling and ranks. ``--recompute`` and ``--compile`` are
    not part of it: they change memory and speed, not the results, so a run
    may resume with them switched."""
    return {"dataset": spec.name, "mode": config.mode, "model": config.model, "amp": config.amp,
            "hidden": config.hidden,
            "layers": config.layers, "K": config.diffusion_steps, "curriculum": bool(config.curriculum),
            "cl_decay_steps": config.cl_decay_steps, "num_timesteps_in": spec.num_timesteps_in,
            "num_timesteps_out": spec.num_timesteps_out, "batch_size": config.batch_size,
            "shuffle": bool(config.shuffle), "ranks": int(world_size)}


def data_identity(data: LoadedData, windows: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    r""":func:`~torch_geometric_temporal.train.checkpoint.data_fingerprint`
    of :obj:`data`, with the windows per split counted from its loaders
    (or given: a DDP rank holding only its shard)."""
    if windows is None:
        windows = [len(loader.dataset) if loader is not None else 0 for loader in data.loaders]
    return data_fingerprint(data.edge_index, data.edge_weight, data.mean, data.std, windows=windows,
                            num_nodes=data.num_nodes, num_features=data.num_features)


def apply_checkpoint_settings(spec: DatasetSpec, config: RunConfig, path: str, world_size: int = 1) -> RunConfig:
    r"""Before a resumed run loads its data: refuse a checkpoint of another
    run (:func:`run_identity`), and return :obj:`config` with the
    :data:`~torch_geometric_temporal.train.config.KEPT_ON_RESUME` settings
    of the checkpoint, warning once about every new value ignored."""
    state = load_checkpoint(path)
    check_identity(state.get("identity"), run_identity(spec, config, world_size), path)
    kept = kept_settings(dict(state.get("config") or {}), config.kept_on_resume())
    if kept:
        def show(value):
            if isinstance(value, (list, tuple)):
                value = " ".join(map(str, value))
            return "none" if value is None or value == "" else str(value)

        log.warning("--resume keeps the checkpoint's settings and ignores the new values: %s",
                    ", ".join(f"--{n.replace('_', '-')} {show(old)} (given {show(new)})" for n, old, new in kept))
    return config.replace(**{name: list(old) if isinstance(old, tuple) else old for name, old, _ in kept})


def configure_logging(config: RunConfig) -> None:
    r"""Log level from ``-d`` (DEBUG) and ``-q`` (WARNING), else INFO."""
    level = logging.DEBUG if config.debug else (logging.WARNING if config.quiet else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("torch_geometric_temporal").setLevel(level)


def _progress(quiet: bool) -> Optional[Callable]:
    if quiet or not sys.stderr.isatty():
        return None
    tqdm = require("tqdm.auto", "monitor", "Progress bars").tqdm

    def bar(iterable, desc=None, total=None, leave=False):
        return tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True)

    return bar


def build_trainer(spec: DatasetSpec, config: RunConfig, data: LoadedData, device: torch.device, *,
                  ddp: bool = False, world_size: int = 1, windows: Optional[Sequence[int]] = None,
                  callbacks: Sequence[Any] = (), progress: Optional[Callable] = None) -> Trainer:
    r"""The model, its optimizer settings, the scaler and the checkpoint
    identity of a run, in a :class:`Trainer`: the same for a single process
    and for each DDP rank (:obj:`ddp`: the model is wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`, whose constructor
    broadcasts rank 0's weights).

    Args:
        spec (DatasetSpec): the dataset (horizon, masked value).
        config (RunConfig): model and optimizer settings.
        data (LoadedData): loaders, graph and statistics.
        device (torch.device): where the model trains.
        ddp (bool): this process is a DDP rank (the process group is up).
        world_size (int): DDP ranks (part of the checkpoint identity).
        windows (list of int, optional): windows per split for the data
            fingerprint (default: counted from the loaders).
        callbacks (list): passed to :class:`Trainer`.
        progress (callable, optional): progress-bar factory.
    """
    check_recipe_data(config, data.num_features)
    # --recompute auto: only models that can recompute (--recompute on with another one: build_model refuses)
    mode = config.recompute if config.model in RECOMPUTE_MODELS or config.recompute == "on" else "off"
    sizes = dict(batch_size=config.batch_size, num_nodes=data.num_nodes, num_features=data.num_features,
                 num_timesteps_in=spec.num_timesteps_in, num_timesteps_out=spec.num_timesteps_out,
                 hidden_channels=config.hidden, num_layers=config.layers, K=config.diffusion_steps,
                 dtype_bytes=2 if config.amp == "bf16" and device.type == "cuda" else 4)
    # on the CPU the ranks of a DDP run share the machine's memory
    budget = 0.5 / (world_size if device.type == "cpu" else 1)
    recompute = plan_recompute(mode, lambda on: activation_bytes(config.model, recompute=on, **sizes), device,
                               budget_fraction=budget)
    seed_everything(config.seed)  # model init independent of the data path taken
    model = build_model(config.model, data.num_features, spec.num_timesteps_out, hidden_channels=config.hidden,
                        num_layers=config.layers, K=config.diffusion_steps,
                        use_curriculum_learning=bool(config.curriculum),
                        cl_decay_steps=config.cl_decay_steps, num_timesteps_in=spec.num_timesteps_in,
                        num_nodes=data.num_nodes, batch_size=config.batch_size,
                        scaler=data.scaler, recompute=recompute).to(device)
    if config.compile:
        from torch_geometric_temporal.nn.recurrent.compiled import compile_steps

        if not compile_steps(model):
            log.warning("--compile: --model %s has no recurrent cell step to compile; it runs eagerly",
                        config.model)
    if ddp:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    train_config = TrainConfig(epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay,
                               eps=config.adam_eps, amp=config.amp,
                               grad_clip=config.grad_clip, lr_milestones=tuple(config.lr_milestones),
                               lr_gamma=config.lr_gamma, seed=config.seed, max_batches=config.max_batches,
                               null_value=spec.null_value)
    identity = {**run_identity(spec, config, world_size), **data_identity(data, windows)}
    return Trainer(model, *data.loaders, edge_index=data.edge_index, edge_weight=data.edge_weight, scaler=data.scaler,
                   config=train_config, out_dir=config.out_dir, device=device, progress=progress,
                   callbacks=callbacks, identity=identity)


def run_experiment(spec: DatasetSpec, config: RunConfig, callbacks: Sequence[Any] = ()) -> Dict[str, Any]:
    r"""Load, train, test and write the output CSVs (``stats.csv``,
    ``per_epoch_stats.csv``, ``system_stats.csv``, ``test_metrics.csv``)
    into ``config.out_dir``; returns the ``stats.csv`` row plus ``"test"``
    (the full test metrics) and ``"history"``.

    Args:
        spec (DatasetSpec): the dataset.
        config (RunConfig): the run's settings.
        callbacks (list): passed to :class:`Trainer` (tests use them to kill
            a run mid-epoch).
    """
    from torch_geometric_temporal.train.monitor import SystemMonitor

    t_start = time.perf_counter()
    configure_logging(config)
    return_freed_memory()  # freed activations leave RSS at once (see _memory.return_freed_memory)
    device = run_device(config)
    if device.type == "cuda":  # the current device: nothing (a context, an allocation) lands on cuda:0 by default
        torch.cuda.set_device(device)
    threads = torch.get_num_threads()
    with RunDirectory(config.out_dir, resume=bool(config.resume), overwrite=bool(config.overwrite)) as run_dir:
        if config.resume:
            config = apply_checkpoint_settings(spec, config, run_dir.checkpoint_path)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        # memory samples reach system_stats.csv once training started: a failed start writes nothing
        try:
            with SystemMonitor(os.path.join(run_dir.path, "system_stats.csv"), device=device,
                               write_when=run_dir.started_since_claim) as monitor:
                seed_everything(config.seed)
                data = load_data(spec, config, device=device)
                preprocessing = time.perf_counter() - t_start
                trainer = build_trainer(spec, config, data, device, callbacks=callbacks,
                                        progress=_progress(config.quiet))
                run_dir.clear_previous()  # --overwrite: only now that the data loaded and the model was built
                result = _fit(trainer, bool(config.resume))
        finally:
            torch.set_num_threads(threads)
    total = time.perf_counter() - t_start
    row = write_stats(config.out_dir, dataset=spec.name, args=config, preprocessing_seconds=preprocessing,
                      training_seconds=result.training_seconds, total_seconds=total,
                      best_train_mae=result.best_train_mae, best_val_mae=result.best_val_mae,
                      test=result.test, peaks=monitor.peaks(), epochs=len(result.history))
    log.info("Runtime %.2fs; best train MAE %.4f; best val MAE %.4f; test MAE %s", total,
             result.best_train_mae, result.best_val_mae, row["test_mae"])
    return {**row, "test": result.test, "history": result.history}


def _fit(trainer: Trainer, resume: bool):
    if trainer.progress is None:
        return trainer.fit(resume=resume)
    # log lines above the bars, not through them
    redirect = require("tqdm.contrib.logging", "monitor", "Progress bars").logging_redirect_tqdm
    with redirect():
        return trainer.fit(resume=resume)
