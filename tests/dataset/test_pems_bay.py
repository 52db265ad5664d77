import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset import PemsBayDatasetLoader
from torch_geometric_temporal.dataset.pems_bay import URL


def test_upstream_signal_shapes(pems_bay_dir):
    loader = PemsBayDatasetLoader(raw_data_dir=pems_bay_dir, download=False)
    dataset = loader.get_dataset(num_timesteps_in=12, num_timesteps_out=6)
    assert len(dataset) == 250 - 18 + 1
    # upstream PeMS-BAY targets keep both features
    assert dataset[0].x.shape == (9, 2, 12) and dataset[0].y.shape == (9, 2, 6)
    assert torch.allclose(dataset[0].y, dataset[12].x[:, :, :6])


def test_index_and_base_agree(pems_bay_dir):
    loader = PemsBayDatasetLoader(raw_data_dir=pems_bay_dir)
    kwargs = dict(lags=8, batch_size=10, shuffle=True, seed=2, target_features=None)
    index, base = loader.get_index_dataset(**kwargs), loader.get_base_dataset(**kwargs)
    batches = 0
    for split in range(3):
        for (xi, yi), (xb, yb) in zip(index[split], base[split], strict=True):
            assert yi.shape[-1] == 2
            assert torch.equal(xi, xb) and torch.equal(yi, yb)
            batches += 1
    assert batches == sum(len(index[s]) for s in range(3))


def test_distributed_ranks_in_both_modes(pems_bay_dir):
    loader = PemsBayDatasetLoader(raw_data_dir=pems_bay_dir)
    for rank in range(3):
        kwargs = dict(lags=8, batch_size=4, shuffle=True, seed=1, world_size=3, ddp_rank=rank)
        index, base = loader.get_index_dataset(**kwargs), loader.get_base_dataset(**kwargs)
        for epoch in range(2):
            index.set_epoch(epoch)
            base.set_epoch(epoch)
            for (xi, _), (xb, _) in zip(index.train_loader, base.train_loader, strict=True):
                assert torch.equal(xi, xb)
    total = len(loader.get_index_dataset(lags=8).train_loader.dataset)
    assert len(index.train_loader.sampler.sampler) == -(-total // 3)


def test_real_pems_bay_graph(pems_bay_real_graph_dir):
    loader = PemsBayDatasetLoader(raw_data_dir=pems_bay_real_graph_dir, num_nodes=325)
    _, _, test, edges, weights, means, stds = loader.get_index_dataset(lags=12, batch_size=2)
    adj = np.load(pems_bay_real_graph_dir / "pems_adj_mat.npy")
    assert adj.shape == (325, 325) and edges.shape == (2, np.count_nonzero(adj))
    assert edges.shape[1] == 2694
    x, y = next(iter(test))
    assert x.shape == (2, 12, 325, 2) and y.shape == (2, 12, 325, 2)


def test_missing_offline(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        PemsBayDatasetLoader(raw_data_dir=tmp_path)
    assert "PEMS-BAY.zip" in str(info.value) and URL in str(info.value)


def test_index_batches_equal_upstream_signal_snapshots(pems_bay_dir):
    """Upstream's test/index_test.py invariant: with the default (all-feature)
    targets, index batch i is get_dataset()'s snapshot i, x and y."""
    loader = PemsBayDatasetLoader(raw_data_dir=pems_bay_dir)
    signal = loader.get_dataset(num_timesteps_in=4, num_timesteps_out=3)
    train = loader.get_index_dataset(batch_size=1, num_timesteps_in=4, num_timesteps_out=3)[0]
    for snapshot, (x, y) in zip(signal, train):
        assert torch.equal(snapshot.x, x[0].permute(1, 2, 0))
        assert torch.equal(snapshot.y, y[0].permute(1, 2, 0))  # (N, 2, T_out) both sides
