import json
import subprocess
import sys

HEAVY = ("dask", "distributed", "pandas", "torch_geometric", "psutil", "pynvml", "matplotlib")


def _imported_after(statement: str) -> dict:
    code = (
        "import sys, time, json\n"
        "t = time.perf_counter()\n"
        f"{statement}\n"
        "elapsed = time.perf_counter() - t\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps({'elapsed': elapsed, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_package_import_is_light():
    # torch itself imports pynvml when it is installed; count only what we add.
    baseline = set(_imported_after("import torch")["heavy"])
    result = _imported_after(
        "import torch_geometric_temporal\n"
        "from torch_geometric_temporal.signal import StaticGraphTemporalSignal\n"
        "import torch_geometric_temporal.nn, torch_geometric_temporal.dataset"
    )
    added = sorted(set(result["heavy"]) - baseline)
    assert added == [], f"importing the package pulled in {added}"
    # Import time is measured by benchmarks/bench_import.py, not asserted here.


def test_snapshot_imports_pyg_lazily():
    result = _imported_after(
        "from torch_geometric_temporal.signal import StaticGraphTemporalSignal\n"
        "import numpy as np\n"
        "s = StaticGraphTemporalSignal(None, None, [np.zeros((2, 1))], [np.zeros(2)])\n"
        "s[0]"
    )
    assert "torch_geometric" in result["heavy"]


#: The packages of setup.py's extras: imported only through
#: torch_geometric_temporal._optional.require, which names the extra to install.
OPTIONAL = {"dask", "distributed", "dask_cuda", "pandas", "tables", "psutil", "pynvml", "matplotlib", "tqdm",
            "scipy"}


def test_optional_packages_are_imported_through_require():
    import ast
    from pathlib import Path

    import torch_geometric_temporal

    root = Path(torch_geometric_temporal.__file__).parent
    direct = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            direct += [f"{path.relative_to(root)}:{node.lineno} imports {name}" for name in names
                       if name.split(".", 1)[0] in OPTIONAL]
    assert direct == [], "import these with require(module, extra, purpose):\n" + "\n".join(direct)
