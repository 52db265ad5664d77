"""The README's "Models" section stays true: its table names every recurrent
model (upstream's 15 and ``HeteroGCLSTM``) and the five attention models the
scripts train with the module that holds it, and
its index-batching example runs and beats the last-value forecast."""
import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = {"GConvGRU", "GConvLSTM", "GCLSTM", "LRGCN", "DyGrEncoder", "EvolveGCNH", "EvolveGCNO",
            "TGCN", "TGCN2", "A3TGCN", "A3TGCN2", "MPNNLSTM", "AGCRN", "DCRNN", "BatchedDCRNN",
            "HeteroGCLSTM", "STConv", "ASTGCN", "MSTGCN", "GMAN", "MTGNN"}


def models_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("### Models\n")
    return text[start:text.index("\n### ", start + 1)]


def test_table_names_every_model_and_its_module():
    rows = re.findall(r"^\| `(\w+)` \(`([\w/]+\.py)`\) \|", models_section(), flags=re.M)
    assert {name for name, _ in rows} == UPSTREAM
    for name, path in rows:
        module = (path if path.startswith("nn/") else "nn/recurrent/" + path)[:-3].replace("/", ".")
        module = importlib.import_module("torch_geometric_temporal." + module)
        assert hasattr(module, name), (name, path)


def test_index_batching_example_runs_and_learns():
    block = re.search(r"```python\n(.*?batched_cell\(.*?)```", models_section(), flags=re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mae, last = map(float, re.search(r"test MAE ([\d.]+) \(last value: ([\d.]+)\)", proc.stdout).groups())
    assert mae < 0.9 * last, proc.stdout
