r"""DDP on Dask workers: CPU, gloo, 2 workers on 127.0.0.1."""
import os
import signal
import sys
import time

import numpy as np
import pytest
import torch

pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from torch_geometric_temporal.dataset.index_batching import (  # noqa: E402
    DistributedIndexSampler,
    IndexDataset,
    index_dataloader,
    window_starts,
)
from torch_geometric_temporal.distributed import (  # noqa: E402
    DDPRunError,
    GlobalBatchSampler,
    ShardedIndexDataset,
    ShardPlan,
    ShardSampler,
    close_cluster,
    run_ddp,
    start_cluster,
)

# The rank functions below live in this test module, which the workers cannot
# import: ship them by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.distributed

T_IN, T_OUT, B = 4, 4, 6  # B: per-rank batch


class Tiny(torch.nn.Module):
    def __init__(self, features=2, hidden=8):
        super().__init__()
        self.a = torch.nn.Linear(features, hidden)
        self.b = torch.nn.Linear(hidden, features)

    def forward(self, x, edge_index, edge_weight=None):
        return self.b(torch.tanh(self.a(x)))


def _series():
    rng = np.random.default_rng(0)
    return rng.normal(size=(100, 3, 2)).astype(np.float32)


def _train(model, loader, epochs):
    from torch_geometric_temporal.train.trainer import TrainConfig, Trainer

    edge_index = torch.zeros(2, 0, dtype=torch.long)
    cfg = TrainConfig(epochs=epochs, lr=1e-2, null_value=None, seed=0)
    trainer = Trainer(model, loader, edge_index=edge_index, config=cfg)
    history = trainer.fit().history
    del trainer
    return history


def _rank_fn(ctx, mode, epochs):
    from torch.nn.parallel import DistributedDataParallel

    series = _series()
    starts = window_starts(series.shape[0], T_IN, T_OUT)
    info = {}
    if mode == "sharded":
        plan = ShardPlan(starts, ctx.world_size, T_IN, T_OUT, blocks_per_rank=2, seed=0)
        ds = ShardedIndexDataset(series, plan, ctx.rank, target_features=[0])
        loader = index_dataloader(ds, B, sampler=ShardSampler(plan, ctx.rank, ds))
        info = {"rows": ds.resident_rows, "ranges": ds.time_ranges}
    else:
        ds = IndexDataset(series, starts[:90], T_IN, T_OUT, target_features=[0])
        sampler = DistributedIndexSampler(len(ds), ctx.world_size, ctx.rank, shuffle=True, seed=0)
        loader = index_dataloader(ds, B, sampler=sampler)
    torch.manual_seed(0)
    model = DistributedDataParallel(Tiny())
    history = _train(model, loader, epochs)
    state = {k: v.detach().clone() for k, v in model.module.state_dict().items()}
    del model, loader
    return state, history, info


def _single_process(mode, epochs, world_size=2):
    series = _series()
    starts = window_starts(series.shape[0], T_IN, T_OUT)
    if mode == "sharded":
        plan = ShardPlan(starts, world_size, T_IN, T_OUT, blocks_per_rank=2, seed=0)
        ds = IndexDataset(series, starts, T_IN, T_OUT, target_features=[0])
        loader = torch.utils.data.DataLoader(ds, batch_size=None, sampler=GlobalBatchSampler(plan, B))
    else:
        ds = IndexDataset(series, starts[:90], T_IN, T_OUT, target_features=[0])
        sampler = DistributedIndexSampler(len(ds), 1, 0, shuffle=True, seed=0)
        loader = index_dataloader(ds, world_size * B, sampler=sampler)
    torch.manual_seed(0)
    model = Tiny()
    history = _train(model, loader, epochs)
    return model.state_dict(), history


@pytest.mark.parametrize("mode", ["sharded", "replicated"])
def test_ddp_two_ranks_match_one_process(client, mode):
    torch.set_num_threads(1)
    results = run_ddp(client, _rank_fn, mode, 3, n_workers=2, timeout=120, collective_timeout=60)
    ref_state, ref_history = _single_process(mode, 3)
    for state, history, _ in results:
        for key, value in ref_state.items():
            torch.testing.assert_close(state[key], value, rtol=0, atol=1e-6)
        for row, ref in zip(history, ref_history):
            assert row["train_mae"] == pytest.approx(ref["train_mae"], abs=1e-6)
    assert ref_history[0]["train_mae"] != ref_history[-1]["train_mae"]  # it did train
    if mode == "sharded":
        T = _series().shape[0]
        for rank, (_, _, info) in enumerate(results):
            plan = ShardPlan(window_starts(T, T_IN, T_OUT), 2, T_IN, T_OUT, blocks_per_rank=2, seed=0)
            assert info["ranges"] == plan.time_ranges(2, rank)  # the last epoch's re-dealt shard
            assert info["rows"] <= T // 2 + 2 * (T_IN + T_OUT)


def _raise_on_rank1(ctx):
    if ctx.rank == 1:
        raise ValueError("boom on purpose")
    torch.distributed.barrier()
    return ctx.rank


def test_rank_exception_fails_run_without_hang(client):
    t0 = time.monotonic()
    with pytest.raises(DDPRunError, match="rank 1.*boom on purpose"):
        run_ddp(client, _raise_on_rank1, n_workers=2, timeout=60, collective_timeout=20)
    assert time.monotonic() - t0 < 60
    assert run_ddp(client, lambda ctx: ctx.world_size, n_workers=2, timeout=60) == [2, 2]  # still usable


# -- killed worker and --resume, through the full script path ----------------------------
class KillRank:
    r"""Trainer callback: SIGKILL this worker on ``rank`` at ``epoch``'s first batch."""

    def __init__(self, rank, epoch):
        self.rank, self.epoch = rank, epoch

    def on_batch_end(self, trainer, epoch, batch_idx):
        if epoch == self.epoch and batch_idx == 0 and torch.distributed.get_rank() == self.rank:
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def metr_la_dir(tmp_path_factory):
    from torch_geometric_temporal.dataset import synthetic

    directory = tmp_path_factory.mktemp("metr_la")
    synthetic.write_metr_la(directory, num_timesteps=400, num_nodes=5, extract=True, seed=1)
    return directory


def _script_args(data_dir, out_dir, **over):
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "scalability_testing", "pems_ddp.py")
    spec = importlib.util.spec_from_file_location("pems_ddp_under_test", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ["--dataset", "metr-la", "--data-dir", str(data_dir), "--out-dir", str(out_dir), "-np", "2",
            "--epochs", "2", "--batch-size", "8", "--hidden", "4", "-K", "1", "-q", "--timeout", "120",
            "--collective-timeout", "30", "--blocks-per-rank", "2"]
    for key, value in over.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return script.parse_args(argv)


@pytest.mark.slow
def test_killed_worker_errors_then_resume_matches(client, metr_la_dir, tmp_path):
    from torch_geometric_temporal.train.ddp_experiment import run_ddp_experiment
    from torch_geometric_temporal.train.stats import read_csv

    spec, args = _script_args(metr_la_dir, tmp_path / "full", mode="dask-index")
    full = run_ddp_experiment(spec, args, client=client, return_state=True)
    series_rows = full["ranks"][0]["series_rows"]
    blocks = 2 + 1 + 1  # train (--blocks-per-rank 2), val, test
    for rank in full["ranks"]:  # half of the rows plus one window overlap per block, not all of them
        assert 0 < rank["resident_rows"] <= series_rows / 2 + blocks * 24  # window 12 + 12
        assert rank["resident_rows"] < series_rows

    spec, args = _script_args(metr_la_dir, tmp_path / "killed", mode="dask-index")
    t0 = time.monotonic()
    with pytest.raises(DDPRunError, match="rank 1"):
        run_ddp_experiment(spec, args, client=client, callbacks=[KillRank(1, 2)])
    assert time.monotonic() - t0 < 90
    assert len(read_csv(str(tmp_path / "killed" / "per_epoch_stats.csv"))) == 1  # epoch 1 finished

    spec, args = _script_args(metr_la_dir, tmp_path / "killed", mode="dask-index", resume="true")
    resumed = run_ddp_experiment(spec, args, client=client, return_state=True)
    assert [r["epoch"] for r in resumed["history"]] == [1, 2]
    for row, ref in zip(resumed["history"], full["history"]):
        assert row["train_mae"] == pytest.approx(ref["train_mae"], abs=1e-6)
    for key, value in full["ranks"][0]["state"].items():
        torch.testing.assert_close(resumed["ranks"][0]["state"][key], value, rtol=0, atol=1e-6)
    assert resumed["test_mae"] == pytest.approx(full["test_mae"], abs=1e-5)
    for name in ("stats.csv", "per_epoch_stats.csv", "system_stats.csv", "ranks.csv"):
        assert (tmp_path / "killed" / name).is_file()


def test_backend_choice_and_bad_input(client):
    from torch_geometric_temporal.distributed import default_backend

    assert default_backend(False) == "gloo" and default_backend(True) == "nccl"
    with pytest.raises(ValueError, match="backend"):
        run_ddp(client, _raise_on_rank1, backend="tcp", n_workers=2)
    with pytest.raises(DDPRunError, match="3 ranks were asked for but only 2"):
        run_ddp(client, _raise_on_rank1, workers=None, n_workers=3, timeout=2)


def _cuda_rank(ctx):
    x = torch.ones(1, device=ctx.device) * (ctx.rank + 1)
    torch.distributed.all_reduce(x)
    return float(x.item()), str(ctx.device)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (nccl)")
def test_nccl_all_reduce_on_gpu():  # pragma: no cover - no GPU in CI
    cluster, client = start_cluster(1, gpu=True, timeout=120)
    try:
        assert run_ddp(client, _cuda_rank, backend="nccl", n_workers=1, timeout=120)[0][0] == 1.0
    finally:
        close_cluster(cluster, client)
