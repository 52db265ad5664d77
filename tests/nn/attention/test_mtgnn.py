"""MTGNN, MixProp, GraphConstructor: equal to upstream 0.56.2 (golden
fixtures, forward and gradients), the paper's formulas (dense references),
upstream's API and state_dict keys, bad input."""
import pytest
import torch
from _upstream import (check_against_fixture, check_fresh_state_dict, check_signature,
                       load_fixture)

from torch_geometric_temporal.nn.attention.mtgnn import MTGNN, GraphConstructor, MixProp


CLASSES = {"MTGNN": MTGNN, "MixProp": MixProp, "GraphConstructor": GraphConstructor}



@pytest.mark.parametrize("name", [
    "MTGNN", "MTGNN__predefined_long", "MTGNN__dil2_short_noaffine", "MTGNN__nogcn",
    "MTGNN__static_subgraph", "MixProp", "MixProp__depth3", "GraphConstructor",
    "GraphConstructor__static"])
def test_equals_upstream_fixture(name):
    fixture = load_fixture(name)
    cls = CLASSES[fixture["class"]]
    check_signature(cls, fixture)
    check_against_fixture(cls, fixture, scaled_grads=True)
    check_fresh_state_dict(cls, fixture)


def test_mixprop_equals_the_paper_formula():
    torch.manual_seed(0)
    m = MixProp(3, 4, gdep=2, dropout=0.0, alpha=0.2)
    X, A = torch.randn(2, 3, 5, 4), torch.rand(5, 5)
    At = A + torch.eye(5)
    At = At / At.sum(1, keepdim=True)
    hops = [X]
    for _ in range(2):
        hops.append(0.2 * X + 0.8 * torch.einsum("vw,bcwt->bcvt", At, hops[-1]))
    W = m._mlp._mlp.weight[:, :, 0, 0]
    want = sum(torch.einsum("oc,bcvt->bovt", W[:, 3 * k:3 * k + 3], h) for k, h in enumerate(hops))
    torch.testing.assert_close(m(X, A), want + m._mlp._mlp.bias.view(1, -1, 1, 1))


def test_graph_constructor_is_antisymmetric_relu_with_k_per_row():
    torch.manual_seed(0)
    g = GraphConstructor(7, k=2, dim=4, alpha=3.0)
    A = g(torch.arange(7))
    assert A.shape == (7, 7) and (A >= 0).all()
    assert ((A > 0).sum(1) <= 2).all()
    assert not ((A > 0) & (A.t() > 0)).any()  # ReLU of an antisymmetric matrix: one direction


def test_shapes_subgraph_and_state_dict_round_trip():
    torch.manual_seed(0)
    kw = dict(gcn_true=True, build_adj=True, gcn_depth=2, num_nodes=6, kernel_set=[2, 3],
              kernel_size=3, dropout=0.3, subgraph_size=3, node_dim=3, dilation_exponential=1,
              conv_channels=4, residual_channels=4, skip_channels=4, end_channels=4,
              seq_length=5, in_dim=2, out_dim=3, layers=2, propalpha=0.05, tanhalpha=3.0,
              layer_norm_affline=True)
    m = MTGNN(**kw).eval()
    X = torch.randn(2, 2, 6, 5)
    assert m(X).shape == (2, 3, 6, 1)
    idx = torch.tensor([3, 1, 4])
    assert m(X[:, :, idx], idx=idx).shape == (2, 3, 3, 1)
    assert "num_nodes=6, in_dim=2, out_dim=3, seq_length=5, layers=2" in repr(m)
    m2 = MTGNN(**kw).eval()
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m(X), m2(X))


KW = dict(gcn_true=True, build_adj=False, gcn_depth=1, num_nodes=4, kernel_set=[2],
          kernel_size=2, dropout=0.0, subgraph_size=2, node_dim=2, dilation_exponential=1,
          conv_channels=2, residual_channels=2, skip_channels=2, end_channels=2, seq_length=3,
          in_dim=2, out_dim=1, layers=1, propalpha=0.1, tanhalpha=1.0, layer_norm_affline=True)


@pytest.mark.parametrize("bad,match", [
    (dict(X_in=torch.randn(2, 2, 4)), r"\(B, in_dim, N, seq_length\)"),
    (dict(X_in=torch.randn(2, 3, 4, 3)), "in_dim = 2"),
    (dict(X_in=torch.randn(2, 2, 4, 4)), "seq_length = 3"),
    (dict(X_in=torch.randn(2, 2, 5, 3)), "num_nodes = 4"),
    (dict(X_in=torch.ones(2, 2, 4, 3, dtype=torch.long)), "floating"),
    (dict(A_tilde=None), r"A_tilde must be a dense \(4, 4\)"),
    (dict(A_tilde=torch.rand(3, 3)), r"\(4, 4\)"),
    (dict(X_in=torch.randn(2, 2, 2, 3), A_tilde=torch.rand(2, 2), idx=torch.tensor([0, 4])),
     r"outside \[0, 4\)"),
    (dict(idx=torch.tensor([[0, 1, 2, 3]])), "1-D tensor of node ids"),
])
def test_bad_input_raises_one_value_error(bad, match):
    args = dict(X_in=torch.randn(2, 2, 4, 3), A_tilde=torch.rand(4, 4))
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        MTGNN(**KW)(**args)


def test_graph_constructor_bad_input():
    g = GraphConstructor(4, k=3, dim=2, alpha=1.0, xd=2)
    with pytest.raises(ValueError, match="pass the static features FE"):
        g(torch.arange(4))
    with pytest.raises(ValueError, match="k = 3"):
        g(torch.arange(2), FE=torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"\(N, xd = 2\)"):
        g(torch.arange(4), FE=torch.randn(4, 3))
