r"""Benchmark: sparse cached DCRNN (ours) vs the upstream PGT 0.56 approach.

Run from the repository root::

    python benchmarks/bench_dcrnn.py            # full run (~3-5 min on 2 cores)
    python benchmarks/bench_dcrnn.py --quick    # fewer repetitions, no union-dense case

Each case runs in its own subprocess, so the reported peak memory is that
process's peak resident set size during the timed steps (Linux ``VmHWM`` after
resetting it through ``/proc/self/clear_refs``; elsewhere ``ru_maxrss``;
on CUDA ``torch.cuda.max_memory_allocated``). "delta" is the peak minus the
resident set size just before the case starts (after imports and data set-up).
A *training step* is forward over all ``T`` time steps + backward + Adam step;
"ms / time step" divides it by ``T`` (used to compare cases timed with
different ``T``). Baselines are in ``benchmarks/_upstream_dcrnn.py``.

Workloads:

* ``pems-bay``: ``BatchedDCRNN(2, 2, K=3)``, ``B = 64``, ``T = 12``, the PeMS-BAY
  graph (``tests/data/pems_bay/adj_mx_bay.pkl``, N = 325). Baselines: edge list
  replicated ``B`` times per batch with dense ``N x N`` norms per call
  (upstream's ``BatchedDConv`` made batch-correct) and, full run only, the
  per-snapshot dense approach applied literally to the ``B N``-node union.
* ``cell-2716`` / ``cell-11160``: ``DCRNN(2, 64, K=3)`` on one 12-step sample,
  synthetic directed graph with 10 random out-edges per node. The dense
  baseline at N = 11,160 is timed over ``T = 1`` only (labelled); ours is also
  run with ``T = 1`` there so that peak memory compares like with like.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
BAY = os.path.join(ROOT, "tests", "data", "pems_bay", "adj_mx_bay.pkl")


def bay_graph():
    from torch_geometric_temporal.dataset._files import load_adjacency_pickle

    _, _, adj = load_adjacency_pickle(BAY)  # restricted unpickler: numpy arrays and builtins only
    src, dst = np.nonzero(adj)  # adj[i, j]: edge i -> j (row = source)
    edge_index = torch.from_numpy(np.stack([src, dst]).astype(np.int64))
    return edge_index, torch.from_numpy(adj[src, dst]), adj.shape[0]


def synthetic_graph(n, per_node=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n).repeat_interleave(per_node)
    dst = (src + 1 + torch.randint(0, n - 1, (n * per_node,), generator=g)) % n  # no self loops
    key = torch.unique(src * n + dst)
    weight = torch.rand(key.numel(), generator=g) * 0.9 + 0.1
    return torch.stack([key // n, key % n]), weight, n


CASES = {
    # name: (workload, impl, T, warmup, timed steps, timed steps in --quick)
    "bay-ours": ("pems-bay", "ours", 12, 1, 5, 2),
    "bay-replicated": ("pems-bay", "replicated edges, dense NxN/call", 12, 1, 3, 1),
    "bay-union": ("pems-bay", "replicated edges, dense (BN)^2/call", 1, 0, 1, 0),
    "c2716-ours": ("cell-2716", "ours", 12, 1, 5, 2),
    "c2716-dense": ("cell-2716", "dense NxN/call", 12, 1, 2, 1),
    "c11160-ours": ("cell-11160", "ours", 12, 1, 3, 1),
    "c11160-ours-T1": ("cell-11160", "ours", 1, 1, 3, 1),  # memory comparable with dense T=1
    "c11160-dense": ("cell-11160", "dense NxN/call", 1, 0, 1, 1),
}


def run_case(name, quick, device):
    from torch_geometric_temporal._memory import peak_rss_mb, reset_peak_rss, rss_mb
    from torch_geometric_temporal.nn.recurrent import BatchedDCRNN, DCRNN

    workload, impl, T, warmup, steps, quick_steps = CASES[name]
    steps = quick_steps if quick else steps
    if impl != "ours":
        import _upstream_dcrnn as up  # imports torch_geometric
    torch.manual_seed(0)
    dev = torch.device(device)
    if workload == "pems-bay":
        edge_index, edge_weight, n = bay_graph()
        B, F = 64, 2
        X = torch.randn(B, T, n, F)
        Y = torch.randn(B, T, n, F)
        if impl == "ours":
            model = BatchedDCRNN(F, F, K=3)
        else:
            model = up.ReplicatedBatchedDCRNN(
                F, F, K=3, dense_nodes="union" if "(BN)" in impl else "graph")

        def loss_fn():
            return (model(X, edge_index, edge_weight) - Y).abs().mean()
    else:
        n = int(workload.split("-")[1])
        edge_index, edge_weight, n = synthetic_graph(n)
        hid = 64
        X = torch.randn(T, n, 2)
        Y = torch.randn(T, n, hid)
        model = DCRNN(2, hid, K=3) if impl == "ours" else up.DenseDCRNN(2, hid, K=3)

        def loss_fn():
            H, outs = None, []
            for t in range(T):
                H = model(X[t], edge_index, edge_weight, H)
                outs.append(H)
            return (torch.stack(outs) - Y).abs().mean()

    model = model.to(dev)
    X, Y, edge_index, edge_weight = X.to(dev), Y.to(dev), edge_index.to(dev), edge_weight.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        return float(loss)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    before = rss_mb()
    reset_ok = reset_peak_rss()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    sec = (time.perf_counter() - t0) / steps
    out = {"case": name, "workload": workload, "impl": impl, "T": T, "steps": steps,
           "warmup": warmup, "sec_per_step": sec, "ms_per_timestep": 1e3 * sec / T,
           "num_nodes": n, "num_edges": int(edge_index.size(1)), "peak_mib": peak_rss_mb(),
           "delta_mib": peak_rss_mb() - before, "peak_reset": reset_ok, "threads": torch.get_num_threads(), "device": device}
    if dev.type == "cuda":
        out["peak_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
        out["delta_mib"] = float("nan")
    return out


def spmm_choice(threads):
    """Time CSR ``torch.sparse.mm`` vs ``index_add_`` (forward + backward)."""
    torch.set_num_threads(threads)
    rows = []
    for label, (ei, ew, n), m in (("PeMS-BAY, B*C = 64*4", bay_graph(), 256),
                                  ("N = 11,160, C = 66", synthetic_graph(11160), 66)):
        src, dst = ei
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR is beta"
            S = torch.sparse_coo_tensor(torch.stack([dst, src]), ew, (n, n)).coalesce()
            S_csr, ST_csr = S.to_sparse_csr(), S.t().coalesce().to_sparse_csr()
        X = torch.randn(n, m)
        G = torch.randn(n, m)

        def csr():
            S_csr @ X
            ST_csr @ G  # the backward product

        Xg = X.clone().requires_grad_(True)

        def index_add():
            out = torch.zeros(n, m).index_add_(0, dst, Xg[src] * ew[:, None])
            out.backward(G)

        res = {}
        for key, f in (("csr", csr), ("index_add", index_add)):
            f()
            t0 = time.perf_counter()
            for _ in range(10):
                f()
            res[key] = (time.perf_counter() - t0) / 10 * 1e3
        rows.append((label, res["csr"], res["index_add"]))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions; skip the (BN)^2 case")
    p.add_argument("--threads", type=int, default=1, help="torch threads per case (default 1)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    p.add_argument("--case", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.case:
        torch.set_num_threads(args.threads)
        print(json.dumps(run_case(args.case, args.quick, args.device)))
        return

    cases = [c for c in args.cases.split(",") if c]
    if args.quick:
        cases = [c for c in cases if CASES[c][5] > 0]
    print(f"torch {torch.__version__}, device {args.device}, {args.threads} thread(s)"
          f"{', --quick' if args.quick else ''}", flush=True)
    print("\nSparse product, forward + backward product (ms):")
    print("| operands | CSR torch.sparse.mm | index_add_ gather/scatter |")
    print("|---|---:|---:|")
    for label, a, b in spmm_choice(args.threads):
        print(f"| {label} | {a:.2f} | {b:.2f} |")

    results = {}
    for c in cases:
        cmd = [sys.executable, os.path.abspath(__file__), "--case", c, "--threads", str(args.threads),
               "--device", args.device] + (["--quick"] if args.quick else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            print(f"case {c} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        results[c] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[c]
        print(f"  {c}: {r['sec_per_step']:.3f} s/step (T={r['T']})", file=sys.stderr, flush=True)

    mem = "peak CUDA MiB" if args.device == "cuda" else "peak RSS MiB"
    print(f"\n| workload | implementation | T timed | s / training step | ms / time step "
          f"| {mem} | delta MiB | speed-up (per time step) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for c in cases:
        if c not in results:
            continue
        r = results[c]
        ours = results.get(c.split("-")[0] + "-ours")
        speed = "1.0x" if r["impl"] == "ours" or ours is None else \
            f"ours {r['ms_per_timestep'] / ours['ms_per_timestep']:.1f}x faster"
        wl = f"{r['workload']} (N={r['num_nodes']}, E={r['num_edges']})"
        print(f"| {wl} | {r['impl']} | {r['T']} | {r['sec_per_step']:.3f} | {r['ms_per_timestep']:.1f} "
              f"| {r['peak_mib']:.0f} | {r['delta_mib']:.0f} | {speed} |")


if __name__ == "__main__":
    main()
