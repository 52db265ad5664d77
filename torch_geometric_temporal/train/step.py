r"""One training or evaluation step on one ``(X, y)`` batch: the forward
pass with the arguments the model accepts, the de-standardized target
channel, the masked loss and the optimizer update. :class:`Trainer` runs
these over its loaders.

Mixed precision (``--amp bf16``): :func:`forward_model` runs the model under
:func:`torch.autocast` with the dtype :func:`resolve_amp` chose; the output
is cast back to fp32, so the loss, the gradients' clipping and the
optimizer stay in fp32 (the parameters are never cast).
"""
import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

import torch
from torch import Tensor

from torch_geometric_temporal.dataset._buffers import batch_to
from torch_geometric_temporal.train.metrics import masked_mae_loss

if TYPE_CHECKING:  # the loaders' scaler; train needs only its inverse
    from torch_geometric_temporal.dataset.scaling import Scaler

__all__ = ["StepResult", "train_step", "predict_batch", "forward_model", "unwrap_model", "resolve_amp",
           "AMP_CHOICES"]

log = logging.getLogger(__name__)

#: ``--amp`` values and the autocast dtype of each (``None``: fp32).
AMP_CHOICES = {"off": None, "bf16": torch.bfloat16}


def resolve_amp(amp: Optional[str], device: torch.device) -> Optional[torch.dtype]:
    r"""The autocast dtype of ``--amp`` on :obj:`device` (``None``: fp32).

    ``bf16`` on CUDA is :obj:`torch.bfloat16` (CUDA devices before Ampere
    emulate it: a warning says so, the run still uses it). On the CPU the
    run stays in fp32 and one warning line says why: the graph models'
    sparse products have no fast bf16 CPU kernel, and the DCRNN recipe's step
    measured slower in bf16 than in fp32 even on a CPU with AMX and
    AVX512-BF16 (2026-11-29). :func:`train_step` itself runs bf16 autocast
    on the CPU when given the dtype (the tests check that path).

    Args:
        amp (str, optional): ``off`` (or ``None``) or ``bf16``.
        device (torch.device): where the model trains.

    Raises:
        ValueError: an unknown value.
    """
    if amp is None or amp == "off":
        return None
    if amp not in AMP_CHOICES:
        raise ValueError(f"--amp must be one of {', '.join(AMP_CHOICES)}, got {amp!r}.")
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_bf16_supported(including_emulation=False):
            log.warning("--amp bf16: %s has no native bf16 (before Ampere); autocast emulates it, slower than "
                        "fp32", torch.cuda.get_device_name(device))
        return AMP_CHOICES[amp]
    log.warning("--amp bf16: runs in fp32 on %s (bf16 autocast of the sparse graph products is slower than fp32 "
                "on CPUs, even with AMX); it applies on CUDA devices", device)
    return None


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    r"""The module inside a :class:`~torch.nn.parallel.DistributedDataParallel`
    or :class:`~torch.nn.DataParallel` wrapper (the model itself otherwise)."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model


def _accepts_targets(model: torch.nn.Module) -> bool:
    try:
        params = inspect.signature(unwrap_model(model).forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return "targets" in params


def _select_channel(t: Tensor, channel: int) -> Tensor:
    r"""``(B, T, N, F) -> (B, T, N)`` picking ``channel`` (``0`` when F == 1);
    3-D tensors are returned as they are."""
    if t.dim() == 3:
        return t
    if t.dim() != 4:
        raise ValueError(
            f"Expected a (batch, time, nodes, features) tensor, got shape {tuple(t.shape)}."
        )
    if t.size(-1) == 1:
        return t[..., 0]
    if channel >= t.size(-1):
        raise ValueError(
            f"Target channel {channel} is out of range for {t.size(-1)} features; "
            f"pass target_channel < {t.size(-1)}."
        )
    return t[..., channel]


def _to_device(batch, device: Optional[torch.device]):
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise ValueError(
            "A batch must be an (X, y) pair of tensors shaped (batch, time, nodes, features); "
            f"got {type(batch).__name__}."
        )
    x, y = batch[0], batch[1]
    if device is not None:  # asynchronous from recycled (pinned) buffers, see batch_to
        x = batch_to(x, device)
        y = batch_to(y, device)
    return x.float(), y.float()


def forward_model(model: torch.nn.Module, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                  targets: Optional[Tensor] = None, batches_seen: int = 0,
                  amp: Optional[torch.dtype] = None) -> Tensor:
    r"""Call the model with the arguments its ``forward`` accepts.

    Encoder-decoder models whose ``forward`` takes ``targets`` (e.g.
    :class:`DCRNNSeq2Seq`, for curriculum learning) get
    ``targets`` and ``batches_seen``; per-step models get
    ``(x, edge_index, edge_weight)``. With :obj:`amp` (a dtype from
    :func:`resolve_amp`) the call runs under :func:`torch.autocast` and the
    output comes back in fp32.
    """
    with torch.autocast(x.device.type, dtype=amp, enabled=amp is not None):
        if _accepts_targets(model):
            out = model(x, edge_index, edge_weight, targets=targets, batches_seen=batches_seen)
        else:
            out = model(x, edge_index, edge_weight)
    return out.float()


@dataclass
class StepResult:
    r"""What :func:`train_step` and :func:`predict_batch` return.

    Attributes:
        loss_tensor (Tensor): the batch's loss (before the update), a detached
            0-d tensor on the model's device: summing it costs no host sync.
        pred (Tensor): de-standardized predictions of the target channel,
            ``(B, T, N)``, detached.
        true (Tensor): de-standardized targets, ``(B, T, N)``.
    """

    loss_tensor: Tensor
    pred: Tensor
    true: Tensor

    @property
    def loss(self) -> float:
        r"""The batch's loss as a Python float; reading it waits for the
        device (a host-device sync), so the training loop never does."""
        return float(self.loss_tensor)


def _pred_and_true(model, batch, edge_index, edge_weight, scaler, target_channel, device, batches_seen, train,
                   amp=None):
    x, y = _to_device(batch, device)
    y_std = _select_channel(y, target_channel)
    targets = y_std.unsqueeze(-1) if train else None
    out = forward_model(model, x, edge_index, edge_weight, targets=targets, batches_seen=batches_seen, amp=amp)
    pred_std = _select_channel(out, target_channel)
    if pred_std.shape != y_std.shape:
        raise ValueError(
            f"Model output {tuple(out.shape)} does not line up with targets {tuple(y.shape)}: "
            "the horizon and node count must match (check num_timesteps_out / window length)."
        )
    if scaler is None:  # data used as it is
        return pred_std, y_std
    feature = scaler.target_feature(target_channel)
    return scaler.inverse(pred_std, feature), scaler.inverse(y_std, feature)


def train_step(model: torch.nn.Module, batch, optimizer: torch.optim.Optimizer, *, edge_index: Tensor,
               edge_weight: Optional[Tensor] = None, scaler: Optional["Scaler"] = None,
               loss_fn: Optional[Callable[[Tensor, Tensor], Tensor]] = None, target_channel: int = 0,
               null_value: Optional[float] = 0.0, grad_clip: Optional[float] = None,
               batches_seen: int = 0, device: Optional[torch.device] = None,
               amp: Optional[torch.dtype] = None) -> StepResult:
    r"""One optimization step on one ``(X, y)`` batch.

    The loss is computed on the de-standardized target channel (as DCRNN and
    PGT-I do): ``loss_fn(pred, true)``, by default the masked MAE with
    ``null_value``. Works unchanged for a DDP-wrapped model (gradients are
    averaged by DDP during ``backward``).

    Args:
        model (torch.nn.Module): the model, possibly DDP-wrapped.
        batch: ``(X, y)``, both ``(B, T, N, F)`` standardized.
        optimizer (torch.optim.Optimizer): optimizer over ``model``'s parameters.
        edge_index (Tensor): graph connectivity ``(2, E)``.
        edge_weight (Tensor, optional): edge weights ``(E,)``.
        scaler (Scaler, optional): the loader's scaler; de-standardizes the
            target channel (``None``: values used as they are).
        loss_fn (callable, optional): ``(pred, true) -> scalar``.
        target_channel (int): target feature column of ``y``. (default: ``0``)
        null_value (float, optional): masked target value for the default
            loss; ``None`` masks nothing. (default: ``0.0``)
        grad_clip (float, optional): clip the global gradient norm to this.
        batches_seen (int): batches trained so far (curriculum learning).
        device (torch.device, optional): move the batch there first.
        amp (torch.dtype, optional): autocast dtype of the forward pass
            (:func:`resolve_amp`); loss, backward's gradients and the
            optimizer stay fp32.
    """
    model.train()
    pred, true = _pred_and_true(model, batch, edge_index, edge_weight, scaler, target_channel, device,
                                batches_seen, train=True, amp=amp)
    if loss_fn is None:
        loss = masked_mae_loss(pred, true, null_value)
    else:
        loss = loss_fn(pred, true)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None and grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return StepResult(loss.detach(), pred.detach(), true.detach())


@torch.no_grad()
def predict_batch(model: torch.nn.Module, batch, *, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                  scaler: Optional["Scaler"] = None, target_channel: int = 0,
                  null_value: Optional[float] = 0.0, device: Optional[torch.device] = None,
                  amp: Optional[torch.dtype] = None) -> StepResult:
    r"""Evaluation forward pass (no teacher forcing, no gradient); arguments
    as in :func:`train_step`."""
    model.eval()
    pred, true = _pred_and_true(model, batch, edge_index, edge_weight, scaler, target_channel, device, 0,
                                train=False, amp=amp)
    return StepResult(masked_mae_loss(pred, true, null_value), pred, true)
