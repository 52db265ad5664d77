r"""Upstream's module path of the Windmill Output (large) loader: an alias of
:mod:`torch_geometric_temporal.dataset.windmill`, so that
``from torch_geometric_temporal.dataset.windmilllarge import WindmillOutputLargeDatasetLoader``
works as with upstream PyTorch Geometric Temporal."""
from torch_geometric_temporal.dataset.windmill import WindmillOutputLargeDatasetLoader

__all__ = ["WindmillOutputLargeDatasetLoader"]
