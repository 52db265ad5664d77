r"""Resident memory (RSS) of processes: one definition for the training
monitor, the DDP ranks' figures and the benchmarks.

:func:`rss_mb` is the current RSS (this process, or the sum over a list of
processes, e.g. the Dask workers of a node); :func:`peak_rss_mb` the kernel's
high-water mark of this process (``VmHWM``), which :func:`reset_peak_rss`
resets so that one phase can be measured on its own.
"""
import os
import resource
from typing import Callable, Iterable, Optional, Sequence, Union

from torch_geometric_temporal._optional import require

__all__ = ["MB", "PidSource", "peak_rss_mb", "reset_peak_rss", "rss_mb"]

#: Bytes per MB (MiB) in every memory figure of the package.
MB = float(2 ** 20)

#: Processes to sum: ``None`` (this process), a list of pids, or a callable
#: returning one (re-evaluated at each call, as workers come and go).
PidSource = Union[None, Sequence[int], Callable[[], Iterable[int]]]


def rss_mb(pids: PidSource = None) -> float:
    r"""Current resident memory in MB of this process, or the sum over
    :obj:`pids` (processes that are gone or not readable are skipped).
    Needs psutil (extra ``[monitor]``).

    Args:
        pids (list of int or callable, optional): the processes; ``None``
            for this one.
    """
    psutil = require("psutil", "monitor", "Memory figures (RSS)")
    if pids is None:
        return psutil.Process(os.getpid()).memory_info().rss / MB
    total = 0
    for pid in (pids() if callable(pids) else pids):
        try:
            total += psutil.Process(int(pid)).memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / MB


def reset_peak_rss() -> bool:
    r"""Reset this process's peak-RSS mark (``VmHWM``, via
    ``/proc/self/clear_refs``); ``False`` where that is not possible (not
    Linux, or not permitted), and :func:`peak_rss_mb` then stays the peak
    since the start."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    r"""Peak resident memory in MB of this process since its start or the
    last :func:`reset_peak_rss`: ``VmHWM`` from ``/proc/self/status``, else
    ``ru_maxrss`` (KiB on Linux)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / MB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB
