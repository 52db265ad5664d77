import logging
import math

import numpy as np
import pytest
import torch
from torch.utils.data import RandomSampler, SequentialSampler

from torch_geometric_temporal.dataset.index_batching import (
    DistributedIndexSampler,
    IndexDataset,
    TensorBatchSampler,
    add_time_of_day,
    fit_statistics,
    index_dataloader,
    materialize_windows,
    standardize_,
    window_starts,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _series(T=60, N=5, F=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    # non-zero means and different scales per feature, like speeds + flows
    base = rng.standard_normal((T, N, F)) * np.array([5.0, 0.5, 20.0][:F]) + np.array(
        [60.0, -3.0, 400.0][:F])
    return base.astype(dtype)


def _as_source(data, kind, tmp_path):
    if kind == "numpy":
        return data
    if kind == "torch":
        return torch.from_numpy(data.copy())
    if kind == "torch-strided":  # not contiguous: rows gathered per time step
        wide = torch.zeros(data.shape[:2] + (2 * data.shape[2],), dtype=torch.from_numpy(data).dtype)
        wide[..., ::2] = torch.from_numpy(data)
        out = wide[..., ::2]
        assert not out.is_contiguous()
        return out
    if kind == "torch-offset":  # contiguous view with a storage offset
        pad = np.concatenate([np.zeros_like(data[:3]), data])
        out = torch.from_numpy(pad)[3:]
        assert out.is_contiguous() and out.storage_offset() > 0
        return out
    path = tmp_path / "series.npy"
    np.save(path, data)
    return np.load(path, mmap_mode="r")



# --------------------------------------------------------------------------- equality
CASES = [  # T, N, F, T_in, T_out, stride, target_features
    (40, 3, 2, 5, 3, 1, None),
    (57, 4, 3, 4, 7, 2, [0]),
    (33, 2, 3, 6, 1, 3, [2, 0]),
    (25, 1, 1, 2, 4, 5, slice(0, 1)),
    (31, 6, 3, 3, 0, 1, 1),
]


@pytest.mark.parametrize("kind", ["numpy", "torch", "torch-strided", "torch-offset", "memmap"])
@pytest.mark.parametrize("case", CASES)
def test_index_batches_equal_materialized(kind, case, tmp_path):
    T, N, F, t_in, t_out, stride, tf = case
    raw = _series(T, N, F, seed=T)
    data = _as_source(raw, kind, tmp_path)
    starts = window_starts(T, t_in, t_out, stride)
    X, Y = materialize_windows(raw, starts, t_in, t_out, target_features=tf)
    f_y = F if tf is None else len(np.arange(F)[tf]) if not isinstance(tf, int) else 1
    assert X.shape == (len(starts), t_in, N, F) and Y.shape == (len(starts), t_out, N, f_y)
    # reference from plain slicing
    for k, s in enumerate(starts):
        assert np.array_equal(X[k].numpy(), raw[s:s + t_in])
        ys = raw[s + t_in:s + t_in + t_out]
        ys = ys if tf is None else ys[..., [tf] if isinstance(tf, int) else tf]
        assert np.array_equal(Y[k].numpy(), ys)

    ds = IndexDataset(data, starts, t_in, t_out, target_features=tf)
    assert len(ds) == len(starts)
    rng = np.random.default_rng(1)
    for idx in (rng.integers(0, len(ds), 7), np.arange(len(ds)), [len(ds) - 1, 0, 0]):
        x, y = ds[idx]
        assert torch.equal(x, X[torch.as_tensor(idx)]) and torch.equal(y, Y[torch.as_tensor(idx)])
        assert x.is_contiguous() and y.is_contiguous()
    x, y = ds[2]
    assert torch.equal(x, X[2]) and torch.equal(y, Y[2])
    x, y = ds.__getitems__(torch.tensor([3, 1]))
    assert torch.equal(x, X[[3, 1]]) and torch.equal(y, Y[[3, 1]])
    x, y = ds[1:6:2]
    assert torch.equal(x, X[1:6:2]) and torch.equal(y, Y[1:6:2])
    # materializing from the memmap / torch source gives the same windows
    X2, Y2 = materialize_windows(data, starts, t_in, t_out, target_features=tf, chunk_windows=3)
    assert torch.equal(X2, X) and torch.equal(Y2, Y)


# --------------------------------------------------------------------------- time of day
def test_add_time_of_day(tmp_path):
    T, N = 300, 3
    raw = _series(T, N, 1)
    ts = np.datetime64("2017-01-01T23:00") + np.arange(T) * np.timedelta64(5, "m")
    out = add_time_of_day(raw, ts)
    assert out.shape == (T, N, 2) and out.dtype == raw.dtype
    assert np.array_equal(out[..., :1], raw)
    # DCRNN generate_training_data formula, tiled over nodes
    tod = (ts - ts.astype("datetime64[D]")) / np.timedelta64(1, "D")
    ref = np.tile(tod, [1, N, 1]).transpose((2, 1, 0))[..., 0].astype(np.float32)
    assert np.array_equal(out[..., 1], ref)
    assert out[12, 0, 1] == 0.0 and 0 <= out[..., 1].min() and out[..., 1].max() < 1
    # steps_per_day gives the same; torch source and preallocated memmap output
    out2 = np.lib.format.open_memmap(tmp_path / "tod.npy", mode="w+", dtype=np.float32,
                                     shape=(T, N, 2))
    res = add_time_of_day(torch.from_numpy(raw), steps_per_day=288, start_step=276, out=out2)
    assert res is out2 and np.array_equal(np.load(tmp_path / "tod.npy"), out)
    t_out = add_time_of_day(torch.from_numpy(raw), steps_per_day=288, start_step=276)
    assert isinstance(t_out, torch.Tensor) and np.array_equal(t_out.numpy(), out)
    mm = _as_source(raw, "memmap", tmp_path)  # read-only memmap source, read in chunks
    assert np.array_equal(add_time_of_day(mm, ts), out)


def test_add_time_of_day_bad_input():
    raw = _series(10, 2, 1)
    with pytest.raises(ValueError, match="exactly one"):
        add_time_of_day(raw)
    with pytest.raises(ValueError, match="timestamps has 3"):
        add_time_of_day(raw, np.arange(3).astype("datetime64[m]"))
    with pytest.raises(ValueError, match="out must have shape"):
        add_time_of_day(raw, steps_per_day=288, out=np.empty((10, 2, 1), np.float32))



# --------------------------------------------------------------------------- bad input
def test_dataset_bad_input(tmp_path):
    raw = _series(30, 2, 2)
    with pytest.raises(ValueError, match="ndim=2"):
        IndexDataset(raw[:, :, 0], window_starts(30, 3, 3), 3, 3)
    with pytest.raises(ValueError, match="ndim=4"):
        materialize_windows(raw[None], [0], 3, 3)
    with pytest.raises(ValueError, match="longer than the series"):
        IndexDataset(raw, [0], 20, 11)
    with pytest.raises(ValueError, match="starts is empty"):
        IndexDataset(raw, np.array([], dtype=np.int64), 3, 3)
    with pytest.raises(ValueError, match=r"s \+ 3 \+ 3 <= T"):
        IndexDataset(raw, [0, 25], 3, 3)
    with pytest.raises(ValueError, match="out of range"):
        IndexDataset(raw, [0], 3, 3, target_features=[2])
    with pytest.raises(ValueError, match="both mean and std"):
        IndexDataset(raw, [0], 3, 3, mean=torch.zeros(2))
    with pytest.raises(ValueError, match="numpy array"):
        IndexDataset(raw.tolist(), [0], 3, 3)
    ds = IndexDataset(raw, [0, 1], 3, 3)
    with pytest.raises(IndexError):
        ds[[0, 2]]
    with pytest.raises(IndexError):
        ds[5]


def test_dataset_nan(tmp_path):
    raw = _series(30, 2, 2)
    raw[10, 0, 1] = np.nan
    raw[11, 1, 1] = np.inf
    starts = window_starts(30, 3, 3)
    with pytest.raises(ValueError, match="1 NaN and 1 infinite.*allow_nan=True"):
        IndexDataset(raw, starts, 3, 3)
    with pytest.raises(ValueError, match="NaN"):
        IndexDataset(torch.from_numpy(raw), starts, 3, 3)
    ds = IndexDataset(raw, starts, 3, 3, allow_nan=True)
    assert torch.isnan(ds[8][0]).any()
    with pytest.raises(ValueError, match="1 NaN and 1 infinite"):
        materialize_windows(raw, starts, 3, 3)
    X, _ = materialize_windows(raw, starts, 3, 3, allow_nan=True)
    x8 = ds[[8]][0]
    assert torch.equal(torch.isnan(X[[8]]), torch.isnan(x8))
    assert torch.equal(torch.nan_to_num(X[[8]]), torch.nan_to_num(x8))
    materialize_windows(raw, starts[:5], 3, 3)  # rows 0..9 are finite: fine
    # memmap: checked per batch, no full-file scan at construction
    mm = IndexDataset(_as_source(raw, "memmap", tmp_path), starts, 3, 3)
    mm[[0, 1]]
    with pytest.raises(ValueError, match="memory-mapped"):
        mm[[0, 9]]


def test_splits_scan_the_series_once_between_them(monkeypatch):
    from torch_geometric_temporal.dataset import _source
    from torch_geometric_temporal.dataset.windows import chronological_split

    scanned = []
    count = _source._Source.count_nonfinite
    monkeypatch.setattr(_source._Source, "count_nonfinite",
                        lambda self, a=0, b=None: scanned.append((a, b)) or count(self, a, b))
    raw = _series(100, 2, 2)
    starts = window_starts(100, 3, 3)
    for split in chronological_split(starts, (0.7, 0.1, 0.2)):
        IndexDataset(raw, split, 3, 3)
    # each split reads only its windows' rows: ~T rows in all (T + (splits - 1) * (span - 1)), not 3 T
    assert sum(b - a for a, b in scanned) == 100 + 2 * 5
    raw[99, 0, 0] = np.nan  # read by the last test window only
    IndexDataset(raw, starts[:10], 3, 3)
    with pytest.raises(ValueError, match="1 NaN"):
        IndexDataset(raw, starts[-1:], 3, 3)


def test_memmap_variants(tmp_path, caplog):
    raw = _series(40, 3, 2)
    mm = _as_source(raw, "memmap", tmp_path)
    starts = window_starts(30, 3, 3)
    X, Y = materialize_windows(raw[5:35], starts, 3, 3)
    with caplog.at_level(logging.WARNING):
        ds = IndexDataset(mm[5:35], starts, 3, 3)  # sliced memmap: mapping fallback
    assert "sliced" in caplog.text
    assert torch.equal(ds[np.arange(len(ds))][1], Y)
    ram = IndexDataset(mm, window_starts(40, 3, 3), 3, 3, device="cpu")  # loaded once
    assert isinstance(ram.data, torch.Tensor)
    assert torch.equal(ram[[5]][0], X[[0]])


# --------------------------------------------------------------------------- GPU
@cuda
@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["numpy", "torch", "memmap"])
def test_gpu_index_batching(kind, tmp_path):
    raw = _series(50, 4, 3)
    starts = window_starts(50, 5, 4, stride=2)
    mean, std = fit_statistics(raw, starts, 5)
    X, Y = materialize_windows(raw, starts, 5, 4, target_features=[2, 0], mean=mean, std=std)
    ds = IndexDataset(_as_source(raw, kind, tmp_path), starts, 5, 4, target_features=[2, 0],
                      mean=mean, std=std, device="cuda")
    assert ds.device.type == "cuda" and ds.data.is_cuda
    x, y = ds[[3, 0, 1]]
    assert x.is_cuda and torch.equal(x.cpu(), X[[3, 0, 1]]) and torch.equal(y.cpu(), Y[[3, 0, 1]])
    g_mean, g_std = fit_statistics(torch.from_numpy(raw).cuda(), starts, 5)
    torch.testing.assert_close(g_mean, mean, rtol=1e-6, atol=0)
    torch.testing.assert_close(g_std, std, rtol=1e-6, atol=0)
    z = torch.from_numpy(raw).cuda()
    standardize_(z, mean, std)
    Xg, _ = materialize_windows(z, starts, 5, 4)
    assert torch.equal(Xg.cpu(), X)
    loader = index_dataloader(ds, 4, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert all(xb.is_cuda for xb, _ in loader)


def test_memmap_copy_on_write_and_dtype(tmp_path):
    raw = _series(30, 2, 2)
    path = tmp_path / "cow.npy"
    np.save(path, raw)
    cow = np.load(path, mmap_mode="c")
    cow[:] = 1.0  # private changes, not in the file: must be what the dataset serves
    ds = IndexDataset(cow, [0, 3], 3, 3)
    assert torch.equal(ds[[1]][0], torch.ones(1, 3, 2, 2))
    with pytest.raises(ValueError, match="byte-order"):
        IndexDataset(raw.astype(">f4"), [0], 3, 3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            IndexDataset(raw, [0], 3, 3, device="cuda")


def test_bad_indices():
    ds = IndexDataset(_series(30, 2, 1), window_starts(30, 3, 3), 3, 3)
    with pytest.raises(ValueError, match="integers"):
        ds[[True, False]]
    with pytest.raises(ValueError, match="1-D"):
        ds[np.zeros((2, 2), dtype=np.int64)]
    assert torch.equal(ds[-1][0], ds[[len(ds) - 1]][0][0])
    # empty batch, reversed numpy view (negative stride), unsigned and tuple indices
    x, y = ds[[]]
    assert x.shape == (0, 3, 2, 1) and y.shape == (0, 3, 2, 1)
    assert torch.equal(ds[np.arange(5)[::-1]][0], ds[[4, 3, 2, 1, 0]][0])
    assert torch.equal(ds[np.array([2, 0], dtype=np.uint32)][1], ds[(2, 0)][1])


@pytest.mark.parametrize("kind", ["numpy", "memmap"])
def test_batch_buffers_recycled_only_when_unused(kind, tmp_path):
    raw = _series(60, 3, 2)
    starts = window_starts(60, 4, 4)
    X, Y = materialize_windows(raw, starts, 4, 4)
    ds = IndexDataset(_as_source(raw, kind, tmp_path), starts, 4, 4, target_features=[1])
    x1, y1 = ds[[0, 1, 2]]
    keep = x1[1]  # a view keeps the buffer alive
    arr = y1.numpy()  # so does a numpy view
    del x1, y1
    x2, y2 = ds[[5, 6, 7]]
    assert torch.equal(keep, X[1]) and np.array_equal(arr, Y[[0, 1, 2]][..., 1:].numpy())
    ptr2 = x2.data_ptr()
    del keep, arr
    x3, _ = ds[[9, 10, 11]]  # the first buffer is free again: reused, not the live one
    assert x3.data_ptr() != ptr2 and torch.equal(x2, X[[5, 6, 7]])
    del x2, y2
    x4, y4 = ds[[3, 4, 8]]
    assert x4.data_ptr() == ptr2  # recycled
    assert torch.equal(x4, X[[3, 4, 8]]) and torch.equal(y4, Y[[3, 4, 8]][..., 1:])
    assert torch.equal(x3, X[[9, 10, 11]])
    ds.release_buffers()
    x5, _ = ds[[3, 4, 8]]
    assert x5.data_ptr() != ptr2 and torch.equal(x4, x5)
    # batch buffers start on a cache line (numpy's own start 16 bytes past one)
    assert all(t.data_ptr() % 64 == 0 for t in (x3, x4, x5))


def test_bfloat16_and_float64_sources():
    raw = _series(30, 2, 2, dtype=np.float64)
    starts = window_starts(30, 3, 2)
    for t in (torch.from_numpy(raw).to(torch.bfloat16), torch.from_numpy(raw)):
        ds = IndexDataset(t, starts, 3, 2, target_features=0)
        x, y = ds[[4, 1]]
        assert x.dtype == t.dtype and torch.equal(x[1], t[1:4]) and torch.equal(y[0], t[7:9, :, :1])


@pytest.mark.parametrize("kind", ["numpy", "torch", "torch-strided", "memmap"])
def test_random_shapes_equal_plain_slicing(kind, tmp_path):
    # random T, N, F, T_in != T_out, stride and target features, checked against plain
    # numpy slicing (independent of the shared gather) and against materialize_windows
    rng = np.random.default_rng({"numpy": 10, "torch": 11, "torch-strided": 13, "memmap": 12}[kind])
    for trial in range(6):
        N, F = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        t_in = int(rng.integers(1, 9))
        t_out = int(rng.choice([v for v in range(0, 9) if v != t_in]))
        stride = int(rng.integers(1, 5))
        T = t_in + t_out + int(rng.integers(0, 40))
        tf = None if F == 1 or rng.random() < 0.3 else \
            sorted(rng.choice(F, int(rng.integers(1, F + 1)), replace=False).tolist())
        raw = rng.standard_normal((T, N, F)).astype(np.float32)
        sub = tmp_path / str(trial)
        sub.mkdir()
        data = _as_source(raw, kind, sub)
        starts = window_starts(T, t_in, t_out, stride)
        ds = IndexDataset(data, starts, t_in, t_out, target_features=tf)
        X, Y = materialize_windows(data, starts, t_in, t_out, target_features=tf)
        idx = rng.integers(0, len(ds), int(rng.integers(1, 12)))
        x, y = ds[idx]
        cols = slice(None) if tf is None else tf
        ref_x = np.stack([raw[s:s + t_in] for s in starts[idx]])
        ref_y = np.stack([raw[s + t_in:s + t_in + t_out][..., cols] for s in starts[idx]])
        assert x.shape == (len(idx), t_in, N, F) and y.shape == ref_y.shape
        assert np.array_equal(x.numpy(), ref_x) and np.array_equal(y.numpy(), ref_y)
        assert torch.equal(x, X[idx]) and torch.equal(y, Y[idx])


def test_pool_slot_in_use_detection():
    from torch_geometric_temporal.dataset import index_batching as ib

    pool = [np.empty(8, dtype=np.float32), np.empty(8, dtype=np.float32)]
    assert ib._unused(pool, 0) and ib._unused(pool, 1)
    view = torch.from_numpy(pool[1])[2:5]  # a tensor view keeps the buffer in use
    assert ib._unused(pool, 0) and not ib._unused(pool, 1)
    del view
    assert ib._unused(pool, 1)
    alias = pool[0]  # so does any other Python reference
    assert not ib._unused(pool, 0)
    del alias
    assert ib._unused(pool, 0)


def test_memmap_without_preadv_reads_the_mapping(tmp_path, monkeypatch):
    import os

    raw = _series(30, 2, 2)
    mm = _as_source(raw, "memmap", tmp_path)
    starts = window_starts(30, 3, 2)
    X, Y = materialize_windows(raw, starts, 3, 2)
    monkeypatch.delattr(os, "preadv", raising=False)  # e.g. Windows
    ds = IndexDataset(mm, starts, 3, 2)
    assert "source=torch" in repr(ds)
    x, y = ds[[4, 0]]
    assert torch.equal(x, X[[4, 0]]) and torch.equal(y, Y[[4, 0]])


# --------------------------------------------------------------------------- host-device syncs
def _h2d_index_copies(monkeypatch):
    r"""Record every ``Tensor.to`` that moves an integer tensor off the CPU."""
    copies = []
    real_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        out = real_to(self, *args, **kwargs)
        if out is not self and self.device.type == "cpu" and out.device.type != "cpu" \
                and not self.dtype.is_floating_point:
            copies.append(tuple(self.shape))
        return out

    monkeypatch.setattr(torch.Tensor, "to", to)
    return copies


def test_device_dataset_copies_the_epoch_order_once_not_per_batch(monkeypatch):
    # a dataset on a non-CPU device ("meta" emulates a GPU: shapes, no values): the
    # epoch's order goes to the device once, the batches are views of it, and the
    # non-slice target features are moved once at construction, not per batch
    data = _series(40, 3, 3)
    starts = window_starts(40, 4, 3)
    ds = IndexDataset(data, starts, 4, 3, target_features=[2, 0], device="meta", allow_nan=True)
    copies = _h2d_index_copies(monkeypatch)
    g = torch.Generator().manual_seed(0)
    loader = index_dataloader(ds, 4, shuffle=True, generator=g)
    for epoch in range(2):
        batches = [(x.shape, y.shape) for x, y in loader]
        assert len(batches) == len(loader) == 9
        assert batches[0] == ((4, 4, 3, 3), (4, 3, 3, 2)) and batches[-1][0][0] == len(ds) % 4
    assert copies == [(len(ds),), (len(ds),)]  # one per epoch: the whole order


@pytest.mark.parametrize("kind", ["numpy", "memmap"])
def test_epoch_order_batches_equal_per_call_gathers(kind, tmp_path):
    # the epoch-order path (batches sliced from the sampler's order) gives the batches
    # of the per-call path (a list of indices), for every sampler kind
    raw = _series(50, 3, 3)
    data = _as_source(raw, kind, tmp_path)
    starts = window_starts(50, 4, 2, stride=2)
    ds = IndexDataset(data, starts, 4, 2, target_features=[2, 0])
    samplers = [RandomSampler(ds, generator=torch.Generator().manual_seed(3)), SequentialSampler(ds),
                DistributedIndexSampler(len(ds), num_replicas=3, rank=1, seed=5)]
    for sampler in samplers:
        seen = 0
        for idx in TensorBatchSampler(sampler, 4, drop_last=False):
            assert idx._base is not None  # a slice of the epoch's order
            x, y = ds[idx]
            x_ref, y_ref = ds[idx.tolist()]
            assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
            seen += 1
        assert seen == math.ceil(len(sampler) / 4)


def test_epoch_order_cache_follows_the_order_and_checks_its_range():
    raw = _series(30, 2, 2)
    starts = window_starts(30, 3, 2)
    ds = IndexDataset(raw, starts, 3, 2)
    X, Y = materialize_windows(raw, starts, 3, 2)
    order = torch.arange(len(ds) - 1, -1, -1)
    x, _ = ds[order[2:5]]
    assert torch.equal(x, X[order[2:5]])
    order[2:5] = torch.tensor([0, 1, 2])  # changed in place: the cached starts are stale
    x, _ = ds[order[2:5]]
    assert torch.equal(x, X[[0, 1, 2]])
    x, y = ds[torch.tensor([-1, 0, 3])[0:2]]  # negative indices count from the end
    assert torch.equal(x, X[[len(ds) - 1, 0]]) and torch.equal(y, Y[[len(ds) - 1, 0]])
    bad = torch.tensor([0, 1, len(ds)])
    assert torch.equal(ds[bad[:2]][0], X[:2])  # the in-range batch of a bad order still works
    with pytest.raises(IndexError, match="out of range"):
        ds[bad[1:]]


class _FakeEvent:
    def __init__(self):
        self.done = False

    def query(self):
        return self.done


def test_pool_waits_for_the_copy_of_a_dropped_batch(monkeypatch):
    # a batch copied asynchronously to a device and then dropped: its buffer is not
    # handed out again before the copy's event has completed
    from torch_geometric_temporal.dataset import _buffers

    events = []
    monkeypatch.setattr(_buffers, "_copy_event", lambda device: events.append(_FakeEvent()) or events[-1])
    raw = _series(30, 2, 2)
    starts = window_starts(30, 3, 2)
    ds = IndexDataset(raw, starts, 3, 2)
    X, _ = materialize_windows(raw, starts, 3, 2)
    x, y = ds[[0, 1, 2]]
    ptr = x.data_ptr()
    _buffers.batch_to(x, "meta"), _buffers.batch_to(y, "meta")
    assert len(events) == 2
    del x, y
    x2, _ = ds[[3, 4, 5]]  # the copies still run: another buffer
    assert x2.data_ptr() != ptr and torch.equal(x2, X[[3, 4, 5]])
    del x2
    for e in events:
        e.done = True
    x3, _ = ds[[6, 7, 8]]  # copies done: the first buffer again
    assert x3.data_ptr() == ptr and torch.equal(x3, X[[6, 7, 8]])
    plain = torch.ones(3)
    assert _buffers.batch_to(plain, "meta").device.type == "meta" and len(events) == 2  # not pooled


def test_pool_pins_its_buffers_once_batches_go_to_cuda(monkeypatch):
    from torch_geometric_temporal.dataset import _buffers

    pinned = []

    def fake_pinned(n, dtype):  # records the request; a plain aligned array stands in
        pinned.append(n)
        return _buffers._aligned_empty(n, dtype)

    monkeypatch.setattr(_buffers, "_pinned_empty", fake_pinned)
    monkeypatch.setattr(_buffers, "_copy_event", lambda device: _FakeEvent())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    pool = _buffers.BufferPool(np.float32)
    a = pool.get(8)
    pageable = a.data_ptr()
    assert pinned == [] and not pool.pin
    assert pool.copied(a[2:4], torch.device("cuda", 1))  # a view of the buffer went to a GPU
    assert pool.pin and pinned == []
    del a
    b = pool.get(8)  # the pageable buffer is not reused (and its copy is pending anyway)
    assert pinned == [8] and b.data_ptr() != pageable
    assert not pool.copied(torch.ones(2), torch.device("cuda", 0))  # not a pool buffer


@pytest.mark.gpu
@cuda
def test_gpu_pool_batches_are_pinned_and_intact():
    # batches of a CPU dataset copied asynchronously to the GPU (what training without
    # -g does): pinned once the pool has seen a copy to the GPU, and never overwritten
    # while the copies run although the CPU batches are dropped at once
    from torch_geometric_temporal.dataset._buffers import batch_to

    raw = _series(200, 20, 2)
    starts = window_starts(200, 12, 12)
    ds = IndexDataset(raw, starts, 12, 12)
    X, Y = materialize_windows(raw, starts, 12, 12)
    outs = []
    for x, y in index_dataloader(ds, 16):
        outs.append((batch_to(x, "cuda"), batch_to(y, "cuda"), x.is_pinned()))
    torch.cuda.synchronize()
    assert not outs[0][2] and all(p for _, _, p in outs[1:])
    for i, (x, y, _) in enumerate(outs):
        assert torch.equal(x.cpu(), X[16 * i:16 * (i + 1)]) and torch.equal(y.cpu(), Y[16 * i:16 * (i + 1)])
