"""ASTGCN and ChebConvAttention: upstream's outputs and gradients with
``upstream_formula = True`` (golden fixtures), the paper's attention-weighted
Chebyshev convolution (dense reference) by default, upstream's API and
state_dict, bad input."""
import pytest
import torch
from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.attention import astgcn
from torch_geometric_temporal.nn.attention.astgcn import (ASTGCN, ChebConvAttention,
                                                          laplacian_lambda_max)


def graph(n=6):
    src = torch.arange(n)
    edge_index = torch.stack([torch.cat([src, src[:3]]), torch.cat([(src + 1) % n, src[:3] + 2])])
    w = torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(0),
                   dtype=torch.float64) + 0.5
    return edge_index, w


def _upstream_mode(cls):
    def build(fixture):
        model = cls(**fixture["init"])
        model.upstream_formula = True
        return model
    return build


@pytest.mark.parametrize("cls,name", [(cls, n) for cls in (ChebConvAttention, ASTGCN)
                                      for n in fixture_names(cls.__name__)])
def test_upstream_mode_equals_upstream_fixture(cls, name):
    """With upstream_formula = True: upstream's outputs and gradients (atol
    1e-5, gradients relative to their size), same initialization for a seed."""
    fixture = load_fixture(name)
    check_signature(cls, fixture)
    model = check_against_fixture(cls, fixture, build=_upstream_mode(cls), scaled_grads=True)
    assert "upstream_formula=True" in repr(model) or model.upstream_formula
    torch.manual_seed(1)  # the fixture script seeds 1 right before building upstream's model
    ours = cls(**fixture["init"]).state_dict()
    assert list(ours) == list(fixture["state_dict"])
    for key, value in ours.items():
        if key not in fixture["perturbed"]:
            assert torch.equal(value, fixture["state_dict"][key]), key


def test_paper_and_upstream_agree_for_K1_and_differ_above():
    check_against_fixture(ChebConvAttention, load_fixture("ChebConvAttention__K1"))
    with pytest.raises(AssertionError, match="differs from upstream"):
        check_against_fixture(ChebConvAttention, load_fixture("ChebConvAttention__sym"))
    with pytest.raises(AssertionError, match="differs from upstream"):
        check_against_fixture(ASTGCN, load_fixture("ASTGCN"), scaled_grads=True)


def dense_laplacian(edge_index, w, n, normalization, lambda_max):
    utils = pyg("utils")
    index, value = utils.get_laplacian(edge_index, w, normalization, num_nodes=n)
    L = utils.to_dense_adj(index, edge_attr=value, max_num_nodes=n)[0]
    return 2.0 * L / lambda_max - torch.eye(n, dtype=L.dtype)


def dense_cheb_attention(m, x, L, S):
    """sum_k ((T_k(L) * S)^T x) Theta_k + b, with dense Chebyshev polynomials."""
    T = [torch.eye(L.size(0), dtype=L.dtype), L]
    while len(T) < m._weight.size(0):
        T.append(2 * L @ T[-1] - T[-2])
    out = sum(((T[k] * S).transpose(1, 2) @ x) @ m._weight[k] for k in range(m._weight.size(0)))
    return out + (m._bias if m._bias is not None else 0)


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("normalization,lambda_max,K", [("sym", None, 4), (None, 5.0, 3),
                                                        ("rw", 1.7, 2), ("sym", None, 1)])
def test_paper_formula_equals_dense_reference_with_gradients(normalization, lambda_max, K, dense,
                                                             monkeypatch):
    """Dense (N, N) products and per-entry messages (both paths) equal the
    formula; with S = 1 both equal PyG's ChebConv."""
    monkeypatch.setattr(astgcn, "dense_is_smaller", lambda *args: dense)
    torch.manual_seed(0)
    edge_index, w = graph()
    m = ChebConvAttention(3, 4, K, normalization).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    S = torch.softmax(torch.randn(2, 6, 6, dtype=torch.float64), dim=1).requires_grad_()
    out = m(x, edge_index, S, w, lambda_max=lambda_max)
    L = dense_laplacian(edge_index, w, 6, normalization, 2.0 if lambda_max is None else lambda_max)
    ref = dense_cheb_attention(m, x, L, S)
    torch.testing.assert_close(out, ref)
    params = list(m.parameters()) + [S]
    for g, r in zip(torch.autograd.grad(out.square().sum(), params),
                    torch.autograd.grad(ref.square().sum(), params)):
        torch.testing.assert_close(g, r)
    # no attention (S = 1): PyG's ChebConv with the same filters
    conv = pyg("nn").ChebConv(3, 4, K, normalization).double()
    with torch.no_grad():
        for k, lin in enumerate(conv.lins):
            lin.weight.copy_(m._weight[k].t())
        conv.bias.copy_(m._bias)
    lam = None if lambda_max is None else torch.tensor(lambda_max, dtype=torch.float64)
    torch.testing.assert_close(m(x, edge_index, torch.ones(2, 6, 6, dtype=torch.float64), w,
                                 lambda_max=lambda_max),
                               torch.stack([conv(xb, edge_index, w, lambda_max=lam) for xb in x]))


def test_astgcn_static_graph_equals_list_of_graphs_and_shapes():
    """All time steps in one product (here dense: 8 features) == one graph per
    time step (here per-entry messages: 2 features); the rw
    eigenvalue is that of the rw Laplacian (upstream: D - A)."""
    torch.manual_seed(0)
    edge_index, _ = graph()
    m = ASTGCN(2, 2, 3, 3, 4, 2, num_for_predict=3, len_input=4, num_of_vertices=6,
               normalization="rw").double()
    X = torch.randn(2, 6, 2, 4, dtype=torch.float64)
    out = m(X, edge_index)
    assert out.shape == (2, 6, 3)
    torch.testing.assert_close(out, m(X, [edge_index] * 4))
    newest = astgcn._LAMBDA_CACHE[0]  # both blocks: one entry, computed once
    assert newest[1] == (6, "rw") and sum(key == (6, "rw") and torch.equal(ei, edge_index)
                                          for ei, key, _ in astgcn._LAMBDA_CACHE) == 1
    assert newest[2] == pytest.approx(laplacian_lambda_max(edge_index, 6, "rw", cache=False))
    assert laplacian_lambda_max(edge_index, 6, "rw") < 2 < laplacian_lambda_max(edge_index, 6, None)
    m.upstream_formula = True
    m(X, edge_index)
    assert astgcn._LAMBDA_CACHE[0][1] == (6, None)


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(2, 6, 2)), r"X of shape \(B, 6, 2, 4\)"),
    (dict(X=torch.randn(2, 6, 3, 4)), "in_channels = 2"),
    (dict(X=torch.randn(2, 5, 2, 4)), "num_of_vertices = 6"),
    (dict(X=torch.randn(2, 4, 6, 2)), "x.permute"),
    (dict(X=torch.ones(2, 6, 2, 4, dtype=torch.long)), "floating"),
    (dict(edge_index=[graph()[0]] * 3), "list of 3 graphs"),
    (dict(edge_index=torch.tensor([[0, 1], [1, 6]])), "node ids in"),
])
def test_astgcn_bad_input_raises_one_value_error(bad, match):
    args = dict(X=torch.randn(2, 6, 2, 4), edge_index=graph()[0])
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        ASTGCN(1, 2, 2, 3, 3, 1, 2, 4, 6, "sym")(**args)


def test_chebconv_attention_bad_input_and_arguments():
    edge_index, w = graph()
    m = ChebConvAttention(3, 4, 2, "rw")
    x, S = torch.randn(2, 6, 3), torch.rand(2, 6, 6)
    with pytest.raises(ValueError, match="pass lambda_max"):
        m(x, edge_index, S)
    with pytest.raises(ValueError, match=r"spatial_attention must have shape \(B, N, N\)"):
        m(x, edge_index, S[:, :5], lambda_max=1.5)
    with pytest.raises(ValueError, match=r"x of shape \(B, N, 3\)"):
        m(x[0], edge_index, S, lambda_max=1.5)
    with pytest.raises(ValueError, match="MessagePassing options"):
        ChebConvAttention(3, 4, 2, aggr="mean")
    with pytest.raises(ValueError, match="normalization must be"):
        ChebConvAttention(3, 4, 2, "bad")
    with pytest.raises(ValueError, match="multiple of time_strides"):
        ASTGCN(1, 2, 2, 3, 3, 3, 2, 4, 6)
    assert ChebConvAttention(3, 4, 2, aggr="add")._weight.shape == (2, 3, 4)


def test_chebconv_attention_batch_of_graphs_uses_each_graphs_lambda_max():
    """With ``batch`` and one lambda_max per graph, each graph's nodes get
    the result of that graph alone."""
    torch.manual_seed(0)
    edge_index, w = graph(6)
    two = torch.cat([edge_index, edge_index + 6], dim=1)
    m = ChebConvAttention(3, 4, 3, "rw").double()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    S = torch.softmax(torch.randn(2, 12, 12, dtype=torch.float64), dim=1)
    lam = torch.tensor([1.5, 3.0], dtype=torch.float64)
    out = m(x, two, S, torch.cat([w, w]), batch=torch.arange(12) // 6, lambda_max=lam)
    for g in range(2):
        part = slice(6 * g, 6 * g + 6)
        torch.testing.assert_close(out[:, part], m(x[:, part], edge_index, S[:, part, part], w,
                                                   lambda_max=lam[g]))
