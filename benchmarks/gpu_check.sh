#!/usr/bin/env bash
# One command that checks the GPU paths on a CUDA machine and writes ONE results
# file, <out>/gpu_check_results.json (device, torch/CUDA versions, each step's
# status, seconds and figures; each step's output is in <out>/<step>.log).
#
# Steps (each runs even when an earlier one failed; exit 1 if any failed):
#   env         device name and count, torch / CUDA / cuDNN / NCCL versions
#   gpu-tests   every test marked gpu:            pytest -m gpu tests
#   bench       GPU-resident vs CPU-resident index-batching (epoch time, H2D
#               bytes per batch):                 bench_index_batching.py --gpu
#   seq2seq     one training step of the DCRNN recipe on the PeMS-BAY graph,
#               B = 64, recompute off and on, fp32 then --amp bf16, and the
#               projected B = 64 memory at N = 11,160:
#                                                 bench_seq2seq.py --device cuda [--amp bf16]
#   train-g     chicken_pox_main.py -m index -g for 2 epochs, then --resume -e 3;
#               checks that the outputs hold epochs 1..3 and a checkpoint
#   ddp-2gpu    pems_ddp.py -m index -np 2 -g (2 ranks, NCCL) when 2 GPUs exist;
#               skipped with a line otherwise
# Every step has a time limit; on one GPU they add up to 8 minutes (ddp-2gpu: 3 more).
#
# Usage:
#   bash benchmarks/gpu_check.sh [--out DIR] [--steps env,gpu-tests,...] [--dry-run]
#   PYTHON=/path/to/python bash benchmarks/gpu_check.sh
# --out: default runs/gpu_check in the repository; --steps: a subset (env always runs).
# PYTHON: default .venv/bin/python if present, else python3 (printed first).
# --dry-run (no GPU needed; CI runs it through tests/benchmarks/test_gpu_check.py):
# print every command, check that each parses (python scripts: their argparse
# parser on the real arguments, nothing runs; pytest: --collect-only -m gpu),
# exit 0 when all parse.
set -euo pipefail

ROOT="${GPU_CHECK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
CALLER_DIR="$PWD"
cd "$ROOT"

usage() { sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "gpu_check.sh: error: $*; see --help" >&2; exit 2; }

DRY=0
OUT="runs/gpu_check"  # relative to the repository root
ALL_STEPS="env,gpu-tests,bench,seq2seq,train-g,ddp-2gpu"
STEPS="$ALL_STEPS"
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT="$2"; shift
               case "$OUT" in /*) ;; *) OUT="$CALLER_DIR/$OUT" ;; esac ;;
        --steps) [ $# -ge 2 ] || die "--steps needs a comma list of $ALL_STEPS"; STEPS="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1'" ;;
    esac
    shift
done
for s in ${STEPS//,/ }; do
    case ",$ALL_STEPS," in *",$s,"*) ;; *) die "unknown step '$s' (steps: $ALL_STEPS)" ;; esac
done
wanted() { case ",$STEPS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=".venv/bin/python"
else PY="python3"; fi
command -v "$PY" >/dev/null 2>&1 || die "python '$PY' not found; set PYTHON=/path/to/python"
echo "gpu_check: python $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])')), repo $ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

STEPS_TSV="$OUT/.steps.tsv"
TIMEOUT=""
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout"

# ------------------------------------------------------------------ the commands
PYTEST=("$PY" -m pytest -q -m gpu tests -rs -p no:cacheprovider --junitxml "$OUT/gpu_tests.xml")
BENCH=("$PY" benchmarks/bench_index_batching.py --gpu --sizes pems-bay --epochs 3
       --json "$OUT/bench_gpu.json")
SEQ2SEQ=("$PY" benchmarks/bench_seq2seq.py --device cuda --cases bay,project --json "$OUT/seq2seq_fp32.json")
SEQ2SEQ_BF16=("$PY" benchmarks/bench_seq2seq.py --device cuda --amp bf16 --cases bay,project
              --json "$OUT/seq2seq_bf16.json")
TRAIN=("$PY" scalability_testing/chicken_pox_main.py -m index -g -q -e 2
       --out-dir "$OUT/chickenpox_g" --overwrite)
RESUME=("$PY" scalability_testing/chicken_pox_main.py -m index -g -q -e 3
        --out-dir "$OUT/chickenpox_g" --resume)
DDP=("$PY" scalability_testing/pems_ddp.py --dataset chickenpox -m index -np 2 -g -q -e 2
     --timeout 150 --collective-timeout 60 --out-dir "$OUT/ddp_2gpu" --overwrite)

# argparse-only check: run the script until its parser has parsed the real
# arguments, then stop (nothing is loaded, trained or written)
read -r -d '' ARGCHECK <<'PYEOF' || true
import argparse, runpy, sys

class Parsed(BaseException):
    pass

original = argparse.ArgumentParser.parse_args

def parse_then_stop(self, args=None, namespace=None):
    original(self, args, namespace)
    raise Parsed

argparse.ArgumentParser.parse_args = parse_then_stop
script = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    runpy.run_path(script, run_name="__main__")
except Parsed:
    print(f"parses: {script}")
    sys.exit(0)
except SystemExit as exit_:
    sys.exit(f"does not parse: {script} (exit {exit_.code})")
sys.exit(f"{script} returned without parsing its arguments")
PYEOF

show() { printf '%q ' "$@"; }

record() {  # name status rc seconds command detail
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6//$'\t'/ }" >> "$STEPS_TSV"
    echo "gpu_check: [$2] $1 ($4 s)${6:+: $6}"
}

run_logged() {  # limit log command...: run it, output to log; sets RC and SECS
    local limit="$1" log="$2"; shift 2
    local t0=$SECONDS
    echo "gpu_check: \$ $(show "$@")" | tee -a "$log"
    if [ -n "$TIMEOUT" ]; then
        if "$TIMEOUT" -k 10 "$limit" "$@" >> "$log" 2>&1; then RC=0; else RC=$?; fi
    else
        if "$@" >> "$log" 2>&1; then RC=0; else RC=$?; fi
    fi
    SECS=$((SECONDS - t0))
    [ "$RC" = 124 ] && echo "gpu_check: timed out after $limit s" | tee -a "$log"
    return 0
}

last_line() { grep -v '^\s*$' "$1" | tail -n 1 | cut -c1-300; }

step() {  # name limit command...
    local name="$1" limit="$2"; shift 2
    local log="$OUT/$name.log"
    : > "$log"
    run_logged "$limit" "$log" "$@"
    finish "$name" "$log" "$SECS" "$(show "$@")"
}

finish() {  # name log seconds commands: record the outcome ($RC) of the last run_logged
    if [ "$RC" = 0 ]; then record "$1" passed 0 "$3" "$4"
    else record "$1" failed "$RC" "$3" "$4" "$(last_line "$2")"; fi
}

# ------------------------------------------------------------------ dry run
if [ "$DRY" = 1 ]; then
    echo "gpu_check: dry run: the commands, each checked to parse (nothing runs)"
    fail=0
    check() {  # label command...
        local label="$1"; shift
        echo "  $label: $(show "$@")"
        local out
        if [ "$2" = "-m" ] && [ "$3" = "pytest" ]; then
            if out=$("$PY" -m pytest -q --collect-only -m gpu tests -p no:cacheprovider 2>&1); then
                echo "    collects: $(echo "$out" | grep -E 'tests? collected|selected' | tail -n 1)"
            else
                echo "    does not collect:"; echo "$out" | tail -n 5 | sed 's/^/      /'; fail=1
            fi
        else
            if out=$("$PY" -c "$ARGCHECK" "${@:2}" 2>&1); then
                echo "    $(echo "$out" | tail -n 1)"
            else
                echo "    $(echo "$out" | tail -n 2 | tr '\n' ' ')"; fail=1
            fi
        fi
    }
    wanted gpu-tests && check gpu-tests "${PYTEST[@]}"
    wanted bench && check bench "${BENCH[@]}"
    wanted seq2seq && { check seq2seq "${SEQ2SEQ[@]}"; check seq2seq-bf16 "${SEQ2SEQ_BF16[@]}"; }
    wanted train-g && { check train-g "${TRAIN[@]}"; check train-g-resume "${RESUME[@]}"; }
    wanted ddp-2gpu && check "ddp-2gpu (when 2 GPUs exist)" "${DDP[@]}"
    if [ "$fail" = 0 ]; then echo "gpu_check: dry run: every command parses"; exit 0; fi
    echo "gpu_check: dry run: a command does not parse" >&2
    exit 1
fi

# ------------------------------------------------------------------ real run
T_START=$SECONDS
mkdir -p "$OUT"
: > "$STEPS_TSV"
"$PY" - "$OUT/env.json" > "$OUT/env.log" 2>&1 <<'PYEOF' || true
import json, platform, sys
import torch
env = {"python": platform.python_version(), "torch": torch.__version__,
       "cuda_runtime": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
       "device_count": torch.cuda.device_count() if torch.cuda.is_available() else 0}
if env["cuda_available"]:
    env["devices"] = [torch.cuda.get_device_name(i) for i in range(env["device_count"])]
    env["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    env["cudnn"] = torch.backends.cudnn.version()
    env["nccl"] = ".".join(map(str, torch.cuda.nccl.version())) if torch.distributed.is_nccl_available() else None
    env["memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
with open(sys.argv[1], "w") as f:
    json.dump(env, f, indent=1)
print(json.dumps(env))
PYEOF
GPUS=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_count"])' "$OUT/env.json" 2>/dev/null || echo 0)
if [ "$GPUS" -ge 1 ]; then
    record env passed 0 0 "torch.cuda" "$(cat "$OUT/env.log" | tail -n 1 | cut -c1-300)"
else
    record env failed 1 0 "torch.cuda" "no CUDA device: $(last_line "$OUT/env.log"); on a machine without a GPU run --dry-run"
fi

not_run() { record "$1" failed "" 0 "" "not run: no CUDA device"; }

if wanted gpu-tests; then
    if [ "$GPUS" -ge 1 ]; then step gpu-tests 170 "${PYTEST[@]}"; else not_run gpu-tests; fi
fi
if wanted bench; then
    if [ "$GPUS" -ge 1 ]; then step bench 110 "${BENCH[@]}"; else not_run bench; fi
fi
if wanted seq2seq; then
    if [ "$GPUS" -ge 1 ]; then
        log="$OUT/seq2seq.log"; : > "$log"
        run_logged 40 "$log" "${SEQ2SEQ[@]}"; total=$SECS
        if [ "$RC" = 0 ]; then run_logged 40 "$log" "${SEQ2SEQ_BF16[@]}"; total=$((total + SECS)); fi
        finish seq2seq "$log" "$total" "$(show "${SEQ2SEQ[@]}"); $(show "${SEQ2SEQ_BF16[@]}")"
    else not_run seq2seq; fi
fi
# a training run's outputs (args: folder epochs ranks gpu): epochs 1..E in
# per_epoch_stats.csv (a resumed run continues the file), one stats.csv row, the
# other files; for DDP ranks.csv with one row per rank; for a GPU run the
# allocator peak filled, each rank on a CUDA device, and no GPU shared by two
# ranks of a host (by NVML UUID, when recorded)
read -r -d '' CHECK_RUN <<'PYEOF' || true
import csv, math, os, sys
folder, epochs, ranks, gpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
def rows(name):
    with open(os.path.join(folder, name), newline="") as f:
        return list(csv.DictReader(f))
got = [int(r["epoch"]) for r in rows("per_epoch_stats.csv")]
assert got == list(range(1, epochs + 1)), f"per_epoch_stats.csv holds epochs {got}, expected 1..{epochs}"
stats = rows("stats.csv")
assert len(stats) == 1 and math.isfinite(float(stats[0]["test_mae"])), f"stats.csv: {stats}"
for name in ("checkpoint.pt", "test_metrics.csv", "system_stats.csv"):
    assert os.path.isfile(os.path.join(folder, name)), f"{name} missing"
if gpu and "gpu_max_allocated_mb" in stats[0]:
    assert float(stats[0]["gpu_max_allocated_mb"] or 0) > 0, f"no CUDA allocation recorded: {stats[0]}"
if ranks:
    per_rank = rows("ranks.csv")
    got = sorted(int(r["rank"]) for r in per_rank)
    assert got == list(range(ranks)), f"ranks.csv holds ranks {got}, expected 0..{ranks - 1}"
    if gpu and "device" in per_rank[0]:
        devices = [r["device"] for r in per_rank]
        assert all(d.startswith("cuda") for d in devices), f"a rank is not on a CUDA device: {devices}"
    if gpu and all(r.get("gpu_uuid") for r in per_rank):
        used = [(r["host"], r["gpu_uuid"]) for r in per_rank]
        assert len(set(used)) == len(used), f"ranks share a GPU: {used}"
print(f"outputs ok: epochs 1..{epochs}, test MAE {stats[0]['test_mae']}" + (f", {ranks} ranks" if ranks else ""))
PYEOF

if wanted train-g; then
    if [ "$GPUS" -ge 1 ]; then
        log="$OUT/train-g.log"; : > "$log"
        run_logged 50 "$log" "${TRAIN[@]}"; total=$SECS
        if [ "$RC" = 0 ]; then run_logged 50 "$log" "${RESUME[@]}"; total=$((total + SECS)); fi
        if [ "$RC" = 0 ]; then run_logged 20 "$log" "$PY" -c "$CHECK_RUN" "$OUT/chickenpox_g" 3 0 1; fi
        finish train-g "$log" "$total" "$(show "${TRAIN[@]}"); $(show "${RESUME[@]}")"
    else not_run train-g; fi
fi
if wanted ddp-2gpu; then
    if [ "$GPUS" -ge 2 ]; then
        log="$OUT/ddp-2gpu.log"; : > "$log"
        run_logged 180 "$log" "${DDP[@]}"; total=$SECS
        if [ "$RC" = 0 ]; then run_logged 20 "$log" "$PY" -c "$CHECK_RUN" "$OUT/ddp_2gpu" 2 2 1; fi
        finish ddp-2gpu "$log" "$total" "$(show "${DDP[@]}")"
    else
        record ddp-2gpu skipped "" 0 "$(show "${DDP[@]}")" "skipped: $GPUS CUDA device(s), 2 needed"
    fi
fi

# ------------------------------------------------------------------ the results file
"$PY" - "$OUT" "$((SECONDS - T_START))" <<'PYEOF'
import csv, json, os, sys
import xml.etree.ElementTree as ET

from torch_geometric_temporal._atomic import atomic_write

out, seconds = sys.argv[1], int(sys.argv[2])

def load_json(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def read_csv(*parts):
    try:
        with open(os.path.join(out, *parts), newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return None

steps = []
with open(os.path.join(out, ".steps.tsv")) as f:
    for line in f:
        name, status, rc, secs, command, detail = line.rstrip("\n").split("\t")
        steps.append({"step": name, "status": status, "rc": int(rc) if rc else None,
                      "seconds": int(secs), "command": command, "detail": detail,
                      "log": f"{name}.log" if os.path.exists(os.path.join(out, f"{name}.log")) else None})
figures = {s["step"]: s for s in steps}
if "gpu-tests" in figures:
    try:
        suite = ET.parse(os.path.join(out, "gpu_tests.xml")).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
        figures["gpu-tests"]["figures"] = counts
    except (OSError, ET.ParseError, AttributeError):
        pass
if "bench" in figures:
    figures["bench"]["figures"] = load_json("bench_gpu.json")
if "seq2seq" in figures:
    figures["seq2seq"]["figures"] = {"fp32": load_json("seq2seq_fp32.json"), "bf16": load_json("seq2seq_bf16.json")}
if "train-g" in figures:
    stats = read_csv("chickenpox_g", "stats.csv")
    figures["train-g"]["figures"] = {
        "stats": stats[0] if stats else None,
        "per_epoch": read_csv("chickenpox_g", "per_epoch_stats.csv")}
if "ddp-2gpu" in figures and figures["ddp-2gpu"]["status"] != "skipped":
    stats = read_csv("ddp_2gpu", "stats.csv")
    figures["ddp-2gpu"]["figures"] = {"stats": stats[0] if stats else None,
                                      "ranks": read_csv("ddp_2gpu", "ranks.csv")}
failed = [s["step"] for s in steps if s["status"] == "failed"]
result = {"env": load_json("env.json"), "seconds": seconds, "ok": not failed, "failed": failed,
          "steps": steps}
with atomic_write(os.path.join(out, "gpu_check_results.json"), "w") as f:
    json.dump(result, f, indent=1)
print(f"gpu_check: {len(steps) - len(failed)} of {len(steps)} steps passed or skipped in {seconds} s; "
      f"results in {os.path.join(out, 'gpu_check_results.json')}")
PYEOF
rm -f "$STEPS_TSV"
if grep -q '"ok": false' "$OUT/gpu_check_results.json"; then exit 1; fi
exit 0
