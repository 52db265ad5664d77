r"""Import time of the package next to ``import torch`` and ``import torch_geometric``.

Each statement runs in a fresh interpreter, ``--repeats`` times; the median
wall time is printed as a markdown table.

    python benchmarks/bench_import.py
"""
import argparse
import statistics
import subprocess
import sys

STATEMENTS = {
    "import torch": "import torch",
    "import torch_geometric": (
        "import warnings; warnings.filterwarnings('ignore', category=DeprecationWarning); "
        "import torch_geometric"
    ),
    "import torch_geometric_temporal": "import torch_geometric_temporal",
}


def time_import(statement: str) -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        f"{statement}\n"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| statement | median s | runs |")
    print("|---|---:|---|")
    for name, statement in STATEMENTS.items():
        times = [time_import(statement) for _ in range(args.repeats)]
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| `{name}` | {statistics.median(times):.2f} | {runs} |")


if __name__ == "__main__":
    main()
