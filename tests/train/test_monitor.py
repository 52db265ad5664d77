import os
import sys
import time
import types

import pytest
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


def test_nvml_init_failure_means_empty_gpu_columns(tmp_path, monkeypatch, fake_cuda):
    def boom():
        raise RuntimeError("NVML Shared Library Not Found")

    fake = types.SimpleNamespace(nvmlInit=boom, nvmlShutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    mon = SystemMonitor(str(tmp_path / "s.csv"), interval=10, device="cuda:0")
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


def test_gpu_columns_are_the_training_devices_found_by_uuid(tmp_path, fake_cuda):
    # cuda:1 is NVML's GPU 0 here: the old index lookup (NVML index 0) reported another GPU
    fake_cuda.initialized = True
    with SystemMonitor(str(tmp_path / "s.csv"), interval=10, device="cuda:1") as mon:
        pass
    assert fake_cuda.uuid_lookups == [fake_cuda.uuids[1]] and fake_cuda.index_lookups == []
    assert mon.gpu_uuid == fake_cuda.uuids[1]  # torch's UUID with NVML's "GPU-" prefix
    rows = read_csv(tmp_path / "s.csv")
    assert {(r["gpu_memory_used_mb"], r["gpu_memory_total_mb"]) for r in rows} == {("3000.0", "80000.0")}
    peaks = mon.peaks()
    assert (peaks["gpu_memory_peak_mb"], peaks["gpu_memory_total_mb"]) == (3000.0, 80000.0)
    # this process's exact peaks from the allocator, reset when the monitor started
    assert (peaks["gpu_max_allocated_mb"], peaks["gpu_max_reserved_mb"]) == (101.0, 201.0)
    assert fake_cuda.resets == [1]


def test_cpu_run_leaves_gpu_columns_empty_on_a_gpu_machine(tmp_path, fake_cuda):
    for device in ("cpu", None):
        path = tmp_path / f"{device}.csv"
        with SystemMonitor(str(path), interval=10, device=device) as mon:
            pass
        assert all(r["gpu_memory_used_mb"] == "" and r["gpu_memory_total_mb"] == "" for r in read_csv(path))
        peaks = mon.peaks()
        assert mon.gpu_uuid is None
        assert all(peaks[k] is None for k in ("gpu_memory_total_mb", "gpu_memory_peak_mb", "gpu_max_allocated_mb",
                                              "gpu_max_reserved_mb"))
    assert fake_cuda.inits == 0 and fake_cuda.resets == []


def test_plain_cuda_means_the_current_device(tmp_path, fake_cuda):
    with SystemMonitor(None, interval=10, device="cuda") as mon:
        pass
    assert fake_cuda.uuid_lookups == [fake_cuda.uuids[0]]
    assert mon.peaks()["gpu_memory_total_mb"] == 16000.0 and mon.peaks()["gpu_max_allocated_mb"] == 100.0


def test_nvml_without_the_device_keeps_the_allocator_peaks(tmp_path, fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: types.SimpleNamespace(uuid="ffff"))
    with SystemMonitor(None, interval=10, device="cuda:0") as mon:  # NVML knows no GPU-ffff (e.g. a MIG slice)
        pass
    peaks = mon.peaks()
    assert peaks["gpu_memory_peak_mb"] is None and peaks["gpu_max_reserved_mb"] == 200.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_real_gpu_columns_by_uuid():
    pytest.importorskip("pynvml")
    mb = 2 ** 20
    before = torch.empty(64 * mb, dtype=torch.uint8, device="cuda")
    with SystemMonitor(None, interval=10, device="cuda") as mon:  # resets the allocator peaks
        during = torch.empty(32 * mb, dtype=torch.uint8, device="cuda")
        del during
    peaks = mon.peaks()
    assert 96 <= peaks["gpu_max_allocated_mb"] <= peaks["gpu_max_reserved_mb"]
    total = torch.cuda.get_device_properties(0).total_memory / mb
    # NVML found this very GPU by its UUID: its size matches CUDA's (NVML reports a little more)
    assert peaks["gpu_memory_total_mb"] == pytest.approx(total, rel=0.05)
    assert peaks["gpu_memory_peak_mb"] >= 64
    del before


def test_monitor_before_cuda_is_initialized_resets_nothing(fake_cuda):
    # nothing allocated yet: the peaks start at zero (resetting would raise "did you call init?")
    with SystemMonitor(None, interval=10, device="cuda:0") as mon:
        pass
    assert fake_cuda.resets == [] and mon.peaks()["gpu_max_allocated_mb"] == 100.0
