"""DyGrEncoder: shapes, states, bad input, and equality with upstream's fixture."""
import pytest
import torch

from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.recurrent import DyGrEncoder


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _graph(N=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(N)
    edge_index = torch.cat([torch.stack([src, (src + 1) % N]), torch.stack([src, (src + 3) % N])], 1)
    return torch.randn(N, 3, generator=g), edge_index, torch.rand(edge_index.size(1), generator=g) + 0.1


@pytest.mark.parametrize("aggr", ["add", "mean", "max"])
def test_shapes_and_state_round_trip(aggr):
    X, edge_index, edge_weight = _graph()
    model = DyGrEncoder(conv_out_channels=5, conv_num_layers=2, conv_aggr=aggr,
                        lstm_out_channels=4, lstm_num_layers=1)
    H_tilde, H, C = model(X, edge_index, edge_weight)
    assert H_tilde.shape == H.shape == C.shape == (7, 4)
    H_tilde2, H2, C2 = model(X, edge_index, edge_weight, H, C)
    assert H2.shape == (7, 4)
    # One LSTM step: the output of the (single) layer is its new hidden state.
    assert torch.equal(H_tilde2, H2)
    # The states are the LSTM's: zeros when omitted.
    zeros = torch.zeros(7, 4)
    assert torch.allclose(model(X, edge_index, edge_weight, zeros, zeros)[1], H)


def test_matches_its_parts():
    """GGNN over the snapshot, then one LSTM step with the nodes as its batch."""
    X, edge_index, edge_weight = _graph(seed=1)
    model = DyGrEncoder(6, 3, "mean", 5, 1)
    H0, C0 = torch.randn(7, 5), torch.randn(7, 5)
    H_tilde, H, C = model(X, edge_index, edge_weight, H0, C0)
    Z = model.conv_layer(X, edge_index, edge_weight)
    cell = torch.nn.LSTMCell(6, 5)
    lstm = model.recurrent_layer
    cell.load_state_dict({"weight_ih": lstm.weight_ih_l0, "weight_hh": lstm.weight_hh_l0,
                          "bias_ih": lstm.bias_ih_l0, "bias_hh": lstm.bias_hh_l0})
    H_ref, C_ref = cell(Z, (H0, C0))
    torch.testing.assert_close(H, H_ref)
    torch.testing.assert_close(C, C_ref)
    torch.testing.assert_close(H_tilde, H_ref)


def test_stacked_lstm_takes_back_its_states():
    X, edge_index, _ = _graph()
    model = DyGrEncoder(4, 1, "add", 3, 2)
    H_tilde, H, C = model(X, edge_index)
    assert H_tilde.shape == (7, 3) and H.shape == C.shape == (2, 7, 3)
    assert torch.equal(H_tilde, H[-1])
    assert model(X, edge_index, None, H, C)[1].shape == (2, 7, 3)


def test_one_node_keeps_its_axes():
    """Documented difference: upstream's .squeeze() would drop N = 1."""
    model = DyGrEncoder(4, 1, "add", 1, 1)
    H_tilde, H, C = model(torch.randn(1, 2), torch.tensor([[0], [0]]))
    assert H_tilde.shape == H.shape == C.shape == (1, 1)


def test_state_dict_keys_and_signature():
    import inspect

    model = DyGrEncoder(4, 2, "add", 3, 1)
    assert {k.split(".")[0] for k in model.state_dict()} == {"conv_layer", "recurrent_layer"}
    assert list(inspect.signature(DyGrEncoder).parameters) == [
        "conv_out_channels", "conv_num_layers", "conv_aggr", "lstm_out_channels", "lstm_num_layers"]
    assert list(inspect.signature(DyGrEncoder.forward).parameters) == [
        "self", "X", "edge_index", "edge_weight", "H", "C"]


@pytest.mark.parametrize("call, match", [
    (lambda m, X, ei: m(X[0], ei), r"shape \(N, F\) with F <= conv_out_channels = 5"),
    (lambda m, X, ei: m(torch.randn(7, 6), ei), "conv_out_channels = 5"),
    (lambda m, X, ei: m(X, ei.t()), r"edge_index must have shape \(2, E\)"),
    (lambda m, X, ei: m(X, ei + 1), r"valid ids 0\.\.6"),
    (lambda m, X, ei: m(X, ei, torch.ones(3)), "one weight per column"),
    (lambda m, X, ei: m(X, ei, None, torch.zeros(7, 4)), "both"),
    (lambda m, X, ei: m(X, ei, None, torch.zeros(6, 4), torch.zeros(6, 4)), r"\(7, 4\)"),
    (lambda m, X, ei: m(X.long(), ei), "floating"),
])
def test_bad_input_names_the_fix(call, match):
    X, edge_index, _ = _graph()
    model = DyGrEncoder(5, 1, "add", 4, 1)
    with pytest.raises(ValueError, match=match):
        call(model, X, edge_index)


def test_bad_aggregation():
    with pytest.raises(ValueError, match="conv_aggr must be one of"):
        DyGrEncoder(5, 1, "sum", 4, 1)


@pytest.mark.parametrize("name", fixture_names("DyGrEncoder"))
def test_equals_upstream(name):
    """Upstream's outputs and gradients (PGT 0.56.2 golden fixture)."""
    fixture = load_fixture(name)
    check_signature(DyGrEncoder, fixture)
    check_against_fixture(DyGrEncoder, fixture)
