"""Tests for MPNNLSTM."""
import pytest
import torch
from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.recurrent.mpnn_lstm import MPNNLSTM

N, T, F_IN, HID = 5, 3, 2, 4


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def window_graph(samples: int = 1, seed: int = 0):
    """One asymmetric weighted graph on N nodes, stacked once per (sample, step)."""
    ei = torch.tensor([[0, 1, 2, 3, 4, 2, 1], [1, 2, 3, 4, 0, 0, 3]])
    w = torch.rand(ei.size(1), generator=torch.Generator().manual_seed(seed)) + 0.5
    copies = samples * T
    return torch.cat([ei + c * N for c in range(copies)], 1), torch.cat([w] * copies)


def reference(model, X, edge_index, edge_weight):
    """The paper, node by node (eval mode: no dropout, running batch-norm statistics)."""
    H1 = model._batch_norm_1(torch.relu(model._convolution_1(X, edge_index, edge_weight)))
    H2 = model._batch_norm_2(torch.relu(model._convolution_2(H1, edge_index, edge_weight)))
    samples = X.size(0) // (T * N)
    rows = []
    for s in range(samples):
        for n in range(N):
            r = [s * T * N + t * N + n for t in range(T)]  # rows of node n at each step
            seq = torch.cat([H1[r], H2[r]], 1).unsqueeze(1)  # (T, 1, 2h)
            out1, (h1, _) = model._recurrent_1(seq)
            _, (h2, _) = model._recurrent_2(out1)
            skip = torch.cat([X[r[0]], X[r[1:], F_IN - 1]])
            rows.append(torch.cat([h1[0, 0], h2[0, 0], skip]))
    return torch.stack(rows)


def _trained(model):
    """Non-trivial batch-norm statistics, then eval mode."""
    model.train()
    with torch.no_grad():
        model(torch.randn(T * N, F_IN) * 2 + 1, *window_graph())
    return model.eval()


@pytest.mark.parametrize("samples", [1, 2])
def test_equals_reference(samples):
    torch.manual_seed(samples)
    model = _trained(MPNNLSTM(F_IN, HID, N, T, 0.5))
    X = torch.randn(samples * T * N, F_IN)
    edge_index, edge_weight = window_graph(samples)
    out = model(X, edge_index, edge_weight)
    assert out.shape == (samples * N, 2 * HID + F_IN + T - 1)
    torch.testing.assert_close(out, reference(model, X, edge_index, edge_weight), atol=1e-6, rtol=1e-5)
    # gradients equal the reference's
    out.square().sum().backward()
    ours = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    reference(model, X, edge_index, edge_weight).square().sum().backward()
    for k, p in model.named_parameters():
        torch.testing.assert_close(ours[k], p.grad, atol=1e-5, rtol=1e-5)


def test_samples_equal_loop():
    torch.manual_seed(5)
    model = _trained(MPNNLSTM(F_IN, HID, N, T, 0.2))
    X = torch.randn(3 * T * N, F_IN)
    out = model(X, *window_graph(3))
    one = window_graph(1)
    loop = torch.cat([model(X[s * T * N:(s + 1) * T * N], *one) for s in range(3)])
    torch.testing.assert_close(out, loop, atol=1e-6, rtol=1e-5)


def test_unweighted_and_training_mode():
    torch.manual_seed(6)
    model = MPNNLSTM(F_IN, HID, N, T, 0.5)
    edge_index, _ = window_graph()
    X = torch.randn(T * N, F_IN)
    a, b = model(X, edge_index, None), model(X, edge_index, None)  # dropout active
    assert a.shape == (N, 2 * HID + F_IN + T - 1) and not torch.equal(a, b)
    assert int(model._batch_norm_1.num_batches_tracked) == 2
    model.eval()
    torch.testing.assert_close(model(X, edge_index, None), model(X, edge_index, None))


def test_state_dict_keys_and_round_trip():
    model = _trained(MPNNLSTM(F_IN, HID, N, T, 0.5))
    keys = list(model.state_dict())
    for prefix in ("_convolution_1.", "_convolution_2.", "_batch_norm_1.", "_batch_norm_2.",
                   "_recurrent_1.", "_recurrent_2."):
        assert any(k.startswith(prefix) for k in keys)
    assert "_batch_norm_1.running_mean" in keys and "_recurrent_1.weight_ih_l0" in keys
    clone = MPNNLSTM(F_IN, HID, N, T, 0.5)
    clone.load_state_dict(model.state_dict(), strict=True)
    clone.eval()
    X = torch.randn(T * N, F_IN)
    torch.testing.assert_close(clone(X, *window_graph()), model(X, *window_graph()))
    assert "window=3" in repr(model)


@pytest.mark.parametrize("X, match", [
    (torch.randn(T * N + 1, F_IN), r"S \* window \* num_nodes = S \* 3 \* 5 rows"),
    (torch.randn(T * N, F_IN + 1), "in_channels = 2"),
    (torch.randn(1, T * N, F_IN), r"shape \(N, 2\)"),
])
def test_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        MPNNLSTM(F_IN, HID, N, T, 0.5)(X, *window_graph())


def test_bad_graph():
    edge_index, edge_weight = window_graph(2)  # ids up to 2 T N - 1, X has T N rows
    with pytest.raises(ValueError, match=r"valid ids 0\.\.14"):
        MPNNLSTM(F_IN, HID, N, T, 0.5)(torch.randn(T * N, F_IN), edge_index, edge_weight)


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 0}, "window must be a positive int"),
    ({"num_nodes": 2.0}, "num_nodes must be a positive int"),
    ({"dropout": 1.5}, r"dropout must be a probability in \[0, 1\]"),
])
def test_bad_constructor(kwargs, match):
    args = dict(in_channels=F_IN, hidden_size=HID, num_nodes=N, window=T, dropout=0.5)
    with pytest.raises(ValueError, match=match):
        MPNNLSTM(**{**args, **kwargs})


@pytest.mark.parametrize("name", fixture_names("MPNNLSTM"))
def test_equals_upstream_fixture(name):
    fixture = load_fixture(name)
    check_signature(MPNNLSTM, fixture)
    check_against_fixture(MPNNLSTM, fixture)
