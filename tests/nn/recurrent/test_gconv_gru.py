"""GConvGRU: equal to upstream (golden fixtures), the GRU formula of Seo et al.
(dense reference), upstream's API and state_dict, bad input."""
import inspect

import pytest
import torch
from _upstream import check_against_fixture, check_signature, load_fixture
from _cheb_dense import cheb, graph

from torch_geometric_temporal.nn.recurrent.gconv_gru import GConvGRU


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def dense_gru(m, X, edge_index, w, H, normalization, lambda_max):
    def f(name, x):
        return cheb(getattr(m, name), x, edge_index, w, normalization, lambda_max)
    H = H.double()
    Z = torch.sigmoid(f("conv_x_z", X) + f("conv_h_z", H))
    R = torch.sigmoid(f("conv_x_r", X) + f("conv_h_r", H))
    H_tilde = torch.tanh(f("conv_x_h", X) + f("conv_h_h", R * H))
    return Z * H + (1 - Z) * H_tilde


CASES = [  # normalization, lambda_max, directed, K, bias, weighted
    ("sym", None, False, 3, True, True),
    ("sym", None, False, 1, False, False),
    ("rw", 1.7, True, 2, True, True),
    (None, 9.0, True, 3, True, True),
]


@pytest.mark.parametrize("normalization,lambda_max,directed,K,bias,weighted", CASES)
def test_step_equals_dense_formula_with_gradients(normalization, lambda_max, directed, K, bias,
                                                  weighted):
    torch.manual_seed(0)
    edge_index, w = graph(directed)
    w = w if weighted else None
    m = GConvGRU(3, 4, K, normalization=normalization, bias=bias)
    X, H = torch.randn(6, 3), torch.randn(6, 4)
    lam = None if lambda_max is None else torch.tensor(lambda_max)
    out = m(X, edge_index, w, H, lambda_max=lam)
    ref = dense_gru(m, X, edge_index, w, H, normalization, lambda_max)
    assert out.shape == (6, 4)
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)
    params = list(m.parameters())
    got = torch.autograd.grad(out.square().sum(), params)
    want = torch.autograd.grad(ref.square().sum(), params)
    for g, r in zip(got, want):
        torch.testing.assert_close(g.double(), r.double(), atol=1e-5, rtol=1e-5)


def test_sequence_default_state_and_float64():
    torch.manual_seed(1)
    edge_index, w = graph()
    m = GConvGRU(2, 3, 2).double()
    X = torch.randn(5, 6, 2, dtype=torch.float64)
    H, ref = None, torch.zeros(6, 3, dtype=torch.float64)
    for x in X:
        H = m(x, edge_index, w, H)
        ref = dense_gru(m, x, edge_index, w, ref, "sym", None)
        assert H.dtype == torch.float64
    torch.testing.assert_close(H, ref)
    # H omitted == zeros, edge_weight omitted == unit weights
    ones, zeros = torch.ones(w.numel(), dtype=torch.float64), torch.zeros(6, 3, dtype=torch.float64)
    torch.testing.assert_close(m(X[0], edge_index), m(X[0], edge_index, ones, zeros))


def test_upstream_api_and_state_dict_keys():
    sig = inspect.signature(GConvGRU.__init__)
    assert [(p.name, p.default) for p in list(sig.parameters.values())[1:]] == [
        ("in_channels", inspect._empty), ("out_channels", inspect._empty), ("K", inspect._empty),
        ("normalization", "sym"), ("bias", True)]
    assert list(inspect.signature(GConvGRU.forward).parameters) == [
        "self", "X", "edge_index", "edge_weight", "H", "lambda_max"]
    m = GConvGRU(2, 3, K=2)
    assert set(m.state_dict()) == {f"conv_{s}_{g}.{p}" for s in "xh" for g in "zrh"
                                   for p in ("bias", "lins.0.weight", "lins.1.weight")}
    assert set(GConvGRU(2, 3, 2, bias=False).state_dict()) == {
        f"conv_{s}_{g}.lins.{k}.weight" for s in "xh" for g in "zrh" for k in range(2)}
    assert m.conv_x_z.lins[0].weight.shape == (3, 2) and m.conv_h_h.lins[1].weight.shape == (3, 3)


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(6)), r"X of shape \(N, 3\)"),
    (dict(X=torch.randn(6, 2)), "in_channels = 3"),
    (dict(X=torch.randint(0, 3, (6, 3))), "floating"),
    (dict(H=torch.randn(5, 4)), r"H must have shape \(6, 4\)"),
    (dict(edge_index=torch.tensor([[0, 1], [1, 6]])), "node ids in"),
    (dict(edge_index=torch.tensor([[0, 1, 2]])), r"shape \(2, E\)"),
    (dict(edge_index=torch.tensor([[0., 1.], [1., 2.]])), "integers"),
    (dict(edge_weight=torch.ones(3)), r"edge_weight must have shape \(E,\)"),
])
def test_bad_input_raises_one_value_error(bad, match):
    edge_index, w = graph()
    args = dict(X=torch.randn(6, 3), edge_index=edge_index, edge_weight=w, H=None)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        GConvGRU(3, 4, 2)(**args)


@pytest.mark.parametrize("name", ['GConvGRU', 'GConvGRU__rw', 'GConvGRU__none'])
def test_equals_upstream_fixture(name):
    """Upstream's state_dict loads strictly; outputs and gradients of the
    recorded steps equal upstream's (atol 1e-5)."""
    fixture = load_fixture(name)
    check_signature(GConvGRU, fixture)
    check_against_fixture(GConvGRU, fixture)
    # Same initialization as upstream for a seed (the fixture script seeds 1
    # right before building upstream's model), in the same state_dict order.
    torch.manual_seed(1)
    ours = GConvGRU(**fixture["init"]).state_dict()
    assert list(ours) == list(fixture["state_dict"])
    perturbed = set(fixture["perturbed"])  # set at random by the script after init (upstream zeros them)
    assert len(perturbed) < len(ours)
    for key, value in ours.items():
        if key not in perturbed:
            assert torch.equal(value, fixture["state_dict"][key]), key
