r"""Resident memory (RSS) of processes: one definition for the training
monitor, the DDP ranks' figures and the benchmarks.

:func:`rss_mb` is the current RSS (this process, or the sum over a list of
processes, e.g. the Dask workers of a node); :func:`peak_rss_mb` the kernel's
high-water mark of this process (``VmHWM``), which :func:`reset_peak_rss`
resets so that one phase can be measured on its own.
"""
import ctypes
import ctypes.util
import logging
import os
import resource
from typing import Callable, Iterable, Optional, Sequence, Union

from torch_geometric_temporal._optional import require

__all__ = ["MB", "PidSource", "peak_rss_mb", "reset_peak_rss", "rss_mb", "return_freed_memory"]

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameter number of ``M_MMAP_THRESHOLD``.
_M_MMAP_THRESHOLD = -3

#: Allocations of at least this many bytes get their own ``mmap`` (glibc's
#: initial value, kept fixed; see :func:`return_freed_memory`).
MMAP_THRESHOLD = 128 * 1024

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


def return_freed_memory(threshold: int = MMAP_THRESHOLD) -> bool:
    r"""Make glibc give freed tensor memory back to the system at once, by
    fixing its ``mmap`` threshold (``mallopt(M_MMAP_THRESHOLD, threshold)``):
    every allocation of :obj:`threshold` bytes or more then gets its own
    ``mmap`` and is unmapped when freed.

    glibc raises the threshold after the first large ``free`` (up to 32 MiB
    on 64-bit), so the many per-step tensors that a training step allocates
    and frees (activation recomputation frees each step's activations right
    after its backward) land on the heap, where freed chunks fragment and stay
    resident. Measured with ``benchmarks/bench_recompute.py`` (DCRNN recipe,
    PeMS-BAY size): recompute-on peak RSS per sample 49.8 MB with glibc's
    default against 6.4 MB with the threshold fixed at 128 KiB, at the same
    step time (``docs/benchmarks.md``). CUDA memory is not affected.

    A no-op (returns ``False``) off glibc, or when the user set
    ``MALLOC_MMAP_THRESHOLD_`` in the environment (their choice wins).

    Args:
        threshold (int): the fixed threshold in bytes. (default: 128 KiB)
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    if done:
        log.debug("glibc mmap threshold fixed at %d bytes", threshold)
    return done
