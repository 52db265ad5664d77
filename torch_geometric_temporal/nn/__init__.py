from torch_geometric_temporal.nn.recurrent import *  # noqa: F401,F403
from torch_geometric_temporal.nn.recurrent import __all__ as _recurrent_all

__all__ = list(_recurrent_all)
