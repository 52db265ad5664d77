r"""What a DDP run on a local cluster listens on: loopback only.

torch's own TCP store server listens on every interface (``*:PORT``) whatever
address the rendezvous names, and gloo binds the interface the hostname
resolves to; :func:`run_ddp` must keep every socket of the run on loopback."""
import ipaddress
import os
import socket
import sys

import pytest
import torch

pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")
cloudpickle = pytest.importorskip("cloudpickle")

from torch_geometric_temporal.distributed import close_cluster, run_ddp, start_cluster  # noqa: E402
from torch_geometric_temporal.distributed.ddp import (  # noqa: E402
    interface_of,
    is_loopback,
    pinned_interface,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def cluster_client():
    cluster, client = start_cluster(2, timeout=60)
    try:
        yield cluster, client
    finally:
        close_cluster(cluster, client)


def _listening(pids):
    r"""``[(pid, ip, port)]`` of the TCP sockets in LISTEN state held by ``pids``
    and their child processes."""
    found = []
    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs += [proc] + proc.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
    for proc in {p.pid: p for p in procs}.values():
        try:
            conns = proc.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found += [(proc.pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    return found


def _listen_during_run(ctx, pids):
    # every rank is inside the process group (store and gloo device alive) while rank 0 looks
    torch.distributed.barrier()
    listening = _listening(pids) if ctx.rank == 0 else None
    x = torch.ones(1)
    torch.distributed.all_reduce(x)
    torch.distributed.barrier()
    return listening, float(x), os.environ.get("GLOO_SOCKET_IFNAME")


def _non_loopback(listening):
    return [(pid, ip, port) for pid, ip, port in listening if not ipaddress.ip_address(ip.split("%")[0]).is_loopback]


@pytest.mark.parametrize("rendezvous", ["auto", "tcp"])
def test_local_run_listens_on_loopback_only(cluster_client, rendezvous):
    cluster, client = cluster_client
    worker_pids = list(client.run(os.getpid).values())
    nanny_pids = [psutil.Process(p).ppid() for p in worker_pids]
    pids = [os.getpid()] + worker_pids + nanny_pids  # this process runs the scheduler
    results = run_ddp(client, _listen_during_run, pids, n_workers=2, timeout=120, collective_timeout=60,
                      rendezvous=rendezvous)
    listening = results[0][0]
    assert [r[1] for r in results] == [2.0, 2.0]
    ranks = [p for p in listening if p[0] in worker_pids]
    assert ranks, "psutil saw no listening socket of the rank processes; the check would prove nothing"
    assert _non_loopback(listening) == [], listening
    before = os.environ.get("GLOO_SOCKET_IFNAME")  # the workers inherited this process's environment
    assert {r[2] for r in results} == {before or interface_of("127.0.0.1")}  # gloo pinned in the rank
    assert set(client.run(lambda: os.environ.get("GLOO_SOCKET_IFNAME")).values()) == {before}  # restored


def test_file_rendezvous_leaves_no_file(cluster_client, tmp_path, monkeypatch):
    cluster, client = cluster_client
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert run_ddp(client, lambda ctx: ctx.rank, n_workers=2, timeout=60) == [0, 1]
    assert os.listdir(tmp_path) == []  # the private rendezvous directory is gone


def test_loopback_and_interface_helpers(monkeypatch):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("10.1.2.3") and not is_loopback("0.0.0.0") and not is_loopback("node7")
    lo = interface_of("127.0.0.1")
    assert lo is not None
    assert interface_of("203.0.113.77") is None  # TEST-NET-3: no local interface has it
    monkeypatch.delenv("GLOO_SOCKET_IFNAME", raising=False)
    with pinned_interface("127.0.0.1", "gloo") as chosen:
        assert chosen == {"GLOO_SOCKET_IFNAME": lo} and os.environ["GLOO_SOCKET_IFNAME"] == lo
    assert "GLOO_SOCKET_IFNAME" not in os.environ
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "eth9")  # an explicit choice wins
    with pinned_interface("127.0.0.1", "nccl") as chosen:
        assert chosen == {"NCCL_SOCKET_IFNAME": lo} and os.environ["GLOO_SOCKET_IFNAME"] == "eth9"
    assert os.environ["GLOO_SOCKET_IFNAME"] == "eth9" and "NCCL_SOCKET_IFNAME" not in os.environ


def test_tcp_store_binds_the_announced_address():
    from datetime import timedelta

    import torch.distributed as dist

    from torch_geometric_temporal.distributed.ddp import _init_process_group, free_port

    if dist.is_initialized():
        pytest.skip("a process group is already initialized in this process")
    port = free_port("127.0.0.1")
    _init_process_group(f"tcp://127.0.0.1:{port}", "gloo", 0, 1, timedelta(seconds=30))
    try:
        mine = [(ip, p) for _, ip, p in _listening([os.getpid()]) if p == port]
        assert mine == [("127.0.0.1", port)]
    finally:
        dist.destroy_process_group()
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))
