"""MSTGCN: upstream's outputs and gradients with ``upstream_formula = True``
(golden fixtures), each node's own features convolved by default (the paper;
upstream's list-of-graphs path), upstream's API and state_dict, bad input."""
import pytest
import torch
from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.attention.mstgcn import MSTGCN


def ring(n=6):
    src = torch.arange(n)
    return torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])


def _upstream_mode(fixture):
    model = MSTGCN(**fixture["init"])
    model.upstream_formula = True
    return model


@pytest.mark.parametrize("name", fixture_names("MSTGCN"))
def test_upstream_mode_equals_upstream_fixture(name):
    """With upstream_formula = True: upstream's outputs and gradients (atol
    1e-5, gradients relative to their size), same initialization for a seed."""
    fixture = load_fixture(name)
    check_signature(MSTGCN, fixture)
    check_against_fixture(MSTGCN, fixture, build=_upstream_mode, scaled_grads=True)
    torch.manual_seed(1)  # the fixture script seeds 1 right before building upstream's model
    ours = MSTGCN(**fixture["init"]).state_dict()
    assert list(ours) == list(fixture["state_dict"])
    for key, value in ours.items():
        if key not in fixture["perturbed"]:
            assert torch.equal(value, fixture["state_dict"][key]), key


def test_paper_mode_on_upstream_fixtures():
    """Default: upstream's list-of-graphs path (no mixing) is reproduced; its
    static-graph path, which mixes nodes for B = F = 2, is not."""
    check_against_fixture(MSTGCN, load_fixture("MSTGCN__list"), scaled_grads=True)
    with pytest.raises(AssertionError, match="differs from upstream"):
        check_against_fixture(MSTGCN, load_fixture("MSTGCN"), scaled_grads=True)


def test_static_graph_equals_list_and_per_item_runs():
    torch.manual_seed(0)
    edge_index = ring()
    m = MSTGCN(2, 3, 2, 4, 4, 2, num_for_predict=3, len_input=4).double()
    X = torch.randn(3, 6, 3, 4, dtype=torch.float64)
    out = m(X, edge_index)
    assert out.shape == (3, 6, 3)
    torch.testing.assert_close(out, m(X, [edge_index] * 4))
    # each batch item on its own gives its own rows (no mixing across the batch)
    torch.testing.assert_close(out[1:2], m(X[1:2], edge_index))
    # with one item and one feature upstream's reshape is the identity
    m1 = MSTGCN(1, 1, 2, 4, 4, 1, 2, 4).double()
    X1 = X[:1, :, :1]
    expected = m1(X1, edge_index)
    m1.upstream_formula = True
    torch.testing.assert_close(m1(X1, edge_index), expected)
    assert m1._blocklist[0].upstream_formula


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(2, 6, 2)), r"X of shape \(B, N, 2, 4\)"),
    (dict(X=torch.randn(2, 6, 3, 4)), "in_channels = 2"),
    (dict(X=torch.randn(2, 6, 2, 5)), "len_input = 4"),
    (dict(edge_index=[ring()] * 2), "list of 2 graphs"),
    (dict(edge_index=torch.tensor([[0, 1], [1, 6]])), "node ids in"),
])
def test_bad_input_raises_one_value_error(bad, match):
    args = dict(X=torch.randn(2, 6, 2, 4), edge_index=ring())
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        MSTGCN(1, 2, 2, 3, 3, 1, 2, 4)(**args)


@pytest.mark.parametrize("args,match", [
    ((1, 2, 2, 3, 3, 3, 2, 4), "multiple of time_strides"),
    ((0, 2, 2, 3, 3, 1, 2, 4), "nb_block must be a positive int"),
])
def test_bad_arguments_raise_value_error(args, match):
    with pytest.raises(ValueError, match=match):
        MSTGCN(*args)
