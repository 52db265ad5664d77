r"""A background thread sampling process and system memory (psutil) and GPU
memory (NVML) about once per second."""
import logging
import os
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

from torch_geometric_temporal._optional import require
from torch_geometric_temporal.train.stats import SYSTEM_COLUMNS, CSVAppender

__all__ = ["SystemMonitor", "sample_memory"]

log = logging.getLogger(__name__)

_MB = 1024.0 ** 2

PidSource = Union[None, Sequence[int], Callable[[], Iterable[int]]]


class _GPU:
    r"""NVML handle for one device, or nothing when NVML is unusable."""

    def __init__(self, index: int = 0):
        self.handle = None
        self._nvml = None
        try:
            pynvml = require("pynvml", "monitor", "GPU memory columns")

            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = pynvml
        except Exception as exc:  # no driver, no device, no package: no GPU columns
            log.debug("NVML unavailable (%s); GPU memory columns stay empty", exc)
            self.handle = None

    def memory(self):
        if self.handle is None:
            return None, None
        try:
            info = self._nvml.nvmlDeviceGetMemoryInfo(self.handle)
            return info.used / _MB, info.total / _MB
        except Exception:  # pragma: no cover - driver hiccup
            return None, None

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # pragma: no cover
                pass
            self._nvml = None
            self.handle = None


def _rss_mb(pids: PidSource) -> float:
    psutil = require("psutil", "monitor", "The memory monitor")

    if pids is None:
        return psutil.Process(os.getpid()).memory_info().rss / _MB
    ids = pids() if callable(pids) else pids
    total = 0
    for pid in ids:
        try:
            total += psutil.Process(int(pid)).memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / _MB


def sample_memory(pids: PidSource = None, gpu: Optional[_GPU] = None) -> Dict[str, object]:
    r"""One sample as a ``system_stats.csv`` row (memory in MB).

    Args:
        pids (list of int or callable, optional): processes whose RSS is
            summed (e.g. the Dask workers of a node); ``None`` for this
            process.
        gpu: an NVML handle wrapper; ``None`` leaves GPU columns empty.
    """
    psutil = require("psutil", "monitor", "The memory monitor")

    vm = psutil.virtual_memory()
    gpu_used, gpu_total = gpu.memory() if gpu is not None else (None, None)
    return {
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S"),
        "process_rss_mb": round(_rss_mb(pids), 3),
        "system_memory_used_mb": round((vm.total - vm.available) / _MB, 3),
        "system_memory_total_mb": round(vm.total / _MB, 3),
        "gpu_memory_used_mb": None if gpu_used is None else round(gpu_used, 3),
        "gpu_memory_total_mb": None if gpu_total is None else round(gpu_total, 3),
    }


class SystemMonitor:
    r"""Samples memory once per ``interval`` seconds in a daemon thread.

    Each sample is appended (whole row, flushed) to ``path`` when given, and
    the peaks are kept for ``stats.csv``. Without a usable GPU (no driver:
    ``pynvml.nvmlInit`` raises) the GPU columns are empty.

    Use as a context manager or with :meth:`start` / :meth:`stop`.

    Args:
        path (str, optional): ``system_stats.csv`` to append to.
        interval (float): seconds between samples. (default: ``1.0``)
        pids (list of int or callable, optional): processes whose RSS is
            summed into ``process_rss_mb``; a callable is re-evaluated at each
            sample. ``None`` for the current process.
        gpu_index (int): NVML device index. (default: ``0``)
        write_when (callable, optional): ``write_when() -> bool``, asked at
            each sample; until it returns ``True`` the samples are kept in
            memory and :obj:`path` is not touched, then they are appended
            to it, and so are later samples (a run that fails to start
            writes nothing). ``None`` appends to :obj:`path` from the start.
    """

    def __init__(self, path: Optional[str] = None, interval: float = 1.0, pids: PidSource = None,
                 gpu_index: int = 0, write_when: Optional[Callable[[], bool]] = None):
        if interval <= 0:
            raise ValueError(f"SystemMonitor: interval must be > 0 seconds, got {interval}.")
        self.path = path
        self.interval = float(interval)
        self.pids = pids
        self.gpu_index = gpu_index
        self.write_when = write_when
        self._pending: List[Dict[str, object]] = []
        self._write_lock = threading.Lock()
        self.samples = 0
        self.peak_process_rss_mb: Optional[float] = None
        self.peak_system_memory_mb: Optional[float] = None
        self.system_memory_total_mb: Optional[float] = None
        self.peak_gpu_memory_mb: Optional[float] = None
        self.gpu_memory_total_mb: Optional[float] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._writer: Optional[CSVAppender] = None
        self._gpu: Optional[_GPU] = None
        #: seconds :meth:`stop` waits for the thread (``None``: ``max(5, 5 * interval)``)
        self.join_timeout: Optional[float] = None

    def _record(self, row: Dict[str, object]) -> None:
        def peak(old, new):
            if new is None:
                return old
            return new if old is None else max(old, new)

        with self._lock:
            self.samples += 1
            self.peak_process_rss_mb = peak(self.peak_process_rss_mb, row["process_rss_mb"])
            self.peak_system_memory_mb = peak(self.peak_system_memory_mb, row["system_memory_used_mb"])
            self.system_memory_total_mb = row["system_memory_total_mb"]
            self.peak_gpu_memory_mb = peak(self.peak_gpu_memory_mb, row["gpu_memory_used_mb"])
            if row["gpu_memory_total_mb"] is not None:
                self.gpu_memory_total_mb = row["gpu_memory_total_mb"]
        with self._write_lock:
            if self._writer is None and self.path is not None and self.write_when is not None:
                self._pending.append(row)
                if self.write_when():
                    self._writer = CSVAppender(self.path, SYSTEM_COLUMNS, fsync=False)
                    rows, self._pending = self._pending, []
                    for pending in rows:
                        self._writer.append(pending)
            elif self._writer is not None:
                self._writer.append(row)

    def sample(self) -> Dict[str, object]:
        r"""Take one sample now (also used by the thread)."""
        row = sample_memory(self.pids, self._gpu)
        self._record(row)
        return row

    def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception as exc:  # keep training alive whatever happens here
                log.warning("SystemMonitor sample failed: %s", exc)
            if self._stop.wait(self.interval):
                break

    def start(self) -> "SystemMonitor":
        if self._thread is not None:
            return self
        if self.path is not None and self.write_when is None:
            self._writer = CSVAppender(self.path, SYSTEM_COLUMNS, fsync=False)
        self._gpu = _GPU(self.gpu_index)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="SystemMonitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        timeout = self.join_timeout if self.join_timeout is not None else max(5.0, 5.0 * self.interval)
        self._thread.join(timeout)
        if self._thread.is_alive():  # a sample stuck in psutil/NVML: leave the daemon thread behind
            log.warning("SystemMonitor thread did not stop within %.1f s; leaving it behind.", timeout)
        self._thread = None
        try:
            self.sample()  # a final sample, so short runs still have peaks
        except Exception as exc:  # pragma: no cover
            log.warning("SystemMonitor final sample failed: %s", exc)
        if self._gpu is not None:
            self._gpu.close()
            self._gpu = None

    def __enter__(self) -> "SystemMonitor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def peaks(self) -> Dict[str, Optional[float]]:
        r"""Peak values for ``stats.csv`` (MB; ``None`` when unknown)."""
        with self._lock:
            return {
                "system_memory_total_mb": self.system_memory_total_mb,
                "system_memory_peak_mb": self.peak_system_memory_mb,
                "process_rss_peak_mb": self.peak_process_rss_mb,
                "gpu_memory_total_mb": self.gpu_memory_total_mb,
                "gpu_memory_peak_mb": self.peak_gpu_memory_mb,
            }
