"""EvolveGCN-H and -O: dense references from the paper's equations (with
torch's GRU, as upstream), the documented differences from upstream, bad
input, and equality with upstream's fixtures."""
import inspect

import pytest
import torch

from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.recurrent import EvolveGCNH, EvolveGCNO
from torch_geometric_temporal.nn.recurrent.evolvegcno import GCNConv_Fixed_W


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _graph(N=8, seed=0, self_loop=True):
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(N)
    edge_index = torch.cat([torch.stack([src, (src + 1) % N]), torch.stack([src[:4], (src[:4] + 3) % N])], 1)
    if self_loop:  # an existing self-loop keeps its weight (add_remaining_self_loops)
        edge_index = torch.cat([edge_index, torch.tensor([[2], [2]])], 1)
    return edge_index, torch.rand(edge_index.size(1), generator=g, dtype=torch.float64) + 0.1


def dense_propagation(edge_index, edge_weight, N, improved=False, normalize=True, add_self_loops=True):
    """Dense P with out = P @ (X W): P[i, j] = normalized weight of edge j -> i."""
    w = torch.ones(edge_index.size(1), dtype=torch.float64) if edge_weight is None else edge_weight
    if normalize and add_self_loops and edge_weight is None:
        # PyG's gcn_norm without edge weights: one self-loop of weight 1 per
        # node, whatever `improved` (existing self-loops replaced).
        keep = edge_index[0] != edge_index[1]
        edge_index, w = edge_index[:, keep], w[keep]
        improved = False
    A = torch.zeros(N, N, dtype=torch.float64).index_put((edge_index[1], edge_index[0]), w, accumulate=True)
    if not normalize:
        return A
    if add_self_loops:
        has_loop = torch.zeros(N, dtype=torch.bool)
        has_loop[edge_index[0][edge_index[0] == edge_index[1]]] = True
        A = A + torch.diag((~has_loop).double() * (2.0 if improved else 1.0))
    d = A.sum(1)
    d_inv_sqrt = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))
    return d_inv_sqrt[:, None] * A * d_inv_sqrt[None, :]


def gru(gru_module, x, h):
    """torch.nn.GRU's equations, one step, rows of x and h are batch items."""
    W_ih, W_hh = gru_module.weight_ih_l0.double(), gru_module.weight_hh_l0.double()
    b_ih, b_hh = gru_module.bias_ih_l0.double(), gru_module.bias_hh_l0.double()
    gi, gh = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
    (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, 1), gh.chunk(3, 1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def summarize(pooling_layer, X, k):
    """The paper's summarize(X, k): top-k nodes by y = X p / ||p||, scaled by tanh(y)."""
    p = pooling_layer.select.weight.double().view(-1)
    y = X @ p / p.norm()
    idx = torch.argsort(y, descending=True)[:k]
    return X[idx] * torch.tanh(y[idx])[:, None]


def _snapshots(N, C, steps=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(N, C, generator=g, dtype=torch.float64) for _ in range(steps)]


VARIANTS = [{}, {"improved": True}, {"normalize": False}, {"add_self_loops": False}, {"cached": True}]


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_evolvegcno_matches_reference(kwargs):
    torch.manual_seed(0)
    N, C = 8, 4
    model = EvolveGCNO(C, **kwargs).double()
    edge_index, edge_weight = _graph(N)
    cfg = {k: v for k, v in kwargs.items() if k != "cached"}
    P = dense_propagation(edge_index, edge_weight, N, **cfg)
    W = model.initial_weight.detach()[0]
    for X in _snapshots(N, C):
        W = gru(model.recurrent_layer, W, W)
        torch.testing.assert_close(model(X, edge_index, edge_weight), P @ X @ W)
    assert model.weight.shape == (1, C, C)
    model.reinitialize_weight()
    X = _snapshots(N, C, 1, seed=5)[0]
    W = gru(model.recurrent_layer, model.initial_weight.detach()[0], model.initial_weight.detach()[0])
    torch.testing.assert_close(model(X, edge_index), dense_propagation(edge_index, None, N, **cfg) @ X @ W)


@pytest.mark.parametrize("kwargs", VARIANTS)
@pytest.mark.parametrize("N, num_of_nodes", [(8, 8), (10, 8)])
def test_evolvegcnh_matches_reference(kwargs, N, num_of_nodes):
    torch.manual_seed(0)
    C = 4
    model = EvolveGCNH(num_of_nodes, C, **kwargs).double()
    edge_index, edge_weight = _graph(N)
    cfg = {k: v for k, v in kwargs.items() if k != "cached"}
    P = dense_propagation(edge_index, edge_weight, N, **cfg)
    W = model.initial_weight.detach()[0]
    for X in _snapshots(N, C):
        W = gru(model.recurrent_layer, summarize(model.pooling_layer, X, C), W)
        torch.testing.assert_close(model(X, edge_index, edge_weight), P @ X @ W)


def test_evolvegcnh_keeps_in_channels_nodes_as_the_paper():
    """Documented difference: upstream's ratio in_channels / num_of_nodes = 1
    keeps one node (and its GRU then fails); the paper keeps k = C nodes."""
    torch.manual_seed(0)
    C = N = 5
    model = EvolveGCNH(num_of_nodes=N, in_channels=C).double()
    assert model.ratio == 1.0  # upstream's attribute, kept
    edge_index, edge_weight = _graph(N, self_loop=False)
    X = _snapshots(N, C, 1)[0]
    W = gru(model.recurrent_layer, summarize(model.pooling_layer, X, C), model.initial_weight.detach()[0])
    out = model(X, edge_index, edge_weight)
    torch.testing.assert_close(out, dense_propagation(edge_index, edge_weight, N) @ X @ W)
    # Upstream's pooling ratio would keep int(1.0) = 1 node here.
    from torch_geometric.nn import TopKPooling

    upstream_pool = TopKPooling(C, model.ratio)
    assert upstream_pool(X.float(), edge_index)[0].size(0) == 1


def test_gradients_flow_through_the_evolution():
    torch.manual_seed(0)
    edge_index, edge_weight = _graph()
    for model in (EvolveGCNO(3), EvolveGCNH(8, 3)):
        loss = sum(model(X.float(), edge_index, edge_weight.float()).pow(2).sum()
                   for X in _snapshots(8, 3))
        loss.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_cached_normalization_follows_the_graph():
    """Documented: cached=True reuses the normalization only for the same,
    unmodified graph tensors, so outputs equal the uncached layer's."""
    torch.manual_seed(0)
    conv, plain = GCNConv_Fixed_W(3, 3, cached=True), GCNConv_Fixed_W(3, 3)
    W, X = torch.randn(3, 3), torch.randn(8, 3)
    (ei1, w1), (ei2, w2) = _graph(seed=1), _graph(seed=2, self_loop=False)
    w1, w2 = w1.float(), w2.float()
    for edge_index, edge_weight in [(ei1, w1), (ei1, w1), (ei2, w2), (ei1, None)]:
        torch.testing.assert_close(conv(W, X, edge_index, edge_weight), plain(W, X, edge_index, edge_weight))
    assert conv._cache is not None
    w1.mul_(2.0)  # in place: normalized again
    torch.testing.assert_close(conv(W, X, ei1, w1), plain(W, X, ei1, w1))
    learned = w1.clone().requires_grad_()
    conv.reset_parameters()
    for _ in range(2):  # a learned weight is never cached (its graph would be freed)
        conv(W, X, ei1, learned).sum().backward()
    assert conv._cache is None


def test_signatures_and_state_dict_keys():
    assert list(inspect.signature(EvolveGCNO).parameters) == [
        "in_channels", "improved", "cached", "normalize", "add_self_loops"]
    assert list(inspect.signature(EvolveGCNH).parameters) == [
        "num_of_nodes", "in_channels", "improved", "cached", "normalize", "add_self_loops"]
    for cls in (EvolveGCNO, EvolveGCNH):
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        assert defaults == {"improved": False, "cached": False, "normalize": True, "add_self_loops": True}
        assert list(inspect.signature(cls.forward).parameters) == ["self", "X", "edge_index", "edge_weight"]
    gru_keys = ["recurrent_layer.weight_ih_l0", "recurrent_layer.weight_hh_l0",
                "recurrent_layer.bias_ih_l0", "recurrent_layer.bias_hh_l0"]
    assert list(EvolveGCNO(3).state_dict()) == ["initial_weight"] + gru_keys
    assert list(EvolveGCNH(8, 3).state_dict()) == ["initial_weight", "pooling_layer.select.weight"] + gru_keys


@pytest.mark.parametrize("cls", ["O", "H"])
@pytest.mark.parametrize("call, match", [
    (lambda m, X, ei: m(X[:, :2], ei), "in_channels = 3"),
    (lambda m, X, ei: m(X[None], ei), r"shape \(N, 3\)"),
    (lambda m, X, ei: m(X, ei[:, :-1] + 8), r"valid ids 0\.\.7"),
    (lambda m, X, ei: m(X, ei.t()), r"shape \(2, E\)"),
    (lambda m, X, ei: m(X, ei, torch.ones(2)), "one weight per column"),
])
def test_bad_input_names_the_fix(cls, call, match):
    model = EvolveGCNO(3) if cls == "O" else EvolveGCNH(8, 3)
    edge_index, _ = _graph()
    with pytest.raises(ValueError, match=match):
        call(model, torch.randn(8, 3), edge_index)


def test_evolvegcnh_needs_at_least_in_channels_nodes():
    model = EvolveGCNH(8, 4)
    with pytest.raises(ValueError, match="top in_channels = 4 nodes but X has N = 3"):
        model(torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]]))


@pytest.mark.parametrize("cls", [EvolveGCNH, EvolveGCNO], ids=lambda c: c.__name__)
def test_equals_upstream(cls):
    """Upstream's outputs and gradients over the recorded calls on one
    instance (the weight evolving between them), every variant."""
    names = fixture_names(cls.__name__)
    assert names
    for name in names:
        fixture = load_fixture(name)
        check_signature(cls, fixture)
        model = check_against_fixture(cls, fixture)
        assert model.weight is not None and model.weight.shape == (1, model.in_channels, model.in_channels)


@pytest.mark.parametrize("cls", [EvolveGCNH, EvolveGCNO], ids=lambda c: c.__name__)
def test_training_over_epochs_with_reinitialize_or_detach(cls):
    """As documented: reinitialize_weight() (or a detach) after each backward."""
    torch.manual_seed(0)
    edge_index, _ = _graph()
    model = cls(8, 3) if cls is EvolveGCNH else cls(3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for epoch in range(3):
        loss = sum(model(X.float(), edge_index).pow(2).mean() for X in _snapshots(8, 3, seed=epoch))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if epoch == 0:
            model.weight = model.weight.detach()
        else:
            model.reinitialize_weight()
    assert model.weight is None
