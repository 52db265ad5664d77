r"""Recurrent layers for heterogeneous graphs."""
from torch_geometric_temporal.nn.hetero.heterogclstm import HeteroGCLSTM

__all__ = ["HeteroGCLSTM"]
