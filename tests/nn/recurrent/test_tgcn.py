"""Tests for TGCN and TGCN2 (T-GCN cells)."""
import pytest
import torch
from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.recurrent.temporalgcn import TGCN, TGCN2

KEYS = [f"{m}_{g}.{p}" for g in "zrh" for m, ps in (("conv", ("bias", "lin.weight")),
                                                      ("linear", ("weight", "bias"))) for p in ps]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def graph():
    """Asymmetric, weighted, node 0 with a self loop, node 5 with no in-edges."""
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 2, 5, 0, 3], [1, 2, 3, 4, 0, 0, 1, 0, 1]])
    edge_weight = torch.rand(9, generator=torch.Generator().manual_seed(1)) + 0.1
    return edge_index, edge_weight, 6


def dense_gcn(X, edge_index, edge_weight, n, improved=False, self_loops=True):
    r"""\hat D^{-1/2} \hat A \hat D^{-1/2} X with A[i, j] = w_{j -> i} (dense, from the paper)."""
    w = torch.ones(edge_index.size(1), dtype=X.dtype) if edge_weight is None else edge_weight.to(X.dtype)
    A = torch.zeros(n, n, dtype=X.dtype).index_put((edge_index[1], edge_index[0]), w, accumulate=True)
    if self_loops:  # PyG's add_remaining_self_loops: keep existing loops, add fill value elsewhere;
        improved = improved and edge_weight is not None  # GCNConv: unit loops on unweighted graphs
        has_loop = torch.zeros(n, dtype=torch.bool)
        has_loop[edge_index[0][edge_index[0] == edge_index[1]]] = True
        fill = torch.full((n,), 2.0 if improved else 1.0, dtype=X.dtype)
        A = A + torch.diag(torch.where(has_loop, torch.zeros_like(fill), fill))
    d = A.sum(1)
    dinv = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))
    return dinv[:, None] * A * dinv[None, :] @ X


def dense_tgcn(cell, X, edge_index, edge_weight, H, n):
    """The T-GCN equations with dense GCN products (any leading batch axes)."""
    def f(conv):
        AX = dense_gcn(X.double(), edge_index, edge_weight, n, cell.improved, cell.add_self_loops)
        return AX @ conv.lin.weight.double().T + conv.bias.double()

    def lin(m, x):
        return x @ m.weight.double().T + m.bias.double()

    H = H.double()
    Z = torch.sigmoid(lin(cell.linear_z, torch.cat([f(cell.conv_z), H], -1)))
    R = torch.sigmoid(lin(cell.linear_r, torch.cat([f(cell.conv_r), H], -1)))
    Ht = torch.tanh(lin(cell.linear_h, torch.cat([f(cell.conv_h), H * R], -1)))
    return Z * H + (1 - Z) * Ht


def gcnconv_tgcn(cell, X, edge_index, edge_weight, H):
    """Three GCNConv calls, as upstream computes the cell."""
    Z = torch.sigmoid(cell.linear_z(torch.cat([cell.conv_z(X, edge_index, edge_weight), H], -1)))
    R = torch.sigmoid(cell.linear_r(torch.cat([cell.conv_r(X, edge_index, edge_weight), H], -1)))
    Ht = torch.tanh(cell.linear_h(torch.cat([cell.conv_h(X, edge_index, edge_weight), H * R], -1)))
    return Z * H + (1 - Z) * Ht


@pytest.mark.parametrize("in_channels", [3, 40])  # propagate X first / X W first
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("options", [{}, {"improved": True}, {"add_self_loops": False}])
def test_tgcn_equals_paper_and_gcnconv(graph, in_channels, weighted, options):
    edge_index, edge_weight, n = graph
    edge_weight = edge_weight if weighted else None
    torch.manual_seed(0)
    cell = TGCN(in_channels, 8, **options)
    X, H = torch.randn(n, in_channels), torch.randn(n, 8)
    out = cell(X, edge_index, edge_weight, H)
    assert out.shape == (n, 8)
    torch.testing.assert_close(out.double(), dense_tgcn(cell, X, edge_index, edge_weight, H, n),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, gcnconv_tgcn(cell, X, edge_index, edge_weight, H), atol=1e-6, rtol=1e-5)


def test_tgcn_gradients_equal_gcnconv(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(1)
    cell = TGCN(4, 6)
    X, H = torch.randn(n, 4), torch.randn(n, 6)
    cell(X, edge_index, edge_weight, H).square().sum().backward()
    ours = {k: p.grad.clone() for k, p in cell.named_parameters()}
    cell.zero_grad()
    gcnconv_tgcn(cell, X, edge_index, edge_weight, H).square().sum().backward()
    for k, p in cell.named_parameters():
        torch.testing.assert_close(ours[k], p.grad, atol=1e-5, rtol=1e-5)


def test_tgcn_zero_state_and_keys(graph):
    edge_index, _, n = graph
    cell = TGCN(2, 5)
    X = torch.randn(n, 2)
    torch.testing.assert_close(cell(X, edge_index), cell(X, edge_index, None, torch.zeros(n, 5)))
    assert list(cell.state_dict()) == KEYS
    assert "improved=False" in repr(cell)


def test_tgcn2_equals_tgcn_per_item(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(2)
    single, batched = TGCN(3, 7), TGCN2(3, 7, batch_size=4)
    batched.load_state_dict(single.state_dict(), strict=True)
    X, H = torch.randn(4, n, 3), torch.randn(4, n, 7)
    out = batched(X, edge_index, edge_weight, H)
    assert out.shape == (4, n, 7)
    loop = torch.stack([single(X[b], edge_index, edge_weight, H[b]) for b in range(4)])
    torch.testing.assert_close(out, loop, atol=1e-6, rtol=1e-5)
    # batch_size is kept for upstream compatibility only: any B works
    assert batched(X[:2], edge_index).shape == (2, n, 7)
    assert list(batched.state_dict()) == KEYS and batched.batch_size == 4


def test_cached_reuses_first_graph(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(3)
    cached, fresh = TGCN(2, 4, cached=True), TGCN(2, 4)
    fresh.load_state_dict(cached.state_dict())
    X = torch.randn(n, 2)
    first = cached(X, edge_index, edge_weight)
    torch.testing.assert_close(first, fresh(X, edge_index, edge_weight))
    # as GCNConv(cached=True): a later graph is ignored
    torch.testing.assert_close(cached(X, edge_index, None), first)
    cached.reset_parameters()
    assert cached._cached_graph is None


def test_state_dict_round_trip(graph):
    edge_index, edge_weight, n = graph
    a, b = TGCN2(2, 3, 1), TGCN2(2, 3, 1)
    b.load_state_dict(a.state_dict(), strict=True)
    X = torch.randn(2, n, 2)
    torch.testing.assert_close(a(X, edge_index, edge_weight), b(X, edge_index, edge_weight))


@pytest.mark.parametrize("cls, X, H, match", [
    (TGCN, torch.randn(6, 3), None, "in_channels = 2"),
    (TGCN, torch.randn(2, 6, 2), None, r"shape \(N, 2\)"),
    (TGCN, torch.randn(6, 2), torch.randn(5, 4), r"H must have shape \(6, 4\)"),
    (TGCN2, torch.randn(6, 2), None, r"shape \(B, N, 2\)"),
    (TGCN2, torch.randn(3, 6, 2), torch.randn(3, 7, 4), r"H must have shape \(3, 6, 4\)"),
])
def test_bad_input(graph, cls, X, H, match):
    edge_index, _, _ = graph
    cell = cls(2, 4) if cls is TGCN else cls(2, 4, 3)
    with pytest.raises(ValueError, match=match):
        cell(X, edge_index, None, H)


@pytest.mark.parametrize("cls", [TGCN, TGCN2])
def test_bad_graph(graph, cls):
    edge_index, edge_weight, n = graph
    cell = cls(2, 4) if cls is TGCN else cls(2, 4, 3)
    X = torch.randn(n, 2) if cls is TGCN else torch.randn(3, n, 2)
    with pytest.raises(ValueError, match=r"valid ids 0\.\.4"):
        cell(X[..., :5, :], edge_index)
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\)"):
        cell(X, edge_index.t())
    with pytest.raises(ValueError, match="edge_weight must have shape"):
        cell(X, edge_index, edge_weight[:3])


@pytest.mark.parametrize("cls, name", [(cls, name) for cls in (TGCN, TGCN2)
                                       for name in fixture_names(cls.__name__)])
def test_equals_upstream_fixture(cls, name):
    fixture = load_fixture(name)
    check_signature(cls, fixture)
    check_against_fixture(cls, fixture)
