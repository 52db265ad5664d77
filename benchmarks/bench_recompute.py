r"""Quick check: peak RSS and time of one ``DCRNNSeq2Seq`` training step,
activation recomputation off vs on (and, optionally, bf16 autocast).

Run from the repository root::

    python benchmarks/bench_recompute.py                      # PeMS-BAY size, B = 4 and 8
    python benchmarks/bench_recompute.py --nodes 11160 --edges 111000 --batch 1 2 --modes on
    python benchmarks/bench_recompute.py --mmap-threshold 131072   # glibc allocator setting

The model is the DCRNN recipe (2 layers x 64 units, ``K = 3``, 12 in / 12
out, curriculum on, 2 input features, 1 output), on a random directed graph
of ``--nodes`` nodes and ``--edges`` edges. Each case runs in its own
subprocess: the measured step (forward + backward + Adam, peak RSS mark reset
just before it), then a second, timed step. "delta" is the first step's peak
minus the resident set size before it (the step's own memory: activations,
gradients, optimizer state, temporaries); "per sample" divides the delta by ``B`` and "B=64
est." extrapolates linearly from the two smallest batches of a mode. The
figure printed side by side is the baseline of the same run (recompute
off). The full benchmark with ``B = 64`` is ``benchmarks/bench_seq2seq.py``.

On CPU the resident set of a step depends on glibc's allocator as much as
on the model: by default it serves blocks below a (dynamic, up to 32 MB)
threshold from its heap and keeps freed ones there, fragmented, so a
recomputing step that frees each step's activations at once still grows
the heap. ``--mmap-threshold BYTES`` runs the cases with
``MALLOC_MMAP_THRESHOLD_=BYTES`` (blocks above it are mapped and returned
on free). Measured 2026-11-29, recompute on, MB per extra sample: N = 325,
2,400 edges: 49 default, 5.9 with 131072; N = 11,160, 111,000 edges: 1,818
default, 203 with 131072 (hidden states alone: 137).
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _case(args: argparse.Namespace) -> dict:
    import torch

    sys.path.insert(0, ROOT)
    from torch_geometric_temporal._memory import peak_rss_mb, reset_peak_rss, rss_mb
    from torch_geometric_temporal.nn.recurrent import DCRNNSeq2Seq

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    N, E, B = args.nodes, args.edges, args.case_batch
    src = torch.randint(0, N, (E,))
    dst = (src + torch.randint(1, N, (E,))) % N
    edge_index, edge_weight = torch.stack([src, dst]), torch.rand(E) + 0.1
    model = DCRNNSeq2Seq(2, 1, hidden_channels=64, num_layers=2, K=3, num_timesteps_out=12,
                         use_curriculum_learning=True, recompute=args.case_mode == "on")
    opt = torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-3)
    X, Y = torch.randn(B, 12, N, 2), torch.randn(B, 12, N, 1)
    amp = args.amp == "bf16"

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            pred = model(X, edge_index, edge_weight, targets=Y, batches_seen=1000)
        loss = (pred.float() - Y).abs().mean()
        loss.backward()
        opt.step()

    before = rss_mb()
    reset_peak_rss()
    step()  # the measured step (the allocator keeps its peak, so a second one would hide it)
    peak = peak_rss_mb()
    start = time.perf_counter()
    step()  # the timed step (warm)
    seconds = time.perf_counter() - start
    return {"mode": args.case_mode, "B": B, "peak_mb": peak, "delta_mb": peak - before,
            "step_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=325)
    parser.add_argument("--edges", type=int, default=2400)
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--modes", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--amp", default="off", choices=["off", "bf16"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mmap-threshold", type=int, default=0,
                        help="MALLOC_MMAP_THRESHOLD_ for the cases (0: the allocator's default)")
    parser.add_argument("--case-mode", help=argparse.SUPPRESS)
    parser.add_argument("--case-batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case_mode:
        print(json.dumps(_case(args)))
        return
    rows = []
    for mode in args.modes:
        for B in args.batch:
            cmd = [sys.executable, __file__, "--nodes", str(args.nodes), "--edges", str(args.edges),
                   "--amp", args.amp, "--threads", str(args.threads), "--case-mode", mode,
                   "--case-batch", str(B)]
            env = dict(os.environ)
            if args.mmap_threshold:
                env["MALLOC_MMAP_THRESHOLD_"] = str(args.mmap_threshold)
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"N={args.nodes} E={args.edges} amp={args.amp} threads={args.threads} "
          f"MALLOC_MMAP_THRESHOLD_={args.mmap_threshold or 'default'}")
    print(f"{'recompute':>9} {'B':>4} {'peak MB':>9} {'delta MB':>9} {'MB/sample':>9} {'step s':>8}")
    for r in rows:
        print(f"{r['mode']:>9} {r['B']:>4} {r['peak_mb']:9.0f} {r['delta_mb']:9.0f} "
              f"{r['delta_mb'] / r['B']:9.1f} {r['step_s']:8.2f}")
    for mode in args.modes:
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["B"])
        if len(mine) >= 2:
            a, b = mine[0], mine[1]
            slope = (b["delta_mb"] - a["delta_mb"]) / (b["B"] - a["B"])
            est = a["delta_mb"] + slope * (64 - a["B"])
            t_slope = (b["step_s"] - a["step_s"]) / (b["B"] - a["B"])
            t_est = a["step_s"] + t_slope * (64 - a["B"])
            print(f"recompute {mode}: {slope:.1f} MB per extra sample; B=64 est. step delta "
                  f"{est:.0f} MB, step {t_est:.1f} s")


if __name__ == "__main__":
    main()
