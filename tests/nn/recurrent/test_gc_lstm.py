"""GCLSTM: equal to upstream (golden fixtures); the GC-LSTM of Chen et al.
(dense reference), upstream's API and state_dict, bad input."""
import inspect

import pytest
import torch
from _upstream import check_against_fixture, check_signature, load_fixture
from _cheb_dense import cheb, graph

from torch_geometric_temporal.nn.recurrent.gc_lstm import GCLSTM


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def dense_gclstm(m, X, edge_index, w, H, C, normalization, lambda_max):
    def pre(gate):
        return (X.double() @ getattr(m, f"W_{gate}").double()
                + cheb(getattr(m, f"conv_{gate}"), H, edge_index, w, normalization, lambda_max)
                + getattr(m, f"b_{gate}"))
    C = C.double()
    I, F = torch.sigmoid(pre("i")), torch.sigmoid(pre("f"))
    C = F * C + I * torch.tanh(pre("c"))
    return torch.sigmoid(pre("o")) * torch.tanh(C), C


CASES = [  # normalization, lambda_max, directed, K, bias
    ("sym", None, False, 3, True),
    ("sym", None, False, 1, False),
    ("rw", 1.7, True, 2, True),
    (None, 9.0, True, 3, True),
]


@pytest.mark.parametrize("normalization,lambda_max,directed,K,bias", CASES)
def test_step_equals_dense_formula_with_gradients(normalization, lambda_max, directed, K, bias):
    torch.manual_seed(0)
    edge_index, w = graph(directed)
    m = GCLSTM(3, 4, K, normalization=normalization, bias=bias)
    with torch.no_grad():  # non-zero gate biases, so that they are exercised
        for name in ("b_i", "b_f", "b_c", "b_o"):
            getattr(m, name).normal_()
    X, H, C = torch.randn(6, 3), torch.randn(6, 4), torch.randn(6, 4)
    lam = None if lambda_max is None else torch.tensor(lambda_max)
    out = m(X, edge_index, w, H, C, lambda_max=lam)
    ref = dense_gclstm(m, X, edge_index, w, H, C, normalization, lambda_max)
    for o, r in zip(out, ref):
        assert o.shape == (6, 4)
        torch.testing.assert_close(o.double(), r, atol=1e-5, rtol=1e-5)
    params = list(m.parameters())
    got = torch.autograd.grad((out[0].square() + out[1]).sum(), params)
    want = torch.autograd.grad((ref[0].square() + ref[1]).sum(), params)
    for g, r in zip(got, want):
        torch.testing.assert_close(g.double(), r.double(), atol=1e-5, rtol=1e-5)


def test_sequence_default_states_and_float64():
    torch.manual_seed(1)
    edge_index, w = graph()
    m = GCLSTM(2, 3, 2).double()
    H = C = None
    Hr = Cr = torch.zeros(6, 3, dtype=torch.float64)
    for x in torch.randn(5, 6, 2, dtype=torch.float64):
        H, C = m(x, edge_index, w, H, C)
        Hr, Cr = dense_gclstm(m, x, edge_index, w, Hr, Cr, "sym", None)
    assert H.dtype == C.dtype == torch.float64
    torch.testing.assert_close((H, C), (Hr, Cr))


def test_upstream_api_init_and_state_dict_keys():
    sig = inspect.signature(GCLSTM.__init__)
    assert [(p.name, p.default) for p in list(sig.parameters.values())[1:]] == [
        ("in_channels", inspect._empty), ("out_channels", inspect._empty), ("K", inspect._empty),
        ("normalization", "sym"), ("bias", True)]
    assert list(inspect.signature(GCLSTM.forward).parameters) == [
        "self", "X", "edge_index", "edge_weight", "H", "C", "lambda_max"]
    m = GCLSTM(2, 3, K=2)
    convs = {f"conv_{g}.{p}" for g in "ifco" for p in ("bias", "lins.0.weight", "lins.1.weight")}
    own = {f"{p}_{g}" for p in "Wb" for g in "ifco"}
    assert set(m.state_dict()) == convs | own
    assert m.W_i.shape == (2, 3) and m.b_o.shape == (1, 3) and m.conv_c.lins[1].weight.shape == (3, 3)
    assert all(float(getattr(m, f"b_{g}").detach().abs().max()) == 0 for g in "ifco")


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(6)), r"X of shape \(N, 3\)"),
    (dict(X=torch.randn(6, 4)), "in_channels = 3"),
    (dict(H=torch.randn(5, 4)), r"H must have shape \(6, 4\)"),
    (dict(C=torch.randn(6, 4, 1)), r"C must have shape \(6, 4\)"),
    (dict(edge_index=torch.tensor([[0, 1], [1, 6]]), edge_weight=None), "node ids in"),
    (dict(edge_weight=torch.ones(3)), r"edge_weight must have shape \(E,\)"),
    (dict(edge_weight="int"), "floating"),
])
def test_bad_input_raises_one_value_error(bad, match):
    edge_index, w = graph()
    if bad.get("edge_weight") == "int":
        bad["edge_weight"] = torch.ones(w.numel(), dtype=torch.long)
    args = dict(X=torch.randn(6, 3), edge_index=edge_index, edge_weight=w)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        GCLSTM(3, 4, 2)(**args)


@pytest.mark.parametrize("name", ['GCLSTM', 'GCLSTM__rw', 'GCLSTM__none'])
def test_equals_upstream_fixture(name):
    """Upstream's state_dict loads strictly; outputs and gradients of the
    recorded steps equal upstream's (atol 1e-5)."""
    fixture = load_fixture(name)
    check_signature(GCLSTM, fixture)
    check_against_fixture(GCLSTM, fixture)
    # Same initialization as upstream for a seed (the fixture script seeds 1
    # right before building upstream's model), in the same state_dict order.
    torch.manual_seed(1)
    ours = GCLSTM(**fixture["init"]).state_dict()
    assert list(ours) == list(fixture["state_dict"])
    perturbed = set(fixture["perturbed"])  # set at random by the script after init (upstream zeros them)
    assert len(perturbed) < len(ours)
    for key, value in ours.items():
        if key not in perturbed:
            assert torch.equal(value, fixture["state_dict"][key]), key
