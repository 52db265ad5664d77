r"""A background thread sampling process and system memory (psutil) and the
memory of the run's GPU (NVML) about once per second, plus the peak memory
PyTorch's CUDA allocator held for this process.

GPU figures come only for a CUDA training device, and for that device: the
NVML handle is looked up by the device's UUID (NVML numbers the GPUs of the
machine and ignores ``CUDA_VISIBLE_DEVICES``, so its index 0 need not be
``cuda:0``)."""
import logging
import threading
import time
from typing import Callable, Dict, List, Optional, Union

import torch

from torch_geometric_temporal._memory import MB as _MB
from torch_geometric_temporal._memory import PidSource, rss_mb
from torch_geometric_temporal._optional import require
from torch_geometric_temporal.train.stats import SYSTEM_COLUMNS, CSVAppender

__all__ = ["SystemMonitor", "sample_memory", "nvml_uuid", "cuda_memory_peaks"]

log = logging.getLogger(__name__)

def _cuda(device) -> Optional[torch.device]:
    r"""``device`` as a :class:`torch.device` when it is a CUDA device (index
    filled in), else ``None``."""
    if device is None:
        return None
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return device if device.index is not None else torch.device("cuda", torch.cuda.current_device())


def nvml_uuid(device) -> str:
    r"""The NVML UUID (``GPU-...``, or ``MIG-...`` for a MIG instance) of the
    CUDA device :obj:`device`, from
    :func:`torch.cuda.get_device_properties` (which honours
    ``CUDA_VISIBLE_DEVICES``)."""
    uuid = str(torch.cuda.get_device_properties(device).uuid)
    return uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"


def cuda_memory_peaks(device) -> Dict[str, Optional[float]]:
    r"""``gpu_max_allocated_mb`` / ``gpu_max_reserved_mb``: the peak memory
    of this process's tensors on :obj:`device` and the peak its caching
    allocator reserved (:func:`torch.cuda.max_memory_allocated` /
    :func:`torch.cuda.max_memory_reserved`, MB); ``None`` for a CPU device."""
    device = _cuda(device)
    if device is None:
        return {"gpu_max_allocated_mb": None, "gpu_max_reserved_mb": None}
    return {"gpu_max_allocated_mb": round(torch.cuda.max_memory_allocated(device) / _MB, 3),
            "gpu_max_reserved_mb": round(torch.cuda.max_memory_reserved(device) / _MB, 3)}


class _GPU:
    r"""NVML handle of one CUDA device (found by its UUID), or nothing when
    NVML is unusable."""

    def __init__(self, device: torch.device):
        self.handle = None
        self._nvml = None
        self.uuid: Optional[str] = None
        try:
            self.uuid = nvml_uuid(device)
            pynvml = require("pynvml", "monitor", "GPU memory columns")

            pynvml.nvmlInit()
            self._nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByUUID(self.uuid)
        except Exception as exc:  # no driver, no device, no package: no GPU columns
            log.debug("NVML unavailable for %s (%s); GPU memory columns stay empty", device, exc)
            self.close()

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


def sample_memory(pids: PidSource = None, gpu: Optional[_GPU] = None) -> Dict[str, object]:
    r"""One sample as a ``system_stats.csv`` row (memory in MB).

    Args:
        pids (list of int or callable, optional): processes whose RSS is
            summed (e.g. the Dask workers of a node); ``None`` for this
            process.
        gpu: the NVML handle of the run's GPU; ``None`` leaves the GPU
            columns empty.
    """
    psutil = require("psutil", "monitor", "The memory monitor")

    vm = psutil.virtual_memory()
    gpu_used, gpu_total = gpu.memory() if gpu is not None else (None, None)
    return {
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S"),
        "process_rss_mb": round(rss_mb(pids), 3),
        "system_memory_used_mb": round((vm.total - vm.available) / _MB, 3),
        "system_memory_total_mb": round(vm.total / _MB, 3),
        "gpu_memory_used_mb": None if gpu_used is None else round(gpu_used, 3),
        "gpu_memory_total_mb": None if gpu_total is None else round(gpu_total, 3),
    }


class SystemMonitor:
    r"""Samples memory once per ``interval`` seconds in a daemon thread.

    Each sample is appended (whole row, flushed) to ``path`` when given, and
    the peaks are kept for ``stats.csv``. The GPU columns are filled only
    when :obj:`device` is a CUDA device and NVML can see it (the NVML
    handle is looked up by that device's UUID): ``gpu_memory_used_mb`` is
    NVML's device-wide used memory (every process on that GPU, sampled once
    per ``interval``, so short peaks may be missed). :meth:`peaks` adds
    this process's exact peaks from PyTorch's allocator
    (:func:`cuda_memory_peaks`, reset when the monitor starts). A CPU run,
    or ``device=None``, leaves every GPU column empty.

    Use as a context manager or with :meth:`start` / :meth:`stop`.

    Args:
        path (str, optional): ``system_stats.csv`` to append to.
        interval (float): seconds between samples. (default: ``1.0``)
        pids (list of int or callable, optional): processes whose RSS is
            summed into ``process_rss_mb``; a callable is re-evaluated at each
            sample. ``None`` for the current process.
        device (torch.device, optional): the device the run trains on; GPU
            columns only for a CUDA device (``cuda`` means the current
            one). (default: ``None``, no GPU columns)
        write_when (callable, optional): ``write_when() -> bool``, asked at
            each sample; until it returns ``True`` the samples are kept in
            memory and :obj:`path` is not touched, then they are appended
            to it, and so are later samples (a run that fails to start
            writes nothing). ``None`` appends to :obj:`path` from the start.
    """

    def __init__(self, path: Optional[str] = None, interval: float = 1.0, pids: PidSource = None,
                 device: Union[None, str, torch.device] = None, write_when: Optional[Callable[[], bool]] = None):
        if interval <= 0:
            raise ValueError(f"SystemMonitor: interval must be > 0 seconds, got {interval}.")
        self.path = path
        self.interval = float(interval)
        self.pids = pids
        self.device = None if device is None else torch.device(device)
        self.write_when = write_when
        self._pending: List[Dict[str, object]] = []
        self._write_lock = threading.Lock()
        self.samples = 0
        self.peak_process_rss_mb: Optional[float] = None
        self.peak_system_memory_mb: Optional[float] = None
        self.system_memory_total_mb: Optional[float] = None
        self.peak_gpu_memory_mb: Optional[float] = None
        self.gpu_memory_total_mb: Optional[float] = None
        self.allocator_peaks: Dict[str, Optional[float]] = cuda_memory_peaks(None)
        #: the UUID of the monitored GPU once started (``None``: a CPU run, or unknown)
        self.gpu_uuid: Optional[str] = None
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
        cuda = _cuda(self.device)
        if cuda is not None:
            if torch.cuda.is_initialized():  # else nothing was allocated yet (and resetting would raise)
                torch.cuda.reset_peak_memory_stats(cuda)
            self._gpu = _GPU(cuda)
            self.gpu_uuid = self._gpu.uuid
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
        self.allocator_peaks = cuda_memory_peaks(self.device)

    def __enter__(self) -> "SystemMonitor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def peaks(self) -> Dict[str, Optional[float]]:
        r"""Peak values for ``stats.csv`` (MB; ``None`` when unknown): the
        sampled ones, and PyTorch's allocator peaks read when the monitor
        stopped."""
        with self._lock:
            return {
                "system_memory_total_mb": self.system_memory_total_mb,
                "system_memory_peak_mb": self.peak_system_memory_mb,
                "process_rss_peak_mb": self.peak_process_rss_mb,
                "gpu_memory_total_mb": self.gpu_memory_total_mb,
                "gpu_memory_peak_mb": self.peak_gpu_memory_mb,
                **self.allocator_peaks,
            }
