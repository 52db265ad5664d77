r"""DDP evaluation counts every window exactly once, whatever the number of ranks.

Padding the val/test shards (as :class:`~torch.utils.data.distributed.
DistributedSampler` does) counts some windows twice, so the test MAE depended
on ``-np``. With ``--lr 0`` the model stays at its seeded initialisation in
every run, so single process, ``-np 1`` and ``-np 2`` must report the same
test metrics in every data mode."""
import os
import sys

import pytest
import torch

pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from torch_geometric_temporal.distributed import run_ddp  # noqa: E402
from torch_geometric_temporal.train.metrics import MetricAccumulator  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.distributed

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _accumulate(ctx, batches):
    acc = MetricAccumulator(null_value=0.0)
    for pred, true in batches[ctx.rank]:
        acc.update(pred, true)
    return acc.all_reduce().compute()


def test_all_reduce_sums_with_a_rank_without_batches(client):
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(3, 4, 5, generator=gen), torch.randn(3, 4, 5, generator=gen)) for _ in range(3)]
    batches[0][1][0, 0, 0] = 0.0  # a masked target
    single = MetricAccumulator(null_value=0.0)
    for pred, true in batches:
        single.update(pred, true)
    expected = single.compute()
    # rank 0 gets all three batches, rank 1 none (an uneven evaluation shard)
    results = run_ddp(client, _accumulate, [batches, []], n_workers=2, timeout=60, collective_timeout=30)
    for result in results:
        assert result["count"] == expected["count"] == 3 * 4 * 5 * 3 - 1
        for key in ("mae", "rmse", "mape"):
            assert result[key] == pytest.approx(expected[key], rel=1e-12)
        assert result["mae_per_step"] == pytest.approx(expected["mae_per_step"], rel=1e-12)
    empty = run_ddp(client, _accumulate, [[], []], n_workers=2, timeout=60, collective_timeout=30)
    assert all(r["count"] == 0 for r in empty)  # no rank saw a batch: NaN metrics, no error


@pytest.fixture(scope="module")
def metr_la_dir(tmp_path_factory):
    from torch_geometric_temporal.dataset import synthetic

    directory = tmp_path_factory.mktemp("metr_la_eval")
    # 150 steps: 89/13/25 train/val/test windows; 13 and 25 are odd, so two ranks would need padding
    synthetic.write_metr_la(directory, num_timesteps=150, num_nodes=4, extract=True, seed=3)
    return directory


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pems_ddp_eval_test",
                                                  os.path.join(ROOT, "scalability_testing", "pems_ddp.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _args(data_dir, out_dir, mode, npar):
    return _script().parse_args([
        "--dataset", "metr-la", "--data-dir", str(data_dir), "--out-dir", str(out_dir), "-m", mode,
        "-np", str(npar), "--epochs", "1", "--batch-size", "8", "--hidden", "4", "-K", "1", "--lr", "0",
        "-q", "--timeout", "120", "--collective-timeout", "30", "--blocks-per-rank", "2"])


@pytest.fixture(scope="module")
def single_process(metr_la_dir, tmp_path_factory):
    from torch_geometric_temporal.train.experiment import run_experiment

    spec, args = _args(metr_la_dir, tmp_path_factory.mktemp("single"), "index", 1)
    return run_experiment(spec, args)["test"]


@pytest.mark.parametrize("mode", ["index", "dask-index", "dask"])
def test_test_metrics_do_not_depend_on_ranks(client, metr_la_dir, single_process, tmp_path, mode):
    from torch_geometric_temporal.train.ddp_experiment import run_ddp_experiment

    assert single_process["count"] > 0
    for npar in (1, 2):
        spec, args = _args(metr_la_dir, tmp_path / f"np{npar}", mode, npar)
        test = run_ddp_experiment(spec, args, client=client)["test"]
        assert test["count"] == single_process["count"], (mode, npar)  # no window counted twice
        for key in ("mae", "rmse", "mape"):
            assert test[key] == pytest.approx(single_process[key], rel=1e-5), (mode, npar, key)
        assert test["mae_per_step"] == pytest.approx(single_process["mae_per_step"], rel=1e-5)
