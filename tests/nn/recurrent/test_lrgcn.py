"""LRGCN: equal to upstream (golden fixtures); the LSTM-of-R-GCN formula
(dense reference), upstream's API and state_dict, bad input."""
import inspect

import pytest
import torch
from _upstream import check_against_fixture, check_signature, load_fixture

from torch_geometric_temporal.nn.recurrent.lrgcn import LRGCN


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def relational_graph(n=6, num_relations=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.tensor(list(range(n)) + [0, 2, 4, 1, 1])
    dst = torch.tensor([(i + 1) % n for i in range(n)] + [3, 5, 1, 1, 4])
    edge_type = torch.randint(0, num_relations, (src.numel(),), generator=g)
    return torch.stack([src, dst]), edge_type


def dense_rgcn(conv, x, edge_index, edge_type):
    """x_i' = x_i Theta_root + sum_r mean_{j -> i, type r} x_j Theta_r + b,
    Theta_r = sum_b comp[r, b] V_b (basis decomposition)."""
    n, x = x.size(0), x.double()
    weight = conv.weight.double()
    if conv.num_bases is not None:
        weight = torch.einsum("rb,bio->rio", conv.comp.double(), weight)
    out = x @ conv.root.double() + conv.bias.double()
    for r in range(weight.size(0)):
        keep = edge_type == r
        A = torch.zeros(n, n, dtype=torch.float64).index_put(
            (edge_index[1, keep], edge_index[0, keep]), torch.ones(int(keep.sum()), dtype=torch.float64),
            accumulate=True)  # A[i, j] = number of edges j -> i of type r
        A = A / A.sum(1, keepdim=True).clamp(min=1)
        out = out + A @ x @ weight[r]
    return out


def dense_lrgcn(m, X, edge_index, edge_type, H, C):
    def pre(gate):
        return (dense_rgcn(getattr(m, f"conv_x_{gate}"), X, edge_index, edge_type)
                + dense_rgcn(getattr(m, f"conv_h_{gate}"), H, edge_index, edge_type))
    C = C.double()
    I, F = torch.sigmoid(pre("i")), torch.sigmoid(pre("f"))
    C = F * C + I * torch.tanh(pre("c"))
    return torch.sigmoid(pre("o")) * torch.tanh(C), C


@pytest.mark.parametrize("num_bases", [2, None])
def test_step_equals_dense_formula_with_gradients(num_bases):
    torch.manual_seed(0)
    edge_index, edge_type = relational_graph()
    m = LRGCN(3, 4, num_relations=3, num_bases=num_bases)
    X, H, C = torch.randn(6, 3), torch.randn(6, 4), torch.randn(6, 4)
    out = m(X, edge_index, edge_type, H, C)
    ref = dense_lrgcn(m, X, edge_index, edge_type, H, C)
    for o, r in zip(out, ref):
        assert o.shape == (6, 4)
        torch.testing.assert_close(o.double(), r, atol=1e-5, rtol=1e-5)
    params = list(m.parameters())
    got = torch.autograd.grad((out[0].square() + out[1]).sum(), params)
    want = torch.autograd.grad((ref[0].square() + ref[1]).sum(), params)
    for g, r in zip(got, want):
        torch.testing.assert_close(g.double(), r.double(), atol=1e-5, rtol=1e-5)


def test_sequence_default_states():
    torch.manual_seed(1)
    edge_index, edge_type = relational_graph()
    m = LRGCN(2, 3, 3, 2)
    H = C = None
    Hr, Cr = torch.zeros(6, 3), torch.zeros(6, 3)
    for x in torch.randn(4, 6, 2):
        H, C = m(x, edge_index, edge_type, H, C)
        Hr, Cr = dense_lrgcn(m, x, edge_index, edge_type, Hr, Cr)
    torch.testing.assert_close(H.double(), Hr, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(C.double(), Cr, atol=1e-5, rtol=1e-5)


def test_node_ids_as_input_are_rgcn_embeddings():
    torch.manual_seed(2)
    edge_index, edge_type = relational_graph()
    m = LRGCN(6, 3, 3, None)
    ids = torch.arange(6)
    H, C = m(ids, edge_index, edge_type)
    # featureless R-GCN == one-hot features
    H1, C1 = m(torch.eye(6), edge_index, edge_type)
    torch.testing.assert_close((H, C), (H1, C1), atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="node ids in"):
        m(torch.tensor([0, 1, 2, 3, 4, 6]), edge_index, edge_type)


def test_upstream_api_and_state_dict_keys():
    sig = inspect.signature(LRGCN.__init__)
    assert [(p.name, p.default) for p in list(sig.parameters.values())[1:]] == [
        (name, inspect._empty) for name in ("in_channels", "out_channels", "num_relations", "num_bases")]
    assert list(inspect.signature(LRGCN.forward).parameters) == [
        "self", "X", "edge_index", "edge_type", "H", "C"]
    m = LRGCN(2, 3, 4, 2)
    assert set(m.state_dict()) == {f"conv_{s}_{g}.{p}" for s in "xh" for g in "ifco"
                                   for p in ("weight", "comp", "root", "bias")}
    assert m.conv_x_i.weight.shape == (2, 2, 3) and m.conv_h_o.comp.shape == (4, 2)


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(6, 2)), "in_channels = 3"),
    (dict(H=torch.randn(6, 5)), r"H must have shape \(6, 4\)"),
    (dict(C=torch.randn(7, 4)), r"C must have shape \(6, 4\)"),
    (dict(edge_index=torch.tensor([[0, 9], [1, 2]]), edge_type=torch.tensor([0, 1])), "node ids in"),
    (dict(edge_type=torch.tensor([0, 1])), r"edge_type must have shape \(E,\)"),
    (dict(edge_type="full"), "relation ids in"),
    (dict(edge_type="float"), "integers"),
])
def test_bad_input_raises_one_value_error(bad, match):
    edge_index, edge_type = relational_graph()
    if bad.get("edge_type") == "full":
        bad["edge_type"] = torch.full_like(edge_type, 3)
    elif bad.get("edge_type") == "float":
        bad["edge_type"] = edge_type.float()
    args = dict(X=torch.randn(6, 3), edge_index=edge_index, edge_type=edge_type)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        LRGCN(3, 4, 3, 2)(**args)


@pytest.mark.parametrize("name", ['LRGCN'])
def test_equals_upstream_fixture(name):
    """Upstream's state_dict loads strictly; outputs and gradients of the
    recorded steps equal upstream's (atol 1e-5)."""
    fixture = load_fixture(name)
    check_signature(LRGCN, fixture)
    check_against_fixture(LRGCN, fixture)
    # Same initialization as upstream for a seed (the fixture script seeds 1
    # right before building upstream's model), in the same state_dict order.
    torch.manual_seed(1)
    ours = LRGCN(**fixture["init"]).state_dict()
    assert list(ours) == list(fixture["state_dict"])
    perturbed = set(fixture["perturbed"])  # set at random by the script after init (upstream zeros them)
    assert len(perturbed) < len(ours)
    for key, value in ours.items():
        if key not in perturbed:
            assert torch.equal(value, fixture["state_dict"][key]), key
