r"""Benchmark: one training step of each recurrent model on an index batch,
batched over the batch (:class:`BatchedRecurrent`) vs a loop over its items,
and vs upstream's own batched model where upstream has one.

Run from the repository root::

    python benchmarks/bench_models.py                        # B = 64, 3 repeats, 1 thread
    python benchmarks/bench_models.py --batch-size 16 --repeats 3 --models tgcn,a3tgcn

Workload: an index batch ``X (B, T, N, F)`` with ``T = 12``, ``F = 2`` (speed
and time of day, as PeMS-BAY), synthetic standard-normal values, on the real
PeMS-BAY graph (``tests/data/pems_bay/adj_mx_bay.pkl``, read with the
package's restricted unpickler: N = 325 sensors, E = 2,694 weighted edges).
A *training step* is the forward over all ``T`` steps of every batch item,
a mean squared error against a fixed random target of the output's shape,
backward and one Adam step.

Models (``--models``): ``gconv_gru``, ``gconv_lstm``, ``gc_lstm`` (``K``
Chebyshev terms), ``tgcn``, ``a3tgcn`` (``periods = T``), ``dcrnn`` (``K``
diffusion terms), ``agcrn`` (embedding size 8; it learns its graph, so the
PeMS-BAY edges are unused), ``lrgcn`` (one relation, unweighted),
``dygrae`` (one propagation step, ``add`` aggregation); ``hidden`` channels
each. Not timed: ``MPNNLSTM`` (already batched by stacking samples; its
batch normalization uses the statistics of the whole call, so one item at a
time is a different function), ``EvolveGCNH``/``EvolveGCNO`` (their state is
the module's weight: nothing per item to batch) and ``HeteroGCLSTM``
(heterogeneous graphs).

Implementations, all built from one freshly initialized cell (deep copies,
the same parameters):

* ``batched``: :class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`
  around the cell, over the whole batch at once; for ``a3tgcn``, which
  ``BatchedRecurrent`` does not wrap, upstream's batched class ``A3TGCN2`` on
  ``(B, N, F, T)``;
* ``loop``: the cell's own ``forward`` called step by step for one batch
  item after the other, as upstream's per-snapshot examples do (``B * T``
  calls; ``a3tgcn``: ``A3TGCN`` once per item on ``(N, F, T)``; ``agcrn``:
  ``(1, N, F)`` per call);
* ``upstream`` (``tgcn`` only): upstream's batched API used as its index-
  batching examples use it, ``TGCN2`` called once per time step on
  ``(B, N, F)``. ``TGCN2`` and ``A3TGCN2`` are this package's classes, which
  implement upstream's API (upstream itself is not installed).

``--memory``: peak memory of one training step of the attention and
spatio-temporal convolution models (``stgcn``, ``astgcn``, ``mstgcn``,
``gman``, ``mtgnn``, each as ``--model`` builds it with its default flags)
next to DCRNN seq2seq (``--model seq2seq``: 64 units, 2 layers) in the same
run, at PeMS-BAY (N = 325, the real graph) and PeMS-All-LA sizes (N = 2,716,
a synthetic graph of 8 random edges per node: the graph only sets ``E``,
which none of these memories depend on much). Each case runs in a fresh
process (one warm-up step, which allocates Adam's state, then the measured
one): the figure is the peak RSS during the measured step minus the RSS
before it (``VmHWM`` reset through ``/proc/self/clear_refs``), on CUDA
(``--device cuda``) ``max_memory_allocated`` minus the allocated memory
before it. The table also gives the elements of the largest N x N tensor
the model builds per step (ASTGCN: the ``(B, N, N)`` spatial attention of
each block; GMAN: the ``(B K, T, N, N)`` spatial attention of each
ST-Attention block, ``K`` heads; MTGNN: the learned
``(N, N)`` adjacency, independent of ``B``). Cases over ``--memory-limit``
GiB by that formula are not run but extrapolated, clearly marked::

    python benchmarks/bench_models.py --memory                   # N = 325, 2716; B = 2, 1
    python benchmarks/bench_models.py --memory --memory-nodes 325 --memory-batches 8

Every implementation's loss on the first step is printed next to the batched
one (``max rel. loss diff``): they compute the same function, so it is at
rounding level. Timings: ``--repeats`` rounds after one warm-up step each;
within a round the implementations run one after the other, so they see the
same background load; the table gives the median seconds per step and the
speed-up of ``batched`` over each other one (``x`` = other / batched).
"""
import argparse
import copy
import gc
import json
import os
import subprocess
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_dcrnn import bay_graph  # noqa: E402  (the PeMS-BAY graph, restricted unpickler)

T_IN, F_IN = 12, 2


@dataclass
class Graph:
    """The shared graph of the batch."""
    edge_index: torch.Tensor
    edge_weight: Optional[torch.Tensor]
    num_nodes: int


Run = Callable[[torch.Tensor, Graph], torch.Tensor]


def loop_per_step(step: Callable, X: torch.Tensor, lstm: bool) -> torch.Tensor:
    r"""Every item, every step: ``step(x (N, F), H, C)`` of a single-graph
    cell, returning ``H`` (GRU cells) or ``(H, C)`` (``lstm``). Returns the
    hidden states ``(B, T, N, C)``."""
    items = []
    for b in range(X.size(0)):
        H = C = None
        hs = []
        for t in range(X.size(1)):
            if lstm:
                H, C = step(X[b, t], H, C)
            else:
                H = step(X[b, t], H, None)
            hs.append(H)
        items.append(torch.stack(hs))
    return torch.stack(items)


def _recurrent(cell: torch.nn.Module) -> torch.nn.Module:
    from torch_geometric_temporal.nn.recurrent.batched import BatchedRecurrent

    torch.manual_seed(2)  # AGCRN: the same node embeddings in every copy
    return BatchedRecurrent(cell)


def batched(cell: torch.nn.Module) -> Tuple[torch.nn.Module, Run]:
    """``BatchedRecurrent(cell)`` over the whole batch."""
    model = _recurrent(cell)
    return model, lambda X, g: model(X, g.edge_index, g.edge_weight)


def looped(cell: torch.nn.Module) -> Tuple[torch.nn.Module, Run]:
    """The single-graph cell, item by item and step by step (its own
    ``forward``, as upstream's per-snapshot examples call it)."""
    from torch_geometric_temporal.nn.recurrent import (
        AGCRN, DyGrEncoder, GCLSTM, GConvLSTM, LRGCN)

    if isinstance(cell, AGCRN):  # (1, N, F) per call, embeddings held as in BatchedRecurrent
        holder = _recurrent(cell)
        return holder, lambda X, g: loop_per_step(
            lambda x, H, C: cell(x[None], holder.node_embeddings, H), X, False).squeeze(2)
    if isinstance(cell, LRGCN):
        return cell, lambda X, g: loop_per_step(
            lambda x, H, C: cell(x, g.edge_index, g.edge_index.new_zeros(g.edge_index.size(1)), H, C),
            X, True)
    if isinstance(cell, DyGrEncoder):
        return cell, lambda X, g: loop_per_step(
            lambda x, H, C: cell(x, g.edge_index, g.edge_weight, H, C)[1:], X, True)
    lstm = isinstance(cell, (GConvLSTM, GCLSTM))
    return cell, lambda X, g: loop_per_step(
        lambda x, H, C: cell(x, g.edge_index, g.edge_weight, H, C) if lstm
        else cell(x, g.edge_index, g.edge_weight, H), X, lstm)


def tgcn2_per_step(cell: torch.nn.Module) -> Tuple[torch.nn.Module, Run]:
    """Upstream's batched T-GCN: ``TGCN2`` called once per time step on
    ``(B, N, F)``."""
    from torch_geometric_temporal.nn.recurrent import TGCN2

    model = TGCN2(cell.in_channels, cell.out_channels, batch_size=1)
    model.load_state_dict(cell.state_dict())

    def run(X, g):
        H, hs = None, []
        for t in range(X.size(1)):
            H = model(X[:, t], g.edge_index, g.edge_weight, H)
            hs.append(H)
        return torch.stack(hs, dim=1)

    return model, run


def a3tgcn2(cell: torch.nn.Module) -> Tuple[torch.nn.Module, Run]:
    """Upstream's batched A3T-GCN: ``A3TGCN2`` on ``(B, N, F, T)``."""
    from torch_geometric_temporal.nn.recurrent import A3TGCN2

    model = A3TGCN2(cell.in_channels, cell.out_channels, cell.periods, batch_size=1)
    model.load_state_dict(cell.state_dict())
    return model, lambda X, g: model(X.permute(0, 2, 3, 1), g.edge_index, g.edge_weight)


def a3tgcn_looped(cell: torch.nn.Module) -> Tuple[torch.nn.Module, Run]:
    """``A3TGCN`` item by item on ``(N, F, T)``."""
    return cell, lambda X, g: torch.stack(
        [cell(X[b].permute(1, 2, 0), g.edge_index, g.edge_weight) for b in range(X.size(0))])


@dataclass
class Spec:
    """One model: its single-graph cell and the implementations to time
    (label -> builder taking a copy of the cell)."""
    make_cell: Callable[[int, int, int, int], torch.nn.Module]  # (F, C, N, K) -> cell
    impls: Dict[str, Callable[[torch.nn.Module], Tuple[torch.nn.Module, Run]]]
    weighted: bool = True  # LRGCN takes edge types, no edge weights
    note: str = ""


def _cheb(cls_name: str):
    def make(F, C, N, K):
        import torch_geometric_temporal.nn.recurrent as rec

        return getattr(rec, cls_name)(F, C, K=K)
    return make


def _make(F, C, N, K, name):
    import torch_geometric_temporal.nn.recurrent as rec

    return {"tgcn": lambda: rec.TGCN(F, C),
            "a3tgcn": lambda: rec.A3TGCN(F, C, periods=T_IN),
            "dcrnn": lambda: rec.DCRNN(F, C, K=K),
            "agcrn": lambda: rec.AGCRN(N, F, C, K=K, embedding_dimensions=8),
            "lrgcn": lambda: rec.LRGCN(F, C, num_relations=1, num_bases=None),
            "dygrae": lambda: rec.DyGrEncoder(conv_out_channels=max(F, C), conv_num_layers=1,
                                              conv_aggr="add", lstm_out_channels=C,
                                              lstm_num_layers=1)}[name]()


def _named(name):
    return lambda F, C, N, K: _make(F, C, N, K, name)


_DEFAULT = {"batched": batched, "loop": looped}
MODELS: Dict[str, Spec] = {
    "gconv_gru": Spec(_cheb("GConvGRU"), _DEFAULT),
    "gconv_lstm": Spec(_cheb("GConvLSTM"), _DEFAULT),
    "gc_lstm": Spec(_cheb("GCLSTM"), _DEFAULT),
    "tgcn": Spec(_named("tgcn"), {**_DEFAULT, "upstream": tgcn2_per_step},
                 note="upstream: TGCN2 per time step on (B, N, F)"),
    "a3tgcn": Spec(_named("a3tgcn"), {"batched": a3tgcn2, "loop": a3tgcn_looped},
                   note="batched: A3TGCN2 on (B, N, F, T), upstream's batched API itself (BatchedRecurrent "
                        "does not wrap A3TGCN); loop: A3TGCN per item"),
    "dcrnn": Spec(_named("dcrnn"), _DEFAULT),
    "agcrn": Spec(_named("agcrn"), _DEFAULT, note="learned graph (edge_index unused)"),
    "lrgcn": Spec(_named("lrgcn"), _DEFAULT, weighted=False, note="one relation, no weights"),
    "dygrae": Spec(_named("dygrae"), _DEFAULT),
}


def build(spec: Spec, F: int, C: int, K: int, g: Graph) -> Dict[str, Tuple[torch.nn.Module, Run]]:
    """The implementations of one model, each from a copy of one freshly
    initialized cell (the same parameters)."""
    torch.manual_seed(0)
    cell = spec.make_cell(F, C, g.num_nodes, K)
    return {label: make(copy.deepcopy(cell)) for label, make in spec.impls.items()}


def train_step(model: torch.nn.Module, run, opt, X: torch.Tensor, target: torch.Tensor,
               g: Graph) -> float:
    """Forward over the batch, MSE, backward, Adam step; returns the loss."""
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(run(X, g), target)
    loss.backward()
    opt.step()
    return loss.item()


def bench_model(name: str, B: int, C: int, K: int, repeats: int, g: Graph) -> dict:
    """Time every implementation of one model; returns a row for the table."""
    spec = MODELS[name]
    if not spec.weighted:
        g = Graph(g.edge_index, None, g.num_nodes)
    impls = build(spec, F_IN, C, K, g)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(B, T_IN, g.num_nodes, F_IN, generator=gen)
    with torch.no_grad():
        shape = impls["batched"][1](X, g).shape
    target = torch.randn(shape, generator=gen)
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, (m, _) in impls.items()}
    first = {k: train_step(m, run, opts[k], X, target, g) for k, (m, run) in impls.items()}  # warm-up
    times: Dict[str, List[float]] = {k: [] for k in impls}
    for _ in range(repeats):
        for k, (m, run) in impls.items():
            t0 = time.perf_counter()
            train_step(m, run, opts[k], X, target, g)
            times[k].append(time.perf_counter() - t0)
    ref = first["batched"]
    return {"model": name, "note": spec.note, "output": tuple(shape), "runs": times,
            "median": {k: statistics.median(v) for k, v in times.items()},
            "loss_diff": max(abs(v - ref) / max(abs(ref), 1e-12) for v in first.values())}


def table(rows: List[dict]) -> str:
    """The markdown table of :func:`bench_model` rows."""
    lines = ["| model | output | batched s/step | loop over items s/step | batched vs loop "
             "| upstream's batched API s/step | batched vs it | max rel. loss diff | notes |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        med = r["median"]
        up = med.get("upstream")
        up_cells = f"{up:.3f} | {up / med['batched']:.1f}x" if up is not None else "none | "
        lines.append(f"| {r['model']} | {tuple(r['output'])} | {med['batched']:.3f} | "
                     f"{med['loop']:.3f} | {med['loop'] / med['batched']:.1f}x | {up_cells} | "
                     f"{r['loss_diff']:.0e} | {r['note']} |")
    return "\n".join(lines)


#: ``--memory`` models: the attention / convolution ``--model`` names and
#: the baseline measured next to them.
MEMORY_BASELINE = "seq2seq"


def memory_models() -> Tuple[str, ...]:
    from torch_geometric_temporal.train.models import ATTENTION_MODELS

    return (*ATTENTION_MODELS, MEMORY_BASELINE)


def nxn_elements(name: str, n: int, B: int, T: int = T_IN) -> int:
    r"""Elements of the largest N x N tensor ``--model name`` builds in one
    forward with its default flags (0: none)."""
    from torch_geometric_temporal.train.models import ATTENTION_MODELS

    if name == "astgcn":
        return B * n * n
    if name == "gman":
        return B * ATTENTION_MODELS["gman"][1] * T * n * n  # K heads
    if name == "mtgnn":
        return n * n
    return 0


def memory_graph(n: int) -> Graph:
    """The real PeMS-BAY graph for N = 325, else 8 random edges per node."""
    from bench_dcrnn import synthetic_graph

    ei, ew, n = bay_graph() if n == 325 else synthetic_graph(n, per_node=8)
    return Graph(ei, ew.float(), n)


def _trim_heap() -> None:
    """Return freed heap memory to the OS (glibc ``malloc_trim``), so the
    measured step's allocations show in its RSS instead of reusing what the
    warm-up step freed; a no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def memory_case(name: str, n: int, B: int, device: str = "cpu") -> dict:
    r"""Peak memory (MiB) of one training step of ``--model name`` on
    ``X (B, T, N, F)``, after one warm-up step; run it in a fresh process
    (the allocator keeps freed memory, which would hide a later peak)."""
    from torch_geometric_temporal._memory import MB, peak_rss_mb, reset_peak_rss, rss_mb
    from torch_geometric_temporal.train.models import build_model
    from torch_geometric_temporal.train.step import forward_model

    g = memory_graph(n)
    dev = torch.device(device)
    torch.manual_seed(0)
    model = build_model(name, F_IN, T_IN, num_timesteps_in=T_IN, num_nodes=n).to(dev)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(B, T_IN, n, F_IN, generator=gen).to(dev)
    X[..., 1] = torch.rand(B, 1, 1, generator=gen).to(dev)  # a time of day (GMAN reads it back)
    ei, ew = g.edge_index.to(dev), g.edge_weight.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    target = torch.randn(B, T_IN, n, 1, generator=gen).to(dev)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(forward_model(model, X, ei, ew), target)
        loss.backward()
        opt.step()

    step()
    gc.collect()
    _trim_heap()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        step()
        torch.cuda.synchronize(dev)
        peak = (torch.cuda.max_memory_allocated(dev) - before) / MB
        rss = None
    else:
        reset_peak_rss()
        before = rss_mb()
        t0 = time.perf_counter()
        step()
        seconds = time.perf_counter() - t0
        peak = peak_rss_mb() - before
        rss = peak_rss_mb()
    return {"model": name, "N": n, "B": B, "T": T_IN, "peak_mib": peak, "process_peak_mib": rss,
            "nxn_mib": nxn_elements(name, n, B) * 4 / MB, "params": sum(p.numel() for p in model.parameters()),
            "seconds": seconds if dev.type != "cuda" else None}


def run_memory_case(name: str, n: int, B: int, threads: int, device: str) -> dict:
    """:func:`memory_case` in a fresh Python process."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-case", f"{name},{n},{B}",
                          "--threads", str(threads), "--device", device],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory case {name} N={n} B={B} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_table(rows: List[dict]) -> str:
    """The markdown table of :func:`memory_case` rows (``extrapolated`` ones marked)."""
    base = {(r["N"], r["B"]): r["peak_mib"] for r in rows if r["model"] == MEMORY_BASELINE
            and not r.get("extrapolated")}
    lines = ["| model | N | B | T | peak memory of one training step (MiB) | vs DCRNN seq2seq (same N, B) "
             "| largest N x N tensor (MiB) | parameters | step s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ref = base.get((r["N"], r["B"]))
        ratio = f"{r['peak_mib'] / ref:.1f}x" if ref and not r.get("extrapolated") else "n/a"
        peak = f"{r['peak_mib']:.1f}" + (" (extrapolated, see note)" if r.get("extrapolated") else "")
        nxn = f"{r['nxn_mib']:.1f}" if r["nxn_mib"] else "none"
        secs = f"{r['seconds']:.2f}" if r.get("seconds") is not None else "n/a"
        lines.append(f"| {r['model']} | {r['N']} | {r['B']} | {r['T']} | {peak} | {ratio} | {nxn} | "
                     f"{r['params']:,} | {secs} |")
    return "\n".join(lines)


def extrapolate(small: dict, n: int, B: int) -> dict:
    r"""A row at ``(n, B)`` from a measured one: its peak x ``(n / N)^2 x
    (B / its B)`` (the N x N tensors dominate the step), marked ``extrapolated``."""
    scale = (n / small["N"]) ** 2 * B / small["B"]
    return {**small, "N": n, "B": B, "peak_mib": small["peak_mib"] * scale, "process_peak_mib": None,
            "nxn_mib": nxn_elements(small["model"], n, B) * 4 / 2 ** 20, "seconds": None, "extrapolated": True}


def memory_main(args, names: List[str]) -> None:
    nodes = [int(v) for v in args.memory_nodes.split(",")]
    batches = [int(v) for v in args.memory_batches.split(",")]
    if len(batches) == 1:
        batches *= len(nodes)
    if len(batches) != len(nodes) or min(nodes + batches) < 1:
        raise SystemExit("--memory-batches needs one B >= 1, or one per --memory-nodes value")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}, load average {load:.2f}; "
          f"T={T_IN}, F={F_IN}; one training step (forward, MSE, backward, Adam) after a warm-up step; "
          f"cases whose largest N x N tensor exceeds {args.memory_limit} GiB/4 are extrapolated", flush=True)
    rows: List[dict] = []
    measured: Dict[Tuple[str, int], dict] = {}
    for n, B in zip(nodes, batches):
        for name in tqdm(names, desc=f"N={n}", file=sys.stderr):
            if nxn_elements(name, n, B) * 4 * 4 > args.memory_limit * 2 ** 30:
                small = measured.get((name, nodes[0]))
                if small is None:
                    continue
                rows.append(extrapolate(small, n, B))
                continue
            row = run_memory_case(name, n, B, args.threads, args.device)
            measured.setdefault((name, n), row)
            rows.append(row)
    print("\n" + memory_table(rows))
    if any(r.get("extrapolated") for r in rows):
        print(f"\nextrapolated: the N = {nodes[0]} measurement x (N / {nodes[0]})^2 x (B / its B): the N x N "
              "tensors dominate that model's step; not measured here (over the --memory-limit)")


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=None,
                   help="comma-separated subset of " + ",".join(MODELS) + " (default: all)")
    p.add_argument("--batch-size", type=int, default=64, help="B (default 64)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed steps per implementation, after one warm-up step (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--hidden", type=int, default=32, help="hidden channels C (default 32)")
    p.add_argument("-K", type=int, default=2,
                   help="Chebyshev filter size / diffusion steps (default 2)")
    p.add_argument("--memory", action="store_true",
                   help="peak memory of one training step of the attention models and DCRNN seq2seq "
                        "(--models: a subset of " + ",".join(memory_models()) + ")")
    p.add_argument("--memory-nodes", default="325,2716", help="N values of --memory (default 325,2716)")
    p.add_argument("--memory-batches", default="2,1", help="B per --memory-nodes value (default 2,1)")
    p.add_argument("--memory-limit", type=float, default=3.0,
                   help="GiB: --memory extrapolates a case whose largest N x N tensor, x4 (saved for "
                        "backward), exceeds it (default 3)")
    p.add_argument("--device", default="cpu", help="--memory: cpu or cuda (default cpu)")
    p.add_argument("--memory-case", default=None, help=argparse.SUPPRESS)  # name,N,B: one case, JSON out
    args = p.parse_args(argv)
    if min(args.batch_size, args.repeats, args.threads, args.hidden, args.K) < 1:
        p.error("--batch-size, --repeats, --threads, --hidden and -K must be >= 1")
    torch.set_num_threads(args.threads)
    if args.memory_case:
        name, n, B = args.memory_case.split(",")
        print(json.dumps(memory_case(name, int(n), int(B), args.device)))
        return
    choices = memory_models() if args.memory else tuple(MODELS)
    names = [m for m in args.models.split(",") if m] if args.models else list(choices)
    unknown = [m for m in names if m not in choices]
    if unknown or not names:
        p.error(f"unknown model(s) {unknown}; choose from {','.join(choices)}")
    if args.memory:
        memory_main(args, names)
        return
    ei, ew, n = bay_graph()
    g = Graph(ei, ew.float(), n)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} thread(s), load average {load:.2f}; "
          f"PeMS-BAY graph N={n}, E={ei.size(1)}; B={args.batch_size}, T={T_IN}, F={F_IN}, "
          f"hidden={args.hidden}, K={args.K}, {args.repeats} repeat(s)", flush=True)
    t0 = time.perf_counter()
    rows = [bench_model(m, args.batch_size, args.hidden, args.K, args.repeats, g)
            for m in tqdm(names, desc="models", file=sys.stderr)]
    print("\n" + table(rows))
    print("\nseconds per repeat:")
    for r in rows:
        print(f"  {r['model']}: " + "; ".join(
            f"{k} " + ", ".join(f"{s:.3f}" for s in v) for k, v in r["runs"].items()))
    print(f"total wall {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
