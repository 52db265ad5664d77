"""STConv and TemporalConv: equal to upstream (golden fixtures), the paper's
block written out snapshot by snapshot, upstream's API and state_dict, bad
input."""
import pytest
import torch
import torch.nn.functional as F
from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.attention.stgcn import STConv, TemporalConv


def ring(n=5):
    src = torch.arange(n)
    edge_index = torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])
    return edge_index, torch.rand(2 * n, generator=torch.Generator().manual_seed(0)) + 0.5


@pytest.mark.parametrize("cls,name", [(cls, n) for cls in (TemporalConv, STConv)
                                      for n in fixture_names(cls.__name__)])
def test_equals_upstream_fixture(cls, name):
    """Upstream's state_dict loads strictly; outputs and gradients of the
    recorded calls equal upstream's (atol 1e-5); same initialization for a seed."""
    fixture = load_fixture(name)
    check_signature(cls, fixture)
    check_against_fixture(cls, fixture)
    torch.manual_seed(1)  # the fixture script seeds 1 right before building upstream's model
    ours = cls(**fixture["init"]).state_dict()
    assert list(ours) == list(fixture["state_dict"])
    for key, value in ours.items():
        if key not in fixture["perturbed"] and "running" not in key and "batches" not in key:
            assert torch.equal(value, fixture["state_dict"][key]), key


def reference_gate(m: TemporalConv, X):
    """The gated unit, one convolution per kernel as the paper writes it."""
    Xc = X.permute(0, 3, 2, 1)
    P, Q, R = (conv(Xc) for conv in (m.conv_1, m.conv_2, m.conv_3))
    return F.relu(P * torch.sigmoid(Q) + R).permute(0, 3, 2, 1)


def test_stconv_equals_snapshot_by_snapshot_block():
    """One propagation over all B * T snapshots == the ChebConv called on each
    snapshot in turn (upstream's loop), in train mode (batch statistics)."""
    torch.manual_seed(0)
    edge_index, w = ring(5)
    m = STConv(5, 2, 3, 4, kernel_size=2, K=3).double()
    X = torch.randn(3, 6, 5, 2, dtype=torch.float64)
    out = m(X, edge_index, w)
    H = reference_gate(m._temporal_conv1, X)
    H = torch.stack([torch.stack([m._graph_conv(H[b, t], edge_index, w) for t in range(H.size(1))])
                     for b in range(H.size(0))])
    H = reference_gate(m._temporal_conv2, F.relu(H))
    ref = F.batch_norm(H.transpose(1, 2), None, None, m._batch_norm.weight, m._batch_norm.bias,
                       training=True).transpose(1, 2)
    assert out.shape == (3, 6 - 2 * (2 - 1), 5, 4)
    torch.testing.assert_close(out, ref)
    params = list(m.parameters())
    for g, r in zip(torch.autograd.grad(out.square().sum(), params),
                    torch.autograd.grad(ref.square().sum(), params)):
        torch.testing.assert_close(g, r)


def test_temporal_conv_shape_and_gate():
    torch.manual_seed(0)
    m = TemporalConv(3, 4, kernel_size=3)
    X = torch.randn(2, 7, 5, 3)
    out = m(X)
    assert out.shape == (2, 5, 5, 4)
    torch.testing.assert_close(out, reference_gate(m, X))


def test_state_dict_keys_and_repr():
    m = STConv(5, 2, 3, 4, kernel_size=2, K=2, bias=False)
    keys = set(m.state_dict())
    assert {f"_temporal_conv{i}.conv_{j}.{p}" for i in (1, 2) for j in (1, 2, 3)
            for p in ("weight", "bias")} <= keys
    assert {"_graph_conv.lins.0.weight", "_graph_conv.lins.1.weight", "_batch_norm.running_mean",
            "_batch_norm.weight"} <= keys and "_graph_conv.bias" not in keys
    assert "num_nodes=5" in repr(m) and "kernel_size=3" in repr(TemporalConv(1, 2))


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(6, 5, 2)), r"X of shape \(B, T, N, 2\)"),
    (dict(X=torch.randn(2, 6, 5, 3)), "in_channels = 2"),
    (dict(X=torch.randn(2, 6, 4, 2)), "num_nodes = 5"),
    (dict(X=torch.randn(2, 2, 5, 2)), "at least 3 time steps"),
    (dict(X=torch.ones(2, 6, 5, 2, dtype=torch.long)), "floating"),
    (dict(edge_index=torch.tensor([[0, 1], [1, 5]])), "node ids in"),
    (dict(edge_weight=torch.ones(3)), r"edge_weight must have shape \(E,\)"),
])
def test_bad_input_raises_one_value_error(bad, match):
    edge_index, w = ring(5)
    args = dict(X=torch.randn(2, 6, 5, 2), edge_index=edge_index, edge_weight=w)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        STConv(5, 2, 3, 4, kernel_size=2, K=2)(**args)


@pytest.mark.parametrize("kwargs,match", [
    (dict(normalization="bad"), "normalization must be"),
    (dict(K=0), "K must be a positive int"),
    (dict(kernel_size=0), "kernel_size must be a positive int"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    args = dict(num_nodes=5, in_channels=2, hidden_channels=3, out_channels=4, kernel_size=2, K=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        STConv(**args)
