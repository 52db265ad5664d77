r"""Start or connect to the Dask cluster whose workers become DDP ranks.

The layout follows PGT-I (`"PGT-I: Scaling Spatiotemporal GNNs with
Memory-Efficient Distributed Training" <https://arxiv.org/abs/2507.11683>`_):
one Dask worker per rank (per GPU), each with ``nthreads=1`` so that a rank
owns its worker process. On one machine a
:class:`distributed.LocalCluster` bound to ``127.0.0.1`` is started; on many
machines the workers are started with the Dask CLI and found through a
scheduler file on a shared filesystem.

Dask and ``distributed`` are imported inside the functions, so importing this
module is free.
"""
import contextlib
import logging
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from torch_geometric_temporal._optional import require

logger = logging.getLogger(__name__)

#: Dask settings every rank-hosting cluster needs. ``daemon: False`` lets a
#: rank start ``DataLoader(num_workers > 0)`` processes inside its worker;
#: ``allowed-failures: 0`` turns a dead rank into a :class:`KilledWorker`
#: error at once instead of re-running the rank elsewhere.
DASK_CONFIG: Dict[str, Any] = {
    "distributed.worker.daemon": False,
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.memory.target": False,
    "distributed.worker.memory.spill": False,
    "distributed.worker.memory.pause": False,
    "distributed.worker.memory.terminate": False,
}


def dask_config() -> "contextlib.AbstractContextManager":
    r"""Return a ``dask.config.set`` context with :data:`DASK_CONFIG`."""
    dask = require("dask", "dask", "Dask-launched DDP")

    return dask.config.set(DASK_CONFIG)


def start_cluster(
    n_workers: int,
    gpu: bool = False,
    threads_per_worker: int = 1,
    host: str = "127.0.0.1",
    memory_limit: Any = 0,
    timeout: float = 120.0,
    **kwargs: Any,
) -> Tuple[Any, Any]:
    r"""Start a local cluster with one single-threaded worker per rank.

    Args:
        n_workers (int): number of workers, i.e. DDP ranks on this node.
        gpu (bool): use :class:`dask_cuda.LocalCUDACluster` (one worker per
            visible GPU, needs the ``[gpu]`` extra) instead of
            :class:`distributed.LocalCluster`.
        threads_per_worker (int): threads per worker; keep ``1`` so a rank
            owns its worker.
        host (str): interface the scheduler and workers bind to.
        memory_limit: per-worker memory limit passed to Dask (``0``: none).
        timeout (float): seconds to wait for all workers to register.
        **kwargs: passed to the cluster class.

    Returns:
        ``(cluster, client)``; close both with :func:`close_cluster`.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}; pass the number of ranks (-np).")
    Client = require("distributed", "dask", "Dask-launched DDP").Client

    # no dashboard; the scheduler's HTTP endpoint on host, any free port
    scheduler_kwargs = {"dashboard_address": f"{host}:0", **kwargs.pop("scheduler_kwargs", {})}
    kwargs["scheduler_kwargs"] = scheduler_kwargs
    with dask_config():
        if gpu:
            dask_cuda = require("dask_cuda", "gpu", "gpu=True (one Dask-CUDA worker per GPU)")
            cluster = dask_cuda.LocalCUDACluster(  # pragma: no cover - needs a GPU
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                ip=host,
                dashboard_address=None,
                memory_limit=memory_limit,
                **kwargs,
            )
        else:
            LocalCluster = require("distributed", "dask", "Dask-launched DDP").LocalCluster

            cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                host=host,
                dashboard_address=None,
                memory_limit=memory_limit,
                **kwargs,
            )
        try:
            client = Client(cluster, timeout=timeout)
            client.wait_for_workers(n_workers, timeout=timeout)
        except BaseException:
            cluster.close()
            raise
    logger.info("started %s with %d workers", type(cluster).__name__, n_workers)
    return cluster, client


def connect_cluster(scheduler_file: str, n_workers: Optional[int] = None, timeout: float = 120.0) -> Any:
    r"""Connect to a cluster started with the Dask CLI.

    Args:
        scheduler_file (str): the JSON file written by
            ``dask scheduler --scheduler-file``.
        n_workers (int, optional): wait until this many workers are connected.
        timeout (float): seconds to wait for the file, the scheduler and the
            workers.
    """
    Client = require("distributed", "dask", "Dask-launched DDP").Client

    deadline = time.monotonic() + timeout
    while not os.path.exists(scheduler_file):
        if time.monotonic() > deadline:
            raise FileNotFoundError(
                f"scheduler file {scheduler_file!r} did not appear within {timeout:.0f} s; start "
                f"'dask scheduler --scheduler-file {scheduler_file}' on a filesystem all nodes share."
            )
        time.sleep(0.2)
    client = Client(scheduler_file=scheduler_file, timeout=timeout)
    if n_workers:
        try:
            client.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))
        except BaseException:
            client.close()
            raise
    return client


def scheduler_workers(client: Any, timeout: float = 60.0) -> Dict[str, Dict[str, Any]]:
    r"""``{address: info}`` of the workers the scheduler knows now.

    Asks the scheduler directly: ``client.scheduler_info()`` returns a cache
    that the client's periodic refresh may replace at any moment by a
    summary without per-worker entries, which would make live workers look
    gone. Raises :class:`TimeoutError` when the scheduler does not answer
    within ``timeout`` seconds.
    """
    info = client.sync(client.scheduler.identity, n_workers=-1, callback_timeout=timeout)
    return dict(info.get("workers", {}))


def worker_addresses(client: Any, n_workers: Optional[int] = None) -> List[str]:
    r"""Return the worker addresses in a stable rank order.

    Workers are sorted by host and then by name/address, so that ranks on the
    same node are contiguous (local rank = position on the host).
    """
    workers = scheduler_workers(client)
    if n_workers is not None and len(workers) < n_workers:
        raise RuntimeError(
            f"{len(workers)} Dask workers are connected but {n_workers} ranks were asked for; "
            f"start more workers (one per rank) or lower -np."
        )

    def key(item: Tuple[str, Dict[str, Any]]) -> Tuple[str, str, str]:
        addr, info = item
        return (info.get("host", ""), str(info.get("name", "")).zfill(8), addr)

    addrs = [addr for addr, _ in sorted(workers.items(), key=key)]
    return addrs[:n_workers] if n_workers is not None else addrs


def close_cluster(cluster: Any = None, client: Any = None, timeout: float = 30.0) -> None:
    r"""Close ``client`` and ``cluster``, never raising (teardown path)."""
    for obj in (client, cluster):
        if obj is None:
            continue
        try:
            obj.close(timeout=timeout)
        except Exception as exc:  # pragma: no cover - best effort
            logger.warning("closing %s failed: %s", type(obj).__name__, exc)


@contextlib.contextmanager
def cluster_client(
    n_workers: int,
    scheduler_file: Optional[str] = None,
    gpu: bool = False,
    timeout: float = 120.0,
    **kwargs: Any,
) -> Iterator[Any]:
    r"""Context manager yielding a client: connect to ``scheduler_file`` when
    given (``--dist``), else start a local cluster; always cleaned up.
    """
    cluster = client = None
    try:
        if scheduler_file:
            client = connect_cluster(scheduler_file, n_workers=n_workers, timeout=timeout)
        else:
            cluster, client = start_cluster(n_workers, gpu=gpu, timeout=timeout, **kwargs)
        yield client
    finally:
        close_cluster(cluster, client)
