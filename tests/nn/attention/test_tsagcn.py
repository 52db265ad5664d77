"""AAGCN and GraphAAGCN: equal to upstream 0.56.2 (golden fixtures, forward
and gradients; upstream's graph through AAGCN's gcn1.PA), the graph subsets,
upstream's API and state_dict keys, bad input."""
import pytest
import torch
from _upstream import (check_against_fixture, check_fresh_state_dict, check_signature,
                       load_fixture)

from torch_geometric_temporal.nn.attention.tsagcn import AAGCN, GraphAAGCN


NAMES = ["AAGCN", "AAGCN__even_nodes_stride2", "AAGCN__fixed_graph",
         "AAGCN__noattention_noresidual", "AAGCN__same_channels"]


@pytest.mark.parametrize("name", NAMES)
def test_equals_upstream_fixture(name):
    fixture = load_fixture(name)
    check_signature(AAGCN, fixture)
    check_against_fixture(AAGCN, fixture, scaled_grads=True)
    check_fresh_state_dict(AAGCN, fixture)


@pytest.mark.parametrize("name", ["AAGCN", "AAGCN__even_nodes_stride2"])
def test_graph_equals_upstream(name):
    """Upstream initializes gcn1.PA to its GraphAAGCN(...).A."""
    fixture = load_fixture(name)
    init = fixture["init"]
    A = GraphAAGCN(init["edge_index"], init["num_nodes"]).A
    torch.testing.assert_close(A, fixture["state_dict"]["gcn1.PA"])


def test_graph_subsets_and_isolated_last_node():
    edge_index = torch.tensor([[0, 0, 1], [1, 2, 2]])
    A = GraphAAGCN(edge_index, 4).A  # node 3 has no edges (upstream: 3 x 3 matrices)
    assert A.shape == (3, 4, 4)
    torch.testing.assert_close(A[0], torch.eye(4))
    inward = torch.zeros(4, 4)
    inward[0, 1], inward[0, 2], inward[1, 2] = 1.0, 0.5, 0.5  # column j: edges into j, 1/in_j
    torch.testing.assert_close(A[1], inward)
    outward = torch.zeros(4, 4)
    outward[1, 0], outward[2, 0], outward[2, 1] = 0.5, 0.5, 1.0
    torch.testing.assert_close(A[2], outward)


def test_shapes_fixed_graph_moves_with_the_module_and_round_trip():
    torch.manual_seed(0)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    m = AAGCN(2, 8, edge_index, 4, stride=2, adaptive=False).eval()
    x = torch.randn(3, 2, 7, 4)
    assert m(x).shape == (3, 8, 4, 4)
    assert "A" in dict(m.gcn1.named_buffers()) and "gcn1.A" not in m.state_dict()
    m2 = AAGCN(2, 8, edge_index, 4, stride=2, adaptive=False).eval()
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m(x), m2(x))
    assert m.double()(x.double()).dtype == torch.float64


@pytest.mark.parametrize("bad,match", [
    (torch.randn(2, 3, 6), r"x of shape \(B, 3, T, 5\)"),
    (torch.randn(2, 4, 6, 5), "in_channels = 3"),
    (torch.randn(2, 3, 6, 4), "num_nodes = 5"),
    (torch.ones(2, 3, 6, 5, dtype=torch.long), "floating"),
])
def test_bad_input_raises_one_value_error(bad, match):
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    with pytest.raises(ValueError, match=match):
        AAGCN(3, 8, edge_index, 5)(bad)


def test_bad_graph_raises_one_value_error():
    with pytest.raises(ValueError, match="node ids in"):
        AAGCN(3, 8, torch.tensor([[0, 1], [1, 5]]), 5)
    with pytest.raises(ValueError, match=r"shape \(2, E\)"):
        GraphAAGCN(torch.tensor([0, 1, 2]), 3)
