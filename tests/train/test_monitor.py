import os
import sys
import time
import types

import torch

from torch_geometric_temporal.train.monitor import SystemMonitor, sample_memory
from torch_geometric_temporal.train.stats import SYSTEM_COLUMNS, read_csv


def test_monitor_writes_rows_and_peaks(tmp_path):
    path = tmp_path / "system_stats.csv"
    with SystemMonitor(str(path), interval=0.05) as mon:
        blob = bytearray(20 * 2 ** 20)  # some memory to see
        deadline = time.monotonic() + 10  # a busy machine may delay the thread: wait for samples
        while mon.samples < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        del blob
    rows = read_csv(path)
    assert len(rows) >= 3 and list(rows[0]) == SYSTEM_COLUMNS
    peaks = mon.peaks()
    assert peaks["process_rss_peak_mb"] == max(float(r["process_rss_mb"]) for r in rows)
    assert 0 < peaks["system_memory_peak_mb"] <= peaks["system_memory_total_mb"]
    if not torch.cuda.is_available():
        assert peaks["gpu_memory_total_mb"] is None and peaks["gpu_memory_peak_mb"] is None
        assert all(r["gpu_memory_used_mb"] == "" for r in rows)


def test_nvml_init_failure_means_empty_gpu_columns(tmp_path, monkeypatch):
    def boom():
        raise RuntimeError("NVML Shared Library Not Found")

    fake = types.SimpleNamespace(nvmlInit=boom, nvmlShutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    mon = SystemMonitor(str(tmp_path / "s.csv"), interval=10)
    mon.start()
    mon.stop()
    rows = read_csv(tmp_path / "s.csv")
    assert rows and rows[0]["gpu_memory_used_mb"] == "" and rows[0]["gpu_memory_total_mb"] == ""


def test_pid_list_sums_and_skips_dead_processes():
    me = sample_memory()["process_rss_mb"]
    two = sample_memory(pids=lambda: [os.getpid(), os.getpid(), 2 ** 22 + 12345])["process_rss_mb"]
    assert 1.5 * me < two < 2.5 * me


def test_stop_does_not_hang_on_a_stuck_sample(tmp_path):
    import threading

    release = threading.Event()

    def pids():  # stuck in the monitor thread (as a hung NVML/psutil call would be), fine elsewhere
        if threading.current_thread().name == "SystemMonitor":
            release.wait(30)
        return [os.getpid()]

    mon = SystemMonitor(str(tmp_path / "s.csv"), interval=0.05, pids=pids)
    mon.join_timeout = 0.5
    mon.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    try:
        mon.stop()
        assert time.monotonic() - t0 < 5
        assert mon.peaks()["process_rss_peak_mb"] > 0  # the final sample still ran
    finally:
        release.set()
