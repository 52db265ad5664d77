"""GMAN, SpatioTemporalAttention, SpatioTemporalEmbedding: equal to upstream
0.56.2 (golden fixtures, forward and gradients), the paper's head split
(dense reference), upstream's API and state_dict keys, bad input."""
import math

import pytest
import torch
import torch.nn.functional as F
from _upstream import (check_against_fixture, check_fresh_state_dict, check_signature,
                       load_fixture)

from torch_geometric_temporal.nn.attention.gman import (
    GMAN, SpatioTemporalAttention, SpatioTemporalEmbedding, _attend)


CLASSES = {"GMAN": GMAN, "SpatioTemporalAttention": SpatioTemporalAttention,
           "SpatioTemporalEmbedding": SpatioTemporalEmbedding}
UPSTREAM_SPLIT = {"GMAN__K2d3", "SpatioTemporalAttention__K3d2"}  # K != d


def _fixture(name):
    """The fixture without upstream's embedding gradients (see
    test_equals_upstream_fixture)."""
    fixture = load_fixture(name)
    for key in [k for k in fixture["grads"]
                if "_fully_connected_se" in k or "_fully_connected_te" in k]:
        del fixture["grads"][key]
    return fixture



@pytest.mark.parametrize("name", [
    "GMAN", "GMAN__K2d3", "SpatioTemporalAttention",
    "SpatioTemporalAttention__mask", "SpatioTemporalAttention__K3d2",
    "SpatioTemporalEmbedding", "SpatioTemporalEmbedding__nobias"])
def test_equals_upstream_fixture(name):
    """Outputs and gradients equal upstream's, except the gradients of the
    spatio-temporal embedding's FC blocks: upstream's recorded ones disagree
    with finite differences of upstream's own function (torch 2.13's CPU
    batch-norm backward in eval mode is wrong for its permuted (1, D, N, 1)
    node-embedding input: see gman._batch_norm_last); ours agree
    (test_embedding_gradients_equal_finite_differences)."""
    fixture = _fixture(name)
    cls = CLASSES[fixture["class"]]
    check_signature(cls, fixture, extra=("upstream_heads",))
    build = None
    if name in UPSTREAM_SPLIT:
        def build(f):
            return cls(**f["init"], upstream_heads=True)
    check_against_fixture(cls, fixture, build, scaled_grads=True)
    check_fresh_state_dict(cls, fixture)


def test_paper_heads_differ_from_upstream_only_when_k_differs_from_d():
    fixture = _fixture("GMAN__K2d3")
    paper = GMAN(**fixture["init"])
    paper.load_state_dict(fixture["state_dict"])
    args = fixture["steps"][0]["args"]
    assert not torch.allclose(paper.eval()(*args), fixture["outputs"][0], atol=1e-4)
    square = _fixture("GMAN")  # K == d: one split
    check_against_fixture(GMAN, square, lambda f: GMAN(**f["init"], upstream_heads=True))


def _dense_attention(q, k, v, heads, d, axis, causal):
    """K heads of contiguous features, explicit softmax; (B, T, N, D)."""
    outs = []
    size = q.size(-1) // heads
    for h in range(heads):
        sl = slice(h * size, (h + 1) * size)
        qh, kh, vh = (t[..., sl].movedim(3 - axis, 1) for t in (q, k, v))  # (B, other, L, e)
        scores = qh @ kh.transpose(-1, -2) / math.sqrt(d)
        if causal:
            L = scores.size(-1)
            scores = scores.masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), -math.inf)
        outs.append((scores.softmax(-1) @ vh).movedim(1, 3 - axis))
    return torch.cat(outs, -1)


@pytest.mark.parametrize("axis,causal", [(1, False), (1, True), (2, False)])
def test_paper_split_is_k_heads_of_d_features(axis, causal):
    torch.manual_seed(0)
    K, d = 3, 2
    q, k, v = (torch.randn(2, 4, 5, K * d) for _ in range(3))
    got = _attend(q, k, v, head_size=d, d=d, axis=axis, causal=causal)
    torch.testing.assert_close(got, _dense_attention(q, k, v, K, d, axis, causal))
    upstream = _attend(q, k, v, head_size=K, d=d, axis=axis, causal=causal)
    torch.testing.assert_close(upstream, _dense_attention(q, k, v, d, d, axis, causal))


def test_embedding_equals_one_hot_product():
    torch.manual_seed(0)
    m = SpatioTemporalEmbedding(4, 0.1, 6).eval()
    TE = torch.stack([torch.randint(0, 20, (2, 3)), torch.randint(0, 20, (2, 3))], -1)
    one_hot = torch.cat([F.one_hot(TE[..., 0] % 7, 7), F.one_hot(TE[..., 1] % 6, 6)], -1)
    SE = torch.randn(5, 4)
    want = m._fully_connected_se(SE[None, None]) + m._fully_connected_te(one_hot.float()[:, :, None])
    torch.testing.assert_close(m(SE, TE, 6), want)


def test_shapes_and_state_dict_round_trip():
    torch.manual_seed(0)
    m = GMAN(L=1, K=2, d=2, num_his=3, bn_decay=0.1, steps_per_day=6, use_bias=True, mask=True)
    X, SE = torch.randn(2, 3, 5), torch.randn(5, 4)
    TE = torch.randint(0, 6, (2, 7, 2))
    assert m(X, SE, TE).shape == (2, 4, 5)
    m2 = GMAN(L=1, K=2, d=2, num_his=3, bn_decay=0.1, steps_per_day=6, use_bias=True, mask=True)
    m2.load_state_dict(m.state_dict())
    assert "L=1, K=2, d=2, num_his=3, steps_per_day=6, mask=True" in repr(m)
    torch.testing.assert_close(m.eval()(X, SE, TE), m2.eval()(X, SE, TE))


@pytest.mark.parametrize("bad,match", [
    (dict(X=torch.randn(2, 3, 5, 1)), r"X must be a tensor of shape \(B, 3, N\)"),
    (dict(X=torch.randn(2, 4, 5)), "num_his = 3"),
    (dict(X=torch.ones(2, 3, 5, dtype=torch.long)), "floating"),
    (dict(SE=torch.randn(5, 3)), "D = K \\* d = 4"),
    (dict(SE=torch.randn(6, 4)), "one embedding row per node"),
    (dict(TE=torch.zeros(2, 3, 2)), "T_out >= 1"),
    (dict(TE=torch.zeros(2, 5, 3)), r"\(B, T_total, 2\)"),
    (dict(TE=torch.zeros(2, 5)), r"TE must be a tensor of shape"),
])
def test_bad_input_raises_one_value_error(bad, match):
    m = GMAN(L=1, K=2, d=2, num_his=3, bn_decay=0.1, steps_per_day=6, use_bias=True, mask=False)
    args = dict(X=torch.randn(2, 3, 5), SE=torch.randn(5, 4), TE=torch.zeros(2, 5, 2))
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        m(**args)


def test_embedding_gradients_equal_finite_differences():
    torch.manual_seed(0)
    m = GMAN(L=1, K=2, d=2, num_his=3, bn_decay=0.1, steps_per_day=6, use_bias=True,
             mask=True).double()
    m.train()
    X, SE = torch.randn(2, 3, 5, dtype=torch.double), torch.randn(5, 4, dtype=torch.double)
    TE = torch.randint(0, 6, (2, 5, 2))
    m(X, SE, TE)  # running statistics
    m.eval()
    params = {k: p for k, p in m.named_parameters()  # first and last layer of each block
              if "_st_embedding" in k and ("s.0._conv2d" in k or "s.1._batch_norm" in k)}
    assert len(params) == 8

    def loss(*values):
        out = torch.func.functional_call(m, dict(zip(params, values)), (X, SE, TE))
        return out.square().sum()
    assert torch.autograd.gradcheck(loss, tuple(p.detach().clone().requires_grad_()
                                                for p in params.values()))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_on_rows_equals_batch_norm_2d(momentum):
    """Training-mode statistics and running averages as BatchNorm2d on the
    permuted (B, C, T, N) tensor; eval outputs and input gradients too."""
    from torch_geometric_temporal.nn.attention.gman import Conv2D
    torch.manual_seed(0)
    ours = Conv2D(3, 4, (1, 1), bn_decay=momentum, activation=None)
    ref = torch.nn.BatchNorm2d(4, momentum=momentum)
    ref.load_state_dict(ours._batch_norm.state_dict())
    lin = ours._conv2d.weight.view(4, 3)
    for _ in range(2):
        X = torch.randn(2, 5, 6, 3)
        Z = X @ lin.t() + ours._conv2d.bias
        torch.testing.assert_close(ours(X), ref(Z.permute(0, 3, 2, 1)).permute(0, 3, 2, 1))
    torch.testing.assert_close(ours._batch_norm.state_dict(), ref.state_dict())
    ours.eval(), ref.eval()
    X = torch.randn(1, 1, 6, 3, requires_grad=True)
    (ours(X) ** 2).sum().backward()
    Xc = X.detach().clone().requires_grad_()
    Z = (Xc @ lin.t() + ours._conv2d.bias).permute(0, 3, 2, 1).contiguous()
    (ref(Z) ** 2).sum().backward()
    torch.testing.assert_close(X.grad, Xc.grad)


def test_parts_bad_input_raise_one_value_error():
    ste = SpatioTemporalEmbedding(4, 0.1, 6)
    TE = torch.zeros(2, 5, 2)
    with pytest.raises(ValueError, match=r"pass SE of shape \(N, 4\)"):
        ste(torch.randn(5, 3), TE, 6)
    with pytest.raises(ValueError, match="built with steps_per_day = 6"):
        ste(torch.randn(5, 4), TE, 7)
    with pytest.raises(ValueError, match=r"\(B, T_total, 2\)"):
        ste(torch.randn(5, 4), torch.zeros(2, 5, 3), 6)
    sta = SpatioTemporalAttention(2, 2, 0.1, True)
    with pytest.raises(ValueError, match=r"\(B, T, N, 4\)"):
        sta(torch.randn(2, 3, 5, 3), torch.randn(2, 3, 5, 3))
    with pytest.raises(ValueError, match="must have the same shape"):
        sta(torch.randn(2, 3, 5, 4), torch.randn(2, 4, 5, 4))
