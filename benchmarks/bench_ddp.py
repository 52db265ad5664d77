r"""DDP on Dask workers: throughput of 1 vs 2 workers, and per-worker memory of
replicated (``index``), sharded (``dask-index``) and materialized (``dask``)
data, in one run.

Throughput: every rank runs ``torch.set_num_threads(1)`` (in the 1-worker
and in the 2-worker run alike), trains a ``PerStepDCRNN`` (BatchedDCRNN +
linear head) on index-batched windows of a synthetic PeMS-BAY-shaped series
with a fixed per-rank batch (weak scaling: the 2-worker run processes twice
the samples per step), and the samples/s of the timed steps are compared.
1- and 2-rank runs alternate on one 2-worker cluster so that both see the
same background load; a third run does the same work on 2 workers without
DDP (no all-reduce, no barrier): what the free cores allow at that moment,
the ceiling for DDP. Samples per CPU-second shows the per-core cost.

Memory: ``scalability_testing/pems_ddp.py``'s code path
(:func:`~torch_geometric_temporal.train.ddp_experiment.run_ddp_experiment`) on
synthetic PeMS-BAY files, 2 workers, one short epoch per mode, each mode on a
fresh cluster so that the workers' peak RSS (``VmHWM``, see
:func:`torch_geometric_temporal._memory.peak_rss_mb`) is its own.
``data MB`` is the RSS growth of a rank while it loads its data.

Run::

    python benchmarks/bench_ddp.py                    # defaults below
    python benchmarks/bench_ddp.py --timesteps 8000 --nodes 200 --steps 20
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch


def _throughput_rank(ctx, series_path, batch_size, hidden, K, warmup, steps, sync=True):
    from torch.nn.parallel import DistributedDataParallel

    from torch_geometric_temporal.dataset.index_batching import (
        DistributedIndexSampler,
        IndexDataset,
        index_dataloader,
        window_starts,
    )
    from torch_geometric_temporal.train.models import PerStepDCRNN

    data = np.load(os.path.join(series_path, "pems_node_values.npy"))
    adj = np.load(os.path.join(series_path, "pems_adj_mat.npy"))
    src, dst = np.nonzero(adj)
    edge_index = torch.tensor(np.stack([src, dst]), dtype=torch.long)
    edge_weight = torch.tensor(adj[src, dst], dtype=torch.float)
    ds = IndexDataset(data, window_starts(data.shape[0], 12, 12), 12, 12, target_features=[0],
                      mean=data.mean((0, 1)), std=data.std((0, 1)))
    loader = index_dataloader(ds, batch_size, sampler=DistributedIndexSampler(len(ds), ctx.world_size, ctx.rank, seed=0))
    torch.manual_seed(0)
    model = PerStepDCRNN(data.shape[-1], hidden, 1, K=K)
    if sync:  # else: the same work without DDP (no gradient all-reduce): the machine's parallelism
        model = DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    it = iter(loader)
    elapsed = cpu = 0.0
    for step in range(warmup + steps):
        x, y = next(it)
        if sync:
            torch.distributed.barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        loss = (model(x, edge_index, edge_weight)[..., 0] - y[..., 0]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= warmup:
            elapsed += time.perf_counter() - t0
            cpu += time.process_time() - c0
    del model, opt, loader
    return {"rank": ctx.rank, "seconds": elapsed, "cpu_seconds": cpu, "samples": steps * batch_size,
            "threads": torch.get_num_threads()}


def throughput(series_dir, args):
    r"""Alternate 1-rank and 2-rank runs on one 2-worker cluster (the 1-rank run
    uses the first worker only), ``args.repeats`` times, so both see the same
    background load; returns per-run ``(samples/s, samples per CPU-second)``."""
    from torch_geometric_temporal.distributed import close_cluster, run_ddp, start_cluster, worker_addresses

    cluster, client = start_cluster(2)
    out = {1: [], 2: [], "2 (no DDP)": []}
    try:
        addrs = worker_addresses(client, 2)
        for _ in range(args.repeats):
            for key, workers, sync in ((1, 1, True), (2, 2, True), ("2 (no DDP)", 2, False)):
                res = run_ddp(client, _throughput_rank, series_dir, args.batch_size, args.hidden, args.K,
                              args.warmup, args.steps, sync, workers=addrs[:workers], timeout=1800, num_threads=1)
                assert all(r["threads"] == 1 for r in res)
                samples = sum(r["samples"] for r in res)
                out[key].append((samples / max(r["seconds"] for r in res),
                                 samples / sum(r["cpu_seconds"] for r in res)))
    finally:
        close_cluster(cluster, client)
    return out


def memory(mode, series_dir, args):
    from torch_geometric_temporal.train.ddp_experiment import run_ddp_experiment

    script = os.path.join(os.path.dirname(__file__), "..", "scalability_testing", "pems_ddp.py")
    sys.path.insert(0, os.path.dirname(script))
    import pems_ddp

    out = os.path.join(args.work_dir, f"out_{mode}")
    spec, run_args = pems_ddp.parse_args([
        "--dataset", "pems-bay", "--data-dir", series_dir, "-m", mode, "-np", "2", "--epochs", "1",
        "--max-batches", str(args.memory_batches), "--batch-size", str(args.memory_batch_size), "--hidden",
        str(args.memory_hidden), "-K", "1", "--out-dir", out, "-q", "--blocks-per-rank", "1"])
    row = run_ddp_experiment(spec, run_args)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timesteps", type=int, default=12000, help="T of the synthetic PeMS-BAY series")
    p.add_argument("--nodes", type=int, default=325, help="N (PeMS-BAY: 325)")
    p.add_argument("--batch-size", type=int, default=8, help="per-rank batch")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("-K", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--repeats", type=int, default=3, help="alternating 1-/2-worker throughput runs")
    p.add_argument("--memory-timesteps", type=int, default=52116, help="T of the memory runs (PeMS-BAY: 52,116)")
    p.add_argument("--memory-batches", type=int, default=4, help="train/val/test batches per memory run")
    p.add_argument("--memory-batch-size", type=int, default=4)
    p.add_argument("--memory-hidden", type=int, default=8)
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_ddp_") as work_dir:
        args.work_dir = work_dir
        run(args)


def run(args):
    from torch_geometric_temporal.dataset import synthetic

    print(f"{os.cpu_count()} CPU cores; torch threads per worker = 1 (1- and 2-worker runs alike)")
    if not args.skip_throughput:
        series_dir = os.path.join(args.work_dir, "throughput")
        synthetic.write_pems_bay(series_dir, num_timesteps=args.timesteps, num_nodes=args.nodes, extract=True)
        print(f"throughput runs: T={args.timesteps} N={args.nodes} F=2 float32 "
              f"({args.timesteps * args.nodes * 8 / 2**20:.1f} MB); per-rank batch {args.batch_size}; "
              f"PerStepDCRNN(hidden={args.hidden}, K={args.K}); {args.steps} timed steps after {args.warmup}")
        load = os.getloadavg()[0]
        runs = throughput(series_dir, args)
        print(f"\n{args.repeats} alternating repeats on one 2-worker cluster; 1-min load average before: "
              f"{load:.1f} (other jobs share these cores)")
        print("\n| workers | samples/s (wall), per repeat | median | speedup (median) | samples per CPU-second "
              "(median) |\n|---|---|---|---|---|")
        med = {w: float(np.median([r[0] for r in runs[w]])) for w in runs}
        for w in runs:
            per = ", ".join(f"{r[0]:.1f}" for r in runs[w])
            cpu = float(np.median([r[1] for r in runs[w]]))
            print(f"| {w} | {per} | {med[w]:.1f} | {med[w] / med[1]:.2f}x | {cpu:.1f} |")
        ratios = ", ".join(f"{b[0] / a[0]:.2f}x" for a, b in zip(runs[1], runs[2]))
        print(f"\nper-repeat speedups (2 vs 1 worker, DDP): {ratios}")
        print(f"DDP efficiency vs the same 2 processes without DDP: {med[2] / med['2 (no DDP)']:.2f} "
              f"(the no-DDP row is what this machine's free cores allow right now)")
    if not args.skip_memory:
        series_dir = os.path.join(args.work_dir, "memory")
        synthetic.write_pems_bay(series_dir, num_timesteps=args.memory_timesteps, num_nodes=args.nodes, extract=True)
        print(f"\nmemory runs (pems_ddp.py code path, 2 workers, fresh cluster per mode): T={args.memory_timesteps} "
              f"N={args.nodes} F=2 float32 ({args.memory_timesteps * args.nodes * 8 / 2**20:.1f} MB); per-rank "
              f"batch {args.memory_batch_size}; PerStepDCRNN(hidden={args.memory_hidden}, K=1); "
              f"{args.memory_batches} batches per split")
        rows = [(mode, memory(mode, series_dir, args)) for mode in ("index", "dask-index", "dask")]
        names = {"index": "index (replicated)", "dask-index": "dask-index (sharded)",
                 "dask": "dask (materialized windows)"}
        print("\n| mode | per-worker peak RSS MB (rank 0 / rank 1) | data MB per rank | resident rows per rank "
              "| node RSS peak MB (sum of workers) | test MAE |\n|---|---|---|---|---|---|")
        for mode, row in rows:
            ranks = row["ranks"]
            peak = " / ".join(f"{r['peak_rss_mb']:.0f}" for r in ranks)
            data = " / ".join(f"{r['data_rss_mb']:.0f}" for r in ranks)
            resident = " / ".join(str(r["resident_rows"]) if r["resident_rows"] >= 0 else "n/a" for r in ranks)
            print(f"| {names[mode]} | {peak} | {data} | {resident} of {ranks[0]['series_rows']} | "
                  f"{row['process_rss_peak_mb']:.0f} | {row['test_mae']:.3f} |")


if __name__ == "__main__":
    main()
