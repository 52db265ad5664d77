r"""Recurrent graph neural network layers, under PyTorch Geometric Temporal's
names and module paths (``nn/recurrent/gconv_gru.py`` holds ``GConvGRU``,
...), plus this package's sparse and batched DCRNN and
:class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent` /
:func:`~torch_geometric_temporal.nn.recurrent.batched.batched_cell` (any per-step
cell over an index batch ``(B, T, N, F)`` on one shared graph).

The DCRNN family is imported eagerly (it needs only :mod:`torch`). Every other
model is imported on first access (PEP 562 module ``__getattr__``), so
``import torch_geometric_temporal`` stays light whatever its module imports.
"""
import importlib

from torch_geometric_temporal.nn.recurrent.dconv import (
    BatchedDConv,
    DConv,
    DiffusionSupports,
    clear_support_cache,
    get_diffusion_supports,
)
from torch_geometric_temporal.nn.recurrent.dcrnn import BatchedDCRNN, DCRNN
from torch_geometric_temporal.nn.recurrent.dcrnn_seq2seq import DCRNNSeq2Seq

#: Class name -> module below this package (upstream's file names).
_LAZY = {
    "GConvGRU": "gconv_gru",
    "GConvLSTM": "gconv_lstm",
    "LRGCN": "lrgcn",
    "GCLSTM": "gc_lstm",
    "DyGrEncoder": "dygrae",
    "EvolveGCNH": "evolvegcnh",
    "EvolveGCNO": "evolvegcno",
    "TGCN": "temporalgcn",
    "TGCN2": "temporalgcn",
    "A3TGCN": "attentiontemporalgcn",
    "A3TGCN2": "attentiontemporalgcn",
    "MPNNLSTM": "mpnn_lstm",
    "AGCRN": "agcrn",
    "BatchedRecurrent": "batched",
    "batched_cell": "batched",
    "set_recompute": "recompute",
    "compile_steps": "compiled",
}

__all__ = [
    "DConv",
    "DCRNN",
    "BatchedDConv",
    "BatchedDCRNN",
    "DCRNNSeq2Seq",
    "DiffusionSupports",
    "get_diffusion_supports",
    "clear_support_cache",
    *_LAZY,
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
