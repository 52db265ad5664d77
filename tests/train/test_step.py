"""train/step.py: the --amp autocast path of train_step/predict_batch (run
on the CPU, where bf16 autocast works though it is not faster) and
resolve_amp's choice per device."""
import logging

import pytest
import torch

from torch_geometric_temporal.train.models import build_model
from torch_geometric_temporal.train.step import forward_model, predict_batch, resolve_amp, train_step

N, F, T = 10, 2, 4


def _setup():
    torch.manual_seed(0)
    model = build_model("seq2seq", F, T, hidden_channels=8, num_layers=2, K=3, use_curriculum_learning=True)
    edge_index = torch.randint(0, N, (2, 3 * N))
    edge_weight = torch.rand(3 * N)
    batch = (torch.randn(3, T, N, F), torch.randn(3, T, N, F) + 3.0)
    return model, edge_index, edge_weight, batch


def test_bf16_autocast_runs_and_stays_close_to_fp32():
    model, edge_index, edge_weight, batch = _setup()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    results = {}
    for amp in (None, torch.bfloat16):
        model.load_state_dict(state)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.manual_seed(1)
        step = train_step(model, batch, optimizer, edge_index=edge_index, edge_weight=edge_weight, amp=amp)
        grads = [p.grad.clone() for p in model.parameters()]
        assert all(p.dtype == torch.float32 for p in model.parameters())  # the weights stay fp32
        assert step.loss_tensor.dtype == torch.float32 and step.pred.dtype == torch.float32
        results[amp] = (step.loss, grads)
    loss32, grads32 = results[None]
    loss16, grads16 = results[torch.bfloat16]
    assert loss16 != loss32  # bf16 really ran
    assert loss16 == pytest.approx(loss32, rel=2e-2)  # stated tolerance: 2 % on the loss
    for g32, g16 in zip(grads32, grads16):
        assert torch.linalg.vector_norm(g16 - g32) <= 0.1 * torch.linalg.vector_norm(g32) + 1e-6


def test_forward_under_autocast_returns_fp32_and_predict_batch_takes_amp():
    model, edge_index, edge_weight, batch = _setup()
    with torch.no_grad():
        out = forward_model(model.eval(), batch[0], edge_index, edge_weight, amp=torch.bfloat16)
    assert out.dtype == torch.float32 and out.shape == (3, T, N, 1)
    step = predict_batch(model, batch, edge_index=edge_index, edge_weight=edge_weight, amp=torch.bfloat16)
    assert step.pred.dtype == torch.float32 and torch.isfinite(step.pred).all()


def test_resolve_amp(caplog):
    assert resolve_amp("off", torch.device("cpu")) is None
    assert resolve_amp(None, torch.device("cpu")) is None
    with caplog.at_level(logging.WARNING, logger="torch_geometric_temporal.train.step"):
        assert resolve_amp("bf16", torch.device("cpu")) is None
    assert len(caplog.records) == 1 and "runs in fp32 on cpu" in caplog.records[0].getMessage()
    with pytest.raises(ValueError, match="--amp must be one of off, bf16"):
        resolve_amp("fp8", torch.device("cpu"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resolve_amp_on_cuda_is_bf16():
    assert resolve_amp("bf16", torch.device("cuda")) is torch.bfloat16
