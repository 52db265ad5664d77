r"""Which CUDA device each DDP rank uses.

dask-cuda gives its worker ``i`` a ``CUDA_VISIBLE_DEVICES`` rotated to start
at GPU ``i`` (``"i,i+1,...,0"``), so a device index means a different
physical GPU in each worker: a rank must pick its device from its worker's
own view. :func:`run_ddp <torch_geometric_temporal.distributed.ddp.run_ddp>`
asks every worker what it sees (:func:`gpu_probe`) and plans the ranks'
devices on the client (:func:`plan_rank_gpus`), before any process group
exists, so that two ranks on one GPU fail with a clear error instead of
NCCL's "Duplicate GPU detected".
"""
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch


def visible_devices() -> Optional[List[str]]:
    r"""Entries of ``CUDA_VISIBLE_DEVICES`` in this process (indices or
    UUIDs, in CUDA's order), or ``None`` when the variable is unset (every
    GPU of the machine is visible)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def local_device_index(local_rank: int, count: int, visible: Optional[List[str]], own_view: bool) -> int:
    r"""CUDA device index (in the worker's own view) of a rank.

    A worker with its own ``CUDA_VISIBLE_DEVICES`` (dask-cuda gives worker
    ``i`` the list rotated to start at GPU ``i``; a scheduler may give each
    task one GPU) uses its first visible device, ``cuda:0``. A worker that
    sees the same GPUs as the other workers on its host (plain ``dask
    worker`` without ``CUDA_VISIBLE_DEVICES``, or one list shared by all)
    uses ``local_rank % count``.

    Args:
        local_rank (int): rank among the workers on the same host.
        count (int): CUDA devices the worker sees.
        visible (list of str, optional): the worker's ``CUDA_VISIBLE_DEVICES``.
        own_view (bool): no other worker on the host has the same list.
    """
    if count < 1:
        raise ValueError("no CUDA device is visible")
    if visible is not None and own_view:
        return 0
    return local_rank % count


def gpu_probe() -> Dict[str, Any]:
    r"""What a worker sees of the GPUs: ``visible`` (:func:`visible_devices`),
    ``count`` (:func:`torch.cuda.device_count`) and ``ids``, one physical
    identity per visible device: the device's UUID, else its
    ``CUDA_VISIBLE_DEVICES`` entry, else its index."""
    visible = visible_devices()
    count = torch.cuda.device_count()
    ids = []
    for i in range(count):
        try:
            ids.append(str(torch.cuda.get_device_properties(i).uuid))
        except Exception:  # an old torch without .uuid, or a device that cannot be queried
            ids.append(visible[i] if visible is not None and i < len(visible) else str(i))
    return {"visible": visible, "count": count, "ids": ids}


def plan_rank_gpus(probes: Sequence[Dict[str, Any]], hosts: Sequence[str], local_ranks: Sequence[int],
                   workers: Optional[Sequence[str]] = None) -> List[int]:
    r"""The CUDA device index of every rank (see :func:`local_device_index`),
    checked before any process group exists: every worker sees a GPU, and
    no two ranks share one physical GPU (NCCL would fail later with
    "Duplicate GPU detected").

    Args:
        probes (list of dict): :func:`gpu_probe` of each rank's worker.
        hosts (list of str): host of each rank.
        local_ranks (list of int): rank among the workers on its host.
        workers (list of str, optional): worker addresses, for the messages.

    Raises:
        DDPRunError: a worker sees no GPU, or ranks share a GPU.
    """
    from torch_geometric_temporal.distributed.ddp import DDPRunError
    workers = list(workers) if workers is not None else [f"on {h}" for h in hosts]
    views: Dict[Tuple[str, Tuple[str, ...]], int] = {}
    for probe, host in zip(probes, hosts):
        if probe["visible"] is not None:
            key = (host, tuple(probe["visible"]))
            views[key] = views.get(key, 0) + 1
    indices, owners = [], {}
    for rank, (probe, host, local) in enumerate(zip(probes, hosts, local_ranks)):
        if probe["count"] < 1:
            raise DDPRunError(
                f"DDP rank {rank}: worker {workers[rank]} sees no CUDA device (CUDA_VISIBLE_DEVICES="
                f"{','.join(probe['visible']) if probe['visible'] is not None else 'unset'}); backend 'nccl' "
                f"needs one GPU per rank: start one dask-cuda worker per GPU, or drop -g to train on the CPU.")
        own = probe["visible"] is not None and views[(host, tuple(probe["visible"]))] == 1
        index = local_device_index(local, probe["count"], probe["visible"], own)
        indices.append(index)
        owners.setdefault((host, probe["ids"][index]), []).append(rank)
    shared = {gpu: ranks for gpu, ranks in owners.items() if len(ranks) > 1}
    if shared:
        text = "; ".join(f"ranks {', '.join(map(str, ranks))} on GPU {gpu} of {host}"
                         for (host, gpu), ranks in shared.items())
        raise DDPRunError(
            f"DDP ranks would share a GPU ({text}); NCCL needs one GPU per rank: start at most one worker per "
            f"GPU (dask-cuda workers, or plain workers without CUDA_VISIBLE_DEVICES, at most as many per node "
            f"as it has GPUs) or lower -np.")
    return indices
