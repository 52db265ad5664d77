r"""Benchmark: one training step of the DCRNN recipe (``--recipe dcrnn``:
``DCRNNSeq2Seq`` 2 x 64 units, ``K = 3``, 12 in / 12 out, curriculum on,
Adam lr 0.01 eps 1e-3, gradient clip 5, masked MAE), activation
recomputation off vs on, side by side in one run.

Run from the repository root (the full run; see docs/benchmarks.md)::

    python benchmarks/bench_seq2seq.py --json runs/bench_seq2seq.json
    python benchmarks/bench_seq2seq.py --device cuda [--amp bf16]    # the GPU check
    python benchmarks/bench_seq2seq.py --quick                       # tiny sizes (CI)

Cases (each measurement in its own subprocess):

* ``bay``: the PeMS-BAY graph (``tests/data/pems_bay/adj_mx_bay.pkl``, N =
  325; a random graph of the same size and degree when the file is missing,
  and the table says so), ``B = 64``: peak RSS (CUDA: peak allocated) and
  the time of one training step, recompute off and on.
* ``cali``: all-California size, N = 11,160, a synthetic directed graph of
  the real PeMS degree (10 out-edges per node, about 111,000 edges): the
  largest ``B`` (up to ``--max-batch``) whose training step completes under
  ``--cap-gib`` of RSS, recompute off and on: ``--max-batch`` first, else
  doubling then bisection, each probe its own process killed by a monitor
  when its RSS passes the cap; and that step's time (the first step: a
  second one would double the run at this size).
* ``project``: the per-GPU memory of ``B = 64`` at N = 11,160 in fp32 and
  bf16, projected from the measured per-sample figures (``cali``'s largest
  step, else ``bay``'s scaled by N), next to a 40 GB and an 80 GB GPU. bf16
  is half the fp32 activations unless the run measured under ``--amp bf16``.

"Peak" is the process's peak resident set (``VmHWM`` reset just before the
measured step, so it includes the interpreter, torch and the data; on CUDA
``torch.cuda.max_memory_allocated``); "delta" is the peak minus the resident
set before the step; "per sample" is delta / B. The step time is a second
step after the measured one (the first builds the graph's cached supports).

Each case fixes glibc's mmap threshold as the training scripts do
(:func:`torch_geometric_temporal._memory.return_freed_memory`), so freed
activations leave the resident set; set ``MALLOC_MMAP_THRESHOLD_`` to
measure another allocator setting.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

GIB = 2 ** 30
CALI_NODES = 11160
FULL = {"bay_batch": 64, "cali_nodes": CALI_NODES, "cap_gib": 20.0, "max_batch": 64, "timeout": 3600.0}
QUICK = {"bay_batch": 4, "bay_nodes": 24, "cali_nodes": 48, "cap_gib": 3.0, "max_batch": 4, "timeout": 300.0}


# ----------------------------------------------------------------------------- one step (child process)
def one_step(case: Dict) -> Dict:
    r"""Build the recipe's model on ``case``'s graph, run the measured step
    and a timed one; returns the figures (run inside the child)."""
    import torch

    from bench_dcrnn import BAY, bay_graph, synthetic_graph
    from torch_geometric_temporal._memory import peak_rss_mb, reset_peak_rss, return_freed_memory, rss_mb
    from torch_geometric_temporal.train.models import build_model
    from torch_geometric_temporal.train.recipes import RECIPES
    from torch_geometric_temporal.train.step import train_step

    # the allocator setting of the training scripts (run_experiment): freed
    # activations leave RSS at once; MALLOC_MMAP_THRESHOLD_ in the environment wins
    if case.get("malloc", "fixed") == "fixed":
        return_freed_memory()

    if case.get("threads"):
        torch.set_num_threads(case["threads"])
    recipe = RECIPES["dcrnn"].settings
    device = torch.device(case["device"])
    torch.manual_seed(0)
    graph = "synthetic"
    if case["graph"] == "bay" and os.path.exists(BAY) and not case.get("nodes"):
        edge_index, edge_weight, n = bay_graph()
        graph = "PeMS-BAY (real)"
    else:
        n = case.get("nodes") or 325
        edge_index, edge_weight, n = synthetic_graph(n, per_node=8 if case["graph"] == "bay" else 10)
        graph = f"random, {n} nodes" + (" (PeMS-BAY file missing)" if case["graph"] == "bay" and
                                        not case.get("nodes") else "")
    B, T, F = case["batch"], 12, 2
    x = torch.randn(B, T, n, F)
    y = torch.rand(B, T, n, F) * 60 + 5  # speeds; none masked
    model = build_model("seq2seq", F, T, hidden_channels=recipe["hidden"], num_layers=recipe["layers"],
                        K=recipe["diffusion_steps"], use_curriculum_learning=recipe["curriculum"],
                        cl_decay_steps=recipe["cl_decay_steps"], recompute=case["recompute"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"], eps=recipe["adam_eps"])
    edge_index, edge_weight = edge_index.to(device), edge_weight.to(device)
    amp = torch.bfloat16 if case["amp"] == "bf16" else None

    def step():
        result = train_step(model, (x, y), optimizer, edge_index=edge_index, edge_weight=edge_weight,
                            grad_clip=recipe["grad_clip"], null_value=0.0, device=device, amp=amp)
        return result.loss

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    before = rss_mb()
    reset = reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2 ** 20
    t0 = time.perf_counter()
    loss = step()
    sync()
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda" else peak_rss_mb()
    if case.get("repeat", True):  # time a second step (the first also builds the graph's supports)
        t0 = time.perf_counter()
        step()
        sync()
        seconds = time.perf_counter() - t0
    return {"nodes": n, "edges": int(edge_index.size(1)), "graph": graph, "batch": B, "peak_mib": peak,
            "delta_mib": peak - before, "per_sample_mib": (peak - before) / B, "step_s": seconds, "loss": loss,
            "peak_reset": reset, "threads": torch.get_num_threads()}


# ----------------------------------------------------------------------------- probes (parent)
def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def probe(case: Dict, cap_bytes: Optional[int], timeout: float) -> Dict:
    r"""Run :func:`one_step` on ``case`` in a new process; kill it when its
    RSS passes ``cap_bytes`` or it runs past ``timeout`` seconds.
    Returns its figures plus ``ok`` and, on failure, ``why``."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(case)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    start, why, seen = time.monotonic(), None, 0
    while proc.poll() is None:
        seen = max(seen, _rss_bytes(proc.pid))
        if cap_bytes is not None and seen > cap_bytes:
            why = f"RSS over {cap_bytes / GIB:.1f} GiB"
        elif time.monotonic() - start > timeout:
            why = f"over {timeout:.0f} s"
        if why:
            proc.kill()
            break
        time.sleep(0.05)
    out, err = proc.communicate()
    if why is None and proc.returncode != 0:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        why = f"exit {proc.returncode}: {lines[-1][:200] if lines else ''}"
    result = dict(case, ok=why is None, why=why)
    if why is None:
        result.update(json.loads(out.strip().splitlines()[-1]))
        if cap_bytes is not None and result["peak_mib"] * 2 ** 20 > cap_bytes:
            result.update(ok=False, why=f"peak {result['peak_mib'] / 1024:.1f} GiB over the cap")
    return result


def largest_batch(fits: Callable[[int], Dict], max_batch: int) -> Tuple[Optional[Dict], List[Dict]]:
    r"""The largest ``B <= max_batch`` with ``fits(B)["ok"]``: ``max_batch``
    first (one probe when it fits), else doubling from 1, then bisection
    between the last success and the first failure (a step that fits at
    ``B`` is assumed to fit below it). Returns the best probe (``None``: not
    even ``B = 1``) and every probe."""
    first = fits(max_batch)
    if first["ok"]:
        return first, [first]
    probes: List[Dict] = [first]
    best, lo, hi = None, 0, None
    b = 1
    while True:
        r = fits(b)
        probes.append(r)
        if r["ok"]:
            best, lo = r, b
            if b >= max_batch:
                return best, probes
            b = min(2 * b, max_batch)
        else:
            hi = b
            break
        if b >= max_batch:  # max_batch failed first: no need to probe it again
            hi = max_batch
            break
    while hi - lo > 1:
        mid = (lo + hi) // 2
        r = fits(mid)
        probes.append(r)
        if r["ok"]:
            best, lo = r, mid
        else:
            hi = mid
    return best, probes


# ----------------------------------------------------------------------------- report
def _mib(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def projection(per_sample_mib: float, measured_amp: str, batch: int = 64) -> Dict[str, float]:
    r"""Per-GPU GiB of ``batch`` samples from a measured per-sample figure,
    in fp32 and bf16 (bf16 = half the fp32 activations when the figure was
    measured in fp32, and the reverse)."""
    fp32 = per_sample_mib * (2 if measured_amp == "bf16" else 1)
    return {"fp32_gib": batch * fp32 / 1024, "bf16_gib": batch * fp32 / 2 / 1024}


def formula_gib(recompute: bool, batch: int = 64, nodes: int = CALI_NODES) -> float:
    r"""The ``--recompute auto`` estimate
    (:func:`~torch_geometric_temporal.train.activation.activation_bytes`) of
    the recipe's step, in GiB, to set beside the measured projection."""
    from torch_geometric_temporal.train.activation import activation_bytes
    from torch_geometric_temporal.train.recipes import RECIPES

    recipe = RECIPES["dcrnn"].settings
    return activation_bytes("seq2seq", batch_size=batch, num_nodes=nodes, num_features=2, num_timesteps_in=12,
                            num_timesteps_out=12, hidden_channels=recipe["hidden"], num_layers=recipe["layers"],
                            K=recipe["diffusion_steps"], recompute=recompute) / GIB


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes (CI): N 24/48, B <= 4")
    p.add_argument("--cases", default="bay,cali,project", help="comma list of bay, cali, project")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--amp", choices=("off", "bf16"), default="off", help="bf16 autocast of the forward pass")
    p.add_argument("--cap-gib", type=float, default=None, help="cali: RSS cap of a probe (default 20; quick 3)")
    p.add_argument("--max-batch", type=int, default=None, help="cali: largest B tried (default 64; quick 4)")
    p.add_argument("--threads", type=int, default=None, help="torch threads of each case (default: torch's)")
    p.add_argument("--timeout", type=float, default=None, help="seconds one probe may take")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--malloc", choices=("fixed", "default"), default="fixed",
                   help="glibc mmap threshold: fixed at 128 KiB as the training scripts set it, or glibc's "
                        "default (dynamic: freed heap memory stays resident)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(one_step(json.loads(args.child))))
        return 0
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    bad = [c for c in cases if c not in ("bay", "cali", "project")]
    if bad:
        p.error(f"unknown case {bad[0]!r}; choose from bay, cali, project")
    sizes = dict(QUICK if args.quick else FULL)
    for name in ("cap_gib", "max_batch", "timeout"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("# --device cuda: no CUDA device here (torch.cuda.is_available() is False); nothing run")
            return 0
    cap = None if args.device.startswith("cuda") else int(sizes["cap_gib"] * GIB)
    base = {"device": args.device, "amp": args.amp, "threads": args.threads, "malloc": args.malloc}
    results: Dict[str, object] = {"device": args.device, "amp": args.amp, "quick": args.quick,
                                  "cap_gib": None if cap is None else sizes["cap_gib"]}
    memory = "peak allocated MiB" if cap is None else "peak RSS MiB"
    print(f"# bench_seq2seq: DCRNN recipe, one training step, device {args.device}, amp {args.amp}, "
          f"malloc {args.malloc}"
          f"{' (quick sizes)' if args.quick else ''}")

    if "bay" in cases:
        rows = [probe(dict(base, graph="bay", nodes=sizes.get("bay_nodes"), batch=sizes["bay_batch"],
                           recompute=rc), None, sizes["timeout"]) for rc in (False, True)]
        results["bay"] = rows
        print(f"\n## (a) PeMS-BAY graph, B = {sizes['bay_batch']}")
        print(f"| recompute | graph | {memory} | delta MiB | per sample MiB | step s | vs off |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            if not r["ok"]:
                print(f"| {'on' if r['recompute'] else 'off'} | - | failed: {r['why']} | | | | |")
                continue
            ratio = (f"{r['peak_mib'] / rows[0]['peak_mib']:.2f}x mem, {r['step_s'] / rows[0]['step_s']:.2f}x time"
                     if r is not rows[0] and rows[0]["ok"] else "baseline")
            print(f"| {'on' if r['recompute'] else 'off'} | {r['graph']}, {r['edges']:,} edges | "
                  f"{_mib(r['peak_mib'])} | {_mib(r['delta_mib'])} | {r['per_sample_mib']:.1f} | "
                  f"{r['step_s']:.2f} | {ratio} |")

    if "cali" in cases:
        n = sizes["cali_nodes"]
        print(f"\n## (b) N = {n:,} (synthetic graph, 10 out-edges per node): largest B <= {sizes['max_batch']} "
              + ("" if cap is None else f"under {sizes['cap_gib']:g} GiB RSS"))
        print(f"| recompute | largest B | {memory} | per sample MiB | step s (first step) | probes (B: ok/why) |")
        print("|---|---|---|---|---|---|")
        results["cali"] = {}
        for rc in (False, True):
            best, probes = largest_batch(lambda b: probe(dict(base, graph="cali", nodes=n, batch=b, recompute=rc, repeat=False),
                                                         cap, sizes["timeout"]), sizes["max_batch"])
            results["cali"]["on" if rc else "off"] = {"best": best, "probes": probes}
            tried = ", ".join(f"{q['batch']}: {'ok' if q['ok'] else q['why']}" for q in probes)
            if best is None:
                print(f"| {'on' if rc else 'off'} | none (B = 1 fails) | - | - | - | {tried} |")
            else:
                print(f"| {'on' if rc else 'off'} | {best['batch']} | {_mib(best['peak_mib'])} | "
                      f"{best['per_sample_mib']:.1f} | {best['step_s']:.2f} | {tried} |")

    if "project" in cases:
        print(f"\n## (c) projected per-GPU memory, B = 64, N = {CALI_NODES:,}")
        print("| recompute | from | per sample MiB | fp32 GiB | bf16 GiB | 40 GB GPU | 80 GB GPU | formula fp32 GiB |")
        print("|---|---|---|---|---|---|---|---|")
        results["project"] = {}
        for key in ("off", "on"):
            source, per_sample = None, None
            best = (results.get("cali") or {}).get(key, {}).get("best")
            if best is not None:
                per_sample = best["per_sample_mib"] * CALI_NODES / best["nodes"]
                source = f"(b) B={best['batch']}, N={best['nodes']:,}"
            else:
                bay = next((r for r in results.get("bay") or [] if r["recompute"] == (key == "on") and r["ok"]), None)
                if bay is not None:
                    per_sample = bay["per_sample_mib"] * CALI_NODES / bay["nodes"]
                    source = f"(a) B={bay['batch']}, N={bay['nodes']}, scaled by N"
            if per_sample is None:
                print(f"| {key} | no measurement | | | | | | |")
                continue
            proj = projection(per_sample, args.amp)
            proj["formula_fp32_gib"] = formula_gib(key == "on")
            results["project"][key] = dict(proj, per_sample_mib=per_sample, source=source)
            gpus = [", ".join(f"{dtype} {'fits' if proj[f'{dtype}_gib'] * GIB <= size * 1e9 else 'no'}"
                              for dtype in ("fp32", "bf16")) for size in (40, 80)]
            print(f"| {key} | {source} | {per_sample:,.1f} | {proj['fp32_gib']:,.1f} | {proj['bf16_gib']:,.1f} | "
                  f"{gpus[0]} | {gpus[1]} | {proj['formula_fp32_gib']:,.1f} |")
    if args.json:
        from torch_geometric_temporal._atomic import atomic_write

        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with atomic_write(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
