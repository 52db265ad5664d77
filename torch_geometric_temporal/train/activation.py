r"""How much memory one training step's activations take, and the
``--recompute auto`` decision built on it.

The autograd activations of the recurrent models grow with
:math:`B \cdot N` (every sample and node keeps its own gates and diffusion
terms at every step), so at all-California size (:math:`N` = 11,160) they,
not the data, decide whether a batch fits. :func:`activation_bytes` is a
small formula for the DCRNN family (and an approximation for the other
graph cells): per node, per recurrent step and per layer a step keeps

.. math::
    m\,(0.9\,F_{\ell} + 2\,H) + 5\,H

floats, with :math:`F_{\ell}` the layer's input features, :math:`H` its
units and :math:`m = 2K - 1` the diffusion terms (both directions of the
dual random walk; for a Chebyshev cell :math:`m = K`). The constants are
fitted on the tensors autograd saves for
:class:`~torch_geometric_temporal.nn.recurrent.DCRNNSeq2Seq` (hidden 32/64,
1/2 layers, :math:`K` 2/3; measured with
:func:`saved_activation_bytes`, 2026-11-29, within 5 %; since the diffusion
terms are summed as they are made, the formula is 8-16 % above the saved
tensors, on the safe side for ``--recompute auto``), and
:data:`PEAK_FACTOR` turns the saved tensors into the peak of a step
(backward's temporaries and gradients: the DCRNN recipe on PeMS-BAY peaks at
about 160 MiB per sample against 69 MB saved). ``tests/train/test_activation.py``
compares the formula with :func:`saved_activation_bytes`, so a change of the
model that moves it fails there.
"""
import logging
from typing import Callable, Optional

import torch

from torch_geometric_temporal._optional import require

__all__ = ["PEAK_FACTOR", "activation_bytes", "device_memory_bytes", "plan_recompute", "saved_activation_bytes"]

log = logging.getLogger(__name__)

#: Peak memory of one training step over the bytes autograd saves in the
#: forward pass (measured: DCRNN recipe, PeMS-BAY, CPU).
PEAK_FACTOR = 2.4

_A, _B, _C = 0.9, 2.0, 5.0  # floats per node, step and layer: m (A F + B H) + C H


def _terms(model: str, K: Optional[int]) -> int:
    if model in ("seq2seq", "batched", "dcrnn"):
        return 2 * (3 if K is None else K) - 1
    return 2 if K is None else K  # Chebyshev cells (and a rough stand-in for the others)


def activation_bytes(model: str, *, batch_size: int, num_nodes: int, num_features: int, num_timesteps_in: int,
                     num_timesteps_out: int, hidden_channels: Optional[int] = None, num_layers: int = 2,
                     K: Optional[int] = None, recompute: bool = False, dtype_bytes: int = 4,
                     peak: bool = True) -> int:
    r"""Estimated activation memory of one training step (bytes).

    Args:
        model (str): a ``--model`` name (``seq2seq``: encoder and decoder
            steps; ``batched``: PGT-I's one ``BatchedDCRNN(F, F)``; the
            others: ``num_layers`` cells over the input steps).
        batch_size (int), num_nodes (int), num_features (int): :math:`B`,
            :math:`N`, :math:`F`.
        num_timesteps_in (int), num_timesteps_out (int): window lengths.
        hidden_channels (int, optional): units (the model's default when
            ``None``: 64 for ``seq2seq``, :math:`F` for ``batched``, 32 else).
        num_layers (int): recurrent layers. (default: ``2``)
        K (int, optional): diffusion steps / filter size (model default
            when ``None``).
        recompute (bool): with activation recomputation only each step's
            hidden state per layer is kept, plus one step's full working set
            during backward.
        dtype_bytes (int): bytes per activation (``2`` under bf16 autocast).
        peak (bool): scale the saved tensors by :data:`PEAK_FACTOR`.
    """
    if model == "seq2seq":
        H = 64 if hidden_channels is None else hidden_channels
        steps, layers, inputs = num_timesteps_in + num_timesteps_out, num_layers, (num_features + 1) / 2
    elif model == "batched":
        H = num_features if hidden_channels is None else hidden_channels
        steps, layers, inputs = num_timesteps_in, 1, num_features
    else:
        H = 32 if hidden_channels is None else hidden_channels
        steps, layers, inputs = num_timesteps_in, num_layers, num_features
    m = _terms(model, K)
    per_step = [m * (_A * (inputs if i == 0 else H) + _B * H) + _C * H for i in range(layers)]
    factor = PEAK_FACTOR if peak else 1.0
    if recompute:  # the hidden states kept, and one step's working set recomputed at a time
        floats = steps * layers * H + factor * sum(per_step)
    else:
        floats = factor * steps * sum(per_step)
    return int(floats * dtype_bytes * batch_size * num_nodes)


def _meminfo_total() -> Optional[int]:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def device_memory_bytes(device: torch.device) -> Optional[int]:
    r"""Total memory of :obj:`device`: the CUDA device's, else the machine's
    RAM (``psutil`` when installed, else ``/proc/meminfo``); ``None`` when
    unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        psutil = require("psutil", "monitor", "The machine's memory")
    except ImportError:  # MissingExtraError
        return _meminfo_total()
    return int(psutil.virtual_memory().total)


def plan_recompute(mode: str, estimate: Callable[[bool], int], device: torch.device,
                   budget_fraction: float = 0.5, total: Optional[int] = None) -> bool:
    r"""Whether to recompute activations (``--recompute``), logged as one
    info line for ``auto``.

    Args:
        mode (str): ``off``, ``on`` or ``auto`` (on when ``estimate(False)``
            exceeds ``budget_fraction`` of the device's memory).
        estimate (callable): ``recompute -> bytes`` of one training step
            (e.g. a partial of :func:`activation_bytes`).
        device (torch.device): where the model trains.
        budget_fraction (float): share of the device's memory the
            activations may take. (default: ``0.5``)
        total (int, optional): the device's memory in bytes (default:
            :func:`device_memory_bytes`).
    """
    if mode in ("off", "on"):
        return mode == "on"
    if mode != "auto":
        raise ValueError(f"--recompute must be off, on or auto, got {mode!r}.")
    total = device_memory_bytes(device) if total is None else total
    need = estimate(False)
    if total is None:
        log.info("--recompute auto: off (the memory of %s is unknown; estimated activations %.2f GiB per step)",
                 device, need / 2**30)
        return False
    budget = budget_fraction * total
    on = need > budget
    log.info("--recompute auto: %s (estimated activations of one training step %.2f GiB %s the budget %.2f GiB, "
             "%.0f%% of %s's %.1f GiB%s)", "on" if on else "off", need / 2**30, ">" if on else "<=",
             budget / 2**30, 100 * budget_fraction, device, total / 2**30,
             f"; with recomputation about {estimate(True) / 2**30:.2f} GiB" if on else "")
    return on


def saved_activation_bytes(run: Callable[[], torch.Tensor]) -> int:
    r"""Bytes of the distinct tensor storages autograd saves while
    :obj:`run` computes a loss (a measurement for calibrating
    :func:`activation_bytes`; parameters and inputs count too)."""
    storages = {}

    def pack(t: torch.Tensor):
        try:
            storage = t.untyped_storage()
            storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        except (RuntimeError, NotImplementedError):  # sparse or meta tensors: no plain storage
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(storages.values())
