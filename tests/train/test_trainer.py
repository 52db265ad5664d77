import os
import socket

import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset.index_batching import (
    DistributedIndexSampler,
    IndexDataset,
    index_dataloader,
)
from torch_geometric_temporal.dataset.scaling import Scaler
from torch_geometric_temporal.train.metrics import MetricAccumulator
from torch_geometric_temporal.train.stats import read_csv
from torch_geometric_temporal.train.trainer import (
    CHECKPOINT_NAME,
    CheckpointError,
    TrainConfig,
    Trainer,
    fit,
    forward_model,
    load_checkpoint,
    predict_batch,
    save_checkpoint,
    seed_everything,
    train_step,
)

EDGES = torch.tensor([[0, 1, 2], [1, 2, 0]])


class Tiny(torch.nn.Module):
    """Per-step model without a graph: (B, T, N, F) -> (B, T, N, 1)."""

    def __init__(self, f=2):
        super().__init__()
        self.lin = torch.nn.Linear(f, 1)

    def forward(self, X, edge_index, edge_weight=None):
        return self.lin(X)


class Recorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.calls = []

    def forward(self, X, edge_index, edge_weight=None, targets=None, batches_seen=0):
        self.calls.append((targets is not None, batches_seen))
        return X[..., :1] * 0 + self.w


def series(T=60, N=3, seed=0):
    g = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None]
    x = np.sin(t / 4.0 + np.arange(N)[None, :, None]) + 0.1 * g.standard_normal((T, N, 1))
    return np.concatenate([x, np.broadcast_to(t / T, (T, N, 1))], -1).astype(np.float32)


def loaders(seed=0, batch=8, sampler_factory=None):
    data = series()
    starts = np.arange(0, 60 - 8 + 1)
    splits = starts[:36], starts[36:44], starts[44:]
    out = []
    for i, s in enumerate(splits):
        ds = IndexDataset(data, s, 4, 4, target_features=[0])
        if sampler_factory is not None and i == 0:
            out.append(index_dataloader(ds, batch, sampler=sampler_factory(len(ds))))
        else:
            gen = torch.Generator().manual_seed(seed + i)
            out.append(index_dataloader(ds, batch, shuffle=True, generator=gen))
    return out


def test_train_step_learns_and_predict_batch_matches_metric():
    seed_everything(0)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    train, val, _ = loaders()
    batch = next(iter(train))
    scaler = Scaler(torch.tensor([10.0, 0.0]), torch.tensor([2.0, 1.0]))
    first = train_step(model, batch, opt, edge_index=EDGES, scaler=scaler, null_value=None).loss
    for _ in range(60):
        last = train_step(model, batch, opt, edge_index=EDGES, scaler=scaler, null_value=None,
                          grad_clip=1.0).loss
    assert last < 0.85 * first
    step = predict_batch(model, batch, edge_index=EDGES, scaler=scaler, null_value=None)
    assert step.pred.shape == step.true.shape == (8, 4, 3)
    assert torch.allclose(step.true, batch[1][..., 0] * 2 + 10)  # de-standardized speed
    acc = MetricAccumulator(None)
    acc.update(step.pred, step.true)
    assert acc.compute()["mae"] == pytest.approx(step.loss, rel=1e-5)


def test_forward_model_gives_targets_only_to_seq2seq_models():
    rec = Recorder()
    x = torch.zeros(2, 4, 3, 2)
    forward_model(rec, x, EDGES, targets=torch.zeros(2, 4, 3, 1), batches_seen=7)
    assert rec.calls == [(True, 7)]
    opt = torch.optim.SGD(rec.parameters(), lr=0.1)
    train_step(rec, (x, torch.ones(2, 4, 3, 1)), opt, edge_index=EDGES, batches_seen=3)
    assert rec.calls[-1] == (True, 3)
    predict_batch(rec, (x, torch.ones(2, 4, 3, 1)), edge_index=EDGES)
    assert rec.calls[-1] == (False, 0)
    assert rec.w.detach().item() > 0  # learned towards 1
    with pytest.raises(ValueError, match="line up"):
        predict_batch(rec, (x, torch.ones(2, 3, 3, 1)), edge_index=EDGES)


def test_fit_rows_checkpoint_best_and_set_epoch(tmp_path):
    seen = []

    class Spy(DistributedIndexSampler):
        def set_epoch(self, epoch):
            seen.append(epoch)
            super().set_epoch(epoch)

    seed_everything(0)
    train, val, test = loaders(sampler_factory=lambda n: Spy(n, num_replicas=1, rank=0, seed=0))
    result = fit(Tiny(), train, val, test, edge_index=EDGES, out_dir=str(tmp_path),
                 config=TrainConfig(epochs=3, lr=0.05, null_value=None, lr_milestones=(2,)))
    assert seen == [0, 1, 2]
    rows = read_csv(tmp_path / "per_epoch_stats.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.05, 0.05, 0.005])
    assert result.best_val_mae == min(float(r["val_mae"]) for r in rows)
    assert len(result.test["mae_per_step"]) == 4
    state = load_checkpoint(str(tmp_path / CHECKPOINT_NAME))
    assert state["epoch"] == 3 and state["batches_seen"] == 3 * len(train)
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "best_model", "history"}
    assert not any(k.startswith("module.") for k in state["model"])


def test_resume_after_crash_equals_uninterrupted(tmp_path):
    class Crash(Exception):
        pass

    class CrashAt:
        def on_batch_end(self, trainer, epoch, batch_idx):
            if epoch == 2 and batch_idx == 2:
                raise Crash

    def run(out, callbacks=(), resume=False):
        seed_everything(1)
        train, val, test = loaders(seed=3)
        return Trainer(Tiny(), train, val, test, edge_index=EDGES, out_dir=str(out), callbacks=callbacks,
                       config=TrainConfig(epochs=3, lr=0.05, null_value=None)).fit(resume=resume)

    with pytest.raises(Crash):
        run(tmp_path / "a", [CrashAt()])
    resumed = run(tmp_path / "a", resume=True)
    full = run(tmp_path / "b")
    assert [r["train_mae"] for r in resumed.history] == [r["train_mae"] for r in full.history]
    assert [r["val_mae"] for r in resumed.history] == [r["val_mae"] for r in full.history]
    assert resumed.test["mae"] == full.test["mae"]
    assert len(read_csv(tmp_path / "a" / "per_epoch_stats.csv")) == 3


def test_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / "c.pt")
    save_checkpoint({"v": 1}, path)

    def broken(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError):
        save_checkpoint({"v": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["c.pt"]
    with pytest.raises(FileNotFoundError, match="drop --resume"):
        load_checkpoint(str(tmp_path / "missing.pt"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out_root, queue):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        seed_everything(0)
        model = torch.nn.parallel.DistributedDataParallel(Tiny())
        factory = lambda n: DistributedIndexSampler(n, num_replicas=world, rank=rank, seed=0)  # noqa: E731
        train, _, _ = loaders(sampler_factory=factory)
        data = series()
        val_ds = IndexDataset(data, np.arange(36, 44), 4, 4, target_features=[0])  # 8 windows, 4 per rank
        val = index_dataloader(val_ds, 2, sampler=DistributedIndexSampler(8, num_replicas=world, rank=rank,
                                                                           shuffle=False))
        trainer = Trainer(model, train, val, None, edge_index=EDGES, out_dir=os.path.join(out_root, str(rank)),
                          config=TrainConfig(epochs=2, lr=0.05, null_value=None))
        result = trainer.fit()
        # the whole validation set on this rank alone, no all-reduce
        acc = MetricAccumulator(None)
        acc.update(*(lambda s: (s.pred, s.true))(predict_batch(model.module, val_ds[0:8], edge_index=EDGES)))
        queue.put((rank, result.history[-1]["train_mae"], result.history[-1]["val_mae"], acc.compute()["mae"]))
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_ddp_metrics_are_global_and_only_rank0_writes(tmp_path):
    import torch.multiprocessing as mp

    ctx = mp.get_context("fork")  # CPU only: fork skips re-importing torch in each rank
    queue = ctx.Queue()
    mp.start_processes(_ddp_worker, args=(2, _free_port(), str(tmp_path), queue), nprocs=2, join=True,
                       start_method="fork")
    results = sorted(queue.get(timeout=30) for _ in range(2))
    (_, t0, v0, full0), (_, t1, v1, full1) = results
    assert t0 == t1 and v0 == v1  # every rank reports the same global MAE
    assert v0 == pytest.approx(full0, rel=1e-6) and full0 == pytest.approx(full1, rel=1e-6)
    assert (tmp_path / "0" / "per_epoch_stats.csv").exists() and (tmp_path / "0" / CHECKPOINT_NAME).exists()
    assert not (tmp_path / "1").exists()


def test_all_masked_targets_are_refused_after_the_first_epoch(tmp_path):
    train, val, _ = loaders()
    zeros = [(x, torch.zeros_like(y)) for x, y in train]  # every speed 0: a missing reading
    with pytest.raises(ValueError, match="Every training target of epoch 1 equals the null value 0.0"):
        fit(Tiny(), zeros, val, edge_index=EDGES, config=TrainConfig(epochs=2, lr=0.05, null_value=0.0))
    with pytest.raises(ValueError, match="no training batch"):
        fit(Tiny(), [], val, edge_index=EDGES, config=TrainConfig(epochs=1, null_value=0.0))


def test_resume_keeps_checkpoint_settings_and_extends_epochs(tmp_path, caplog):
    def trainer(out, identity=None, **config):
        seed_everything(1)
        train, val, test = loaders(seed=3)
        config = {"epochs": 2, "lr": 0.05, "null_value": None, "lr_milestones": (1,), **config}
        return Trainer(Tiny(), train, val, test, edge_index=EDGES, out_dir=str(out), identity=identity,
                       config=TrainConfig(**config))

    trainer(tmp_path / "a", identity={"dataset": "x"}).fit()
    with pytest.raises(CheckpointError, match="dataset: 'x' -> 'y'"):
        trainer(tmp_path / "a", identity={"dataset": "y"}).fit(resume=True)
    resumed = trainer(tmp_path / "a", identity={"dataset": "x"}, epochs=3, lr=0.5, lr_milestones=(), seed=7)
    with caplog.at_level("WARNING"):
        result = resumed.fit(resume=True)
    assert "lr 0.05 (given 0.5)" in caplog.text and "seed 0 (given 7)" in caplog.text
    assert "lr_milestones (1,) (given ())" in caplog.text
    full = trainer(tmp_path / "b", epochs=3).fit()
    assert [r["lr"] for r in result.history] == pytest.approx([0.05, 0.005, 0.005])
    assert [r["train_mae"] for r in result.history] == [r["train_mae"] for r in full.history]
    assert resumed.config.lr == 0.05 and resumed.config.epochs == 3


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resume_on_cuda_restores_cpu_rng_states(tmp_path):
    def run(resume=False, callbacks=()):
        seed_everything(1)
        train, val, test = loaders(seed=3)
        return Trainer(Tiny().cuda(), train, val, test, edge_index=EDGES, out_dir=str(tmp_path),
                       device=torch.device("cuda"), callbacks=callbacks,
                       config=TrainConfig(epochs=2, lr=0.05, null_value=None)).fit(resume=resume)

    class Stop:
        def on_epoch_end(self, trainer, epoch, row):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(callbacks=[Stop()])
    resumed = run(resume=True)  # map_location=cuda: the RNG states must still reach set_rng_state on the CPU
    assert [r["epoch"] for r in resumed.history] == [1, 2]


def test_train_epoch_reads_the_loss_once_per_epoch_not_per_batch(monkeypatch):
    # a host read of the loss (float / item) waits for the device: the loop sums the
    # losses on the device and reads them once, at the epoch's end, however many batches
    from torch_geometric_temporal.train.metrics import masked_mae_loss

    losses = []

    def loss_fn(pred, true):
        loss = masked_mae_loss(pred, true, None)
        losses.append(loss)  # kept alive, so no other tensor takes its address
        return loss

    reads = []
    real_float, real_item = torch.Tensor.__float__, torch.Tensor.item

    def counting(real):
        def read(self, *args):
            if any(self.data_ptr() == loss.data_ptr() for loss in losses):
                reads.append(tuple(self.shape))
            return real(self, *args)
        return read

    monkeypatch.setattr(torch.Tensor, "__float__", counting(real_float))
    monkeypatch.setattr(torch.Tensor, "item", counting(real_item))
    per_epoch, results = {}, []
    for batch in (12, 2):
        seed_everything(0)
        train, _, _ = loaders(batch=batch)
        trainer = Trainer(Tiny(), train, edge_index=EDGES, loss_fn=loss_fn,
                          config=TrainConfig(lr=0.05, null_value=None))
        reads.clear()
        losses.clear()
        metrics = trainer.train_epoch(0)
        per_epoch[len(train)] = len(reads)
        assert len(losses) == len(train)
        results.append((metrics, sum(real_float(v.detach()) for v in losses) / len(losses)))
    assert per_epoch == {3: 0, 18: 0}
    for metrics, mean_loss in results:  # the epoch's mean batch loss, read once
        assert metrics["loss"] == pytest.approx(mean_loss)
        assert metrics["mae"] == pytest.approx(metrics["loss"], rel=0.2)  # same MAE, other weights
    step = train_step(Tiny(), next(iter(train)), torch.optim.SGD(Tiny().parameters(), lr=0.1),
                      edge_index=EDGES, null_value=None)
    assert isinstance(step.loss, float) and step.loss == real_float(step.loss_tensor)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_epoch_from_cpu_batches_equals_the_cpu_epoch():
    # a CUDA model fed from CPU batches (pinned pool, asynchronous copies, loss summed on
    # the device) trains as the CPU model does
    results = []
    for device in ("cpu", "cuda"):
        seed_everything(0)
        train, _, _ = loaders(batch=4)
        trainer = Trainer(Tiny().to(device), train, edge_index=EDGES,
                          config=TrainConfig(lr=0.05, null_value=None))
        results.append([trainer.train_epoch(e) for e in range(2)])
    for cpu, gpu in zip(*results):
        assert gpu["loss"] == pytest.approx(cpu["loss"], rel=1e-4)
        assert gpu["mae"] == pytest.approx(cpu["mae"], rel=1e-4)
