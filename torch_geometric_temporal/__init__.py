"""Scalable PyTorch Geometric Temporal.

Importing the package is light: it pulls in :mod:`torch` and :mod:`numpy`
only. PyTorch Geometric is imported on first use (e.g. when a signal builds a
:class:`torch_geometric.data.Data` snapshot, or a model is first accessed);
Dask, pandas and CUDA libraries are imported only by the functions that need
them.

As upstream (``from torch_geometric_temporal.nn import *`` and the same for
``dataset`` and ``signal``), the public names of :mod:`.nn`, :mod:`.dataset`
and :mod:`.signal` are available here, e.g.
``from torch_geometric_temporal import GConvGRU``; the models are imported on
first access.
"""
import torch_geometric_temporal.dataset
import torch_geometric_temporal.nn
import torch_geometric_temporal.signal
from torch_geometric_temporal.dataset import *  # noqa: F401,F403
from torch_geometric_temporal.signal import *  # noqa: F401,F403

__version__ = "0.57.0"

__all__ = [
    "__version__",
    *torch_geometric_temporal.dataset.__all__,
    *torch_geometric_temporal.signal.__all__,
    *torch_geometric_temporal.nn.__all__,
]


def __getattr__(name: str):
    if name in torch_geometric_temporal.nn.__all__:
        value = getattr(torch_geometric_temporal.nn, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
