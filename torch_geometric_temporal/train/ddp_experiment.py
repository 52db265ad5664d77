r"""Train a dataset script's model with DDP on Dask workers (``pems_ddp.py``).

:func:`run_ddp_experiment` is the DDP counterpart of
:func:`torch_geometric_temporal.train.experiment.run_experiment`: same dataset
spec, same :class:`~torch_geometric_temporal.train.config.RunConfig`, the same
model, optimizer, scaler and checkpoint identity
(:func:`~torch_geometric_temporal.train.experiment.build_trainer`), same
outputs (``stats.csv``, ``per_epoch_stats.csv``, ``system_stats.csv``,
``test_metrics.csv``, checkpoints) plus ``ranks.csv`` (one row per rank).
The DDP machinery itself (cluster, rank runs, placement, shards) is in
:mod:`torch_geometric_temporal.distributed`. Three data modes:

* ``index``: PGT-I's distributed-index-batching: every rank loads the whole
  series (:func:`~torch_geometric_temporal.train.experiment.load_data` with
  its ``world_size``/``rank``, i.e. a :class:`DistributedIndexSampler`); the
  data is replicated.
* ``dask-index``: the series is read and its statistics computed with Dask
  (:mod:`~torch_geometric_temporal.dataset.dask_batching`); each rank then
  holds only its shard's time range
  (:class:`~torch_geometric_temporal.distributed.sharding.ShardedIndexDataset`).
* ``dask``: the Dask baseline: all windows materialized and persisted in the
  cluster, batches fetched with ``compute``.
"""
import contextlib
import gc
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from torch_geometric_temporal._memory import peak_rss_mb, return_freed_memory, rss_mb
from torch_geometric_temporal._optional import require
from torch_geometric_temporal.dataset.loader_base import LoadedData
from torch_geometric_temporal.dataset.scaling import Scaler
from torch_geometric_temporal.distributed.ddp import RankContext
from torch_geometric_temporal.train.config import RunConfig
from torch_geometric_temporal.train.datasets import DatasetSpec
from torch_geometric_temporal.train.experiment import apply_checkpoint_settings, build_trainer, load_data
from torch_geometric_temporal.train.run_dir import RunDirectory, clear_outputs
from torch_geometric_temporal.train.stats import GPU_COLUMNS, write_csv_atomic, write_stats
from torch_geometric_temporal.train.trainer import seed_everything, unwrap_model

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
        spec (DatasetSpec): the dataset.
        config (RunConfig): the run's settings.
        world_size (int): number of ranks.
        series: ``dask-index``: the file-backed Dask array of the series.
        splits: window starts of train/val/test (``dask-index``/``dask``).
        scaler (Scaler): the training statistics (``dask-index``/``dask``).
        edge_index, edge_weight: the graph (``dask-index``/``dask``).
        windows (list of str): ``dask``: published dataset names of
            ``(X, Y)`` per split.
        blocks_per_rank (int): shard blocks per rank (``dask-index``).
        callbacks (list): :class:`Trainer` callbacks (picklable objects).
        return_state (bool): rank 0 also returns the final model state.
    """

    spec: DatasetSpec
    config: RunConfig
    world_size: int
    series: Any = None
    splits: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None
    scaler: Optional[Scaler] = None
    edge_index: Optional[torch.Tensor] = None
    edge_weight: Optional[torch.Tensor] = None
    windows: Optional[List[str]] = None
    num_features: int = 0
    num_nodes: Optional[int] = None
    series_rows: int = -1
    blocks_per_rank: int = 1
    callbacks: Sequence[Any] = field(default_factory=tuple)
    return_state: bool = False

    def gather_statistics(self) -> Dict[str, Optional[torch.Tensor]]:
        r"""``mean``/``std`` keywords of the gather (:meth:`Scaler.gather_stats`)."""
        mean, std = self.scaler.gather_stats() if self.scaler is not None else (None, None)
        return {"mean": mean, "std": std}


def prepare_job(spec: DatasetSpec, config: RunConfig, client: Any, world_size: int,
                callbacks: Sequence[Any] = (), return_state: bool = False, chunk_rows: Optional[int] = None,
                ratio: Tuple[float, float, float] = (0.7, 0.1, 0.2)) -> DDPJob:
    r"""Client-side preprocessing for ``config.mode`` (see the module docstring)."""
    job = DDPJob(spec, config, world_size, blocks_per_rank=config.blocks_per_rank or 1,
                 callbacks=tuple(callbacks), return_state=return_state)
    if config.mode == "index":
        return job
    if config.mode not in MODES:
        raise ValueError(f"unknown mode {config.mode!r}; choose one of {MODES}.")
    from torch_geometric_temporal.dataset.dask_batching import (dask_fit_scaler, dask_materialize_windows,
                                                                 read_dask_array)

    loader = spec.open(config.data_dir or None)
    series = read_dask_array(loader, chunk_rows=chunk_rows)
    splits = spec.window.split(int(series.shape[0]), ratio)
    job.scaler = loader.fit_scaler(series, splits[0], spec.window, fit=dask_fit_scaler)  # with Dask
    job.edge_index, job.edge_weight = loader.read_graph()
    job.splits = splits
    job.num_features, job.series_rows = int(series.shape[-1]), int(series.shape[0])
    job.num_nodes = int(series.shape[1])
    if config.mode == "dask-index":
        job.series = series
        return job
    names = []
    token = f"pgt-windows-{os.getpid()}-{time.time_ns()}"
    for name, starts in zip(("train", "val", "test"), splits):
        X, Y = dask_materialize_windows(series, starts, spec.num_timesteps_in, spec.num_timesteps_out,
                                        target_features=spec.target_features, **job.gather_statistics())
        X, Y = client.persist([X, Y])
        wait = require("distributed", "dask", "Dask-launched DDP").wait

        wait([X, Y], timeout=config.timeout)
        client.publish_dataset(**{f"{token}-{name}": (X, Y)})
        names.append(f"{token}-{name}")
    job.windows = names
    return job


def _split_loaders_rank(ctx: RankContext, job: DDPJob, client: Any = None) -> Tuple[list, list]:
    r"""Train/val/test loaders of this rank for ``job.config.mode``
    (``dask-index``/``dask``): the training shards are padded to equal length
    (every rank runs the same number of steps), the val/test shards are not
    (every window evaluated exactly once, whatever the number of ranks)."""
    from torch_geometric_temporal.dataset.index_batching import DistributedIndexSampler, index_dataloader
    from torch_geometric_temporal.distributed.sharding import ShardedIndexDataset, ShardPlan, ShardSampler

    spec, config = job.spec, job.config
    t_in, t_out = spec.num_timesteps_in, spec.num_timesteps_out
    device = ctx.device if config.gpu else None
    loaders, held = [], []
    for i, starts in enumerate(job.splits):
        train = i == 0
        shuffle = bool(config.shuffle) if train else False
        if config.mode == "dask-index":
            plan = ShardPlan(starts, ctx.world_size, t_in, t_out,
                             blocks_per_rank=job.blocks_per_rank if train else 1,
                             shuffle=shuffle, redeal=train, seed=config.seed, pad=train)
            ds = ShardedIndexDataset(job.series, plan, ctx.rank, target_features=spec.target_features,
                                     device=device, **job.gather_statistics())
            sampler = ShardSampler(plan, ctx.rank, ds)
            held.append(ds)
        else:  # dask baseline
            from torch_geometric_temporal.dataset.dask_batching import DaskWindowDataset

            X, Y = client.get_dataset(job.windows[i])
            ds = DaskWindowDataset(X, Y, client=client)
            sampler = DistributedIndexSampler(len(ds), ctx.world_size, ctx.rank, shuffle=shuffle,
                                              seed=config.seed, pad=train)
        # the dask baseline fetches through this worker's client, which loader processes cannot share
        workers = 0 if config.mode == "dask" else config.num_workers
        loaders.append(index_dataloader(ds, config.batch_size, sampler=sampler, num_workers=workers))
    return loaders, held


def train_rank(ctx: RankContext, job: DDPJob) -> Dict[str, Any]:
    r"""One DDP rank: build this rank's loaders, then the model and its
    :class:`~torch_geometric_temporal.train.trainer.Trainer` as a single
    process does (:func:`~torch_geometric_temporal.train.experiment.build_trainer`),
    train, and return picklable results (history, test metrics, memory)."""
    from torch_geometric_temporal.train.monitor import SystemMonitor

    spec, config = job.spec, job.config
    # import what every mode needs first, so that data_rss_mb measures the data only
    from torch_geometric_temporal._pyg import pyg

    pyg("utils")
    return_freed_memory()  # as a single process does (run_experiment)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    seed_everything(config.seed)
    held: List[Any] = []
    context = contextlib.nullcontext(None)
    if config.mode == "dask":
        worker_client = require("distributed", "dask", "Dask-launched DDP").worker_client

        context = worker_client()  # secede: the persisted windows' tasks need this worker's thread
    # a GPU rank samples its own GPU (NVML, by UUID) and reads its allocator peaks; a CPU rank has no GPU figures
    gpu_monitor = SystemMonitor(device=ctx.device) if ctx.device.type == "cuda" else contextlib.nullcontext(None)
    with context as client, gpu_monitor as monitor:
        windows = None
        if config.mode == "index":  # -g: the series on this rank's own device
            data = load_data(spec, config, world_size=ctx.world_size, rank=ctx.rank, device=ctx.device)
            series = getattr(data.train.dataset, "data", None)
            series_rows = resident_rows = int(series.shape[0]) if series is not None else -1
        else:
            loaders, held = _split_loaders_rank(ctx, job, client)
            data = LoadedData(*loaders, job.edge_index, job.edge_weight, job.scaler, num_nodes=job.num_nodes,
                              num_features=job.num_features, window=spec.window)
            series_rows, resident_rows = job.series_rows, -1
            windows = [len(s) for s in job.splits]
        data_rss = rss_mb() - rss0
        trainer = build_trainer(spec, config, data, ctx.device, ddp=True, world_size=ctx.world_size,
                                windows=windows, callbacks=job.callbacks)
        del data
        # DDP's constructor broadcasts from rank 0 to every rank: all of them have loaded their data and built
        # the model, so --overwrite may now remove the previous run's outputs
        if ctx.rank == 0 and config.overwrite and not config.resume:
            clear_outputs(config.out_dir)
        result = trainer.fit(resume=bool(config.resume))
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
            "peak_rss_mb": peak_rss_mb(),
            "data_rss_mb": data_rss,
            "resident_rows": resident_rows,
            "series_rows": series_rows,
            "time_ranges": held[0].time_ranges if held else None,
            "device": str(ctx.device),
            "gpu_uuid": monitor.gpu_uuid if monitor is not None else None,
        }
        if job.return_state and ctx.rank == 0:
            out["state"] = {k: v.detach().cpu().clone() for k, v in unwrap_model(trainer.model).state_dict().items()}
        # Drop DDP module, optimizer and loaders before the process group goes.
        del trainer, held
        gc.collect()
    if monitor is not None:  # stopped on leaving the block: its peaks are final
        out.update({k: v for k, v in monitor.peaks().items() if k in GPU_COLUMNS})
    return out


def check_ddp_device(config: RunConfig) -> None:
    r"""Refuse a ``--device`` a DDP run cannot honour: the ranks' devices
    follow ``-g`` (each rank on its own GPU with NCCL) or its absence (every
    rank on the CPU with gloo), so only ``auto`` and, without ``-g``,
    ``cpu`` are accepted."""
    device = config.device or "auto"
    if device == "auto" or (device == "cpu" and not config.gpu):
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


def run_ddp_experiment(spec: DatasetSpec, config: RunConfig, callbacks: Sequence[Any] = (), client: Any = None,
                       return_state: bool = False) -> Dict[str, Any]:
    r"""Start/connect the cluster, preprocess, train on every worker as a DDP
    rank, write the CSVs (memory summed over this node's workers) and
    return the ``stats.csv`` row plus ``"ranks"`` (per-rank results).

    Args:
        spec (DatasetSpec): the dataset.
        config (RunConfig): see ``scalability_testing/pems_ddp.py``;
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
    t_start = time.perf_counter()
    check_ddp_device(config)
    world = int(config.npar) * int(config.nodes or 1)
    # this process holds the out-dir's lock for the whole run; rank 0 writes the checkpoint
    with RunDirectory(config.out_dir, resume=bool(config.resume), overwrite=bool(config.overwrite)) as run_dir:
        if config.resume:
            config = apply_checkpoint_settings(spec, config, run_dir.checkpoint_path, world_size=world)
        return _run_ddp(spec, config, callbacks, client, return_state, run_dir, world, t_start)


def _run_ddp(spec: DatasetSpec, config: RunConfig, callbacks: Sequence[Any], client: Any, return_state: bool,
             run_dir: RunDirectory, world: int, t_start: float) -> Dict[str, Any]:
    r""":func:`run_ddp_experiment` once the out-dir is claimed."""
    from torch_geometric_temporal.distributed.cluster import cluster_client, worker_addresses
    from torch_geometric_temporal.distributed.ddp import default_backend, run_ddp
    from torch_geometric_temporal.train.monitor import SystemMonitor

    system_csv = os.path.join(config.out_dir, "system_stats.csv")
    # memory samples reach system_stats.csv once rank 0 started training: a failed start writes nothing
    gate = run_dir.started_since_claim
    timeout = float(config.timeout)
    if client is None:
        scheduler_file = config.scheduler_file if config.dist else None
        # -q: the worker processes of a local cluster log errors only (Dask's default,
        # WARNING, lets e.g. "full garbage collections took N% CPU time" through)
        ctx = cluster_client(world, scheduler_file=scheduler_file, gpu=bool(config.gpu),
                             timeout=min(timeout, 300.0),
                             silence_logs=logging.ERROR if config.quiet else logging.WARNING)
    else:
        ctx = contextlib.nullcontext(client)
    with ctx as client:
        client.wait_for_workers(world, timeout=min(timeout, 300.0))
        addrs = worker_addresses(client, world)
        pids = node_worker_pids(client)
        with SystemMonitor(system_csv, pids=pids, write_when=gate) as monitor:
            job = prepare_job(spec, config, client, world, callbacks=callbacks, return_state=return_state)
            preprocessing = time.perf_counter() - t_start
            try:
                ranks = run_ddp(client, train_rank, job, workers=addrs, backend=default_backend(bool(config.gpu)),
                                timeout=timeout, collective_timeout=config.collective_timeout,
                                num_threads=config.threads or 1)
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
    row = write_stats(config.out_dir, dataset=spec.name, args=config, preprocessing_seconds=preprocessing,
                      training_seconds=main["training_seconds"], total_seconds=total,
                      best_train_mae=main["best_train_mae"], best_val_mae=main["best_val_mae"],
                      test=main["test"], peaks=peaks, epochs=len(main["history"]))
    rank_rows = [{**{k: r.get(k) for k in RANK_COLUMNS}, "worker": addrs[r["rank"]]} for r in ranks]
    write_csv_atomic(os.path.join(config.out_dir, "ranks.csv"), RANK_COLUMNS, rank_rows)
    log.info("DDP run on %d ranks: %.2fs; test MAE %s", world, total, row["test_mae"])
    return {**row, "ranks": ranks, "history": main["history"], "test": main["test"]}
