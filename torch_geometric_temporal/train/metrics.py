r"""Masked forecasting metrics (MAE, RMSE, MAPE) per horizon step.

Traffic datasets (METR-LA, PeMS-Bay, ...) store missing readings as ``0``;
following `DCRNN <https://arxiv.org/abs/1707.01926>`_, targets equal to the
*null value* are left out of both the loss and the metrics. Datasets without
that convention (Chickenpox, Windmill) pass ``null_value=None`` and every
entry counts.
"""
from typing import Dict, List, Optional

import torch
from torch import Tensor

__all__ = [
    "masked_mae_loss",
    "masked_mae",
    "MetricAccumulator",
]


def _mask(true: Tensor, null_value: Optional[float]) -> Tensor:
    if null_value is None:
        mask = torch.ones_like(true, dtype=torch.bool)
    else:
        mask = ~torch.isclose(true, torch.full_like(true, float(null_value)))
    return mask & ~torch.isnan(true)


def masked_mae_loss(pred: Tensor, true: Tensor, null_value: Optional[float] = 0.0) -> Tensor:
    r"""Mean absolute error over the entries whose target is not ``null_value``.

    Equals :math:`\sum_i m_i |\hat y_i - y_i| / \sum_i m_i` with
    :math:`m_i = [y_i \ne \text{null}]`, the DCRNN masked MAE; returns ``0``
    (with a gradient path) when every target is masked.

    Args:
        pred (Tensor): predictions, any shape.
        true (Tensor): targets, same shape as ``pred``.
        null_value (float, optional): target value meaning "missing"; ``None``
            to count every entry. (default: ``0.0``)
    """
    if pred.shape != true.shape:
        raise ValueError(
            f"masked_mae_loss: prediction shape {tuple(pred.shape)} does not match "
            f"target shape {tuple(true.shape)}; select the target channel of both first."
        )
    mask = _mask(true, null_value)
    err = torch.where(mask, (pred - true).abs(), torch.zeros_like(pred))
    count = mask.sum()
    return err.sum() / count.clamp_min(1)


def masked_mae(pred: Tensor, true: Tensor, null_value: Optional[float] = 0.0) -> float:
    r""":func:`masked_mae_loss` as a Python float (no gradient)."""
    with torch.no_grad():
        return float(masked_mae_loss(pred, true, null_value))


class MetricAccumulator:
    r"""Accumulates masked absolute, squared and percentage errors per horizon.

    Keeps sums (not means), so results are exact over a whole epoch whatever
    the batch sizes, and :meth:`all_reduce` makes them global across DDP ranks
    (every rank then reports the same MAE).

    With ``track_loss`` it also sums the per-batch losses given to
    :meth:`update_loss`, on their device (no host sync per batch), and
    :meth:`compute` reports their mean as ``"loss"``.

    Args:
        null_value (float, optional): target value that is masked out; ``None``
            to count every entry. (default: ``0.0``)
        track_loss (bool): also average the losses of :meth:`update_loss`
            (every DDP rank must pass the same value). (default: ``False``)
    """

    def __init__(self, null_value: Optional[float] = 0.0, track_loss: bool = False):
        self.null_value = null_value
        self.track_loss = bool(track_loss)
        self.loss_sum: Optional[Tensor] = None
        self.batches = 0
        self.abs_sum: Optional[Tensor] = None
        self.sq_sum: Optional[Tensor] = None
        self.pct_sum: Optional[Tensor] = None
        self.count: Optional[Tensor] = None
        self.pct_count: Optional[Tensor] = None

    @torch.no_grad()
    def update(self, pred: Tensor, true: Tensor) -> None:
        r"""Add a batch.

        Args:
            pred (Tensor): de-standardized predictions, shape ``(B, T, ...)``.
            true (Tensor): de-standardized targets, same shape.
        """
        if pred.shape != true.shape:
            raise ValueError(
                f"MetricAccumulator.update: prediction shape {tuple(pred.shape)} does "
                f"not match target shape {tuple(true.shape)}."
            )
        if pred.dim() < 2:
            raise ValueError("MetricAccumulator.update expects (batch, horizon, ...) tensors.")
        pred = pred.detach().double()
        true = true.detach().double()
        mask = _mask(true, self.null_value)
        zero = torch.zeros_like(pred)
        err = torch.where(mask, pred - true, zero)
        dims = [0] + list(range(2, pred.dim()))
        pct_mask = mask & (true.abs() > 1e-8)
        pct = torch.where(pct_mask, err.abs() / true.abs().clamp_min(1e-8), zero)
        sums = [
            err.abs().sum(dims),
            (err * err).sum(dims),
            pct.sum(dims),
            mask.double().sum(dims),
            pct_mask.double().sum(dims),
        ]
        if self.abs_sum is None:
            self.abs_sum, self.sq_sum, self.pct_sum, self.count, self.pct_count = sums
        else:
            if sums[0].shape != self.abs_sum.shape:
                raise ValueError("MetricAccumulator.update: horizon length changed between batches.")
            self.abs_sum += sums[0]
            self.sq_sum += sums[1]
            self.pct_sum += sums[2]
            self.count += sums[3]
            self.pct_count += sums[4]

    @torch.no_grad()
    def update_loss(self, loss: Tensor) -> None:
        r"""Add a batch's loss (a 0-d tensor), kept on its device until
        :meth:`compute`."""
        if not self.track_loss:
            raise ValueError("MetricAccumulator.update_loss needs MetricAccumulator(track_loss=True).")
        loss = loss.detach().to(torch.float64).reshape(())
        self.loss_sum = loss.clone() if self.loss_sum is None else self.loss_sum.add_(loss)
        self.batches += 1

    def all_reduce(self) -> "MetricAccumulator":
        r"""Sum the accumulators (error sums and counts, never means) over all
        ranks when ``torch.distributed`` is initialized (no-op otherwise).
        Every rank must call it, also a rank that saw no batch (uneven
        evaluation shards): it contributes zeros."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return self
        backend = dist.get_backend()
        device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
        # agree on the horizon length first: a rank without batches does not know it
        steps = 0 if self.abs_sum is None else int(self.abs_sum.numel())
        sizes = torch.tensor([steps, -steps if steps else -(2**31)], dtype=torch.int64, device=device)
        dist.all_reduce(sizes, op=dist.ReduceOp.MAX)
        longest, shortest = int(sizes[0]), -int(sizes[1])
        if longest == 0:  # no rank saw a batch
            if self.track_loss:
                self._reduce_loss(dist, device, None)
            return self
        if shortest != longest:
            raise RuntimeError(
                f"MetricAccumulator.all_reduce: the ranks' horizons differ ({shortest} vs {longest} steps); "
                "give every rank the same model and windows."
            )
        if self.abs_sum is None:
            zeros = torch.zeros(5, longest, dtype=torch.float64)
            self.abs_sum, self.sq_sum, self.pct_sum, self.count, self.pct_count = zeros.unbind(0)
        packed = torch.stack([t.to(device) for t in
                              (self.abs_sum, self.sq_sum, self.pct_sum, self.count, self.pct_count)])
        if self.track_loss:  # one collective: the loss sum and batch count ride along
            packed = self._reduce_loss(dist, device, packed)
        else:
            dist.all_reduce(packed, op=dist.ReduceOp.SUM)
        packed = packed.cpu()
        self.abs_sum, self.sq_sum, self.pct_sum, self.count, self.pct_count = packed.unbind(0)
        return self

    def _reduce_loss(self, dist, device: torch.device, packed: Optional[Tensor]) -> Optional[Tensor]:
        r"""All-reduce ``packed`` (``(5, steps)`` or ``None``) together with the
        loss sum and batch count; returns the reduced ``packed``."""
        loss = (torch.zeros((), dtype=torch.float64, device=device) if self.loss_sum is None
                else self.loss_sum.to(device))
        tail = torch.stack([loss, torch.tensor(float(self.batches), dtype=torch.float64, device=device)])
        flat = tail if packed is None else torch.cat([packed.reshape(-1), tail])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        self.loss_sum, self.batches = flat[-2].clone(), int(flat[-1])
        return None if packed is None else flat[:-2].reshape(packed.shape)

    def compute(self) -> Dict[str, object]:
        r"""Return ``{"mae", "rmse", "mape", "count", "mae_per_step",
        "rmse_per_step", "mape_per_step"}``; MAPE is a fraction (not %), over
        non-zero unmasked targets. NaN when nothing was accumulated. With
        ``track_loss`` also ``"loss"``, the mean of the batch losses."""
        nan = float("nan")
        loss = {}
        if self.track_loss:  # the one host sync of the losses
            loss["loss"] = float(self.loss_sum) / self.batches if self.batches else nan
        if self.abs_sum is None:
            return {"mae": nan, "rmse": nan, "mape": nan, "count": 0,
                    "mae_per_step": [], "rmse_per_step": [], "mape_per_step": [], **loss}

        def ratio(a: Tensor, b: Tensor) -> List[float]:
            return [float(x) / float(y) if float(y) > 0 else nan for x, y in zip(a, b)]

        total = float(self.count.sum())
        pct_total = float(self.pct_count.sum())
        return {
            "mae": float(self.abs_sum.sum()) / total if total else nan,
            "rmse": (float(self.sq_sum.sum()) / total) ** 0.5 if total else nan,
            "mape": float(self.pct_sum.sum()) / pct_total if pct_total else nan,
            "count": int(total),
            "mae_per_step": ratio(self.abs_sum, self.count),
            "rmse_per_step": [v ** 0.5 for v in ratio(self.sq_sum, self.count)],
            "mape_per_step": ratio(self.pct_sum, self.pct_count),
            **loss,
        }
