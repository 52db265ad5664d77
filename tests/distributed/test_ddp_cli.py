r"""The multi-node route on one machine: ``dask scheduler --scheduler-file`` and
``dask worker`` started from the CLI, ``pems_ddp.py --dist`` connecting to them."""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("distributed")

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _dask_cli():
    exe = os.path.join(os.path.dirname(sys.executable), "dask")
    if os.path.exists(exe):
        return [exe]
    if shutil.which("dask"):
        return [shutil.which("dask")]
    pytest.skip("the dask command line is not installed")


def _start(cmd, log_path, env):
    log = open(log_path, "wb")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True), log


def _stop(proc, log):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group this test started (worker + its nannies)
            proc.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=15)
    log.close()


def test_scheduler_file_route(tmp_path):
    from torch_geometric_temporal.dataset import synthetic
    from torch_geometric_temporal.train.stats import read_csv

    data_dir = tmp_path / "metr_la"
    synthetic.write_metr_la(data_dir, num_timesteps=120, num_nodes=4, extract=True, seed=2)
    scheduler_file = tmp_path / "scheduler.json"
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    dask = _dask_cli()
    procs = []
    try:
        procs.append(_start(dask + ["scheduler", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                                    "--port", "0", "--no-dashboard"], tmp_path / "scheduler.log", env))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
            assert procs[0][0].poll() is None, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.2)
        procs.append(_start(dask + ["worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2",
                                    "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                                    "--memory-limit", "0"], tmp_path / "worker.log", env))

        spec = importlib.util.spec_from_file_location("pems_ddp_cli_test",
                                                      os.path.join(ROOT, "scalability_testing", "pems_ddp.py"))
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        out_dir = tmp_path / "out"
        row = script.main(["--dist", "--scheduler-file", str(scheduler_file), "-np", "2", "--dataset", "metr-la",
                           "--data-dir", str(data_dir), "--out-dir", str(out_dir), "--epochs", "1",
                           "--batch-size", "8", "--hidden", "4", "-K", "1", "-q", "--timeout", "120"])
        assert [r["rank"] for r in row["ranks"]] == [0, 1]
        assert row["process_rss_peak_mb"] > 0  # summed over this node's worker processes
        assert read_csv(str(out_dir / "stats.csv"))[0]["mode"] == "index"
        assert len(read_csv(str(out_dir / "ranks.csv"))) == 2
        assert len(read_csv(str(out_dir / "per_epoch_stats.csv"))) == 1
    finally:
        for proc, log in reversed(procs):
            _stop(proc, log)
