"""Lazy, warning-clean access to PyTorch Geometric.

``import torch_geometric`` pulls in pandas and takes seconds, and on torch 2.13
it triggers one ``DeprecationWarning`` about ``torch.jit.script``. The package
imports it only on first use, through :func:`pyg`, and silences exactly that
warning.
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
        warnings.filterwarnings("ignore", message=_JIT_WARNING, category=DeprecationWarning)
        return importlib.import_module(name)
