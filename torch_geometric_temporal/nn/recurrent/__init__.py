r"""Recurrent graph neural network layers (DCRNN family, sparse and batched)."""
from torch_geometric_temporal.nn.recurrent.dconv import (
    BatchedDConv,
    DConv,
    DiffusionSupports,
    clear_support_cache,
    get_diffusion_supports,
)
from torch_geometric_temporal.nn.recurrent.dcrnn import BatchedDCRNN, DCRNN
from torch_geometric_temporal.nn.recurrent.dcrnn_seq2seq import DCRNNSeq2Seq

__all__ = [
    "DConv",
    "DCRNN",
    "BatchedDConv",
    "BatchedDCRNN",
    "DCRNNSeq2Seq",
    "DiffusionSupports",
    "get_diffusion_supports",
    "clear_support_cache",
]
