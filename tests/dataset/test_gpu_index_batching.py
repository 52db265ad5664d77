"""GPU-index-batching: with the series on the GPU, an epoch of N batches makes
no host-to-device copy per batch (counted with the CUDA profiler's
``Memcpy HtoD`` events: at most the epoch's window order, not N). A
CPU-resident series copied per batch is the control (N copies or more), so
the count is known to see copies. Skipped without a CUDA device."""
import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.data import DataLoader, TensorDataset

from torch_geometric_temporal.dataset.index_batching import (
    DistributedIndexSampler,
    IndexDataset,
    chronological_split,
    fit_statistics,
    index_dataloader,
    materialize_windows,
    standardize_,
    window_starts,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
pytestmark = [pytest.mark.gpu, cuda]

T, N, F, T_IN, T_OUT, BS = 600, 30, 3, 12, 12, 16


def series():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((T, N, F)) * 3 + 50).astype(np.float32)


def htod_copies(loader, epochs=1, to_device=False):
    """``(copies, batches)`` of host-to-device memcpys over ``epochs`` epochs of ``loader``,
    after one unprofiled warm-up epoch (allocator, caches, kernels)."""
    def run():
        acc, k = torch.zeros((), device="cuda"), 0
        for x, y in loader:
            if to_device:
                x, y = x.to("cuda", non_blocking=True), y.to("cuda", non_blocking=True)
            acc += x.sum() + y.sum()  # consume on the device, no sync per batch
            k += 1
        torch.cuda.synchronize()
        return k

    run()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        batches = sum(run() for _ in range(epochs))
    copies = sum(e.count for e in prof.key_averages() if "Memcpy HtoD" in e.key)
    return copies, batches


def gpu_dataset(target_features=None, stats_at_gather=False):
    raw = series()
    starts = window_starts(T, T_IN, T_OUT)
    train, _, _ = chronological_split(starts)
    data = torch.from_numpy(raw).cuda()  # -g: move once, fit and standardize on the device
    mean, std = fit_statistics(data, train, T_IN, features=[0])
    if stats_at_gather:
        return IndexDataset(data, train, T_IN, T_OUT, target_features=target_features, mean=mean, std=std), raw, train
    standardize_(data, mean, std)
    return IndexDataset(data, train, T_IN, T_OUT, target_features=target_features), raw, train


@pytest.mark.parametrize("target_features", [None, [2, 0]], ids=["all-features", "index-targets"])
@pytest.mark.parametrize("stats_at_gather", [False, True], ids=["standardized", "stats-at-gather"])
def test_gpu_epoch_makes_no_host_to_device_copy_per_batch(target_features, stats_at_gather):
    ds, _, _ = gpu_dataset(target_features, stats_at_gather)
    loader = index_dataloader(ds, BS, shuffle=True, generator=torch.Generator().manual_seed(0))
    copies, batches = htod_copies(loader, epochs=2)
    assert batches == 2 * len(loader) >= 40
    assert copies <= 2 * 2, f"{copies} host-to-device copies over {batches} batches (2 epochs)"


def test_gpu_epoch_with_distributed_sampler_makes_no_copy_per_batch():
    ds, _, _ = gpu_dataset()
    sampler = DistributedIndexSampler(ds, num_replicas=2, rank=1, shuffle=True, seed=0)
    loader = index_dataloader(ds, BS, sampler=sampler)
    sampler.set_epoch(1)
    copies, batches = htod_copies(loader)
    assert batches == len(loader) >= 10
    assert copies <= 2, f"{copies} host-to-device copies over {batches} batches"


def test_control_cpu_resident_series_copies_every_batch():
    raw = series()
    starts = window_starts(T, T_IN, T_OUT)
    train, _, _ = chronological_split(starts)
    mean, std = fit_statistics(raw, train, T_IN, features=[0])
    standardize_(raw, mean, std)
    loader = index_dataloader(IndexDataset(raw, train, T_IN, T_OUT), BS, shuffle=True,
                              generator=torch.Generator().manual_seed(0))
    copies, batches = htod_copies(loader, to_device=True)
    assert copies >= batches >= 20  # x and y of every batch: the profiler sees the copies


def test_gpu_batches_equal_the_cpu_windows():
    ds, raw, train = gpu_dataset(target_features=[2, 0], stats_at_gather=True)
    mean, std = fit_statistics(raw, train, T_IN, features=[0])
    X, Y = materialize_windows(raw, train, T_IN, T_OUT, target_features=[2, 0], mean=mean, std=std)
    loader = index_dataloader(ds, BS, shuffle=True, generator=torch.Generator().manual_seed(0))
    base = DataLoader(TensorDataset(X, Y), BS, shuffle=True, generator=torch.Generator().manual_seed(0))
    seen = 0
    for (x, y), (xb, yb) in zip(loader, base, strict=True):  # same seed: same batches, same order
        assert x.is_cuda and y.is_cuda
        torch.testing.assert_close(x.cpu(), xb, rtol=1e-6, atol=1e-5)
        torch.testing.assert_close(y.cpu(), yb, rtol=1e-6, atol=1e-5)
        seen += len(x)
    assert seen == len(train)
