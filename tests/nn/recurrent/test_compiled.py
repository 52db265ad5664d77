"""compile_steps: compiled per-step functions give the eager outputs and gradients."""
import pytest
import torch

from torch_geometric_temporal.nn.recurrent import BatchedDCRNN, DCRNNSeq2Seq
from torch_geometric_temporal.nn.recurrent.compiled import compile_steps
from torch_geometric_temporal.nn.recurrent.recompute import set_recompute


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch._dynamo.reset()


def _graph(n=7):
    src = torch.arange(n).repeat_interleave(2)
    dst = (src + torch.tensor([1, 3]).repeat(n)) % n
    return torch.stack([src, dst]), torch.linspace(0.5, 1.5, 2 * n)


def _outputs_and_grads(model, X, Y, **kw):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(3)
    edge_index, edge_weight = _graph(X.size(2))
    out = model(X, edge_index, edge_weight, **kw)
    (out - Y).abs().mean().backward()
    return out.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}


def _check_compiled_matches_eager(model, X, Y, backend, atol, modes=(False, True), **kw):
    eager = {on: (set_recompute(model, on), _outputs_and_grads(model, X, Y, **kw))[1]
             for on in modes}
    calls = []

    def counting_backend(gm, example_inputs):
        calls.append(gm)
        return gm.forward if backend == "eager" else torch._inductor.compile(gm, example_inputs)

    assert compile_steps(model, backend=counting_backend) > 0
    for on in modes:  # compiled steps also compose with recomputation
        set_recompute(model, on)
        out, grads = _outputs_and_grads(model, X, Y, **kw)
        torch.testing.assert_close(out, eager[on][0], atol=atol, rtol=0)
        for name, grad in grads.items():
            torch.testing.assert_close(grad, eager[on][1][name], atol=atol, rtol=0, msg=name)
    assert calls  # the compiler saw the step functions


def test_compile_steps_wiring_seq2seq_eager_backend():
    torch.manual_seed(0)
    model = DCRNNSeq2Seq(2, 1, hidden_channels=8, num_layers=1, K=3, num_timesteps_out=3,
                         use_curriculum_learning=True)
    X, Y = torch.randn(2, 3, 7, 2), torch.randn(2, 3, 7, 1)
    _check_compiled_matches_eager(model, X, Y, "eager", 0.0, targets=Y, batches_seen=10)


def test_compile_steps_counts_cells():
    model = DCRNNSeq2Seq(2, 1, hidden_channels=4, num_layers=2)
    assert compile_steps(model, backend="eager") == 4
    assert compile_steps(torch.nn.Linear(2, 2), backend="eager") == 0
    # parameters and state dict keys are untouched
    assert set(model.state_dict()) == set(DCRNNSeq2Seq(2, 1, hidden_channels=4).state_dict())


def test_compile_steps_tgcn_eager_backend():
    from torch_geometric_temporal.nn.recurrent.batched import batched_cell

    torch.manual_seed(0)
    model = batched_cell("tgcn", 2, 4)
    X = torch.randn(2, 3, 7, 2)
    _check_compiled_matches_eager(model, X, torch.zeros(2, 3, 7, 4), "eager", 0.0)


@pytest.mark.slow
def test_compile_steps_inductor_matches_eager():
    """Real code generation (about 1-2 min of compiling on 2 cores)."""
    torch.manual_seed(0)
    model = BatchedDCRNN(2, 8, K=3, recompute=True)
    X = torch.randn(2, 3, 7, 2)
    _check_compiled_matches_eager(model, X, torch.zeros(2, 3, 7, 8), "inductor", 1e-5,
                                  modes=(True,))
