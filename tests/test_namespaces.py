"""Every upstream (PGT 0.56.2) recurrent model imports from where upstream
exports it: its module (``nn/recurrent/gconv_gru.py``, ...), the
``nn.recurrent`` / ``nn.hetero`` package, ``nn`` and the top level, as one
and the same class; and those namespaces import no model (nor PyG) until a
name is used."""
import importlib
import json
import subprocess
import sys

import pytest

#: Upstream's exported name -> the module below torch_geometric_temporal.nn
#: that defines it (upstream's file names).
UPSTREAM = {
    "GConvGRU": "recurrent.gconv_gru",
    "GConvLSTM": "recurrent.gconv_lstm",
    "LRGCN": "recurrent.lrgcn",
    "GCLSTM": "recurrent.gc_lstm",
    "DyGrEncoder": "recurrent.dygrae",
    "EvolveGCNH": "recurrent.evolvegcnh",
    "EvolveGCNO": "recurrent.evolvegcno",
    "DCRNN": "recurrent.dcrnn",
    "BatchedDCRNN": "recurrent.dcrnn",
    "TGCN": "recurrent.temporalgcn",
    "TGCN2": "recurrent.temporalgcn",
    "A3TGCN": "recurrent.attentiontemporalgcn",
    "A3TGCN2": "recurrent.attentiontemporalgcn",
    "MPNNLSTM": "recurrent.mpnn_lstm",
    "AGCRN": "recurrent.agcrn",
    "HeteroGCLSTM": "hetero.heterogclstm",
}

#: Other public classes of upstream's model modules (not re-exported by its
#: packages), importable from the same module paths here.
MODULE_ONLY = {
    "AVWGCN": "recurrent.agcrn",
    "GCNConv_Fixed_W": "recurrent.evolvegcno",
    "DConv": "recurrent.dcrnn",
    "BatchedDConv": "recurrent.dcrnn",
}

def _package(module: str) -> str:
    return "torch_geometric_temporal.nn." + module.split(".")[0]


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_name_imports_from_every_upstream_namespace(name):
    import torch_geometric_temporal
    import torch_geometric_temporal.nn

    defined = getattr(importlib.import_module("torch_geometric_temporal.nn." + UPSTREAM[name]), name)
    package = importlib.import_module(_package(UPSTREAM[name]))
    for where, namespace in [(package.__name__, package), ("torch_geometric_temporal.nn", torch_geometric_temporal.nn),
                             ("torch_geometric_temporal", torch_geometric_temporal)]:
        assert getattr(namespace, name) is defined, f"{where}.{name}"
        assert name in namespace.__all__, f"{where}.__all__ lacks {name}"
        assert name in dir(namespace)
    exec(f"from torch_geometric_temporal import {name} as top", {})  # the statement users write


@pytest.mark.parametrize("name", sorted(MODULE_ONLY))
def test_other_classes_import_from_upstream_module_paths(name):
    module = importlib.import_module("torch_geometric_temporal.nn." + MODULE_ONLY[name])
    assert isinstance(getattr(module, name), type)


def test_star_imports():
    namespace = {}
    exec("from torch_geometric_temporal.nn import *", namespace)
    assert set(UPSTREAM) <= set(namespace)
    namespace = {}
    exec("from torch_geometric_temporal import *", namespace)
    assert set(UPSTREAM) | {"StaticGraphTemporalSignal", "temporal_signal_split",
                            "ChickenpoxDatasetLoader"} <= set(namespace)


def test_unknown_names_raise_attribute_error():
    import torch_geometric_temporal
    import torch_geometric_temporal.nn.recurrent

    for namespace in (torch_geometric_temporal, torch_geometric_temporal.nn,
                      torch_geometric_temporal.nn.recurrent):
        with pytest.raises(AttributeError, match="NoSuchModel"):
            getattr(namespace, "NoSuchModel")


def test_namespaces_load_models_on_first_use():
    code = (
        "import sys, json\n"
        "import torch_geometric_temporal, torch_geometric_temporal.nn.hetero\n"
        "before = sorted(sys.modules)\n"
        "from torch_geometric_temporal import GConvGRU\n"
        "print(json.dumps({'before': before, 'after': sorted(sys.modules)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    prefix = "torch_geometric_temporal.nn.recurrent."
    # Loaded eagerly: the DCRNN family and its recomputation (torch only), the shared checks, and
    # nn.hetero's module with what it uses (PyG only when a layer is built).
    eager = {"dconv", "dcrnn", "dcrnn_seq2seq", "_checks", "recompute", "evolvegcno"}
    models = {m[len(prefix):] for m in result["before"] if m.startswith(prefix)}
    assert models <= eager, sorted(models - eager)
    assert not [m for m in result["before"] if m == "torch_geometric" or m.startswith("torch_geometric.")]
    assert prefix + "gconv_gru" in result["after"]
