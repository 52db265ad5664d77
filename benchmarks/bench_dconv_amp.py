r"""The diffusion product and one DCRNN training step in float32 vs bf16.

Run from the repository root (CPU, or CUDA when present)::

    python benchmarks/bench_dconv_amp.py [--device cuda] [--batch 64]

Prints, side by side in one run: the time of one stacked sparse product
:math:`[S_1; S_2] X` of ``X (N, B 64)`` (``DiffusionSupports.propagate``, the
kernel of ``nn/recurrent/dconv.py``) with float32 values and input, with
bf16 values and input (the native bf16 CSR kernel; on CPU torch has none and
the line says so), and bf16 input computed in float32 (what ``dconv.py`` does
on CPU); then one ``DCRNNSeq2Seq`` (2 x 64, ``K = 3``, 12/12) training step
without and with ``torch.autocast(dtype=torch.bfloat16)``. Graph: random,
``--nodes`` nodes, ``--edges`` edges (default PeMS-BAY size).
"""
import argparse
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torch_geometric_temporal.nn.recurrent import DCRNNSeq2Seq, get_diffusion_supports  # noqa: E402
from torch_geometric_temporal.nn.recurrent.dconv import _csr  # noqa: E402


def _time(fn, device: torch.device, repeats: int) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--nodes", type=int, default=325)
    parser.add_argument("--edges", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    N, E, B = args.nodes, args.edges, args.batch
    src = torch.randint(0, N, (E,), device=device)
    edge_index = torch.stack([src, (src + torch.randint(1, N, (E,), device=device)) % N])
    edge_weight = torch.rand(E, device=device) + 0.1
    supports = get_diffusion_supports(edge_index, edge_weight, N)
    struct, values = supports.stacked
    X = torch.randn(N, B * 64, device=device)
    print(f"device={device} N={N} E={E} B={B} threads={args.threads}")
    print("sparse product [S1; S2] X, X (N, B*64):")
    A32 = _csr(struct, values)
    print(f"  float32                 {_time(lambda: torch.sparse.mm(A32, X), device, args.repeats):8.2f} ms")
    A16, X16 = _csr(struct, values.bfloat16()), X.bfloat16()
    try:
        ms = _time(lambda: torch.sparse.mm(A16, X16), device, args.repeats)
        print(f"  bfloat16 (native)       {ms:8.2f} ms")
    except (RuntimeError, NotImplementedError) as err:
        print(f"  bfloat16 (native)       not available: {str(err).splitlines()[0][:80]}")
    ms = _time(lambda: torch.sparse.mm(A32, X16.float()).bfloat16(), device, args.repeats)
    print(f"  bfloat16 via float32    {ms:8.2f} ms")

    model = DCRNNSeq2Seq(2, 1, hidden_channels=64, num_layers=2, K=3).to(device)
    Xb, Yb = torch.randn(B, 12, N, 2, device=device), torch.randn(B, 12, N, 1, device=device)

    def step(amp: bool) -> None:
        model.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(Xb, edge_index, edge_weight)
        (pred.float() - Yb).abs().mean().backward()

    repeats = max(1, args.repeats // 5)
    print("DCRNNSeq2Seq training step (forward + backward):")
    print(f"  float32                 {_time(lambda: step(False), device, repeats):8.1f} ms")
    print(f"  autocast bfloat16       {_time(lambda: step(True), device, repeats):8.1f} ms")


if __name__ == "__main__":
    main()
