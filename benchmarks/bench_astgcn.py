r"""Peak memory per sample and time of one ASTGCN training step: the paper's
attention-weighted Chebyshev convolution as this package computes it
(attention on every order, :math:`\sum_k (T_k(\hat{L}) \odot S)^\top X
\Theta_k`) vs upstream 0.56.2's formula (attention on orders 0 and 1 only,
``model.upstream_formula = True``, upstream's per-edge message passing), same
model size, same batch, in the same run.

Run from the repository root::

    python benchmarks/bench_astgcn.py                          # N = 307, 325, 2716
    python benchmarks/bench_astgcn.py --nodes 307 --graphs list --batch 1 4

Model: ``ASTGCN(nb_block=2, in_channels=2, K=3, 64, 64, time_strides=1,
num_for_predict=12, len_input=12, N, "sym")`` (upstream's ``test_astgcn``
sizes). Graph: a ring lattice, each node linked both ways to its ``--degree``
nearest nodes, 10 % of the links rewired at random (PeMS-BAY: 325 nodes,
about 7 links per node); ``--graphs list`` passes a different such graph for
each of the 12 time steps (as upstream's test), ``static`` one graph. Each
case runs in its own subprocess with glibc's mmap threshold fixed
(:func:`torch_geometric_temporal._memory.return_freed_memory`, both forms
alike, so freed tensors leave RSS): one step (forward, backward, Adam) with
the peak-RSS mark reset just before it, then a second, timed step. "delta" is
the first step's peak RSS minus the RSS before it; "per sample" is the
growth of delta from the smallest to the largest ``--batch``, divided by the
difference in batch size.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ring_graph(num_nodes: int, degree: int, seed: int):
    """Links i <-> i + 1..degree/2 (mod N), 10 % of targets rewired at random."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    src = torch.arange(num_nodes).repeat_interleave(max(degree // 2, 1))
    dst = (src + torch.arange(1, max(degree // 2, 1) + 1).repeat(num_nodes)) % num_nodes
    rewire = torch.rand(src.numel(), generator=gen) < 0.1
    dst = torch.where(rewire, torch.randint(0, num_nodes, (src.numel(),), generator=gen), dst)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    edges = torch.unique(torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]), dim=1)
    return edges


def _case(args: argparse.Namespace) -> dict:
    import torch

    sys.path.insert(0, ROOT)
    from torch_geometric_temporal._memory import (peak_rss_mb, reset_peak_rss,
                                                  return_freed_memory, rss_mb)
    from torch_geometric_temporal.nn.attention import ASTGCN

    return_freed_memory()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    N, B, T = args.case_nodes, args.case_batch, 12
    model = ASTGCN(2, 2, args.K, 64, 64, 1, T, T, N, "sym")
    model.upstream_formula = args.case_mode == "upstream"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    graphs = [ring_graph(N, args.degree, seed) for seed in range(T)]
    edge_index = graphs if args.graphs == "list" else graphs[0]
    X, Y = torch.randn(B, N, 2, T), torch.randn(B, N, T)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = (model(X, edge_index) - Y).abs().mean()
        loss.backward()
        opt.step()
        return float(loss)

    step() if args.warmup else None  # lambda_max cache, lazy imports
    before = rss_mb()
    reset_peak_rss()
    loss = step()
    peak = peak_rss_mb()
    start = time.perf_counter()
    step()
    return {"delta_mb": peak - before, "seconds": time.perf_counter() - start, "loss": loss,
            "edges": int(graphs[0].size(1))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[307, 325, 2716])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2],
                        help="batch sizes; per sample = growth from the first to the last")
    parser.add_argument("--graphs", choices=["static", "list"], default="static",
                        help="one graph, or one per time step (upstream's test)")
    parser.add_argument("--degree", type=int, default=8, help="links per node before rewiring")
    parser.add_argument("-K", type=int, default=3, help="Chebyshev filter size")
    parser.add_argument("--modes", nargs="+", default=["paper", "upstream"],
                        choices=["paper", "upstream"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="measure the very first step (lambda_max, imports included)")
    parser.add_argument("--case-mode", help=argparse.SUPPRESS)
    parser.add_argument("--case-nodes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--case-batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case_mode:
        print(json.dumps(_case(args)))
        return
    rows = {}
    for n in args.nodes:
        for mode in args.modes:
            for b in sorted(set(args.batch)):
                cmd = [sys.executable, os.path.abspath(__file__), "--case-mode", mode,
                       "--case-nodes", str(n), "--case-batch", str(b)] + \
                    (argv if argv is not None else sys.argv[1:])
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                rows[n, mode, b] = json.loads(out.strip().splitlines()[-1])
    lo, hi = min(args.batch), max(args.batch)
    print(f"ASTGCN(2 blocks, F=2, K={args.K}, 64/64 filters, T=12), {args.graphs} graph(s), "
          f"{args.threads} thread(s), batch {lo}..{hi}")
    print(f"| N | links | formula | delta B={lo} (MB) | delta B={hi} (MB) | per sample (MB) "
          f"| step B={hi} (s) |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for n in args.nodes:
        for mode in args.modes:
            a, z = rows[n, mode, lo], rows[n, mode, hi]
            per = (z["delta_mb"] - a["delta_mb"]) / (hi - lo) if hi > lo else a["delta_mb"] / lo
            print(f"| {n} | {a['edges']} | {mode} | {a['delta_mb']:.0f} | {z['delta_mb']:.0f} | "
                  f"{per:.0f} | {z['seconds']:.2f} |")


if __name__ == "__main__":
    main()
