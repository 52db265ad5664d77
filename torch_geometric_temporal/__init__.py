"""Scalable PyTorch Geometric Temporal.

Importing the package is light: it pulls in :mod:`torch` and :mod:`numpy`
only. PyTorch Geometric is imported on first use (e.g. when a signal builds a
:class:`torch_geometric.data.Data` snapshot); Dask, pandas and CUDA libraries
are imported only by the functions that need them.
"""
import torch_geometric_temporal.dataset
import torch_geometric_temporal.nn
import torch_geometric_temporal.signal

__version__ = "0.1.0"

__all__ = [
    "__version__",
]
