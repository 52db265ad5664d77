r"""Neural network layers: :mod:`~torch_geometric_temporal.nn.recurrent` and
:mod:`~torch_geometric_temporal.nn.hetero` and
:mod:`~torch_geometric_temporal.nn.attention`, whose public names are also
available here (as upstream's ``from .recurrent import *``), each imported on
first access so that importing the package stays light.
"""
from torch_geometric_temporal.nn import attention, hetero, recurrent

_SUBPACKAGES = (recurrent, attention, hetero)

__all__ = [name for package in _SUBPACKAGES for name in package.__all__]


def __getattr__(name: str):
    for package in _SUBPACKAGES:
        if name in package.__all__:
            value = getattr(package, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
