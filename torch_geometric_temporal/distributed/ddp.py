r"""Run a function as PyTorch DDP ranks on Dask workers.

One rank is pinned to one Dask worker with
``client.submit(..., workers=[address], pure=False)``. The client waits on the
rank futures with a timeout, polls the scheduler for dead rank workers, and on
any failure cancels the other ranks and raises a :class:`DDPRunError` naming
the rank and its worker. Surviving ranks leave their collectives when the
process group notices the dead peer (gloo: at once; NCCL: never, so after the
process-group timeout torch's watchdog ends their processes); optionally
their workers are restarted. Under NCCL each rank's GPU is chosen and checked
on the client before any process group exists (:func:`plan_rank_gpus`).

Inside a rank the teardown order matters: the function's DDP module and
optimizer are dropped, :func:`gc.collect` runs, all ranks meet in a
:func:`~torch.distributed.barrier`, and only then is the process group
destroyed; destroying it while a DDP module is alive can deadlock the worker.

What the run opens on the network (see :func:`run_ddp`): on a local cluster
(every worker on a loopback address) the ranks meet through a file
rendezvous in a fresh private temporary directory, so nothing listens for the
rendezvous; otherwise rank 0 holds a :class:`~torch.distributed.TCPStore`
bound to the address its Dask worker announces (not to every interface).
Each rank pins gloo's (and NCCL's bootstrap) sockets to the interface of its
own worker address through ``GLOO_SOCKET_IFNAME``/``NCCL_SOCKET_IFNAME``
unless these are set already.
"""
import contextlib
import gc
import ipaddress
import logging
import os
import shutil
import socket
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.distributed.placement import (  # noqa: F401 (gpu_probe, plan_rank_gpus: API)
    gpu_probe,
    local_device_index,
    plan_rank_gpus,
    visible_devices,
)

logger = logging.getLogger(__name__)


class DDPRunError(RuntimeError):
    r"""A DDP run failed: a rank raised, its worker died, or a wait timed out."""


@dataclass
class RankContext:
    r"""What a rank function learns about its place in the run.

    Args:
        rank (int): global rank.
        world_size (int): number of ranks.
        local_rank (int): rank among the workers on the same host.
        backend (str): ``"gloo"`` or ``"nccl"``.
        device (torch.device): the device this rank trains on.
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device


def default_backend(gpu: bool) -> str:
    r"""``"nccl"`` for GPU runs, ``"gloo"`` on CPU."""
    return "nccl" if gpu else "gloo"


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    r"""Return a TCP port that is free on ``host`` right now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_loopback(host: str) -> bool:
    r"""``True`` when ``host`` is a loopback address (``127.0.0.0/8``,
    ``::1``) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def interface_of(host: str) -> Optional[str]:
    r"""Name of the network interface that holds address ``host`` (e.g.
    ``"lo"`` for ``127.0.0.1``), or ``None`` when no local interface has it."""
    psutil = require("psutil", "dask", "Finding the interface of a DDP rank")  # distributed needs it too

    if host == "localhost":
        host = "127.0.0.1"
    for name, entries in psutil.net_if_addrs().items():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6) and entry.address.split("%", 1)[0] == host:
                return name
    return None


#: Environment variables that pin the backends' own sockets to one interface.
_IFNAME_VARS = {"gloo": ("GLOO_SOCKET_IFNAME",), "nccl": ("NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME")}


@contextlib.contextmanager
def env_defaults(values: Dict[str, str]) -> Iterator[Dict[str, str]]:
    r"""Set the variables of ``values`` that are not set yet for the
    duration of the block (an explicit choice wins) and restore them on
    exit. Yields what was set.

    Args:
        values (dict): variable name to value.
    """
    chosen = {k: v for k, v in values.items() if not os.environ.get(k)}
    os.environ.update(chosen)
    try:
        yield chosen
    finally:
        for key in chosen:
            os.environ.pop(key, None)


@contextlib.contextmanager
def pinned_interface(host: str, backend: str) -> Iterator[Dict[str, str]]:
    r"""Set ``GLOO_SOCKET_IFNAME`` (and ``NCCL_SOCKET_IFNAME`` for
    ``nccl``) to the interface holding ``host`` for the duration of the
    block, so the backend's sockets bind there and not to the interface
    the machine's hostname resolves to. Variables already set are kept (an
    explicit choice wins); the others are restored on exit. Yields what was
    set."""
    name = interface_of(host)
    if name is None:
        logger.warning("no local interface holds %s; %s sockets bind where the hostname resolves "
                       "(set GLOO_SOCKET_IFNAME/NCCL_SOCKET_IFNAME to pin them)", host, backend)
    with env_defaults({} if name is None else {k: name for k in _IFNAME_VARS.get(backend, ())}) as chosen:
        yield chosen


#: Process-group timeout (seconds) by backend when none is given. gloo sees a
#: dead peer's socket close and fails at once, so its timeout only bounds a
#: hung peer; NCCL does not see a dead peer at all, so survivors wait the
#: whole timeout: shorter, but still above the skew of the ranks' data loading
#: before their first collective (DDP's constructor).
COLLECTIVE_TIMEOUTS: Dict[str, float] = {"gloo": 600.0, "nccl": 300.0}

#: Set in an NCCL rank unless already set: when a collective times out,
#: torch's watchdog ends the rank's process (its Dask nanny restarts the
#: worker) instead of leaving it blocked; ``3`` is torch's own default since
#: 2.2, set explicitly so older torch behaves the same. ``0`` (no handling)
#: would leave the survivors of a dead peer blocked forever.
NCCL_ENV: Dict[str, str] = {"TORCH_NCCL_ASYNC_ERROR_HANDLING": "3"}


def default_collective_timeout(backend: str) -> float:
    r"""The process-group timeout used when none is given:
    :data:`COLLECTIVE_TIMEOUTS` (600 s for gloo, 300 s for NCCL).

    Args:
        backend (str): ``"gloo"``, ``"nccl"`` or ``"mpi"``.
    """
    return COLLECTIVE_TIMEOUTS.get(backend, COLLECTIVE_TIMEOUTS["gloo"])


def _split_init_method(init_method: str) -> Tuple[str, int]:
    # "tcp://127.0.0.1:40123" -> ("127.0.0.1", 40123); "tcp://[::1]:4" -> ("::1", 4)
    hostport = init_method.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port)


def _init_process_group(init_method: str, backend: str, rank: int, world_size: int, timeout: timedelta) -> None:
    r"""``init_process_group`` through ``init_method``; for ``tcp://`` rank 0
    serves the store on a socket bound to that address only (torch's own
    store server would listen on every interface)."""
    import torch.distributed as dist

    if not init_method.startswith("tcp://"):
        dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size,
                                timeout=timeout)
        return
    host, port = _split_init_method(init_method)
    fd = None
    if rank == 0:
        sock = socket.socket(_family(host), socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(max(128, world_size))
        except BaseException:
            sock.close()
            raise
        fd = sock.detach()
    store = dist.TCPStore(host, port, world_size, rank == 0, timeout=timeout, wait_for_workers=False,
                          master_listen_fd=fd)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world_size, timeout=timeout)


def _host_of(address: str) -> str:
    # "tcp://127.0.0.1:40123" -> "127.0.0.1"; "tcp://[::1]:4" -> "::1"
    hostport = address.split("://", 1)[-1]
    host = hostport.rsplit(":", 1)[0]
    return host.strip("[]")


def _rank_device(backend: str, local_rank: int, index: Optional[int] = None) -> torch.device:
    r"""The device of a rank: the CPU for gloo; for NCCL CUDA device
    ``index`` (from :func:`plan_rank_gpus`), else the one
    :func:`local_device_index` picks from this worker's own view, made the
    current device."""
    if backend != "nccl":
        return torch.device("cpu")
    count = torch.cuda.device_count()
    if count == 0:
        raise RuntimeError("backend 'nccl' needs a CUDA device on every worker; use gloo on CPU (no -g).")
    if index is None:
        visible = visible_devices()
        index = local_device_index(local_rank, count, visible, own_view=visible is not None)
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def teardown_process_group(ok: bool = True, device: Optional[torch.device] = None) -> None:
    r"""Leave the process group safely.

    Call it after the caller has dropped every reference to its DDP module
    and optimizer. Runs :func:`gc.collect`, then (when ``ok``, i.e. all ranks
    are alive) a barrier, then :func:`~torch.distributed.destroy_process_group`.
    """
    import torch.distributed as dist

    gc.collect()
    if not dist.is_initialized():
        return
    try:
        if ok:
            if device is not None and device.type == "cuda":  # pragma: no cover - GPU
                dist.barrier(device_ids=[device.index])
            else:
                dist.barrier()
    finally:
        dist.destroy_process_group()


def _rank_main(
    fn: Callable[..., Any],
    rank: int,
    world_size: int,
    local_rank: int,
    init_method: str,
    backend: str,
    timeout_s: float,
    num_threads: Optional[int],
    args: Sequence[Any],
    kwargs: dict,
    host: Optional[str] = None,
    gpu_index: Optional[int] = None,
) -> Any:
    # Runs inside a Dask worker: one rank of the DDP job.
    body = (fn, rank, world_size, local_rank, init_method, backend, timeout_s, num_threads, args, kwargs, gpu_index)
    with env_defaults(NCCL_ENV if backend == "nccl" else {}):
        if backend == "nccl" and os.environ.get("TORCH_NCCL_ASYNC_ERROR_HANDLING") == "0":
            logger.warning("TORCH_NCCL_ASYNC_ERROR_HANDLING=0: a rank whose peer died stays blocked in its "
                           "collective; unset it to end such a rank after the collective timeout")
        if host is None:
            return _rank_body(*body)
        with pinned_interface(host, backend):  # gloo/NCCL sockets on this worker's own interface
            return _rank_body(*body)


def _rank_body(fn, rank, world_size, local_rank, init_method, backend, timeout_s, num_threads, args, kwargs,
               gpu_index=None):
    import torch.distributed as dist

    if num_threads:
        torch.set_num_threads(int(num_threads))
    if dist.is_initialized():  # left over from a crashed run on this worker
        dist.destroy_process_group()
    device = _rank_device(backend, local_rank, gpu_index)
    _init_process_group(init_method, backend, rank, world_size, timedelta(seconds=timeout_s))
    ctx = RankContext(rank, world_size, local_rank, backend, device)
    try:
        result = fn(ctx, *args, **kwargs)
    except BaseException as exc:
        # Keep no frame (and so no DDP module) alive, and send text only:
        # the traceback of a rank is not always picklable.
        text = "".join(traceback.format_exception(exc))
        summary = f"{type(exc).__name__}: {exc}"
        traceback.clear_frames(exc.__traceback__)
        del exc
        try:
            teardown_process_group(ok=False, device=device)
        except Exception:  # pragma: no cover - best effort
            pass
        raise RuntimeError(f"rank {rank} raised {summary}\n{text}") from None
    teardown_process_group(ok=True, device=device)
    return result


def run_ddp(
    client: Any,
    fn: Callable[..., Any],
    *args: Any,
    n_workers: Optional[int] = None,
    workers: Optional[Sequence[str]] = None,
    backend: str = "gloo",
    timeout: float = 3600.0,
    collective_timeout: Optional[float] = None,
    num_threads: Optional[int] = 1,
    restart_on_failure: bool = False,
    poll_interval: float = 0.5,
    rendezvous: str = "auto",
    **kwargs: Any,
) -> List[Any]:
    r"""Run ``fn(ctx, *args, **kwargs)`` on every worker as one DDP rank.

    ``fn`` is pickled to the workers, so it must be importable there (a
    module-level function in an installed module or in a script guarded by
    ``if __name__ == "__main__"``). It receives a :class:`RankContext` and
    must return picklable CPU objects; it must not keep its DDP module or
    optimizer alive after returning.

    Args:
        client (distributed.Client): client of the cluster.
        fn (callable): the rank function.
        *args: positional arguments for ``fn`` (sent to every rank).
        n_workers (int, optional): number of ranks (waits until that many
            workers are connected); default all workers connected now.
        workers (list of str, optional): explicit worker addresses in rank
            order (default: :func:`~.cluster.worker_addresses`).
        backend (str): ``"gloo"`` (CPU) or ``"nccl"`` (GPU).
        timeout (float): seconds the whole run may take.
        collective_timeout (float, optional): process-group timeout in
            seconds (a rank waiting for a dead peer fails after at most this
            long); default :func:`default_collective_timeout` (600 s for
            gloo, 300 s for NCCL). Under gloo a rank whose peer's process
            died fails at once (the peer's sockets close); NCCL does not
            notice, so its survivors wait this long, then torch's watchdog
            ends their worker processes (see :data:`NCCL_ENV`) and the
            nannies restart them.
        num_threads (int, optional): ``torch.set_num_threads`` per rank.
        restart_on_failure (bool): after a failure, also restart the rank
            workers still alive (through their nannies). Off by default: a
            surviving rank leaves its collective by itself, at once when gloo
            sees the peer's socket close and at the latest after
            ``collective_timeout``; a dead worker is restarted by its nanny.
        poll_interval (float): seconds between liveness checks.
        rendezvous (str): how the ranks meet. ``"file"``: a file in a fresh
            private temporary directory (mode ``0700``, removed after the
            run), so nothing listens; needs all workers on this machine.
            ``"tcp"``: a :class:`~torch.distributed.TCPStore` served by rank
            0 on the address its worker announces (that interface only).
            ``"auto"`` (default): ``"file"`` when every worker address is a
            loopback address, else ``"tcp"``. In both cases each rank pins
            gloo's (and NCCL's bootstrap) sockets to the interface of its
            own worker address unless ``GLOO_SOCKET_IFNAME`` /
            ``NCCL_SOCKET_IFNAME`` are set.
        **kwargs: keyword arguments for ``fn``.

    With ``backend="nccl"`` every worker is asked first what it sees of the
    GPUs (:func:`gpu_probe`), and each rank gets its device from
    :func:`plan_rank_gpus`: ``cuda:0`` on a worker with its own
    ``CUDA_VISIBLE_DEVICES`` (dask-cuda), ``cuda:<local_rank % count>`` on
    workers sharing one view of the node's GPUs; two ranks on one GPU fail
    here, before any process group exists.

    Returns:
        The ranks' return values, in rank order.

    Raises:
        DDPRunError: a rank raised, its worker died, ``timeout`` passed, or
            (NCCL) a worker sees no GPU or two ranks would share one.
    """
    from torch_geometric_temporal.distributed.cluster import scheduler_workers, worker_addresses

    require("distributed", "dask", "Dask-launched DDP")

    if backend not in ("gloo", "nccl", "mpi"):
        raise ValueError(f"unknown backend {backend!r}; use 'gloo' on CPU or 'nccl' on GPU.")
    if collective_timeout is None:
        collective_timeout = default_collective_timeout(backend)
    if not collective_timeout > 0:
        raise ValueError(f"collective_timeout must be > 0 seconds, got {collective_timeout}.")
    if workers is None and n_workers is not None:
        wait_s = min(timeout, 300.0)
        try:
            client.wait_for_workers(n_workers, timeout=wait_s)
        except (TimeoutError, OSError) as exc:
            have = len(scheduler_workers(client))
            raise DDPRunError(
                f"{n_workers} ranks were asked for but only {have} Dask workers connected within {wait_s:.0f} s; "
                f"start one worker per rank or lower -np."
            ) from exc
    addrs = list(workers) if workers is not None else worker_addresses(client, n_workers)
    if n_workers is not None and len(addrs) != n_workers:
        raise ValueError(f"got {len(addrs)} worker addresses for n_workers={n_workers}.")
    world_size = len(addrs)
    if world_size == 0:
        raise DDPRunError("no Dask workers are connected; start workers or a LocalCluster first.")

    hosts = [_host_of(addr) for addr in addrs]
    if rendezvous not in ("auto", "file", "tcp"):
        raise ValueError(f"unknown rendezvous {rendezvous!r}; use 'auto', 'file' or 'tcp'.")
    if rendezvous == "file" or (rendezvous == "auto" and all(is_loopback(h) for h in hosts)):
        # all ranks on this machine: meet through a file in a private directory, nothing listens
        rendezvous_dir = tempfile.mkdtemp(prefix="pgt-ddp-")  # mode 0700
        init_method = "file://" + os.path.join(rendezvous_dir, "rendezvous")
    else:
        rendezvous_dir = None
        master = hosts[0]  # the store listens on the address rank 0's worker announces, only there
        port = client.submit(free_port, master, workers=[addrs[0]], pure=False).result(timeout=min(timeout, 60.0))
        init_method = f"tcp://{master}:{port}" if ":" not in master else f"tcp://[{master}]:{port}"
    run_id = uuid.uuid4().hex[:8]
    logger.info("DDP run %s: %d ranks, backend %s, rendezvous %s", run_id, world_size, backend, init_method)
    try:
        return _run_ranks(client, fn, args, kwargs, addrs, hosts, init_method, backend, timeout,
                          collective_timeout, num_threads, restart_on_failure, poll_interval, run_id)
    finally:
        if rendezvous_dir is not None:
            shutil.rmtree(rendezvous_dir, ignore_errors=True)


def _run_ranks(client: Any, fn: Callable[..., Any], args: Sequence[Any], kwargs: dict, addrs: List[str],
               hosts: List[str], init_method: str, backend: str, timeout: float, collective_timeout: float,
               num_threads: Optional[int], restart_on_failure: bool, poll_interval: float,
               run_id: str) -> List[Any]:
    wait = require("distributed", "dask", "Dask-launched DDP").wait

    from torch_geometric_temporal.distributed.cluster import scheduler_workers

    world_size = len(addrs)
    local_ranks, seen = [], {}
    for host in hosts:
        local_ranks.append(seen.get(host, 0))
        seen[host] = seen.get(host, 0) + 1
    gpus: List[Optional[int]] = [None] * world_size
    if backend == "nccl":
        probes = [client.submit(gpu_probe, workers=[addr], allow_other_workers=False, pure=False)
                  for addr in addrs]
        gpus = plan_rank_gpus([f.result(timeout=min(timeout, 120.0)) for f in probes], hosts, local_ranks, addrs)
        logger.info("DDP run %s: CUDA device of each rank (in its worker's view): %s", run_id, gpus)

    futures = [
        client.submit(
            _rank_main,
            fn,
            rank,
            world_size,
            local_ranks[rank],
            init_method,
            backend,
            collective_timeout,
            num_threads,
            args,
            kwargs,
            hosts[rank],
            gpus[rank],
            workers=[addr],
            allow_other_workers=False,
            pure=False,
            retries=0,
            key=f"ddp-rank{rank}-{run_id}",
        )
        for rank, addr in enumerate(addrs)
    ]

    def fail(message: str) -> None:
        try:
            client.cancel(futures, force=True)
        except Exception:  # pragma: no cover
            pass
        if restart_on_failure:
            # Restart the rank workers that are still alive (a rank may be blocked in a
            # collective); a dead worker is restarted by its nanny, so leave it alone.
            try:
                survivors = [a for a in addrs if a in scheduler_workers(client)]
                if survivors:
                    client.restart_workers(survivors, timeout=max(30.0, min(timeout, 120.0)),
                                           raise_for_error=False)
            except Exception as exc:  # pragma: no cover - best effort
                logger.warning("restarting the workers after a failed run failed: %s", exc)
        raise DDPRunError(message)

    deadline = time.monotonic() + timeout
    while True:
        pending = [f for f in futures if f.status == "pending"]
        if pending:
            try:
                wait(pending, timeout=poll_interval, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
        for rank, future in enumerate(futures):
            if future.status == "error":
                exc = future.exception(timeout=10)
                fail(f"DDP rank {rank} on worker {addrs[rank]} failed: {type(exc).__name__}: {exc}")
            if future.status in ("cancelled", "lost"):
                fail(f"DDP rank {rank} on worker {addrs[rank]} was {future.status} (worker lost or restarted).")
        if all(f.status == "finished" for f in futures):
            break
        alive = set(scheduler_workers(client))
        for rank, addr in enumerate(addrs):
            if addr not in alive and futures[rank].status != "finished":
                fail(f"DDP rank {rank}: its Dask worker {addr} died (process killed or lost).")
        if time.monotonic() > deadline:
            fail(f"DDP run timed out after {timeout:.0f} s; increase the timeout or check the workers' logs.")
    return [future.result(timeout=max(10.0, deadline - time.monotonic())) for future in futures]
