r"""Training harness shared by every script: masked metrics, the
:class:`Trainer` (single process or DDP, checkpoints and exact resume), a
system-memory monitor, CSV writers, baselines and the scripts' command line.

Module-level imports are stdlib, NumPy and PyTorch only; psutil, NVML, tqdm
and matplotlib are imported by the functions that use them.
"""
from torch_geometric_temporal.train.baselines import HistoricalAverage, last_value_forecast, score_forecast
from torch_geometric_temporal.train.metrics import MetricAccumulator, masked_mae, masked_mae_loss
from torch_geometric_temporal.train.models import PerStepDCRNN, build_model
from torch_geometric_temporal.train.monitor import SystemMonitor
from torch_geometric_temporal.train.stats import CSVAppender, write_csv_atomic
from torch_geometric_temporal.train.trainer import (
    FitResult,
    StepResult,
    TrainConfig,
    Trainer,
    fit,
    load_checkpoint,
    predict_batch,
    save_checkpoint,
    seed_everything,
    train_step,
    unwrap_model,
)

__all__ = [
    "Trainer",
    "TrainConfig",
    "FitResult",
    "StepResult",
    "fit",
    "train_step",
    "predict_batch",
    "seed_everything",
    "unwrap_model",
    "save_checkpoint",
    "load_checkpoint",
    "MetricAccumulator",
    "masked_mae",
    "masked_mae_loss",
    "SystemMonitor",
    "CSVAppender",
    "write_csv_atomic",
    "PerStepDCRNN",
    "build_model",
    "HistoricalAverage",
    "last_value_forecast",
    "score_forecast",
]
