r"""Activation recomputation (gradient checkpointing) for the recurrent models.

A recurrent model trained by backpropagation through time keeps, for every
step, the activations of its gates and graph convolutions (for DCRNN the
:math:`2K - 1` diffusion terms of :math:`[X, H]` and of :math:`R \odot H`,
about five times the hidden state per gate group). With recomputation on, a
model keeps only each step's hidden state per layer and recomputes one step's
gates and diffusion terms in the backward pass, one step at a time
(`"Training Deep Nets with Sublinear Memory Cost"
<https://arxiv.org/abs/1604.06174>`_; per-step
:func:`torch.utils.checkpoint.checkpoint` with ``use_reentrant=False``).
The result (loss, gradients, random number stream) equals the model without
recomputation: the recomputed forward runs with the random state and the
autocast settings of the first one, and whatever a model draws outside the
step (e.g. the scheduled sampling draws of
:class:`~torch_geometric_temporal.nn.recurrent.dcrnn_seq2seq.DCRNNSeq2Seq`)
is drawn once.

The models with a ``recompute`` flag (constructor argument and settable
attribute): :class:`~torch_geometric_temporal.nn.recurrent.dcrnn.BatchedDCRNN`,
:class:`~torch_geometric_temporal.nn.recurrent.dcrnn_seq2seq.DCRNNSeq2Seq`,
:class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`.
It applies only while training with gradients enabled; in evaluation or
under :func:`torch.no_grad` nothing is kept anyway and the flag is a no-op.
"""
from typing import Any, Callable

import torch
from torch.utils.checkpoint import checkpoint

__all__ = ["set_recompute", "recompute_active", "checkpoint_step"]


def set_recompute(model: torch.nn.Module, on: bool) -> int:
    r"""Switch activation recomputation on or off in every submodule of
    ``model`` (``model`` included) that has a ``recompute`` attribute.

    Args:
        model (torch.nn.Module): Any module, e.g. a ``DCRNNSeq2Seq`` or a
            forecaster holding a ``BatchedRecurrent``.
        on (bool): The new setting.

    Returns:
        int: How many modules were set (0: the model has no recomputable
        part, the call changed nothing).
    """
    count = 0
    for module in model.modules():
        if hasattr(module, "recompute"):
            module.recompute = bool(on)
            count += 1
    return count


def recompute_active(module: torch.nn.Module) -> bool:
    r"""Whether ``module`` recomputes now: its ``recompute`` flag is on, it is
    in training mode and gradients are enabled."""
    return bool(getattr(module, "recompute", False)) and module.training and \
        torch.is_grad_enabled()


def checkpoint_step(fn: Callable[..., Any], *args: Any, enabled: bool = True) -> Any:
    r"""Run one recurrent step ``fn(*args)``; with ``enabled``, keep none of its
    intermediate activations and recompute them in backward.

    The one checkpoint helper of the package (non-reentrant
    :func:`torch.utils.checkpoint.checkpoint`, random state preserved, so
    a step with dropout recomputes the same mask and the global stream
    advances as without recomputation). Only the step's inputs (the
    references in ``args``: the previous hidden state, the step's input,
    parameters and the graph shared by all steps) stay alive between forward
    and backward. Pass ``enabled=recompute_active(model)``.

    Args:
        fn (callable): The step function; its outputs are tensors (or tuples
            of tensors).
        *args: Its arguments (tensors or any other objects).
        enabled (bool, optional): Checkpoint (default :obj:`True`) or just
            call ``fn``.
    """
    if not enabled:
        return fn(*args)
    return checkpoint(fn, *args, use_reentrant=False, preserve_rng_state=True)
