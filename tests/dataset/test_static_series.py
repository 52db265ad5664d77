"""get_dataset(lags) and get_index_dataset(lags) yield the same values:
every index window starting at ``s`` holds snapshot ``s`` (x: the window's
input transposed, y: its first target step), for every loader with both paths."""
from pathlib import Path

import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset import (
    ChickenpoxDatasetLoader,
    MontevideoBusDatasetLoader,
    PedalMeDatasetLoader,
    WikiMathsDatasetLoader,
    WindmillOutputLargeDatasetLoader,
    WindmillOutputMediumDatasetLoader,
    WindmillOutputSmallDatasetLoader,
    synthetic,
)

MONTEVIDEO = Path(__file__).resolve().parents[1] / "data" / "montevideo_bus"  # upstream file, MIT


def _loaders(name, request, tmp_path):
    if name == "chickenpox":
        return ChickenpoxDatasetLoader(raw_data_dir=request.getfixturevalue("chickenpox_path"))
    if name == "windmill_large":
        return WindmillOutputLargeDatasetLoader(raw_data_dir=request.getfixturevalue("windmill_path"))
    if name == "pedalme":
        return PedalMeDatasetLoader()  # the real upstream file (package data)
    if name == "montevideo_bus":
        return MontevideoBusDatasetLoader(raw_data_dir=MONTEVIDEO)  # the real upstream file
    if name == "wikimath":
        return WikiMathsDatasetLoader(synthetic.write_wikimath(tmp_path, 12, 60, seed=1))
    if name == "windmill_small":
        return WindmillOutputSmallDatasetLoader(synthetic.write_windmill_small(tmp_path, 11, 70))
    return WindmillOutputMediumDatasetLoader(synthetic.write_windmill_medium(tmp_path, 26, 70))


NAMES = ["chickenpox", "windmill_large", "pedalme", "montevideo_bus", "wikimath",
         "windmill_small", "windmill_medium"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lags", [None, 3])
def test_index_windows_equal_signal_snapshots(name, lags, request, tmp_path):
    loader = _loaders(name, request, tmp_path)
    lags = loader.default_lags if lags is None else lags
    signal = loader.get_dataset(lags=lags)
    out = loader.get_index_dataset(lags=lags, batch_size=16)
    starts = []
    for split in out[:3]:
        dataset = split.dataset
        x, y = dataset[list(range(len(dataset)))]
        assert x.shape[1:] == (lags, signal[0].x.shape[0], 1) and y.shape[1] == lags
        for b, s in enumerate(dataset.starts.tolist()):
            snapshot = signal[s]
            assert torch.equal(x[b, :, :, 0].T, snapshot.x), (name, s)
            assert torch.equal(y[b, 0, :, 0], snapshot.y), (name, s)
        starts += dataset.starts.tolist()
    # the windows cover every snapshot whose lags-long target fits in the series
    assert starts == list(range(signal.snapshot_count - lags + 1))
    assert torch.equal(out[3], torch.as_tensor(signal[0].edge_index))
    assert torch.equal(out[4], torch.as_tensor(signal[0].edge_attr))


@pytest.mark.parametrize("name", ["pedalme", "wikimath", "windmill_small"])
def test_index_and_base_agree_upstream_five_tuple(name, request, tmp_path):
    loader = _loaders(name, request, tmp_path)
    kwargs = dict(batch_size=4, shuffle=True, seed=3)
    index, base = loader.get_index_dataset(**kwargs), loader.get_base_dataset(**kwargs)
    assert len(index) == len(base) == 5  # upstream PGT-I's (train, val, test, edges, weights)
    for i in range(3):
        pairs = list(zip(index[i], base[i], strict=True))
        assert pairs and all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
                             for a, b in pairs)
    assert np.isfinite(next(iter(index[0]))[0].numpy()).all()
