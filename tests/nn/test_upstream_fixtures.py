"""The golden fixtures of upstream PGT 0.56.2 (tests/data/upstream) and the
helper that replays them (tests/nn/_upstream.py): every file loads with
``weights_only=True``, is small and complete, and the helper names the first
mismatch. (The per-model equality tests live next to each model's tests.)"""
import copy

import pytest
import torch
from _upstream import (UPSTREAM_DIR, check_against_fixture, check_signature, decode,
                       fixture_names, load_fixture)

CLASSES = ["GConvGRU", "GConvLSTM", "GCLSTM", "LRGCN", "DyGrEncoder", "EvolveGCNH",
           "EvolveGCNO", "TGCN", "TGCN2", "A3TGCN", "A3TGCN2", "MPNNLSTM", "AGCRN",
           "HeteroGCLSTM", "STConv", "TemporalConv", "ASTGCN", "ChebConvAttention", "MSTGCN",
           "GMAN", "SpatioTemporalAttention", "SpatioTemporalEmbedding", "MTGNN", "MixProp",
           "GraphConstructor", "AAGCN", "DNNTSP"]
KEYS = {"class", "module", "variant", "init", "signature", "parameters", "forward_signature",
        "forward_parameters", "state_dict", "steps", "outputs", "loss", "loss_value", "perturbed", "grads",
        "upstream_version", "torch_version", "torch_geometric_version"}


def test_every_class_has_a_fixture_and_files_are_small():
    assert (UPSTREAM_DIR / "LICENSE.pytorch_geometric_temporal").exists()
    for cls in CLASSES:
        assert cls in fixture_names(cls), f"no fixture for {cls}"
    sizes = [p.stat().st_size for p in UPSTREAM_DIR.glob("*.pt")]
    assert max(sizes) < 200_000 and sum(sizes) < 4_000_000


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_format(name):
    raw = torch.load(UPSTREAM_DIR / f"{name}.pt", weights_only=True)
    assert set(raw) == KEYS
    assert raw["upstream_version"] == "0.56.2"
    assert name == raw["class"] + (f"__{raw['variant']}" if raw["variant"] else "")
    assert raw["class"] in CLASSES and raw["module"].startswith("torch_geometric_temporal.nn.")
    assert len(raw["steps"]) == len(raw["outputs"]) >= 2
    names = [p["name"] for p in raw["parameters"]]
    assert names and all(f" {n}" in raw["signature"] or f"*{n}" in raw["signature"]
                         for n in names)
    assert any(g is not None and g.abs().sum() > 0 for g in raw["grads"].values())


def test_hetero_keys_decode_to_tuples():
    fixture = load_fixture("HeteroGCLSTM")
    node_types, edge_types = fixture["init"]["metadata"]
    assert node_types == ["a", "b"] and all(isinstance(e, tuple) for e in edge_types)
    edge_index_dict = fixture["steps"][0]["args"][1]
    assert set(edge_index_dict) == set(edge_types)
    assert decode({"__items__": [[{"__tuple__": ["a", "b"]}, 1]]}) == {("a", "b"): 1}


class Tiny(torch.nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, out_channels, bias=bias)

    def forward(self, X: torch.Tensor, H: torch.Tensor = None):
        H = self.lin(X) if H is None else self.lin(X) + H
        return H, 2 * H


def _tiny_fixture():
    torch.manual_seed(0)
    model = Tiny(3, 2)
    steps, outputs, loss, prev = [], [], 0.0, None
    for _ in range(2):
        X = torch.randn(4, 3)
        out = model(X, prev)
        steps.append({"args": [X], "kwargs": {"H": prev}})
        outputs.append([t.detach().clone() for t in out])
        loss = loss + sum((t ** 2).sum() for t in out)
        prev = out[0].detach().clone()
    loss.backward()
    return {"class": "Tiny", "name": "Tiny", "init": {"in_channels": 3, "out_channels": 2},
            "parameters": [{"name": "in_channels", "kind": "POSITIONAL_OR_KEYWORD",
                            "has_default": False, "default": None},
                           {"name": "out_channels", "kind": "POSITIONAL_OR_KEYWORD",
                            "has_default": False, "default": None},
                           {"name": "bias", "kind": "POSITIONAL_OR_KEYWORD",
                            "has_default": True, "default": "True"}],
            "signature": "(self, in_channels, out_channels, bias=True)",
            "forward_parameters": [{"name": "X", "kind": "POSITIONAL_OR_KEYWORD",
                                    "has_default": False, "default": None},
                                   {"name": "H", "kind": "POSITIONAL_OR_KEYWORD",
                                    "has_default": True, "default": "None"}],
            "forward_signature": "(self, X, H=None)",
            "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "steps": steps, "outputs": outputs, "loss_value": float(loss.detach()),
            "grads": {k: p.grad.clone() for k, p in model.named_parameters()}}


def test_helper_passes_and_names_the_first_mismatch():
    fixture = _tiny_fixture()
    check_signature(Tiny, fixture)
    check_against_fixture(Tiny, fixture)

    bad = copy.deepcopy(fixture)
    bad["outputs"][1][1] += 1e-3
    with pytest.raises(AssertionError, match=r"step 1 output\[1\] differs"):
        check_against_fixture(Tiny, bad)
    bad = copy.deepcopy(fixture)
    bad["grads"]["lin.bias"] += 1e-3
    bad["loss_value"] = fixture["loss_value"]
    with pytest.raises(AssertionError, match="gradient of lin.bias"):
        check_against_fixture(Tiny, bad)
    bad = copy.deepcopy(fixture)
    bad["parameters"][2]["default"] = "False"
    with pytest.raises(AssertionError, match="differs from upstream's Tiny.__init__"):
        check_signature(Tiny, bad)
    bad = copy.deepcopy(fixture)
    bad["state_dict"]["extra"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        check_against_fixture(Tiny, bad)
