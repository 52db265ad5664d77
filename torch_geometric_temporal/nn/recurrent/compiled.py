r""":func:`torch.compile` of the recurrent cells' per-step dense functions.

What is compiled, and why not more: the sparse diffusion products of
:mod:`~torch_geometric_temporal.nn.recurrent.dconv` build CSR tensors, which
:func:`torch.compile` does not trace (every product would be a graph
break), and the sequence loops (encoder, decoder with scheduled sampling)
unroll into one graph per length. So each step keeps its sparse products
(and the running sums of the diffusion terms' matrix products) eager and
compiles the pointwise work between them, which the compiler fuses into one
pass each (gate sums, sigmoid, split, :math:`R \odot H`; tanh and the state
update):

- DCRNN cells (``DCRNN``, ``BatchedDCRNN``, the cells of ``DCRNNSeq2Seq``, a
  ``DCRNN`` inside ``BatchedRecurrent``): the two pointwise halves of a GRU
  step (``_reset_update``: :math:`Z, R \odot H`; ``_new_state``:
  :math:`\tilde H` and :math:`H'`), shared by all cells (one compiled graph
  per shape);
- T-GCN cells (``TGCN``, ``TGCN2``): the GRU update ``_recur`` (no graph).

The Chebyshev cells' steps are PyTorch Geometric propagations (scatter)
interleaved with small products: not compiled. Compiled steps compose with
activation recomputation (:mod:`~torch_geometric_temporal.nn.recurrent.recompute`:
the checkpointed step calls the same compiled functions when it is replayed)
and with autocast.
"""
from typing import Any

import torch

from torch_geometric_temporal.nn.recurrent.dcrnn import _DCGRUCell, _new_state, _reset_update

__all__ = ["compile_steps"]


def compile_steps(model: torch.nn.Module, **compile_kwargs: Any) -> int:
    r"""Compile the per-step dense functions of every recurrent cell in
    ``model`` (``model`` included) with :func:`torch.compile`.

    The compiled functions are set as attributes of the cells (parameters and
    ``state_dict`` are unchanged; calling it again recompiles with the new
    arguments). The first training steps are slow while the compiler runs.

    Args:
        model (torch.nn.Module): A ``DCRNNSeq2Seq``, ``BatchedDCRNN``,
            ``BatchedRecurrent`` or any module holding such cells.
        **compile_kwargs: Passed to :func:`torch.compile` (e.g.
            ``backend="inductor"``, ``mode="max-autotune"``, ``dynamic=True``).

    Returns:
        int: How many cells got compiled steps (0: nothing to compile).
    """
    try:  # T-GCN imports PyTorch Geometric: only if it is there
        from torch_geometric_temporal.nn.recurrent.temporalgcn import _TGCNCell
    except ImportError:  # pragma: no cover - PyG is a dependency of the package
        _TGCNCell = ()
    reset_update = new_state = None
    count = 0
    for module in model.modules():
        if isinstance(module, _DCGRUCell):
            if reset_update is None:
                reset_update = torch.compile(_reset_update, **compile_kwargs)
                new_state = torch.compile(_new_state, **compile_kwargs)
            module._reset_update = reset_update
            module._new_state = new_state
            count += 1
        elif _TGCNCell and isinstance(module, _TGCNCell):
            module.__dict__.pop("_recur", None)  # compile the method, not a compiled one
            module._recur = torch.compile(module._recur, **compile_kwargs)
            count += 1
    return count
