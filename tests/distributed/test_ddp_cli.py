r"""The multi-node route on one machine: ``dask scheduler --scheduler-file`` and
``dask worker`` started from the CLI with the README's flags, ``pems_ddp.py
--dist`` connecting to them, in plain TCP and with TLS (the client's TLS
settings from Dask's ``DASK_DISTRIBUTED__COMM__TLS__*`` environment)."""
import importlib.util
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("distributed")
import dask.config  # noqa: E402

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


def _certificates(directory):
    r"""A CA and one certificate for 127.0.0.1 signed by it (``openssl`` CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command line is needed to make test certificates")

    def run(*args):
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=pgt-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=node")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "node.pem", "-days", "2", "-extfile", "ext.cnf")
    return directory / "ca.pem", directory / "node.pem", directory / "node.key"


def _listening(pids):
    psutil = pytest.importorskip("psutil")
    found = []
    for pid in pids:
        proc = psutil.Process(pid)
        for p in [proc] + proc.children(recursive=True):
            try:
                found += [(p.pid, c.laddr.ip, c.laddr.port) for c in p.net_connections(kind="tcp")
                          if c.status == psutil.CONN_LISTEN]
            except psutil.Error:
                continue
    return found


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_scheduler_file_route(tmp_path, monkeypatch, tls):
    from torch_geometric_temporal.dataset import synthetic
    from torch_geometric_temporal.train.stats import read_csv

    data_dir = tmp_path / "metr_la"
    synthetic.write_metr_la(data_dir, num_timesteps=120, num_nodes=4, extract=True, seed=2)
    scheduler_file = tmp_path / "scheduler.json"
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    security = []
    if tls:
        ca, cert, key = _certificates(tmp_path)
        security = ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]
        # what a user exports before running pems_ddp.py --dist (read by dask.config)
        for name, value in (("REQUIRE_ENCRYPTION", "True"), ("TLS__CA_FILE", ca), ("TLS__CLIENT__CERT", cert),
                            ("TLS__CLIENT__KEY", key)):
            monkeypatch.setenv(f"DASK_DISTRIBUTED__COMM__{name}", str(value))
        dask.config.refresh()
    cli = _dask_cli()
    procs = []
    try:
        # the README's recipe: comm and HTTP endpoints on the chosen interface (here loopback);
        # --no-dashboard alone still leaves the scheduler's and workers' HTTP servers on 0.0.0.0
        procs.append(_start(cli + ["scheduler", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                                    "--port", "0", "--dashboard-address", "127.0.0.1:0"]
                            + (["--protocol", "tls"] if tls else []) + security, tmp_path / "scheduler.log", env))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
            assert procs[0][0].poll() is None, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.2)
        procs.append(_start(cli + ["worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2",
                                    "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                                    "--dashboard-address", "127.0.0.1:0", "--memory-limit", "0"] + security,
                            tmp_path / "worker.log", env))

        spec = importlib.util.spec_from_file_location("pems_ddp_cli_test",
                                                      os.path.join(ROOT, "scalability_testing", "pems_ddp.py"))
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        out_dir = tmp_path / "out"
        row = script.main(["--dist", "--scheduler-file", str(scheduler_file), "-np", "2", "--dataset", "metr-la",
                           "--data-dir", str(data_dir), "--out-dir", str(out_dir), "--epochs", "1",
                           "--batch-size", "8", "--hidden", "4", "-K", "1", "-q", "--timeout", "120"])
        if tls:
            assert '"tls://127.0.0.1:' in scheduler_file.read_text()
        listening = _listening([proc.pid for proc, _ in procs])
        assert len(listening) >= 6  # scheduler comm + HTTP, per worker comm + HTTP, nannies
        assert [x for x in listening if not ipaddress.ip_address(x[1]).is_loopback] == [], listening
        assert [r["rank"] for r in row["ranks"]] == [0, 1]
        assert row["process_rss_peak_mb"] > 0  # summed over this node's worker processes
        assert read_csv(str(out_dir / "stats.csv"))[0]["mode"] == "index"
        assert len(read_csv(str(out_dir / "ranks.csv"))) == 2
        assert len(read_csv(str(out_dir / "per_epoch_stats.csv"))) == 1
    finally:
        for proc, log in reversed(procs):
            _stop(proc, log)
        if tls:  # later tests must not inherit the TLS settings
            monkeypatch.undo()
            dask.config.refresh()
