"""Tests for A3TGCN and A3TGCN2: the paper's recurrence over the periods, and
upstream's formula (the documented difference) against upstream's fixtures."""
import pytest
import torch
from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.recurrent.attentiontemporalgcn import A3TGCN, A3TGCN2
from torch_geometric_temporal.nn.recurrent.temporalgcn import TGCN, TGCN2


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def graph():
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 2, 5, 0], [1, 2, 3, 4, 0, 0, 1, 0]])
    edge_weight = torch.rand(8, generator=torch.Generator().manual_seed(1)) + 0.1
    return edge_index, edge_weight, 6


def paper_a3tgcn(model, X, edge_index, edge_weight, H):
    """The paper: the T-GCN cell carries H over the periods, attention pools."""
    probs = torch.softmax(model._attention, dim=0)
    out = 0
    for t in range(model.periods):
        H = model._base_tgcn(X[..., t], edge_index, edge_weight, H)
        out = out + probs[t] * H
    return out


def upstream_a3tgcn(model, X, edge_index, edge_weight, H):
    """Upstream 0.56.2: every period starts from the same H (documented difference)."""
    probs = torch.softmax(model._attention, dim=0)
    return sum(probs[t] * model._base_tgcn(X[..., t], edge_index, edge_weight, H)
               for t in range(model.periods))


@pytest.mark.parametrize("cls, shape", [(A3TGCN, (6, 3, 5)), (A3TGCN2, (2, 6, 3, 5))])
@pytest.mark.parametrize("in_channels", [3, 40])  # propagate X first / X W first
def test_equals_paper_recurrence(graph, cls, shape, in_channels):
    edge_index, edge_weight, n = graph
    torch.manual_seed(0)
    shape = shape[:-2] + (in_channels, shape[-1])
    model = cls(in_channels, 4, 5) if cls is A3TGCN else cls(in_channels, 4, 5, 2)
    X = torch.randn(shape)
    H = torch.randn(*shape[:-2], 4)
    for h in (None, H):
        out = model(X, edge_index, edge_weight, h)
        assert out.shape == (*shape[:-2], 4)
        torch.testing.assert_close(out, paper_a3tgcn(model, X, edge_index, edge_weight, h),
                                   atol=1e-6, rtol=1e-5)
    # the documented difference: upstream's periods do not recur
    assert not torch.allclose(out, upstream_a3tgcn(model, X, edge_index, edge_weight, H), atol=1e-4)


def _upstream_mode(cls):
    def build(fixture):
        model = cls(**fixture["init"])
        model.carry_state = False
        return model
    return build


@pytest.mark.parametrize("cls, name", [(cls, name) for cls in (A3TGCN, A3TGCN2)
                                       for name in fixture_names(cls.__name__)])
def test_upstream_mode_equals_upstream_fixture(cls, name):
    """The documented difference, proven: with carry_state = False the model
    reproduces upstream 0.56.2's outputs and gradients."""
    fixture = load_fixture(name)
    check_signature(cls, fixture)
    model = check_against_fixture(cls, fixture, build=_upstream_mode(cls))
    assert "carry_state=False" in repr(model)


@pytest.mark.parametrize("cls, name", [(cls, name) for cls in (A3TGCN, A3TGCN2)
                                       for name in fixture_names(cls.__name__)])
def test_paper_mode_on_upstream_fixture(cls, name):
    """Default (the paper): upstream's parameters and inputs, the state carried
    over the periods; equal to the paper's loop over the (fixture-equal) TGCN
    cell, and different from upstream's outputs as documented."""
    fixture = load_fixture(name)
    model = cls(**fixture["init"])
    model.load_state_dict(fixture["state_dict"], strict=True)
    for step, theirs in zip(fixture["steps"], fixture["outputs"]):
        X, edge_index, edge_weight = step["args"]
        out = model(X, edge_index, edge_weight, **step["kwargs"])
        torch.testing.assert_close(out, paper_a3tgcn(model, X, edge_index, edge_weight, step["kwargs"]["H"]),
                                   atol=1e-6, rtol=1e-5)
        assert not torch.allclose(out, theirs, atol=1e-3)


@pytest.mark.parametrize("cls, shape", [(A3TGCN, (6, 3, 5)), (A3TGCN2, (2, 6, 3, 5))])
def test_upstream_mode_equals_upstream_formula(graph, cls, shape):
    edge_index, edge_weight, n = graph
    torch.manual_seed(4)
    model = cls(3, 4, 5) if cls is A3TGCN else cls(3, 4, 5, 2)
    model.carry_state = False
    X, H = torch.randn(shape), torch.randn(*shape[:-2], 4)
    torch.testing.assert_close(model(X, edge_index, edge_weight, H),
                               upstream_a3tgcn(model, X, edge_index, edge_weight, H), atol=1e-6, rtol=1e-5)


def test_one_period_equals_upstream(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(1)
    model = A3TGCN(3, 4, 1)
    X, H = torch.randn(n, 3, 1), torch.randn(n, 4)
    torch.testing.assert_close(model(X, edge_index, edge_weight, H),
                               upstream_a3tgcn(model, X, edge_index, edge_weight, H))


def test_gradients_equal_reference(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(2)
    model = A3TGCN2(2, 3, 4, 2)
    X = torch.randn(2, n, 2, 4)
    model(X, edge_index, edge_weight).square().sum().backward()
    ours = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    paper_a3tgcn(model, X, edge_index, edge_weight, None).square().sum().backward()
    for k, p in model.named_parameters():
        torch.testing.assert_close(ours[k], p.grad, atol=1e-5, rtol=1e-5)


def test_batched_equals_single_per_item(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(3)
    single, batched = A3TGCN(3, 4, 5), A3TGCN2(3, 4, 5, batch_size=3)
    batched.load_state_dict(single.state_dict(), strict=True)
    X, H = torch.randn(3, n, 3, 5), torch.randn(3, n, 4)
    out = batched(X, edge_index, edge_weight, H)
    loop = torch.stack([single(X[b], edge_index, edge_weight, H[b]) for b in range(3)])
    torch.testing.assert_close(out, loop, atol=1e-6, rtol=1e-5)


def test_state_dict_and_submodules():
    model = A3TGCN2(2, 3, 4, 8, improved=True)
    assert isinstance(model._base_tgcn, TGCN2) and isinstance(A3TGCN(2, 3, 4)._base_tgcn, TGCN)
    keys = list(model.state_dict())
    assert keys[0] == "_attention" and model._attention.shape == (4,)
    assert keys[1:] == ["_base_tgcn." + k for k in TGCN(2, 3).state_dict()]
    assert model._base_tgcn.improved and model.batch_size == 8
    assert "periods=4" in repr(model)
    clone = A3TGCN2(2, 3, 4, 8, improved=True)
    clone.load_state_dict(model.state_dict(), strict=True)
    model.reset_parameters()
    assert ((model._attention >= 0) & (model._attention < 1)).all()


@pytest.mark.parametrize("periods", [0, -1, 2.0, True])
def test_bad_periods(periods):
    with pytest.raises(ValueError, match="periods must be a positive int"):
        A3TGCN(2, 3, periods)


@pytest.mark.parametrize("cls, X, H, match", [
    (A3TGCN, torch.randn(6, 2, 3), None, "periods = 4 but X has 3 periods"),
    (A3TGCN, torch.randn(6, 3, 4), None, "in_channels = 2"),
    (A3TGCN, torch.randn(2, 6, 2, 4), None, r"shape \(N, 2, T\)"),
    (A3TGCN, torch.randn(6, 2, 4), torch.randn(6, 5), r"H must have shape \(6, 3\)"),
    (A3TGCN2, torch.randn(6, 2, 4), None, r"shape \(B, N, 2, T\)"),
    (A3TGCN2, torch.randn(2, 6, 2, 4), torch.randn(2, 7, 3), r"H must have shape \(2, 6, 3\)"),
])
def test_bad_input(graph, cls, X, H, match):
    edge_index, _, _ = graph
    model = cls(2, 3, 4) if cls is A3TGCN else cls(2, 3, 4, 2)
    with pytest.raises(ValueError, match=match):
        model(X, edge_index, None, H)


def test_bad_graph(graph):
    edge_index, _, _ = graph
    with pytest.raises(ValueError, match=r"valid ids 0\.\.4"):
        A3TGCN2(2, 3, 4, 2)(torch.randn(2, 5, 2, 4), edge_index)
