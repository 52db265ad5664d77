r"""Peak memory and epoch time of the data pipeline: base vs index-batching.

Every mode runs in its own Python process (fresh interpreter, so peak RSS is
not polluted by another mode) on the same synthetic ``(T, N, 2)`` float32 file
(feature 0 a speed-like signal, feature 1 the time of day), 12-in/12-out
windows, 70/10/20 chronological split, z-score (of feature 0) fitted on the
training inputs, ``y`` with all features as upstream PGT-I (``--target 0``: speed
only), one shuffled training epoch of batches of 64 (no model):

* ``base``      materialize all windows (``materialize_windows``) and iterate
                ``DataLoader(TensorDataset(X, Y), 64, shuffle=True)``;
* ``per-item``  upstream-PGT-style index-batching: a ``Dataset`` whose
                ``__getitem__`` slices one window, default ``DataLoader`` collate;
* ``copy-floor`` no loader: the same shuffled windows gathered into reused
                buffers by two bare ``index_select`` calls per batch (a window
                view, no checks, no ``DataLoader``): the memory-copy cost that
                every mode pays, so ``mode - copy-floor`` is what a loader adds;
* ``ours-ram``  ``IndexDataset`` over the in-RAM array, standardized in place,
                ``index_dataloader`` (one vectorized gather per batch);
* ``ours-mmap`` ``IndexDataset`` over ``np.load(path, mmap_mode="r")``, statistics
                with ``fit_statistics`` (pread chunks), z-score at gather time.

"Pipeline RSS" is the peak RSS during the run (``VmHWM``, reset through
``/proc/self/clear_refs`` just before) minus the RSS at that moment: the same
interpreter after imports and after a warm-up of the same pipeline on a tiny
2000 x 16 x 2 file, so that library code pages and lazy initialisations count
as baseline, not as data. Epoch times are the best of ``--epochs`` (default 3)
epochs, wall and CPU (user + system; system time is mostly page faults of
fresh batch buffers, which depend on the allocator's state).

Usage::

    python benchmarks/bench_index_batching.py --sizes pems-bay,pems

Full PeMS (105,120 x 11,160 x 2, 9.4 GB) is written once, chunk by chunk, to
``.bench/`` and reused; only ``ours-mmap`` runs at that size (the others need the
array, or 24 x it, in RAM). ``--max-batches K`` times K batches and extrapolates
the epoch (labelled "extrapolated").

GPU mode (``--gpu``, default size ``pems-bay``) compares, in one run, the two
ways to feed a CUDA model, each in its own process:

* ``gpu-resident``  the series moved to the GPU once, statistics fitted and
                    standardized there, ``IndexDataset`` on the device (what
                    ``-g`` does): batches are gathered on the GPU;
* ``cpu-resident``  the series standardized and kept in RAM, ``IndexDataset``
                    on the CPU, each batch copied to the GPU with
                    ``.to("cuda", non_blocking=True)`` (what training without
                    ``-g`` does).

It reports the epoch time (the GPU synchronized at the end of each epoch; every
batch is touched on the device, no per-batch sync) and the host-to-device
copies per batch, measured by ``torch.profiler`` (CUDA activity) over one more
epoch of at most ``--profile-batches`` batches: the ``Memcpy HtoD`` events and
their bytes from the trace, next to ``x.nbytes + y.nbytes``, what the
CPU-resident mode has to copy. Without CUDA it prints one line and exits 0::

    python benchmarks/bench_index_batching.py --gpu --json out/bench_gpu.json
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {  # name: (T, N)
    "pems-bay": (52116, 325),
    "pems": (105120, 11160),
    "tiny": (4000, 50),
}
MODES = ["base", "per-item", "copy-floor", "ours-ram", "ours-mmap"]
GPU_MODES = ["gpu-resident", "cpu-resident"]
WARMUP = (2000, 16)  # (T, N) of the warm-up file
T_IN = T_OUT = 12
GiB = 2**30
MiB = 2**20


def data_path(args, size):
    return os.path.join(args.data_dir, f"synthetic_{size}_f32.npy")


def ensure_file(path, T, N, F=2, chunk_bytes=256 * MiB):
    r"""Write the synthetic ``(T, N, F)`` float32 file chunk-wise (reused if present)."""
    if os.path.exists(path):
        mm = np.load(path, mmap_mode="r")
        if mm.shape == (T, N, F) and mm.dtype == np.float32:
            return
    from torch_geometric_temporal._atomic import atomic_write

    rng = np.random.default_rng(0)
    level = (55 + 10 * rng.random(N)).astype(np.float32)
    step = max(1, chunk_bytes // (N * F * 4))
    with atomic_write(path, "wb") as f:  # plain writes: no mapping, RSS stays at one chunk
        np.lib.format.write_array_header_1_0(f, {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
            "fortran_order": False, "shape": (T, N, F)})
        for a in range(0, T, step):
            b = min(a + step, T)
            tod = ((np.arange(a, b) % 288) / 288.0).astype(np.float32)
            chunk = np.empty((b - a, N, F), dtype=np.float32)
            speed = rng.standard_normal((b - a, N), dtype=np.float32)
            speed *= 3.0
            speed += level
            speed -= (8 * np.sin(2 * np.pi * tod)).astype(np.float32)[:, None]
            chunk[:, :, 0] = speed
            chunk[:, :, 1] = tod[:, None]
            chunk.tofile(f)
            del chunk, speed


# ----------------------------------------------------------------------------- worker
class CopyFloor:
    r"""The bytes every mode must produce, copied with no loader around them: per
    batch, ``x`` and ``y`` of the same shuffled windows gathered by two bare
    ``index_select`` calls from a zero-copy window view into reused buffers."""

    def __init__(self, data, starts, batch_size, generator):
        import torch

        self.torch, self.bs, self.g = torch, batch_size, generator
        T, N, F = data.shape
        row, flat = N * F, torch.from_numpy(data).view(T, N * F)
        self.starts = torch.from_numpy(starts)
        self.wx = flat.as_strided((T - T_IN + 1, T_IN * row), (row, 1))
        self.wy = flat.as_strided((T - T_IN - T_OUT + 1, T_OUT * row), (row, 1), T_IN * row)
        self.out_x = torch.empty(batch_size, T_IN, N, F)
        self.out_y = torch.empty(batch_size, self.wy.shape[1])

    def __len__(self):
        return -(-len(self.starts) // self.bs)

    def __iter__(self):
        torch = self.torch
        order = self.starts[torch.randperm(len(self.starts), generator=self.g)]
        for s in order.split(self.bs):
            x, y = self.out_x[:len(s)], self.out_y[:len(s)]
            torch.index_select(self.wx, 0, s, out=x.view(len(s), -1))
            torch.index_select(self.wy, 0, s, out=y)
            yield x, y.view(len(s), T_OUT, x.shape[2], -1)


def pipeline(mode, path, args, epochs, max_batches):
    r"""Load, split, fit, (standardize), build the loader, time ``epochs`` epochs."""
    import torch
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    from torch_geometric_temporal.dataset.index_batching import (
        IndexDataset,
        chronological_split,
        fit_statistics,
        index_dataloader,
        materialize_windows,
        standardize_,
        window_starts,
    )

    t0 = time.perf_counter()
    data = np.load(path, mmap_mode="r" if mode == "ours-mmap" else None)
    T, N, F = data.shape
    starts = window_starts(T, T_IN, T_OUT)
    train, _, _ = chronological_split(starts)
    mean, std = fit_statistics(data, train, T_IN, features=[0])
    g = torch.Generator().manual_seed(0)
    bs = args.batch_size
    target = None if args.target == "all" else [int(args.target)]

    if mode == "base":
        standardize_(data, mean, std)
        X, Y = materialize_windows(data, starts, T_IN, T_OUT, target_features=target)
        del data
        n = len(train)
        loader = DataLoader(TensorDataset(X[:n], Y[:n]), batch_size=bs, shuffle=True, generator=g)
    elif mode == "per-item":
        standardize_(data, mean, std)

        class PerItem(Dataset):  # as upstream PGT's signal/index_dataset.IndexDataset
            def __init__(self, indices, data, horizon):
                self.indices, self.data, self.horizon = indices, data, horizon

            def __len__(self):
                return self.indices.shape[0]

            def __getitem__(self, x):
                idx = self.indices[x]
                y_start = idx + self.horizon
                y = self.data[y_start:y_start + self.horizon]
                if target is not None:
                    y = y[..., target]
                return torch.from_numpy(self.data[idx:y_start]), torch.from_numpy(y)

        loader = DataLoader(PerItem(train, data, T_IN), batch_size=bs, shuffle=True, generator=g)
    elif mode == "ours-ram":
        standardize_(data, mean, std)
        ds = IndexDataset(data, train, T_IN, T_OUT, target_features=target)
        loader = index_dataloader(ds, bs, shuffle=True, generator=g)
    elif mode == "copy-floor":
        standardize_(data, mean, std)
        loader = CopyFloor(data, train, bs, g)
    elif mode == "ours-mmap":
        ds = IndexDataset(data, train, T_IN, T_OUT, target_features=target, mean=mean, std=std)
        loader = index_dataloader(ds, bs, shuffle=True, generator=g)
    else:
        raise ValueError(mode)
    setup_s = time.perf_counter() - t0

    total = len(loader)
    limit = total if max_batches is None else min(total, max_batches)
    walls, cpus, splits = [], [], []
    for _ in range(epochs):  # best of several epochs: the CPU is shared
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        t1, c1 = time.perf_counter(), time.process_time()
        k, check = 0, 0.0
        for x, y in loader:
            check += float(x[0, 0, 0, 0]) + float(y[-1, -1, -1, 0])  # touch every batch
            k += 1
            if k >= limit:
                break
        walls.append((time.perf_counter() - t1) * total / k)
        cpus.append((time.process_time() - c1) * total / k)
        r2 = resource.getrusage(resource.RUSAGE_SELF)
        splits.append(((r2.ru_utime - r1.ru_utime) * total / k,
                       (r2.ru_stime - r1.ru_stime) * total / k,
                       (r2.ru_minflt - r1.ru_minflt) / k))
    epoch_s, epoch_cpu_s = min(walls), min(cpus)
    user_s, sys_s, faults = splits[cpus.index(epoch_cpu_s)]
    return dict(T=T, N=N, F=F, raw_mib=T * N * F * 4 / MiB, setup_s=setup_s, batches=total,
                timed_batches=k, epoch_s=epoch_s, epoch_cpu_s=epoch_cpu_s, epoch_user_s=user_s,
                epoch_sys_s=sys_s, faults_per_batch=faults, extrapolated=k < total,
                checksum=check, batch_shapes=[list(x.shape), list(y.shape)])


def worker(args):
    from torch_geometric_temporal._memory import MB, peak_rss_mb, reset_peak_rss, rss_mb
    from torch_geometric_temporal._optional import require

    require("psutil", "monitor", "bench_index_batching.py")  # imported before the baseline
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    # Warm-up: the same pipeline on a tiny file, so that the baseline includes the
    # library code pages and lazy initialisations the pipeline touches (not data).
    warm = os.path.join(args.data_dir, "warmup_f32.npy")
    pipeline(args.worker, warm, args, epochs=1, max_batches=3)
    import gc

    gc.collect()
    reset_ok = reset_peak_rss()
    base_rss = rss_mb() * MB
    res = pipeline(args.worker, data_path(args, args.size), args, args.epochs, args.max_batches)
    peak = peak_rss_mb() * MB  # since the reset (since the start when reset_ok is False)
    raw_bytes = res["raw_mib"] * MiB
    res.update(mode=args.worker, size=args.size, threads=args.threads, baseline_mib=base_rss / MiB,
               peak_mib=peak / MiB, pipeline_mib=(peak - base_rss) / MiB,
               pipeline_x_raw=(peak - base_rss) / raw_bytes, peak_reset=reset_ok)
    print(json.dumps(res), flush=True)


# ----------------------------------------------------------------------------- GPU mode
def htod_from_trace(events):
    r"""``(copies, bytes)`` of the host-to-device memcpy events of a Kineto
    chrome trace's ``traceEvents``; ``bytes`` is ``None`` when the trace does
    not give the size of every copy."""
    copies, total = 0, 0
    for e in events:
        if e.get("ph") != "X" or "HtoD" not in str(e.get("name", "")):
            continue
        if e.get("cat") not in ("gpu_memcpy", "Memcpy", "memcpy"):
            continue
        copies += 1
        size = (e.get("args") or {}).get("bytes")
        total = None if total is None or size is None else total + int(size)
    return copies, total


def gpu_pipeline(mode, path, args, device="cuda"):
    r"""Time ``args.epochs`` epochs of ``mode`` (:data:`GPU_MODES`) feeding
    ``device``, then profile one more for its host-to-device copies (the tests
    run it with ``device="cpu"``: the same code, no copies to count)."""
    import tempfile

    import torch
    from torch.profiler import ProfilerActivity, profile

    from torch_geometric_temporal.dataset.index_batching import (
        IndexDataset,
        chronological_split,
        fit_statistics,
        index_dataloader,
        standardize_,
        window_starts,
    )

    device = torch.device(device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    t0 = time.perf_counter()
    data = np.load(path)
    T, N, F = data.shape
    starts = window_starts(T, T_IN, T_OUT)
    train, _, _ = chronological_split(starts)
    target = None if args.target == "all" else [int(args.target)]
    if mode == "gpu-resident":  # move once, then fit and standardize on the device
        data = torch.from_numpy(data).to(device)
    elif mode != "cpu-resident":
        raise ValueError(mode)
    mean, std = fit_statistics(data, train, T_IN, features=[0])
    standardize_(data, mean, std)
    ds = IndexDataset(data, train, T_IN, T_OUT, target_features=target)
    loader = index_dataloader(ds, args.batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(0))
    sync()
    setup_s = time.perf_counter() - t0
    total = len(loader)

    def epoch(limit):
        acc, k, nbytes = torch.zeros((), device=device), 0, 0
        for x, y in loader:
            nbytes = max(nbytes, x.nbytes + y.nbytes)  # a full batch
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            acc += x[0, 0, 0, 0] + y[-1, -1, -1, 0]  # touch every batch, no sync
            k += 1
            if k >= limit:
                break
        sync()
        return k, float(acc), nbytes

    epoch(min(total, 3))  # warm-up: CUDA context, allocator, kernels
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    limit = total if args.max_batches is None else min(total, args.max_batches)
    walls = []
    for _ in range(args.epochs):
        t1 = time.perf_counter()
        k, check, batch_bytes = epoch(limit)
        walls.append((time.perf_counter() - t1) * total / k)
    prof_batches = min(total, args.profile_batches)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        kp, _, _ = epoch(prof_batches)
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(trace)
        with open(trace) as f:
            copies, htod = htod_from_trace(json.load(f).get("traceEvents", []))
    return dict(mode=mode, T=T, N=N, F=F, device=torch.cuda.get_device_name(device) if cuda else str(device),
                setup_s=setup_s, batches=total, timed_batches=k, extrapolated=k < total,
                epoch_s=min(walls), checksum=check, profiled_batches=kp,
                htod_copies_per_batch=copies / kp,
                htod_bytes_per_batch=None if htod is None else htod / kp,
                batch_bytes=batch_bytes,
                expected_htod_bytes_per_batch=batch_bytes if mode == "cpu-resident" else 0,
                cuda_max_allocated_mib=torch.cuda.max_memory_allocated(device) / MiB if cuda else 0.0)


def gpu_main(args):
    r"""Driver of ``--gpu``: one process per mode, one table (and ``--json``)."""
    import torch

    if not torch.cuda.is_available():
        print("# --gpu: no CUDA device here (torch.cuda.is_available() is False); "
              "GPU modes not run", flush=True)
        return 0
    rows = []
    for size in args.sizes.split(","):
        T, N = SIZES[size]
        ensure_file(data_path(args, size), T, N)
        for mode in args.modes.split(","):
            cmd = [sys.executable, os.path.abspath(__file__), "--gpu", "--worker", mode,
                   "--size", size, "--batch-size", str(args.batch_size), "--epochs",
                   str(args.epochs), "--data-dir", args.data_dir, "--target", args.target,
                   "--profile-batches", str(args.profile_batches)]
            if args.max_batches:
                cmd += ["--max-batches", str(args.max_batches)]
            env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if res.returncode:
                rows.append(dict(mode=mode, size=size, failed=f"rc {res.returncode}: "
                                 f"{res.stderr.strip().splitlines()[-1:]}"))
            else:
                rows.append(dict(json.loads(res.stdout.strip().splitlines()[-1]), size=size))
            print(f"# {rows[-1]}", file=sys.stderr, flush=True)
    print(f"\nbatch size {args.batch_size}, 12-in/12-out, y features {args.target}, "
          f"best of {args.epochs} epochs; H2D measured by torch.profiler over "
          f"<= {args.profile_batches} batches\n")
    print("| size | mode | device | setup s | epoch s | batches | H2D copies / batch "
          "| H2D bytes / batch (measured) | x + y bytes / batch | CUDA max allocated MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "failed" in r:
            print(f"| {r['size']} | {r['mode']} | failed: {r['failed']} | | | | | | | |")
            continue
        htod = "n/a" if r["htod_bytes_per_batch"] is None else f"{r['htod_bytes_per_batch']:,.0f}"
        nb = f"{r['batches']}" + (f" (extrapolated from {r['timed_batches']})"
                                  if r["extrapolated"] else "")
        print(f"| {r['size']} | {r['mode']} | {r['device']} | {r['setup_s']:.2f} "
              f"| {r['epoch_s']:.3f} | {nb} | {r['htod_copies_per_batch']:.2f} | {htod} "
              f"| {r['batch_bytes']:,} | {r['cuda_max_allocated_mib']:.0f} |")
    if args.json:
        from torch_geometric_temporal._atomic import atomic_write

        with atomic_write(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if any("failed" in r for r in rows) else 0


# ----------------------------------------------------------------------------- driver
def skip_reason(mode, size, T, N, args):
    raw = T * N * 2 * 4
    f_y = 2 if args.target == "all" else 1
    windows = (T - T_IN - T_OUT + 1) * (T_IN * 2 + T_OUT * f_y) * N * 4
    if mode == "copy-floor" and args.target != "all":
        return "not run: defined for y with all features (--target all)"
    if mode == "base" and raw + windows > args.ram_budget_gib * GiB:
        return (f"not run: materialized windows need {windows / GiB:.0f} GiB "
                f"(> {args.ram_budget_gib} GiB budget; machine has 24 GiB)")
    if mode in ("per-item", "copy-floor", "ours-ram") and raw > args.ram_budget_gib * GiB:
        return (f"not run: in-RAM array is {raw / GiB:.1f} GiB "
                f"(> {args.ram_budget_gib} GiB budget on this shared machine)")
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gpu", action="store_true",
                   help="GPU mode: GPU-resident vs CPU-resident series feeding CUDA "
                        f"({','.join(GPU_MODES)}); without CUDA: one line, exit 0")
    p.add_argument("--sizes", default=None,
                   help="comma list of " + ",".join(SIZES) + " (default: pems-bay,pems; "
                        "with --gpu: pems-bay)")
    p.add_argument("--modes", default=None,
                   help=f"default: {','.join(MODES)}; with --gpu: {','.join(GPU_MODES)}")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-batches", type=int, default=None,
                   help="time only this many batches per mode and extrapolate the epoch")
    p.add_argument("--max-batches-pems", type=int, default=None,
                   help="like --max-batches, for the full-PeMS size only")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per worker (0: torch's default, one per core)")
    p.add_argument("--epochs", type=int, default=3,
                   help="timed epochs per mode; the best is reported (full PeMS: 1)")
    p.add_argument("--target", default="all",
                   help="target features of y: 'all' (as upstream PGT-I) or a feature index")
    p.add_argument("--ram-budget-gib", type=float, default=6.0,
                   help="modes needing more RAM than this are reported, not run")
    p.add_argument("--data-dir", default=os.path.join(REPO, ".bench"))
    p.add_argument("--profile-batches", type=int, default=100,
                   help="--gpu: batches profiled for the host-to-device copies")
    p.add_argument("--json", default=None, help="--gpu: also write the rows to this JSON file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--size", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    modes = GPU_MODES if args.gpu else MODES
    args.sizes = args.sizes or ("pems-bay" if args.gpu else "pems-bay,pems")
    args.modes = args.modes or ",".join(modes)
    bad = [m for m in args.modes.split(",") if m not in modes] + \
        [s for s in args.sizes.split(",") if s not in SIZES]
    if bad and not args.worker:
        p.error(f"unknown mode or size {', '.join(bad)}: modes {','.join(modes)}"
                f"{'' if args.gpu else ' (GPU modes need --gpu)'}, sizes {','.join(SIZES)}")
    if args.profile_batches < 1:
        p.error(f"--profile-batches must be >= 1, got {args.profile_batches}")
    if args.gpu and args.worker:
        print(json.dumps(gpu_pipeline(args.worker, data_path(args, args.size), args)), flush=True)
        return 0
    if args.gpu:
        return gpu_main(args)
    if args.worker:
        return worker(args)

    rows = []
    load0 = os.getloadavg()[0]
    for size in args.sizes.split(","):
        T, N = SIZES[size]
        t0 = time.perf_counter()
        ensure_file(os.path.join(args.data_dir, "warmup_f32.npy"), *WARMUP)
        ensure_file(data_path(args, size), T, N)
        print(f"# {size}: T={T} N={N} F=2 file ready ({time.perf_counter() - t0:.1f} s)",
              file=sys.stderr, flush=True)
        for mode in args.modes.split(","):
            reason = skip_reason(mode, size, T, N, args)
            if reason:
                rows.append(dict(mode=mode, size=size, skipped=reason))
                continue
            mb = args.max_batches_pems if (size == "pems" and args.max_batches_pems) \
                else args.max_batches
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--size", size,
                   "--batch-size", str(args.batch_size), "--threads", str(args.threads),
                   "--data-dir", args.data_dir, "--target", args.target]
            if mb:
                cmd += ["--max-batches", str(mb)]
            cmd += ["--epochs", str(1 if size == "pems" else args.epochs)]
            env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if res.returncode:
                rows.append(dict(mode=mode, size=size,
                                 skipped=f"failed (rc {res.returncode}): "
                                         f"{res.stderr.strip().splitlines()[-1:]}"))
            else:
                rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(f"# {rows[-1]}", file=sys.stderr, flush=True)

    print(f"\nbatch size {args.batch_size}, 12-in/12-out, y features {args.target}, "
          f"best of {args.epochs} epochs (full PeMS: 1), "
          f"torch threads {sorted({r['threads'] for r in rows if 'threads' in r})}, "
          f"load average before run {load0:.1f} (CPU is shared: wall times "
          f"include waiting, CPU s does not)\n")
    print("| size | mode | raw MiB | peak RSS MiB | pipeline RSS MiB (x raw) | setup s "
          "| epoch wall s | epoch CPU s (user + sys) | page faults / batch | batches "
          "| speed-up vs per-item (wall / CPU) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    per_item = {r["size"]: r for r in rows if r["mode"] == "per-item" and "skipped" not in r}
    for r in rows:
        if "skipped" in r:
            print(f"| {r['size']} | {r['mode']} | | | {r['skipped']} | | | | | | |")
            continue
        nb = f"{r['batches']}"
        if r["extrapolated"]:
            nb += f" (extrapolated from {r['timed_batches']})"
        pi = per_item.get(r["size"])
        speed = (f"{pi['epoch_s'] / r['epoch_s']:.1f}x / {pi['epoch_cpu_s'] / r['epoch_cpu_s']:.1f}x"
                 if pi else "")
        print(f"| {r['size']} | {r['mode']} | {r['raw_mib']:.0f} | {r['peak_mib']:.0f} "
              f"| {r['pipeline_mib']:.0f} ({r['pipeline_x_raw']:.2f}x) | {r['setup_s']:.1f} "
              f"| {r['epoch_s']:.2f} | {r['epoch_cpu_s']:.2f} ({r['epoch_user_s']:.2f} + "
              f"{r['epoch_sys_s']:.2f}) | {r['faults_per_batch']:.0f} | {nb} | {speed} |")
    floor = {r["size"]: r for r in rows if r["mode"] == "copy-floor" and "skipped" not in r}
    for size, fl in floor.items():
        over = {r["mode"]: r["epoch_s"] - fl["epoch_s"] for r in rows
                if r["size"] == size and "skipped" not in r and r["mode"] in ("per-item", "ours-ram")}
        if len(over) == 2:
            print(f"\n{size}: copy floor {fl['epoch_s']:.2f} s per epoch; time above it: per-item "
                  f"{over['per-item']:.2f} s, ours in RAM {over['ours-ram']:.2f} s"
                  + (f" ({over['per-item'] / over['ours-ram']:.0f}x less)" if over["ours-ram"] > 0
                     else ""))
    base = {r["size"]: r for r in rows if r["mode"] == "base" and "skipped" not in r}
    for r in rows:
        if r["mode"].startswith("ours") and r["size"] in base and "skipped" not in r:
            red = 1 - r["pipeline_mib"] / base[r["size"]]["pipeline_mib"]
            print(f"\n{r['size']} {r['mode']}: pipeline RSS {100 * red:.1f} % below base")


if __name__ == "__main__":
    sys.exit(main())
