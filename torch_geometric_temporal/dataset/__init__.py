r"""Datasets: loaders in the upstream file formats, and index-batching.

Loaders keep upstream PyTorch Geometric Temporal's class names and methods
(``get_dataset`` for the base signal, ``get_index_dataset`` for PGT-I's
index-batching loaders) and add ``get_base_dataset`` (the same batches,
materialized). Synthetic files in every format come from
:mod:`torch_geometric_temporal.dataset.synthetic`.
"""
from torch_geometric_temporal.dataset.windows import WindowSpec, chronological_split, window_starts
from torch_geometric_temporal.dataset.scaling import Scaler, fit_statistics, standardize_
from torch_geometric_temporal.dataset.samplers import (
    DistributedIndexSampler,
    TensorBatchSampler,
    identity_collate,
    index_dataloader,
)
from torch_geometric_temporal.dataset.index_batching import IndexDataset, add_time_of_day, materialize_windows
from torch_geometric_temporal.dataset.chickenpox import ChickenpoxDatasetLoader
from torch_geometric_temporal.dataset.pedalme import PedalMeDatasetLoader
from torch_geometric_temporal.dataset.encovid import EnglandCovidDatasetLoader
from torch_geometric_temporal.dataset.montevideo_bus import MontevideoBusDatasetLoader
from torch_geometric_temporal.dataset.twitter_tennis import TwitterTennisDatasetLoader
from torch_geometric_temporal.dataset.windmill import WindmillOutputLargeDatasetLoader
from torch_geometric_temporal.dataset.windmillmedium import WindmillOutputMediumDatasetLoader
from torch_geometric_temporal.dataset.windmillsmall import WindmillOutputSmallDatasetLoader
from torch_geometric_temporal.dataset.wikimath import WikiMathsDatasetLoader
from torch_geometric_temporal.dataset.mtm import MTMDatasetLoader
from torch_geometric_temporal.dataset.metr_la import METRLADatasetLoader
from torch_geometric_temporal.dataset.pems_bay import PemsBayDatasetLoader
from torch_geometric_temporal.dataset.pems_all_la import PemsAllLADatasetLoader
from torch_geometric_temporal.dataset.pems import PemsDatasetLoader
from torch_geometric_temporal.dataset.loader_base import LoadedData, SplitLoaders, set_loader_epoch

__all__ = [
    "ChickenpoxDatasetLoader",
    "PedalMeDatasetLoader",
    "EnglandCovidDatasetLoader",
    "MontevideoBusDatasetLoader",
    "TwitterTennisDatasetLoader",
    "WindmillOutputLargeDatasetLoader",
    "WindmillOutputMediumDatasetLoader",
    "WindmillOutputSmallDatasetLoader",
    "WikiMathsDatasetLoader",
    "MTMDatasetLoader",
    "METRLADatasetLoader",
    "PemsBayDatasetLoader",
    "PemsAllLADatasetLoader",
    "PemsDatasetLoader",
    "SplitLoaders",
    "LoadedData",
    "set_loader_epoch",
    "WindowSpec",
    "Scaler",
    "IndexDataset",
    "DistributedIndexSampler",
    "TensorBatchSampler",
    "index_dataloader",
    "window_starts",
    "chronological_split",
    "fit_statistics",
    "materialize_windows",
    "standardize_",
    "add_time_of_day",
    "identity_collate",
]
