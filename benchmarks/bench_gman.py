r"""Peak memory and time of one GMAN training step: the attention as this
package computes it (:func:`torch.nn.functional.scaled_dot_product_attention`,
fused kernels that never store the ``N x N`` spatial scores) vs the explicit
``softmax(Q K^T / sqrt(d)) V`` of upstream 0.56.2 (scores and weights stored
for the backward), same model, same parameters, same batch, in the same run.

Run from the repository root::

    python benchmarks/bench_gman.py                         # N = 325 and 2716, B = 1
    python benchmarks/bench_gman.py --nodes 325 --batch 4 --steps 12

Model: ``GMAN(L=1, K, d, ...)`` (one encoder and one decoder ST-attention
block), ``--steps`` history and future steps, one input channel. Each case runs
in its own subprocess: one step (forward, backward, Adam) with the peak-RSS
mark reset just before it, then a second, timed step. "delta" is the first
step's peak RSS minus the RSS before it. "scores" is the size of one block's
spatial attention scores, ``B * T * K * N^2`` float32 values, which the
explicit form stores (with the softmax weights) for each of the 2 blocks.
The printed loss of both forms agrees to rounding.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def explicit_attend(query, key, value, head_size, d, axis, causal=False):
    """Upstream's way: scores, softmax and weighted sum as separate tensors."""
    import torch

    from torch_geometric_temporal.nn.attention.gman import _heads

    other = 3 - axis
    q, k, v = (_heads(t, head_size).movedim(other, 1).movedim(-2, 2) for t in (query, key, value))
    scores = q @ k.transpose(-1, -2) / d ** 0.5
    if causal:
        L = scores.size(-1)
        scores = scores.masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), float("-inf"))
    out = scores.softmax(-1) @ v
    return out.movedim(2, -2).movedim(1, other).flatten(-2)


def _case(args: argparse.Namespace) -> dict:
    import torch

    sys.path.insert(0, ROOT)
    from torch_geometric_temporal._memory import peak_rss_mb, reset_peak_rss, rss_mb
    from torch_geometric_temporal.nn.attention import gman

    if args.case_mode == "explicit":
        gman._attend = explicit_attend
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    N, B, T = args.case_nodes, args.batch, args.steps
    model = gman.GMAN(L=1, K=args.heads, d=args.head_dim, num_his=T, bn_decay=0.1,
                      steps_per_day=288, use_bias=True, mask=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, SE = torch.randn(B, T, N), torch.randn(N, args.heads * args.head_dim)
    TE = torch.stack([torch.randint(0, 7, (B, 2 * T)), torch.randint(0, 288, (B, 2 * T))], -1)
    Y = torch.randn(B, T, N)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = (model(X, SE, TE) - Y).abs().mean()
        loss.backward()
        opt.step()
        return float(loss)

    before = rss_mb()
    reset_peak_rss()
    loss = step()
    peak = peak_rss_mb()
    start = time.perf_counter()
    step()
    return {"delta_mb": peak - before, "seconds": time.perf_counter() - start, "loss": loss}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[325, 2716])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=6, help="history = future steps")
    parser.add_argument("--heads", type=int, default=2, help="K")
    parser.add_argument("--head-dim", type=int, default=4, help="d")
    parser.add_argument("--modes", nargs="+", default=["sdpa", "explicit"],
                        choices=["sdpa", "explicit"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--case-mode", help=argparse.SUPPRESS)
    parser.add_argument("--case-nodes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case_mode:
        print(json.dumps(_case(args)))
        return
    rows = []
    for n in args.nodes:
        for mode in args.modes:
            cmd = [sys.executable, os.path.abspath(__file__), "--case-mode", mode,
                   "--case-nodes", str(n)] + (argv if argv is not None else sys.argv[1:])
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append({"N": n, "mode": mode, **json.loads(out.strip().splitlines()[-1])})
    print(f"GMAN(L=1, K={args.heads}, d={args.head_dim}), B={args.batch}, T_in=T_out={args.steps}, "
          f"{args.threads} thread(s)")
    print("| N | attention | scores per block (MB) | step delta (MB) | step (s) | loss |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        scores = args.batch * args.steps * args.heads * r["N"] ** 2 * 4 / 2 ** 20
        print(f"| {r['N']} | {r['mode']} | {scores:.0f} | {r['delta_mb']:.0f} | "
              f"{r['seconds']:.2f} | {r['loss']:.6f} |")


if __name__ == "__main__":
    main()
