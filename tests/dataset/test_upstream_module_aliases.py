"""Upstream's module paths of loaders whose modules here have other names."""
import importlib

import pytest

from torch_geometric_temporal.dataset import (
    PemsAllLADatasetLoader,
    WindmillOutputLargeDatasetLoader,
)


@pytest.mark.parametrize("module, name, cls", [
    ("pemsAllLA", "PemsAllLADatasetLoader", PemsAllLADatasetLoader),
    ("windmilllarge", "WindmillOutputLargeDatasetLoader", WindmillOutputLargeDatasetLoader),
])
def test_upstream_module_path_is_the_same_class(module, name, cls):
    alias = importlib.import_module(f"torch_geometric_temporal.dataset.{module}")
    assert getattr(alias, name) is cls and alias.__all__ == [name]


def test_every_upstream_dataset_name_and_module():
    # upstream 0.56.2's dataset/__init__.py: module -> loader
    upstream = {"chickenpox": "ChickenpoxDatasetLoader", "pedalme": "PedalMeDatasetLoader",
                "metr_la": "METRLADatasetLoader", "pems_bay": "PemsBayDatasetLoader",
                "wikimath": "WikiMathsDatasetLoader",
                "windmilllarge": "WindmillOutputLargeDatasetLoader",
                "windmillmedium": "WindmillOutputMediumDatasetLoader",
                "windmillsmall": "WindmillOutputSmallDatasetLoader",
                "encovid": "EnglandCovidDatasetLoader",
                "twitter_tennis": "TwitterTennisDatasetLoader",
                "montevideo_bus": "MontevideoBusDatasetLoader", "mtm": "MTMDatasetLoader",
                "pemsAllLA": "PemsAllLADatasetLoader", "pems": "PemsDatasetLoader"}
    dataset = importlib.import_module("torch_geometric_temporal.dataset")
    top = importlib.import_module("torch_geometric_temporal")
    for module, name in upstream.items():
        cls = getattr(importlib.import_module(f"torch_geometric_temporal.dataset.{module}"), name)
        assert getattr(dataset, name) is cls and getattr(top, name) is cls, name
        assert name in dataset.__all__
