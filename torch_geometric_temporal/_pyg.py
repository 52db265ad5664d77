"""Lazy, warning-clean access to PyTorch Geometric.

``import torch_geometric`` pulls in pandas and takes seconds, and it warns that
``torch.jit.script`` is deprecated (a ``DeprecationWarning`` on torch 2.13, a
``FutureWarning`` from torch 2.14 on). The package imports it only on first
use, through :func:`pyg`, and silences exactly that warning, matched by its
message whatever its category.
"""
import importlib
import warnings
from types import ModuleType

_JIT_WARNING = r"`torch\.jit\.script(_method)?` is deprecated"


def pyg(submodule: str = "") -> ModuleType:
    r"""Import and return ``torch_geometric`` (or ``torch_geometric.<submodule>``).

    Args:
        submodule (str): dotted name below ``torch_geometric``, e.g. ``"data"``
            or ``"utils"``; empty for the top-level package.
    """
    name = "torch_geometric" + (f".{submodule}" if submodule else "")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JIT_WARNING)
        return importlib.import_module(name)
