r"""``pems_ddp.py --num-workers 1``: DataLoader worker processes inside the
Dask workers, in every DDP mode (the Dask readers of ``dask-index`` must
pickle, and the local cluster's workers must not be daemons)."""
import importlib.util
import os

import pytest

pytest.importorskip("distributed")
pytest.importorskip("tables")

pytestmark = pytest.mark.distributed

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _script():
    spec = importlib.util.spec_from_file_location(
        "pems_ddp_num_workers_test", os.path.join(ROOT, "scalability_testing", "pems_ddp.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    from torch_geometric_temporal.dataset import synthetic

    npy = tmp_path_factory.mktemp("metr_la_workers")
    synthetic.write_metr_la(npy, num_timesteps=120, num_nodes=4, seed=5)
    h5 = tmp_path_factory.mktemp("pems_all_la_workers")
    synthetic.write_pems_all_la(h5, num_timesteps=120, num_nodes=4, seed=6)
    return {"metr-la": npy, "pems-all-la": h5}


@pytest.mark.parametrize("mode, dataset", [("index", "metr-la"), ("dask-index", "metr-la"),
                                           ("dask-index", "pems-all-la"), ("dask", "metr-la")])
def test_num_workers_one_in_every_mode(data_dirs, tmp_path, mode, dataset):
    from torch_geometric_temporal.train.stats import read_csv

    out_dir = tmp_path / "out"
    row = _script().main([
        "--dataset", dataset, "--data-dir", str(data_dirs[dataset]), "--out-dir", str(out_dir),
        "-m", mode, "-np", "1", "--num-workers", "1", "--epochs", "1", "--batch-size", "8",
        "--hidden", "4", "-K", "1", "--max-batches", "2", "-q", "--timeout", "120",
        "--collective-timeout", "60"])
    assert [r["rank"] for r in row["ranks"]] == [0]
    assert read_csv(str(out_dir / "stats.csv"))[0]["mode"] == mode
