"""bf16 autocast on CPU: the DCRNN family and BatchedRecurrent run, stay close to float32.

Stated tolerances (bf16 keeps 8 mantissa bits, relative rounding 2^-9 ~ 0.2%;
errors add up over the recurrent steps): predictions within 0.02 of float32
for unit-scale data, the (float32) loss within 1%, every parameter gradient
within 10% of that parameter's largest float32 gradient (measured: about 3e-4,
1e-5 and 3% on these problems).
"""
import pytest
import torch

from torch_geometric_temporal.nn.recurrent import BatchedDCRNN, DCRNNSeq2Seq
from torch_geometric_temporal.nn.recurrent.batched import batched_cell


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _graph(n=12):
    src = torch.arange(n).repeat_interleave(2)
    dst = (src + torch.tensor([1, 3]).repeat(n)) % n
    return torch.stack([src, dst]), torch.linspace(0.5, 1.5, 2 * n)


def _step(model, X, Y, amp, **kw):
    """Forward under autocast (or not), float32 loss, backward."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    edge_index, edge_weight = _graph(X.size(2))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        pred = model(X, edge_index, edge_weight, **kw)
    loss = (pred.float() - Y).abs().mean()
    assert loss.dtype == torch.float32
    loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    return pred.detach().float(), loss.detach(), grads


def _assert_close_to_fp32(model, X, Y, **kw):
    pred0, loss0, grads0 = _step(model, X, Y, False, **kw)
    pred1, loss1, grads1 = _step(model, X, Y, True, **kw)
    assert not torch.equal(pred0, pred1)  # autocast did run in bf16
    torch.testing.assert_close(pred1, pred0, atol=0.02, rtol=0)
    torch.testing.assert_close(loss1, loss0, atol=0, rtol=0.01)
    for name, g0 in grads0.items():
        assert torch.isfinite(grads1[name]).all(), name
        assert (grads1[name] - g0).abs().max() <= 0.1 * g0.abs().max() + 1e-6, name


@pytest.mark.parametrize("recompute", [False, True])
def test_seq2seq_bf16_autocast_close_to_fp32(recompute):
    torch.manual_seed(0)
    model = DCRNNSeq2Seq(2, 1, hidden_channels=16, K=3, num_timesteps_out=4,
                         use_curriculum_learning=True, recompute=recompute)
    X, Y = torch.randn(3, 6, 12, 2), torch.randn(3, 4, 12, 1)
    _assert_close_to_fp32(model, X, Y, targets=Y, batches_seen=100)


def test_batched_dcrnn_bf16_autocast_close_to_fp32():
    torch.manual_seed(0)
    model = BatchedDCRNN(2, 8, K=3)
    X = torch.randn(2, 5, 12, 2)
    _assert_close_to_fp32(model, X, torch.zeros(2, 5, 12, 8))


@pytest.mark.parametrize("name", ["gconv_gru", "tgcn", "dcrnn"])
def test_batched_recurrent_bf16_autocast_close_to_fp32(name):
    torch.manual_seed(0)
    model = batched_cell(name, 2, 8)
    X = torch.randn(2, 5, 12, 2)
    _assert_close_to_fp32(model, X, torch.zeros(2, 5, 12, 8))
