"""DNNTSP: equal to upstream 0.56.2 with upstream_attention=True (golden
fixtures, forward and gradients); by default the paper's attention over each
item's snapshots (dense reference); upstream's API and state_dict keys, bad
input."""
import math

import pytest
import torch
from _upstream import (check_against_fixture, check_fresh_state_dict, check_signature,
                       load_fixture)

from torch_geometric_temporal.nn.attention.dnntsp import DNNTSP


def _upstream_build(fixture):
    return DNNTSP(**fixture["init"], upstream_attention=True)


@pytest.mark.parametrize("name", ["DNNTSP", "DNNTSP__heads1_noweight"])
def test_equals_upstream_fixture(name):
    fixture = load_fixture(name)
    check_signature(DNNTSP, fixture, extra=("upstream_attention",))
    check_against_fixture(DNNTSP, fixture, _upstream_build, scaled_grads=True)
    check_fresh_state_dict(DNNTSP, fixture)


def _causal_mean_attention(m, H):
    """Dense reference: causal attention along axis 1 of (B, L, D), heads averaged."""
    att = m.masked_self_attention
    L, e = H.size(1), att.per_head_dim
    out = 0
    for h in range(att.n_heads):
        sl = slice(h * e, (h + 1) * e)
        q, k, v = (W.weight[sl] @ H.transpose(1, 2) for W in (att.Wq, att.Wk, att.Wv))
        scores = q.transpose(1, 2) @ k / math.sqrt(e)
        scores = scores.masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), -math.inf)
        out = out + scores.softmax(-1) @ v.transpose(1, 2)
    return out / att.n_heads


def test_paper_attention_runs_over_each_items_snapshots():
    fixture = load_fixture("DNNTSP")
    m = DNNTSP(**fixture["init"])
    m.load_state_dict(fixture["state_dict"])
    m.eval()
    X, edge_index, w = fixture["steps"][0]["args"]
    H = m.stacked_gcn(X, edge_index, w).view(-1, m.items_total, m.item_embedding_dim)
    Z = _causal_mean_attention(m, H.transpose(0, 1)).transpose(0, 1)  # (S, I, D)
    alpha = m.global_gated_updater.alpha
    want = (1 - alpha) * m.item_embedding.weight + alpha * m.aggregate_nodes_temporal_feature.Wq(Z)
    torch.testing.assert_close(m(X, edge_index, w), want)
    # the first snapshot sees only itself: item features there do not depend on later snapshots
    later = X.clone()
    later[m.items_total:] += 1.0
    keep = edge_index[0] < m.items_total
    first = m(X, edge_index[:, keep], w[keep])[0]
    torch.testing.assert_close(m(later, edge_index[:, keep], w[keep])[0], first)
    # upstream's attention differs on the same weights
    upstream = _upstream_build(fixture)
    upstream.load_state_dict(fixture["state_dict"])
    assert not torch.allclose(upstream.eval()(X, edge_index, w), want, atol=1e-4)


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(10, 3)), r"\(S \* items_total, 4\)"),
    (dict(X=torch.randn(9, 4)), "multiple of items_total = 5"),
    (dict(X=torch.ones(10, 4, dtype=torch.long)), r"\(S \* items_total, 4\)|floating"),
    (dict(edge_index=torch.tensor([[0, 1], [1, 10]])), "node ids in"),
    (dict(edge_weight=torch.ones(3)), r"edge_weight must have shape \(E,\)"),
])
def test_bad_input_raises_one_value_error(bad, match):
    args = dict(X=torch.randn(10, 4), edge_index=torch.tensor([[0, 1], [1, 2]]),
                edge_weight=torch.ones(2))
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        DNNTSP(5, 4, 2)(**args)
