r"""Train a dataset script's model with DDP on Dask workers.

:func:`run_ddp_experiment` is the DDP counterpart of
:func:`torch_geometric_temporal.train.cli.run_experiment`: same dataset spec,
same arguments, same outputs (``stats.csv``, ``per_epoch_stats.csv``,
``system_stats.csv``, ``test_metrics.csv``, checkpoints) plus ``ranks.csv``
(one row per rank). Three data modes:

* ``index``: PGT-I's distributed-index-batching: every rank loads the whole
  series (the loader's ``get_index_dataset`` with ``world_size``/``ddp_rank``,
  i.e. a :class:`DistributedIndexSampler`); the data is replicated.
* ``dask-index``: the series is read and its statistics computed with Dask
  (:mod:`~torch_geometric_temporal.dataset.dask_batching`); each rank then
  holds only its shard's time range
  (:class:`~torch_geometric_temporal.distributed.sharding.ShardedIndexDataset`).
* ``dask``: the Dask baseline: all windows materialized and persisted in the
  cluster, batches fetched with ``compute``.
"""
import argparse
import gc
import logging
import os
import resource
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.distributed.ddp import RankContext
from torch_geometric_temporal.train.stats import GPU_COLUMNS

log = logging.getLogger(__name__)

MODES = ("index", "dask-index", "dask")

#: Columns of ``ranks.csv``: ``device`` is the rank's training device as the
#: rank sees it, ``gpu_uuid`` the physical GPU's UUID, then the GPU columns of
#: :data:`~torch_geometric_temporal.train.stats.GPU_COLUMNS` for that GPU
#: (empty on CPU ranks).
RANK_COLUMNS = ["rank", "worker", "host", "device", "gpu_uuid", "peak_rss_mb", "data_rss_mb", "resident_rows",
                "series_rows", "training_seconds", "gpu_memory_total_mb", "gpu_memory_peak_mb",
                "gpu_max_allocated_mb", "gpu_max_reserved_mb"]


@dataclass
class DDPJob:
    r"""Everything a rank needs, sent once to every worker (picklable).

    Args:
        spec: the script's :class:`~torch_geometric_temporal.train.cli.DatasetSpec`.
        args (argparse.Namespace): parsed command line.
        world_size (int): number of ranks.
        series: ``dask-index``: the file-backed Dask array of the series.
        splits: window starts of train/val/test (``dask-index``/``dask``).
        mean, std: training statistics (``None``: data used as is).
        edge_index, edge_weight: the graph (``dask-index``/``dask``).
        windows (list of str): ``dask``: published dataset names of
            ``(X, Y)`` per split.
        blocks_per_rank (int): shard blocks per rank (``dask-index``).
        callbacks (list): :class:`Trainer` callbacks (picklable objects).
        return_state (bool): rank 0 also returns the final model state.
    """

    spec: Any
    args: argparse.Namespace
    world_size: int
    series: Any = None
    splits: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
    mean: Optional[torch.Tensor] = None
    std: Optional[torch.Tensor] = None
    edge_index: Optional[torch.Tensor] = None
    edge_weight: Optional[torch.Tensor] = None
    windows: Optional[List[str]] = None
    num_features: int = 0
    num_nodes: Optional[int] = None
    series_rows: int = -1
    blocks_per_rank: int = 1
    callbacks: Sequence[Any] = field(default_factory=tuple)
    return_state: bool = False


def _import(path: str):
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def make_loader(spec: Any, args: argparse.Namespace) -> Any:
    r"""Instantiate the dataset loader of ``spec`` (``--data-dir`` honoured)."""
    import inspect

    cls = _import(spec.loader)
    kwargs = {"raw_data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}
    params = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in params})


def _statistics(loader: Any, series: Any, train: np.ndarray, t_in: int) -> Tuple[Optional[torch.Tensor], ...]:
    from torch_geometric_temporal.dataset.loader_base import WindowedDatasetLoader
    from torch_geometric_temporal.dataset.dask_batching import dask_fit_statistics

    if not getattr(loader, "normalize", True):
        return None, None
    if type(loader).fit_statistics is WindowedDatasetLoader.fit_statistics:
        return dask_fit_statistics(series, train, t_in)
    return loader.fit_statistics(series.compute(), train, t_in)  # a loader with its own statistics


def prepare_job(spec: Any, args: argparse.Namespace, client: Any, world_size: int,
                callbacks: Sequence[Any] = (), return_state: bool = False, chunk_rows: Optional[int] = None,
                ratio: Tuple[float, float, float] = (0.7, 0.1, 0.2)) -> DDPJob:
    r"""Client-side preprocessing for ``args.mode`` (see the module docstring)."""
    job = DDPJob(spec, args, world_size, blocks_per_rank=getattr(args, "blocks_per_rank", 1) or 1,
                 callbacks=tuple(callbacks), return_state=return_state)
    if args.mode == "index":
        return job
    if args.mode not in MODES:
        raise ValueError(f"unknown mode {args.mode!r}; choose one of {MODES}.")
    from torch_geometric_temporal.dataset.loader_base import split_starts
    from torch_geometric_temporal.dataset.dask_batching import dask_materialize_windows, read_dask_array

    loader = make_loader(spec, args)
    series = read_dask_array(loader, chunk_rows=chunk_rows)
    splits = split_starts(int(series.shape[0]), spec.num_timesteps_in, spec.num_timesteps_out, ratio)
    job.mean, job.std = _statistics(loader, series, splits[0], spec.num_timesteps_in)
    job.edge_index, job.edge_weight = loader.read_graph()
    job.splits = splits
    job.num_features, job.series_rows = int(series.shape[-1]), int(series.shape[0])
    job.num_nodes = int(series.shape[1])
    if args.mode == "dask-index":
        job.series = series
        return job
    names = []
    token = f"pgt-windows-{os.getpid()}-{time.time_ns()}"
    for name, starts in zip(("train", "val", "test"), splits):
        X, Y = dask_materialize_windows(series, starts, spec.num_timesteps_in, spec.num_timesteps_out,
                                        target_features=(0,), mean=job.mean, std=job.std)
        X, Y = client.persist([X, Y])
        wait = require("distributed", "dask", "Dask-launched DDP").wait

        wait([X, Y], timeout=getattr(args, "timeout", 3600))
        client.publish_dataset(**{f"{token}-{name}": (X, Y)})
        names.append(f"{token}-{name}")
    job.windows = names
    return job


def _rss_mb() -> float:
    psutil = require("psutil", "monitor", "Memory figures of the DDP run")

    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _split_loaders_rank(ctx: RankContext, job: DDPJob, client: Any = None):
    r"""Train/val/test loaders of this rank for ``job.args.mode``: the
    training shards are padded to equal length (every rank runs the same
    number of steps), the val/test shards are not (every window evaluated
    exactly once, whatever the number of ranks)."""
    from torch_geometric_temporal.dataset.index_batching import DistributedIndexSampler, index_dataloader
    from torch_geometric_temporal.distributed.sharding import ShardedIndexDataset, ShardPlan, ShardSampler

    spec, args = job.spec, job.args
    t_in, t_out = spec.num_timesteps_in, spec.num_timesteps_out
    device = ctx.device if getattr(args, "gpu", False) else None
    loaders, held = [], []
    for i, starts in enumerate(job.splits):
        train = i == 0
        shuffle = bool(args.shuffle) if train else False
        if args.mode == "dask-index":
            plan = ShardPlan(starts, ctx.world_size, t_in, t_out,
                             blocks_per_rank=job.blocks_per_rank if train else 1,
                             shuffle=shuffle, redeal=train, seed=args.seed, pad=train)
            ds = ShardedIndexDataset(job.series, plan, ctx.rank, target_features=(0,), mean=job.mean,
                                     std=job.std, device=device)
            sampler = ShardSampler(plan, ctx.rank, ds)
            held.append(ds)
        else:  # dask baseline
            from torch_geometric_temporal.dataset.dask_batching import DaskWindowDataset

            X, Y = client.get_dataset(job.windows[i])
            ds = DaskWindowDataset(X, Y, client=client)
            sampler = DistributedIndexSampler(len(ds), ctx.world_size, ctx.rank, shuffle=shuffle, seed=args.seed,
                                              pad=train)
        # the dask baseline fetches through this worker's client, which loader processes cannot share
        workers = 0 if args.mode == "dask" else args.num_workers
        loaders.append(index_dataloader(ds, args.batch_size, sampler=sampler, num_workers=workers))
    return loaders, held


def train_rank(ctx: RankContext, job: DDPJob) -> Dict[str, Any]:
    r"""One DDP rank: build this rank's loaders, the model and a
    :class:`~torch_geometric_temporal.train.trainer.Trainer`, train, and
    return picklable results (history, test metrics, memory)."""
    import contextlib

    from torch.nn.parallel import DistributedDataParallel

    from torch_geometric_temporal.train.cli import data_identity, load_data, run_identity
    from torch_geometric_temporal.train.metrics import StandardScaler
    from torch_geometric_temporal.train.models import build_model
    from torch_geometric_temporal.train.monitor import SystemMonitor
    from torch_geometric_temporal.train.trainer import TrainConfig, Trainer, seed_everything

    spec, args = job.spec, job.args
    # import what every mode needs first, so that data_rss_mb measures the data only
    from torch_geometric_temporal._pyg import pyg

    pyg("utils")
    _import(spec.loader)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    seed_everything(args.seed)
    held: List[Any] = []
    context = contextlib.nullcontext(None)
    if args.mode == "dask":
        worker_client = require("distributed", "dask", "Dask-launched DDP").worker_client

        context = worker_client()  # secede: the persisted windows' tasks need this worker's thread
    # a GPU rank samples its own GPU (NVML, by UUID) and reads its allocator peaks; a CPU rank has no GPU figures
    gpu_monitor = SystemMonitor(device=ctx.device) if ctx.device.type == "cuda" else contextlib.nullcontext(None)
    with context as client, gpu_monitor as monitor:
        if args.mode == "index":  # -g: the series on this rank's own device
            data = load_data(spec, args, world_size=ctx.world_size, ddp_rank=ctx.rank, device=ctx.device)
            loaders = [data.train_loader, data.val_loader, data.test_loader]
            edge_index, edge_weight, mean, std = data.edge_index, data.edge_weight, data.mean, data.std
            num_features, num_nodes = data.num_features, data.num_nodes
            series_rows = int(loaders[0].dataset.data.shape[0]) if hasattr(loaders[0].dataset, "data") else -1
            resident_rows = series_rows
            del data
        else:
            loaders, held = _split_loaders_rank(ctx, job, client)
            edge_index, edge_weight, mean, std = job.edge_index, job.edge_weight, job.mean, job.std
            num_features, num_nodes, series_rows = job.num_features, job.num_nodes, job.series_rows
            resident_rows = -1
        data_rss = _rss_mb() - rss0
        seed_everything(args.seed)
        model = build_model(args.model, num_features, spec.num_timesteps_out, hidden_channels=args.hidden,
                            num_layers=args.layers, K=args.diffusion_steps,
                            use_curriculum_learning=bool(args.curriculum),
                            cl_decay_steps=args.cl_decay_steps).to(ctx.device)
        ddp = DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        # DDP's constructor broadcasts from rank 0 to every rank: all of them have loaded their data and built
        # the model, so --overwrite may now remove the previous run's outputs
        if ctx.rank == 0 and getattr(args, "overwrite", False) and not args.resume:
            from torch_geometric_temporal.train.run_dir import clear_outputs

            clear_outputs(args.out_dir)
        windows = [len(s) for s in job.splits] if job.splits is not None else None
        identity = {**run_identity(spec, args, ctx.world_size),
                    **data_identity(edge_index, edge_weight, mean, std, loaders, num_nodes, num_features, windows)}
        config = TrainConfig(epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
                             grad_clip=args.grad_clip, lr_milestones=tuple(args.lr_milestones),
                             lr_gamma=args.lr_gamma, seed=args.seed, max_batches=args.max_batches,
                             null_value=spec.null_value)
        scaler = (StandardScaler(mean, std, channel=0, num_nodes=num_nodes, num_features=num_features)
                  if mean is not None else StandardScaler())
        trainer = Trainer(ddp, *loaders, edge_index=edge_index, edge_weight=edge_weight, scaler=scaler,
                          config=config, out_dir=args.out_dir, device=ctx.device, callbacks=job.callbacks,
                          identity=identity)
        result = trainer.fit(resume=bool(args.resume))
        if held:
            resident_rows = sum(ds.resident_rows for ds in held)
        out = {
            "rank": ctx.rank,
            "host": socket.gethostname(),
            "best_train_mae": result.best_train_mae,
            "best_val_mae": result.best_val_mae,
            "test": result.test,
            "history": result.history,
            "training_seconds": result.training_seconds,
            "total_seconds": time.perf_counter() - t0,
            "peak_rss_mb": _peak_rss_mb(),
            "data_rss_mb": data_rss,
            "resident_rows": resident_rows,
            "series_rows": series_rows,
            "time_ranges": held[0].time_ranges if held else None,
            "device": str(ctx.device),
            "gpu_uuid": monitor.gpu_uuid if monitor is not None else None,
        }
        if job.return_state and ctx.rank == 0:
            out["state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        # Drop DDP module, optimizer and loaders before the process group goes.
        del trainer, ddp, model, loaders, held
        gc.collect()
    if monitor is not None:  # stopped on leaving the block: its peaks are final
        out.update({k: v for k, v in monitor.peaks().items() if k in GPU_COLUMNS})
    return out


def check_ddp_device(args: argparse.Namespace) -> None:
    r"""Refuse a ``--device`` a DDP run cannot honour: the ranks' devices
    follow ``-g`` (each rank on its own GPU with NCCL) or its absence (every
    rank on the CPU with gloo), so only ``auto`` and, without ``-g``,
    ``cpu`` are accepted."""
    device = getattr(args, "device", None) or "auto"
    if device == "auto" or (device == "cpu" and not getattr(args, "gpu", False)):
        return
    raise ValueError(f"--device {device}: a DDP run places its ranks itself (-g: each rank on its own GPU, "
                     "without -g: on the CPU); drop --device")


def rank_gpu_peaks(ranks: Sequence[Dict[str, Any]]) -> Dict[str, Optional[float]]:
    r"""The GPU columns of a DDP run's ``stats.csv``: each one the maximum
    over the ranks that report it (``None`` when none does, e.g. on CPU)."""
    out: Dict[str, Optional[float]] = {}
    for column in GPU_COLUMNS:
        values = [r[column] for r in ranks if r.get(column) is not None]
        out[column] = max(values) if values else None
    return out


def _local_addresses() -> set:
    psutil = require("psutil", "monitor", "Memory figures of the DDP run")

    addrs = {"127.0.0.1", "localhost", socket.gethostname()}
    for entries in psutil.net_if_addrs().values():
        addrs.update(e.address for e in entries)
    return addrs


def node_worker_pids(client: Any) -> List[int]:
    r"""PIDs of the Dask workers running on this machine (for memory sums)."""
    from torch_geometric_temporal.distributed.cluster import scheduler_workers

    local = _local_addresses()
    workers = scheduler_workers(client)
    pids = client.run(os.getpid, workers=[a for a, w in workers.items() if w.get("host") in local])
    return [int(p) for p in pids.values()]


def run_ddp_experiment(spec: Any, args: argparse.Namespace, callbacks: Sequence[Any] = (), client: Any = None,
                       return_state: bool = False) -> Dict[str, Any]:
    r"""Start/connect the cluster, preprocess, train on every worker as a DDP
    rank, write the CSVs (memory summed over this node's workers) and
    return the ``stats.csv`` row plus ``"ranks"`` (per-rank results).

    Args:
        spec (DatasetSpec): the dataset.
        args (argparse.Namespace): see ``scalability_testing/pems_ddp.py``;
            uses ``mode``, ``npar``, ``dist``, ``scheduler_file``, ``nodes``,
            ``gpu``, ``timeout``, ``collective_timeout`` (``None``: by backend) besides the
            single-node options; ``threads`` (default ``1``: one worker per
            core) sets ``torch.set_num_threads`` in every rank.
        callbacks (list): picklable :class:`Trainer` callbacks run on every rank.
        client (distributed.Client, optional): use this cluster instead.
        return_state (bool): include rank 0's final model state.

    The out-dir is claimed as by the single-process scripts
    (:class:`~torch_geometric_temporal.train.run_dir.RunDirectory`: lock,
    ``--resume``/``--overwrite``, checkpoint identity and kept settings).
    """
    from torch_geometric_temporal.train.cli import apply_checkpoint_settings
    from torch_geometric_temporal.train.run_dir import RunDirectory

    t_start = time.perf_counter()
    args = argparse.Namespace(**vars(args))  # resuming may replace some values
    check_ddp_device(args)
    world = int(args.npar) * int(getattr(args, "nodes", 1) or 1)
    # this process holds the out-dir's lock for the whole run; rank 0 writes the checkpoint
    with RunDirectory(args.out_dir, resume=bool(args.resume),
                      overwrite=bool(getattr(args, "overwrite", False))) as run_dir:
        if args.resume:
            apply_checkpoint_settings(spec, args, run_dir.checkpoint_path, world_size=world)
        return _run_ddp(spec, args, callbacks, client, return_state, run_dir, world, t_start)


def _run_ddp(spec, args, callbacks, client, return_state, run_dir, world: int, t_start: float) -> Dict[str, Any]:
    r""":func:`run_ddp_experiment` once the out-dir is claimed."""
    from torch_geometric_temporal.distributed.cluster import cluster_client, worker_addresses
    from torch_geometric_temporal.distributed.ddp import default_backend, run_ddp
    from torch_geometric_temporal.train.monitor import SystemMonitor
    from torch_geometric_temporal.train.stats import write_csv_atomic, write_stats

    system_csv = os.path.join(args.out_dir, "system_stats.csv")
    # memory samples reach system_stats.csv once rank 0 started training: a failed start writes nothing
    gate = run_dir.started_since_claim
    timeout = float(getattr(args, "timeout", 3600.0))
    if client is None:
        scheduler_file = args.scheduler_file if getattr(args, "dist", False) else None
        # -q: the worker processes of a local cluster log errors only (Dask's default,
        # WARNING, lets e.g. "full garbage collections took N% CPU time" through)
        ctx = cluster_client(world, scheduler_file=scheduler_file, gpu=bool(args.gpu),
                             timeout=min(timeout, 300.0),
                             silence_logs=logging.ERROR if getattr(args, "quiet", False) else logging.WARNING)
    else:
        import contextlib

        ctx = contextlib.nullcontext(client)
    with ctx as client:
        client.wait_for_workers(world, timeout=min(timeout, 300.0))
        addrs = worker_addresses(client, world)
        pids = node_worker_pids(client)
        with SystemMonitor(system_csv, pids=pids, write_when=gate) as monitor:
            job = prepare_job(spec, args, client, world, callbacks=callbacks, return_state=return_state)
            preprocessing = time.perf_counter() - t_start
            try:
                ranks = run_ddp(client, train_rank, job, workers=addrs, backend=default_backend(bool(args.gpu)),
                                timeout=timeout, collective_timeout=getattr(args, "collective_timeout", None),
                                num_threads=getattr(args, "threads", None) or 1)
            finally:
                for name in job.windows or ():
                    try:
                        client.unpublish_dataset(name)
                    except Exception:  # pragma: no cover - cluster already gone
                        pass
    total = time.perf_counter() - t_start
    main = ranks[0]
    # memory summed over this node's workers; the GPU figures are the ranks' own (the maximum over them)
    peaks = {**monitor.peaks(), **rank_gpu_peaks(ranks)}
    row = write_stats(args.out_dir, dataset=spec.name, args=args, preprocessing_seconds=preprocessing,
                      training_seconds=main["training_seconds"], total_seconds=total,
                      best_train_mae=main["best_train_mae"], best_val_mae=main["best_val_mae"],
                      test=main["test"], peaks=peaks, epochs=len(main["history"]))
    rank_rows = [{**{k: r.get(k) for k in RANK_COLUMNS}, "worker": addrs[r["rank"]]} for r in ranks]
    write_csv_atomic(os.path.join(args.out_dir, "ranks.csv"), RANK_COLUMNS, rank_rows)
    log.info("DDP run on %d ranks: %.2fs; test MAE %s", world, total, row["test_mae"])
    return {**row, "ranks": ranks, "history": main["history"], "test": main["test"]}
