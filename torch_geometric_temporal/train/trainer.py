r"""Training loop shared by every script: train / validate each epoch, test at
the end, atomic checkpoints and exact resume, single process or DDP.

The loop is written for :class:`torch.nn.parallel.DistributedDataParallel`
from the start: training and evaluation metrics are sums that are
all-reduced when :func:`torch.distributed.is_initialized`, samplers with a
``set_epoch`` method (e.g.
:class:`~torch_geometric_temporal.dataset.index_batching.DistributedIndexSampler`)
are re-seeded each epoch, and only rank 0 writes files.
"""
import copy
import dataclasses
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from torch_geometric_temporal.train.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    check_identity,
    kept_settings,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from torch_geometric_temporal.train.metrics import MetricAccumulator
from torch_geometric_temporal.train.stats import (
    PER_EPOCH_COLUMNS,
    TEST_METRICS_COLUMNS,
    CSVAppender,
    write_csv_atomic,
)
from torch_geometric_temporal.train.step import (
    StepResult,
    forward_model,
    predict_batch,
    resolve_amp,
    train_step,
    unwrap_model,
)

if TYPE_CHECKING:  # the loaders' scaler
    from torch_geometric_temporal.dataset.scaling import Scaler

__all__ = [
    "TrainConfig",
    "StepResult",
    "FitResult",
    "Trainer",
    "fit",
    "train_step",
    "predict_batch",
    "forward_model",
    "seed_everything",
    "unwrap_model",
    "get_rank",
    "is_main_process",
    "save_checkpoint",
    "load_checkpoint",
    "CHECKPOINT_NAME",
    "CheckpointError",
]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    r"""Seed Python's :mod:`random`, NumPy and PyTorch (CPU and all GPUs)."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        torch.cuda.manual_seed_all(seed)


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def get_rank() -> int:
    r"""Rank in the default process group, ``0`` without one."""
    dist = _dist()
    return dist.get_rank() if dist is not None else 0


def is_main_process() -> bool:
    r"""``True`` on rank 0 (or without a process group)."""
    return get_rank() == 0


# ----------------------------------------------------------------------------
# loader samplers and generators
# ----------------------------------------------------------------------------
def _samplers(loader) -> List[Any]:
    r"""``loader`` and every sampler nested in it (``loader.sampler``,
    ``loader.batch_sampler``, a ``BatchSampler``'s ``sampler``, ...), each once."""
    found: List[Any] = []
    stack = [loader]
    while stack:
        obj = stack.pop()
        if obj is None or any(obj is f for f in found):
            continue
        found.append(obj)
        for name in ("sampler", "batch_sampler"):
            stack.append(getattr(obj, name, None))
    return found


def _loader_generators(loader) -> List[torch.Generator]:
    r"""Every ``torch.Generator`` that decides ``loader``'s order."""
    gens: List[torch.Generator] = []
    for obj in _samplers(loader):
        gen = getattr(obj, "generator", None)
        if isinstance(gen, torch.Generator) and all(gen is not g for g in gens):
            gens.append(gen)
    return gens


def _set_epoch(loader, epoch: int) -> None:
    r"""Call ``set_epoch(epoch)`` on every sampler of ``loader`` that has it
    (e.g. :class:`DistributedIndexSampler` inside a ``BatchSampler``)."""
    for obj in _samplers(loader)[1:]:
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)


# ----------------------------------------------------------------------------
# trainer
# ----------------------------------------------------------------------------
@dataclass
class TrainConfig:
    r"""Hyper-parameters and run options of :class:`Trainer`.

    Args:
        epochs (int): number of epochs. (default: ``100``)
        lr (float): Adam learning rate (used when no optimizer is given).
            (default: ``1e-3``, as PGT-I)
        weight_decay (float): Adam weight decay. (default: ``0.0``)
        eps (float): Adam epsilon. (default: ``1e-8``)
        grad_clip (float, optional): max global gradient norm; ``None`` off.
        lr_milestones (list of int): epochs at which the LR is multiplied by
            ``lr_gamma`` (:class:`~torch.optim.lr_scheduler.MultiStepLR`);
            empty for a constant LR.
        lr_gamma (float): LR decay factor. (default: ``0.1``)
        seed (int): seed for :func:`seed_everything`. (default: ``0``)
        max_batches (int, optional): stop each train / val / test pass after
            this many batches (smoke runs).
        target_channel (int): target feature column (``0`` = speed).
        null_value (float, optional): target value masked out of loss and
            metrics (``0.0`` for traffic, ``None`` for Chickenpox / Windmill).
        test_with_best (bool): evaluate the test set with the weights of the
            best validation epoch (else the last). (default: ``True``)
        amp (str): ``off`` or ``bf16``: autocast of the forward passes
            (:func:`~torch_geometric_temporal.train.step.resolve_amp`).
            (default: ``"off"``)
    """

    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    eps: float = 1e-8
    grad_clip: Optional[float] = None
    lr_milestones: Sequence[int] = field(default_factory=tuple)
    lr_gamma: float = 0.1
    seed: int = 0
    max_batches: Optional[int] = None
    target_channel: int = 0
    null_value: Optional[float] = 0.0
    test_with_best: bool = True
    amp: str = "off"

    def __post_init__(self):
        if self.epochs < 0:
            raise ValueError(f"TrainConfig.epochs must be >= 0, got {self.epochs}.")
        if self.max_batches is not None and self.max_batches < 1:
            raise ValueError(f"TrainConfig.max_batches must be >= 1 or None, got {self.max_batches}.")


@dataclass
class FitResult:
    r"""Summary of a finished :meth:`Trainer.fit`.

    Attributes:
        best_train_mae, best_val_mae (float): minima over epochs.
        best_epoch (int): 1-based epoch of the best validation MAE.
        test (dict): :meth:`MetricAccumulator.compute` on the test set (empty
            without a test loader).
        history (list of dict): the ``per_epoch_stats.csv`` rows.
        training_seconds (float): wall time of this process's epochs and test
            pass (a resumed run counts only its own part plus what the
            checkpoint recorded).
    """

    best_train_mae: float
    best_val_mae: float
    best_epoch: int
    test: Dict[str, Any]
    history: List[Dict[str, Any]]
    training_seconds: float


class Trainer:
    r"""Fits a spatiotemporal model with per-epoch validation, checkpoints and
    exact resume.

    Each epoch: ``set_epoch(epoch)`` on the train sampler if it has one,
    :func:`train_step` over the train loader, evaluation on the validation
    loader, a ``per_epoch_stats.csv`` row (appended, flushed, fsync-ed) and an
    atomic ``checkpoint.pt`` holding the unwrapped model, optimizer,
    scheduler, RNG and loader-generator states, best metrics and
    ``batches_seen``. :meth:`fit` with ``resume=True`` restores all of that and
    continues, so the final numbers equal those of an uninterrupted run.

    A resumed run refuses a checkpoint whose ``identity`` differs from
    :obj:`identity` (:class:`CheckpointError` naming each difference), takes
    every :class:`TrainConfig` setting but ``epochs`` from the checkpoint
    (warning once about each one given differently: the optimizer, scheduler
    and random states come from the checkpoint, so a new learning rate or
    seed could not take effect consistently), and trains up to the new
    ``config.epochs`` (more epochs extend the run).

    Under DDP every rank runs the same code; metrics are all-reduced so each
    rank sees the global MAE; rank 0 alone writes files.

    Args:
        model (torch.nn.Module): the model (may be DDP-wrapped).
        train_loader (iterable): yields ``(X, y)`` batches ``(B, T, N, F)``.
        val_loader (iterable, optional): validation batches.
        test_loader (iterable, optional): test batches.
        edge_index (Tensor): graph edges ``(2, E)``.
        edge_weight (Tensor, optional): edge weights ``(E,)``.
        optimizer (torch.optim.Optimizer, optional): default Adam with
            ``config.lr``, ``config.weight_decay``, ``config.eps``.
        scheduler (optional): LR scheduler stepped once per epoch; default
            MultiStepLR when ``config.lr_milestones`` is set.
        scaler (Scaler, optional): the loader's scaler; de-standardizes the
            target channel (``None``: values used as they are).
        loss_fn (callable, optional): ``(pred, true) -> loss`` on
            de-standardized values; default masked MAE with
            ``config.null_value``.
        config (TrainConfig, optional): hyper-parameters.
        out_dir (str, optional): where CSVs and checkpoints go; ``None``
            writes nothing.
        device (torch.device, optional): default: the model's device.
        progress (callable, optional): ``progress(iterable, desc=..., total=...)``
            wrapping loops (e.g. ``tqdm``); ``None`` for no bars.
        callbacks (list, optional): objects with optional
            ``on_batch_end(trainer, epoch, batch_idx)`` and
            ``on_epoch_end(trainer, epoch, row)`` methods (``epoch`` 1-based).
        identity (dict, optional): what makes this run this run (dataset,
            model and its hyper-parameters, data fingerprint, ...; numbers,
            strings and lists), stored in the checkpoint and compared on
            resume. ``None`` stores and checks nothing.
    """

    def __init__(self, model: torch.nn.Module, train_loader: Iterable, val_loader: Optional[Iterable] = None,
                 test_loader: Optional[Iterable] = None, *, edge_index: Tensor,
                 edge_weight: Optional[Tensor] = None, optimizer: Optional[torch.optim.Optimizer] = None,
                 scheduler=None, scaler: Optional["Scaler"] = None,
                 loss_fn: Optional[Callable[[Tensor, Tensor], Tensor]] = None,
                 config: Optional[TrainConfig] = None, out_dir: Optional[str] = None,
                 device: Optional[torch.device] = None, progress: Optional[Callable] = None,
                 callbacks: Sequence[Any] = (), identity: Optional[Dict[str, Any]] = None):
        self.config = config or TrainConfig()
        self.model = model
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.test_loader = test_loader
        if device is None:
            param = next(iter(unwrap_model(model).parameters()), None)
            device = param.device if param is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.edge_index = edge_index.to(self.device)
        self.edge_weight = edge_weight.to(self.device) if edge_weight is not None else None
        self.optimizer = optimizer or torch.optim.Adam(
            model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay, eps=self.config.eps
        )
        self._default_scheduler = scheduler is None
        self.scheduler = self._make_scheduler() if scheduler is None else scheduler
        self.scaler = scaler
        self.loss_fn = loss_fn
        self.out_dir = out_dir
        self.progress = progress
        self.callbacks = list(callbacks)
        self.identity = None if identity is None else dict(identity)
        self.amp = resolve_amp(self.config.amp, self.device)

        self.epoch = 0  # completed epochs
        self.batches_seen = 0
        self.best_train_mae = math.inf
        self.best_val_mae = math.inf
        self.best_epoch = 0
        self.best_state: Optional[Dict[str, Tensor]] = None
        self.history: List[Dict[str, Any]] = []
        self.elapsed = 0.0  # training seconds of finished epochs (also across resumes)
        self._epoch_writer: Optional[CSVAppender] = None

    def _make_scheduler(self):
        if not self.config.lr_milestones:
            return None
        return torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(self.config.lr_milestones), gamma=self.config.lr_gamma
        )

    # -- paths ---------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Optional[str]:
        return None if self.out_dir is None else os.path.join(self.out_dir, CHECKPOINT_NAME)

    def _writes(self) -> bool:
        return self.out_dir is not None and is_main_process()

    def _wrap(self, iterable, desc: str, total: Optional[int], leave: bool = False):
        if self.progress is None:
            return iterable
        return self.progress(iterable, desc=desc, total=total, leave=leave)

    def _num_batches(self, loader) -> Optional[int]:
        try:
            n = len(loader)
        except TypeError:
            n = None
        if self.config.max_batches is not None:
            n = self.config.max_batches if n is None else min(n, self.config.max_batches)
        return n

    # -- loops ---------------------------------------------------------------
    def train_epoch(self, epoch: int) -> Dict[str, Any]:
        r"""Train one epoch (``epoch`` is 0-based); returns global metrics
        (:meth:`MetricAccumulator.compute`, plus ``"loss"``: the mean batch
        loss). Losses and metric sums stay on the device until the epoch's
        end: no host-device sync per batch."""
        _set_epoch(self.train_loader, epoch)
        acc = MetricAccumulator(self.config.null_value, track_loss=True)
        total = self._num_batches(self.train_loader)
        bar = self._wrap(self.train_loader, f"epoch {epoch + 1} train", total)
        for i, batch in enumerate(bar):
            if self.config.max_batches is not None and i >= self.config.max_batches:
                break
            step = train_step(
                self.model, batch, self.optimizer, edge_index=self.edge_index, edge_weight=self.edge_weight,
                scaler=self.scaler, loss_fn=self.loss_fn, target_channel=self.config.target_channel,
                null_value=self.config.null_value, grad_clip=self.config.grad_clip,
                batches_seen=self.batches_seen, device=self.device, amp=self.amp,
            )
            self.batches_seen += 1
            acc.update(step.pred, step.true)
            acc.update_loss(step.loss_tensor)
            for cb in self.callbacks:
                if hasattr(cb, "on_batch_end"):
                    cb.on_batch_end(self, epoch + 1, i)
        metrics = acc.all_reduce().compute()
        if metrics["count"] == 0:  # every rank: the count is all-reduced
            if acc.abs_sum is None:
                raise ValueError(f"Epoch {epoch + 1} had no training batch; check the training split and "
                                 "the batch size.")
            null = self.config.null_value
            what = "is NaN" if null is None else f"equals the null value {null!r} (a missing reading) or is NaN"
            raise ValueError(
                f"Every training target of epoch {epoch + 1} {what}: nothing can be learned and every metric "
                "would be NaN; check the data (e.g. a series of all zeros) and the target channel."
            )
        return metrics

    @torch.no_grad()
    def evaluate(self, loader: Iterable, desc: str = "eval") -> Dict[str, Any]:
        r"""Masked MAE / RMSE / MAPE (overall and per horizon step) of the
        de-standardized target channel over ``loader``, all-reduced.

        Under DDP the ranks may hold different numbers of windows (the
        evaluation samplers do not pad, so every window counts once): the
        forward passes use the unwrapped module, so no collective runs per
        batch, and the metric sums and counts are reduced once at the end."""
        acc = MetricAccumulator(self.config.null_value)
        total = self._num_batches(loader)
        model = unwrap_model(self.model)  # DDP's forward may broadcast buffers: a collective per batch
        for i, batch in enumerate(self._wrap(loader, desc, total)):
            if self.config.max_batches is not None and i >= self.config.max_batches:
                break
            step = predict_batch(
                model, batch, edge_index=self.edge_index, edge_weight=self.edge_weight, scaler=self.scaler,
                target_channel=self.config.target_channel, null_value=self.config.null_value, device=self.device,
                amp=self.amp,
            )
            acc.update(step.pred, step.true)
        return acc.all_reduce().compute()

    # -- checkpoints -----------------------------------------------------------
    def _loaders(self) -> List[Any]:
        return [self.train_loader, self.val_loader, self.test_loader]

    def state_dict(self) -> Dict[str, Any]:
        r"""The checkpoint: tensors, numbers, strings, lists and dicts only
        (readable with ``torch.load(..., weights_only=True)``)."""
        return {
            "identity": self.identity,
            "model": unwrap_model(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "batches_seen": self.batches_seen,
            "best_train_mae": self.best_train_mae,
            "best_val_mae": self.best_val_mae,
            "best_epoch": self.best_epoch,
            "best_model": self.best_state,
            "history": self.history,
            "elapsed": self.elapsed,
            "rng": rng_state(),
            "loader_rng": [[g.get_state() for g in _loader_generators(loader)] for loader in self._loaders()],
            "config": dataclasses.asdict(self.config),
        }

    def _keep_config(self, saved: Dict[str, Any]) -> None:
        r"""Take every setting but ``epochs`` from the checkpoint's config."""
        current = dataclasses.asdict(self.config)
        kept = kept_settings(saved, current)
        if not kept:
            return
        log.warning("Resuming keeps the checkpoint's settings and ignores the new values: %s",
                    ", ".join(f"{name} {old!r} (given {new!r})" for name, old, new in kept))
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        self.config = dataclasses.replace(self.config, **{k: saved[k] for k, _, _ in kept if k in fields})
        if self._default_scheduler:
            self.scheduler = self._make_scheduler()

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        r"""Restore a :meth:`state_dict` (settings but ``epochs`` from it; see
        the class docstring)."""
        self._keep_config(dict(state.get("config") or {}))
        unwrap_model(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.batches_seen = int(state["batches_seen"])
        self.best_train_mae = float(state["best_train_mae"])
        self.best_val_mae = float(state["best_val_mae"])
        self.best_epoch = int(state["best_epoch"])
        self.best_state = state.get("best_model")
        self.history = list(state["history"])
        self.elapsed = float(state.get("elapsed", 0.0))
        set_rng_state(state["rng"])
        saved = state.get("loader_rng") or []
        gens = [_loader_generators(loader) for loader in self._loaders()]
        if [len(g) for g in gens] != [len(s) for s in saved]:
            raise ValueError(
                "The checkpoint's loader generator states do not match these loaders; resume with "
                "the same loader settings (mode, shuffle, seed, batch size) as the first run."
            )
        for loader_gens, loader_states in zip(gens, saved):
            for gen, st in zip(loader_gens, loader_states):
                gen.set_state(st)

    def save_checkpoint(self, path: Optional[str] = None) -> None:
        r"""Atomically write :meth:`state_dict` (rank 0 only)."""
        path = path or self.checkpoint_path
        if path is None or not is_main_process():
            return
        save_checkpoint(self.state_dict(), path)

    def resume(self, path: Optional[str] = None) -> None:
        r"""Restore from ``path`` (default ``out_dir/checkpoint.pt``) and
        rewrite ``per_epoch_stats.csv`` to the checkpoint's epochs."""
        path = path or self.checkpoint_path
        if path is None:
            raise ValueError("Trainer.resume needs out_dir (or an explicit checkpoint path).")
        state = load_checkpoint(path, map_location=self.device)
        if self.identity is not None:
            check_identity(state.get("identity"), self.identity, path)
        self.load_state_dict(state)
        if self.epoch > self.config.epochs:
            log.warning("The checkpoint has %d epochs, more than epochs=%d: no epoch is trained; the test "
                        "pass uses the checkpoint's weights.", self.epoch, self.config.epochs)
        if self._writes():
            write_csv_atomic(os.path.join(self.out_dir, "per_epoch_stats.csv"), PER_EPOCH_COLUMNS, self.history)
        log.info("Resumed from %s after epoch %d", path, self.epoch)

    # -- main entry --------------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        r"""Run the remaining epochs, then the test pass.

        Args:
            resume (bool): first restore ``out_dir/checkpoint.pt``.
        """
        cfg = self.config
        if resume:
            self.resume()
        elif self._writes():
            os.makedirs(self.out_dir, exist_ok=True)
            # a fresh run starts a fresh per-epoch file
            write_csv_atomic(os.path.join(self.out_dir, "per_epoch_stats.csv"), PER_EPOCH_COLUMNS, [])
        if self._writes():
            self._epoch_writer = CSVAppender(os.path.join(self.out_dir, "per_epoch_stats.csv"), PER_EPOCH_COLUMNS)

        epochs = range(self.epoch, cfg.epochs)
        for epoch in self._wrap(epochs, "epochs", len(epochs), leave=True):
            t0 = time.perf_counter()
            train = self.train_epoch(epoch)
            val = self.evaluate(self.val_loader, f"epoch {epoch + 1} val") if self.val_loader is not None else None
            lr = self.optimizer.param_groups[0]["lr"]
            if self.scheduler is not None:
                self.scheduler.step()
            runtime = time.perf_counter() - t0
            self.elapsed += runtime
            self.epoch = epoch + 1
            row = {
                "epoch": epoch + 1,
                "runtime_seconds": round(runtime, 6),
                "train_mae": train["mae"],
                "val_mae": val["mae"] if val is not None else None,
                "lr": lr,
            }
            self.history.append(row)
            self.best_train_mae = min(self.best_train_mae, train["mae"])
            score = val["mae"] if val is not None else train["mae"]
            if score < self.best_val_mae or self.best_state is None:
                self.best_val_mae = min(self.best_val_mae, score)
                self.best_epoch = epoch + 1
                self.best_state = {k: v.detach().cpu().clone()
                                   for k, v in unwrap_model(self.model).state_dict().items()}
            log.info("epoch %d/%d  %.2fs  train MAE %.4f  val MAE %s", epoch + 1, cfg.epochs, runtime,
                     train["mae"], "-" if val is None else f"{val['mae']:.4f}")
            if self._epoch_writer is not None:
                self._epoch_writer.append(row)
            self.save_checkpoint()
            for cb in self.callbacks:
                if hasattr(cb, "on_epoch_end"):
                    cb.on_epoch_end(self, epoch + 1, row)

        test: Dict[str, Any] = {}
        if self.test_loader is not None:
            t0 = time.perf_counter()
            if cfg.test_with_best and self.best_state is not None:
                last = copy.deepcopy(unwrap_model(self.model).state_dict())
                unwrap_model(self.model).load_state_dict(self.best_state)
                test = self.evaluate(self.test_loader, "test")
                unwrap_model(self.model).load_state_dict(last)
            else:
                test = self.evaluate(self.test_loader, "test")
            self.elapsed += time.perf_counter() - t0
            log.info("test MAE %.4f  RMSE %.4f  MAPE %.4f", test["mae"], test["rmse"], test["mape"])
            if self._writes():
                rows = [{"horizon": h + 1, "mae": m, "rmse": r, "mape": p} for h, (m, r, p) in enumerate(
                    zip(test["mae_per_step"], test["rmse_per_step"], test["mape_per_step"]))]
                rows.append({"horizon": "all", "mae": test["mae"], "rmse": test["rmse"], "mape": test["mape"]})
                write_csv_atomic(os.path.join(self.out_dir, "test_metrics.csv"), TEST_METRICS_COLUMNS, rows)

        nan = float("nan")
        return FitResult(
            best_train_mae=self.best_train_mae if self.history else nan,
            best_val_mae=self.best_val_mae if self.history else nan,
            best_epoch=self.best_epoch,
            test=test,
            history=list(self.history),
            training_seconds=self.elapsed,
        )


def fit(model: torch.nn.Module, train_loader: Iterable, val_loader: Optional[Iterable] = None,
        test_loader: Optional[Iterable] = None, *, resume: bool = False, **kwargs) -> FitResult:
    r"""Functional form: ``Trainer(model, train_loader, val_loader, test_loader,
    **kwargs).fit(resume)``; see :class:`Trainer` for the arguments."""
    return Trainer(model, train_loader, val_loader, test_loader, **kwargs).fit(resume=resume)
