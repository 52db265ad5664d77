r"""``pems_ddp.py -q``: no INFO lines from the Dask machinery, no teardown noise."""
import importlib.util
import logging
import os
import subprocess
import sys

import pytest

pytest.importorskip("distributed")

pytestmark = pytest.mark.distributed

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SCRIPT = os.path.join(ROOT, "scalability_testing", "pems_ddp.py")


def _script():
    spec = importlib.util.spec_from_file_location("pems_ddp_quiet_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(name, exc=None, msg="boom"):
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), exc_info)


def test_filter_drops_closed_comm_errors_only():
    from distributed.comm.core import CommClosedError

    drop = _script().DropClosedCommErrors()
    assert not drop.filter(_record("distributed.core", CommClosedError("in <TCP (closed)>")))
    assert not drop.filter(_record("tornado.application", msg="Exception in callback: CommClosedError"))
    assert drop.filter(_record("distributed.worker", ValueError("real failure")))
    assert drop.filter(_record("torch_geometric_temporal.train", CommClosedError("ours: kept")))


def test_quiet_run_writes_nothing_to_stderr(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(ROOT))
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--dataset", "chickenpox", "-np", "2", "--epochs", "1", "--batch-size", "16",
         "--max-batches", "1", "--hidden", "4", "-K", "1", "--out-dir", str(tmp_path / "out"), "-q",
         "--timeout", "120"],
        capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert " INFO " not in proc.stderr, proc.stderr
    assert "CommClosedError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    # a clean run says nothing
    assert proc.stderr.strip() == "" and proc.stdout.strip() == "", \
        f"stdout: {proc.stdout!r}\nstderr: {proc.stderr!r}"
    assert (tmp_path / "out" / "stats.csv").is_file()


def _log_on_worker(level, name, message):
    logging.getLogger(name).log(level, message)


@pytest.mark.parametrize("silence, shown", [(logging.ERROR, False), (logging.WARNING, True)])
def test_cluster_silence_logs_reaches_worker_processes(capfd, silence, shown):
    # what -q passes to the local cluster: a worker process's Dask warnings (such as
    # the garbage-collection one seen under load) are dropped, its errors are kept
    from torch_geometric_temporal.distributed.cluster import close_cluster, start_cluster

    cluster, client = start_cluster(1, timeout=60, silence_logs=silence)
    try:
        client.run(_log_on_worker, logging.WARNING, "distributed.utils_perf",
                   "full garbage collections took 99% CPU time recently (test)")
        client.run(_log_on_worker, logging.ERROR, "distributed.worker", "a real error (test)")
    finally:
        close_cluster(cluster, client)
    err = capfd.readouterr().err
    assert "a real error (test)" in err
    assert ("full garbage collections took 99% CPU time recently (test)" in err) == shown
