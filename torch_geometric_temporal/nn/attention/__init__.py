r"""Attention and spatio-temporal convolution models, under PyTorch Geometric
Temporal's names and module paths (``nn/attention/stgcn.py`` holds
``STConv`` and ``TemporalConv``, ...).

Every model is imported on first access (PEP 562 module ``__getattr__``), so
``import torch_geometric_temporal`` stays light whatever its module imports.
"""
import importlib

#: Class name -> module below this package (upstream's file names).
_LAZY = {
    "TemporalConv": "stgcn",
    "STConv": "stgcn",
    "ChebConvAttention": "astgcn",
    "ASTGCN": "astgcn",
    "MSTGCN": "mstgcn",
    "GMAN": "gman",
    "SpatioTemporalAttention": "gman",
    "SpatioTemporalEmbedding": "gman",
    "MTGNN": "mtgnn",
    "MixProp": "mtgnn",
    "GraphConstructor": "mtgnn",
    "AAGCN": "tsagcn",
    "GraphAAGCN": "tsagcn",
    "DNNTSP": "dnntsp",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
