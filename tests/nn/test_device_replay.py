"""DyGrEncoder, EvolveGCNH/O and HeteroGCLSTM replay upstream's fixtures on
any device: states, zero initial states and cached graphs follow the inputs'
device. Runs on the CPU always and on CUDA where there is one (skipped
cleanly otherwise)."""
import pytest
import torch
from _upstream import build_model, fixture_names, load_fixture

from torch_geometric_temporal.nn.hetero import HeteroGCLSTM
from torch_geometric_temporal.nn.recurrent import DyGrEncoder, EvolveGCNH, EvolveGCNO

CLASSES = {cls.__name__: cls for cls in (DyGrEncoder, EvolveGCNH, EvolveGCNO, HeteroGCLSTM)}
DEVICES = ["cpu", pytest.param("cuda", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")])]


def _to(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(x, device) for x in obj)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


def _flat(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for x in obj for t in _flat(x)]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _flat(v)]
    return []


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", [n for cls in CLASSES for n in fixture_names(cls)])
def test_replays_upstream_fixture_on_device(name, device, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # float32 RNNs on CUDA
    fixture = load_fixture(name)
    model = build_model(CLASSES[fixture["class"]], fixture).to(device)
    loss = 0.0
    for step, expected in zip(fixture["steps"], fixture["outputs"]):
        out = model(*_to(step["args"], device), **_to(step["kwargs"], device))
        ours, theirs = _flat(out), _flat(expected)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a.device.type == device
            torch.testing.assert_close(a.detach().cpu(), b, atol=1e-4, rtol=1e-4)
            loss = loss + (a ** 2).sum()
    loss.backward()
    for pname, parameter in model.named_parameters():
        expected = fixture["grads"].get(pname)
        if expected is not None:
            torch.testing.assert_close(parameter.grad.cpu(), expected, atol=1e-4, rtol=1e-4)
