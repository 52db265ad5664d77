"""Activation recomputation: same loss, gradients and random stream as without."""
import pytest
import torch

from torch_geometric_temporal.nn.recurrent import BatchedDCRNN, DCRNNSeq2Seq
from torch_geometric_temporal.nn.recurrent.recompute import (
    checkpoint_step,
    recompute_active,
    set_recompute,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _graph(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n).repeat_interleave(2)
    dst = (src + torch.tensor([1, 3]).repeat(n)) % n
    edge_index = torch.stack([src, dst])
    edge_weight = torch.rand(edge_index.size(1), generator=g) + 0.5
    return edge_index, edge_weight


def _run(model, loss_fn, on, seed=0):
    """One training forward/backward; returns loss, grads, RNG state after."""
    set_recompute(model, on)
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    loss = loss_fn(model)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads, torch.get_rng_state()


def _assert_same(model, loss_fn):
    loss0, grads0, rng0 = _run(model, loss_fn, False)
    loss1, grads1, rng1 = _run(model, loss_fn, True)
    torch.testing.assert_close(loss1, loss0, atol=1e-6, rtol=0)
    assert set(grads1) == set(grads0) == {n for n, p in model.named_parameters()}
    for name in grads0:
        torch.testing.assert_close(grads1[name], grads0[name], atol=1e-6, rtol=0, msg=name)
    assert torch.equal(rng0, rng1)


def test_seq2seq_recompute_equals_plain_with_scheduled_sampling():
    torch.manual_seed(0)
    model = DCRNNSeq2Seq(2, 1, hidden_channels=8, num_layers=2, K=3, num_timesteps_out=5,
                         use_curriculum_learning=True, cl_decay_steps=10)
    edge_index, edge_weight = _graph()
    X, Y = torch.randn(3, 4, 7, 2), torch.randn(3, 5, 7, 1)

    def loss_fn(m):
        # batches_seen=10: p = 10 / (10 + e) ~ 0.79, so both branches of the draw occur
        return (m(X, edge_index, edge_weight, targets=Y, batches_seen=10) - Y).abs().mean()

    _assert_same(model, loss_fn)
    # both ways the stream advanced by exactly the T_out - 1 sampling draws
    torch.manual_seed(0)
    for _ in range(4):
        torch.rand(())
    after_draws = torch.get_rng_state()
    assert torch.equal(_run(model, loss_fn, True)[2], after_draws)


def test_seq2seq_recompute_with_edge_weight_gradient():
    torch.manual_seed(1)
    model = DCRNNSeq2Seq(1, 1, hidden_channels=4, num_layers=1, K=2, num_timesteps_out=3)
    edge_index, w = _graph(5)
    edge_weight = torch.nn.Parameter(w)
    model.register_parameter("edge_weight", edge_weight)
    X = torch.randn(2, 3, 5, 1)
    _assert_same(model, lambda m: m(X, edge_index, m.edge_weight).square().mean())


def test_batched_dcrnn_recompute_equals_plain():
    torch.manual_seed(0)
    model = BatchedDCRNN(3, 6, K=3)
    edge_index, edge_weight = _graph()
    X, H = torch.randn(2, 5, 7, 3), torch.randn(2, 7, 6)
    _assert_same(model, lambda m: m(X, edge_index, edge_weight, H).sin().mean())


@pytest.mark.parametrize("name", ["gconv_gru", "gconv_lstm", "gc_lstm", "tgcn", "dcrnn", "agcrn",
                                  "lrgcn", "dygrae"])
def test_batched_recurrent_recompute_equals_plain(name):
    from torch_geometric_temporal.nn.recurrent.batched import batched_cell

    torch.manual_seed(0)
    kw = {"number_of_nodes": 7} if name == "agcrn" else {}
    model = batched_cell(name, 3, 5, **kw)
    edge_index, edge_weight = _graph()
    if name == "lrgcn":
        edge_weight = None
    X = torch.randn(2, 4, 7, 3)
    _assert_same(model, lambda m: m(X, edge_index, edge_weight).sin().mean())


def test_recompute_keeps_fewer_saved_tensors():
    """With recompute the autograd graph holds only the step inputs (hidden
    states), not the diffusion terms: count the bytes it saves."""
    torch.manual_seed(0)
    model = DCRNNSeq2Seq(2, 1, hidden_channels=16, num_layers=2, K=3, num_timesteps_out=4)
    edge_index, edge_weight = _graph(20)
    X = torch.randn(4, 4, 20, 2)

    def saved_bytes(on):
        set_recompute(model, on)
        seen, total = set(), [0]

        def pack(t):
            key = (t.untyped_storage().data_ptr(), t.dtype)
            if key not in seen and t.numel() > 0:
                seen.add(key)
                total[0] += t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(X, edge_index, edge_weight).sum()
        return total[0]

    plain, lean = saved_bytes(False), saved_bytes(True)
    hidden_state = 20 * 4 * 16 * 4  # N B C float32 bytes
    assert lean < plain / 3
    # checkpoint's own saves are its step inputs: ~ 2 layers x 8 steps of states, plus params
    assert lean < 40 * hidden_state


def test_recompute_is_a_no_op_in_eval_and_no_grad():
    model = BatchedDCRNN(2, 4, K=2, recompute=True)
    assert model.recompute and recompute_active(model)
    model.eval()
    assert not recompute_active(model)
    model.train()
    with torch.no_grad():
        assert not recompute_active(model)
    edge_index, edge_weight = _graph()
    X = torch.randn(1, 3, 7, 2)
    model.eval()
    with torch.no_grad():
        out_eval = model(X, edge_index, edge_weight)
    model.recompute = False
    with torch.no_grad():
        torch.testing.assert_close(model(X, edge_index, edge_weight), out_eval, atol=0, rtol=0)


def test_set_recompute_counts_modules_and_repr():
    model = DCRNNSeq2Seq(2, 1, hidden_channels=4, num_layers=2)
    assert not model.recompute
    assert set_recompute(model, True) == 1 + 2 + 2  # seq2seq + its encoder/decoder cells
    assert model.recompute and all(c.recompute for c in model.encoder)
    assert "recompute=True" in repr(model.encoder[0])
    assert set_recompute(torch.nn.Linear(2, 2), True) == 0
    assert DCRNNSeq2Seq(2, 1, recompute=True).recompute


def test_checkpoint_step_disabled_calls_through():
    calls = []

    def fn(x):
        calls.append(1)
        return (x * x).sin()

    x = torch.ones(2, requires_grad=True)
    checkpoint_step(fn, x, enabled=False).sum().backward()
    assert len(calls) == 1
    checkpoint_step(fn, x, enabled=True).sum().backward()
    assert len(calls) == 3  # forward, then recomputed in backward
