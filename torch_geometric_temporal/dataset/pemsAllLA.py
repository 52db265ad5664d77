r"""Upstream's module path of the PeMS-All-LA loader: an alias of
:mod:`torch_geometric_temporal.dataset.pems_all_la`, so that
``from torch_geometric_temporal.dataset.pemsAllLA import PemsAllLADatasetLoader``
works as with upstream PyTorch Geometric Temporal."""
from torch_geometric_temporal.dataset.pems_all_la import PemsAllLADatasetLoader

__all__ = ["PemsAllLADatasetLoader"]
