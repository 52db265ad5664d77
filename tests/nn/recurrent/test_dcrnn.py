"""Tests for the sparse DConv / DCRNN / BatchedDCRNN / DCRNNSeq2Seq."""
import math

import pytest
import torch

from torch_geometric_temporal.nn.recurrent import (
    BatchedDConv,
    BatchedDCRNN,
    DConv,
    DCRNN,
    DCRNNSeq2Seq,
    clear_support_cache,
    get_diffusion_supports,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny problems: avoid OpenMP spin-waits on a shared CI machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- #
# Dense references written from the documented convention
# --------------------------------------------------------------------------- #
def _inv(d):
    return torch.where(d == 0, torch.zeros_like(d), 1.0 / torch.where(d == 0, torch.ones_like(d), d))


def dense_supports(edge_index, edge_weight, n, dtype=torch.float64):
    src, dst = edge_index
    w = torch.ones(src.numel(), dtype=dtype) if edge_weight is None else edge_weight.to(dtype)
    W = torch.zeros(n, n, dtype=dtype).index_put((src, dst), w, accumulate=True)  # W[j, i] = w_ji
    S1 = (torch.diag(_inv(W.sum(1))) @ W).T  # (D_O^-1 W)^T
    S2 = (torch.diag(_inv(W.sum(0))) @ W.T).T  # (D_I^-1 W^T)^T
    return S1, S2


def dense_dconv(X, edge_index, edge_weight, weight, bias):
    K = weight.size(1)
    S1, S2 = dense_supports(edge_index, edge_weight, X.size(-2), X.dtype)
    out = 0.0
    for d, S in enumerate((S1, S2)):
        x0 = X
        out = out + x0 @ weight[d, 0]
        if K > 1:
            x1 = S @ X
            out = out + x1 @ weight[d, 1]
            for k in range(2, K):
                x2 = 2 * S @ x1 - x0
                out = out + x2 @ weight[d, k]
                x0, x1 = x1, x2
    return out if bias is None else out + bias


def dense_dcrnn(cell, X, edge_index, edge_weight, H):
    def conv(m, inp):
        return dense_dconv(inp, edge_index, edge_weight, m.weight, m.bias)

    Z = torch.sigmoid(conv(cell.conv_x_z, torch.cat([X, H], -1)))
    R = torch.sigmoid(conv(cell.conv_x_r, torch.cat([X, H], -1)))
    Ht = torch.tanh(conv(cell.conv_x_h, torch.cat([X, H * R], -1)))
    return Z * H + (1 - Z) * Ht


def upstream_dconv(X, edge_index, edge_weight, weight, bias):
    """PGT 0.56's DConv algorithm (dense degrees, weights only in degrees,
    reversed edges from the dense transpose, its K > 3 recursion)."""
    n = X.size(0)
    A = torch.zeros(n, n, dtype=X.dtype).index_put(tuple(edge_index), edge_weight, accumulate=True)
    row, col = edge_index
    norm_out = (1.0 / A.sum(1))[row]
    norm_in = (1.0 / A.sum(0))[row]
    rev = A.T.nonzero().T

    def prop(ei, x, norm):
        return torch.zeros_like(x).index_add_(0, ei[1], norm[:, None] * x[ei[0]])

    Tx_0 = Tx_1 = X
    H = X @ weight[0][0] + X @ weight[1][0]
    if weight.size(1) > 1:
        Tx_1_o, Tx_1_i = prop(edge_index, X, norm_out), prop(rev, X, norm_in)
        H = H + Tx_1_o @ weight[0][1] + Tx_1_i @ weight[1][1]
    for k in range(2, weight.size(1)):
        Tx_2_o = 2.0 * prop(edge_index, Tx_1_o, norm_out) - Tx_0
        Tx_2_i = 2.0 * prop(rev, Tx_1_i, norm_in) - Tx_0
        H = H + Tx_2_o @ weight[0][k] + Tx_2_i @ weight[1][k]
        Tx_0, Tx_1_o, Tx_1_i = Tx_1, Tx_2_o, Tx_2_i
    return H + bias


# --------------------------------------------------------------------------- #
# Fixtures: tiny graphs in PyG edge_index format
# --------------------------------------------------------------------------- #
@pytest.fixture
def graph():
    """Asymmetric, weighted, unsorted, duplicate-free; node 5 has no in-edges,
    node 4 no out-edges, node 0 has a self loop."""
    edges = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 1), (5, 2), (1, 4), (3, 4), (0, 0), (5, 0), (2, 1)]
    g = torch.Generator().manual_seed(3)
    perm = torch.randperm(len(edges), generator=g)
    edge_index = torch.tensor(edges, dtype=torch.long).T[:, perm].contiguous()
    edge_weight = torch.rand(len(edges), generator=g, dtype=torch.float64) + 0.2
    return edge_index, edge_weight, 6


@pytest.fixture
def sym_graph():
    """Symmetric, unit weights, edges sorted by (row, col) as PyG produces them."""
    und = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (1, 3)]
    edges = sorted(set(und + [(b, a) for a, b in und]))
    return torch.tensor(edges, dtype=torch.long).T.contiguous(), 5


# --------------------------------------------------------------------------- #
# Correctness against the dense reference
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("K", [1, 2, 3, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_dconv_matches_dense_reference(graph, K, bias):
    edge_index, edge_weight, n = graph
    torch.manual_seed(K)
    conv = DConv(3, 4, K, bias=bias).double()
    if bias:
        torch.nn.init.normal_(conv.bias)
    X = torch.randn(n, 3, dtype=torch.float64)
    expected = dense_dconv(X, edge_index, edge_weight, conv.weight, conv.bias)
    torch.testing.assert_close(conv(X, edge_index, edge_weight), expected)
    # leading batch axes give the per-item result
    Xb = torch.randn(2, 3, n, 3, dtype=torch.float64)
    out = BatchedDConv(3, 4, K, bias=bias).double()
    out.load_state_dict(conv.state_dict())
    ref = torch.stack([torch.stack([dense_dconv(Xb[b, t], edge_index, edge_weight, conv.weight, conv.bias)
                                    for t in range(3)]) for b in range(2)])
    torch.testing.assert_close(out(Xb, edge_index, edge_weight), ref)


def test_dconv_unweighted_equals_unit_weights(graph):
    edge_index, _, n = graph
    conv = DConv(2, 3, 3).double()
    X = torch.randn(n, 2, dtype=torch.float64)
    torch.testing.assert_close(conv(X, edge_index), conv(X, edge_index, torch.ones(edge_index.size(1),
                                                                                   dtype=torch.float64)))


def test_edge_weight_scales_each_message():
    # Two edges into node 2 from nodes 0 and 1, both sources of out-degree 1 after normalization
    # only if weights are per message: with d_out(0) = w_02 + w_03, node 2 gets w_02 / d_out(0).
    edge_index = torch.tensor([[0, 0, 1], [2, 3, 2]])
    edge_weight = torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64)
    S1, _ = get_diffusion_supports(edge_index, edge_weight, 4, torch.float64).to_dense()
    assert S1[2, 0].item() == pytest.approx(0.75)
    assert S1[3, 0].item() == pytest.approx(0.25)
    assert S1[2, 1].item() == pytest.approx(1.0)


@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_dcrnn_matches_dense_reference(graph, K):
    edge_index, edge_weight, n = graph
    torch.manual_seed(10 + K)
    cell = DCRNN(3, 5, K).double()
    for p in cell.parameters():
        torch.nn.init.normal_(p, std=0.5)
    X = torch.randn(n, 3, dtype=torch.float64)
    H = torch.randn(n, 5, dtype=torch.float64)
    torch.testing.assert_close(cell(X, edge_index, edge_weight, H), dense_dcrnn(cell, X, edge_index, edge_weight, H))
    zeros = torch.zeros(n, 5, dtype=torch.float64)
    torch.testing.assert_close(cell(X, edge_index, edge_weight), dense_dcrnn(cell, X, edge_index, edge_weight, zeros))


@pytest.mark.parametrize("K", [1, 2, 3])
def test_matches_upstream_on_symmetric_unit_graph(sym_graph, K):
    edge_index, n = sym_graph
    torch.manual_seed(K)
    conv = DConv(3, 4, K).double()
    torch.nn.init.normal_(conv.bias)
    X = torch.randn(n, 3, dtype=torch.float64)
    ones = torch.ones(edge_index.size(1), dtype=torch.float64)
    expected = upstream_dconv(X, edge_index, ones, conv.weight, conv.bias)
    torch.testing.assert_close(conv(X, edge_index), expected)
    torch.testing.assert_close(conv(X, edge_index, ones), expected)


def test_load_upstream_state_dict(graph):
    edge_index, edge_weight, n = graph
    K, c_in, hid = 3, 2, 4
    g = torch.Generator().manual_seed(0)
    upstream = {}
    for gate in ("z", "r", "h"):  # the keys/shapes PGT's DCRNN saves
        upstream[f"conv_x_{gate}.weight"] = torch.randn(2, K, c_in + hid, hid, generator=g, dtype=torch.float64)
        upstream[f"conv_x_{gate}.bias"] = torch.randn(hid, generator=g, dtype=torch.float64)
    cell = DCRNN(c_in, hid, K).double()
    cell.load_state_dict(upstream, strict=True)
    batched = BatchedDCRNN(c_in, hid, K).double()
    batched.load_state_dict(upstream, strict=True)
    assert set(cell.state_dict()) == set(upstream)
    X = torch.randn(n, c_in, dtype=torch.float64)
    H = torch.randn(n, hid, dtype=torch.float64)
    torch.testing.assert_close(cell(X, edge_index, edge_weight, H), dense_dcrnn(cell, X, edge_index, edge_weight, H))


# --------------------------------------------------------------------------- #
# Batched vs unbatched
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("K", [1, 3])
def test_batched_matches_unbatched(graph, K):
    edge_index, edge_weight, n = graph
    edge_weight = edge_weight.float()
    torch.manual_seed(0)
    cell = DCRNN(2, 6, K)
    batched = BatchedDCRNN(2, 6, K)
    batched.load_state_dict(cell.state_dict())
    B, T = 3, 4
    X = torch.randn(B, T, n, 2)
    H0 = torch.randn(B, n, 6)
    out = batched(X, edge_index, edge_weight, H0)
    assert out.shape == (B, T, n, 6)
    for b in range(B):
        h = H0[b]
        for t in range(T):
            h = cell(X[b, t], edge_index, edge_weight, h)
            torch.testing.assert_close(out[b, t], h, atol=1e-5, rtol=1e-5)
    out0 = batched(X, edge_index, edge_weight)
    h = None
    for t in range(T):
        h = cell(X[1, t], edge_index, edge_weight, h)
    torch.testing.assert_close(out0[1, -1], h, atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- #
# Gradients
# --------------------------------------------------------------------------- #
def test_gradcheck_dconv(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(0)
    conv = DConv(2, 3, 3).double()
    X = torch.randn(n, 2, dtype=torch.float64, requires_grad=True)
    w = edge_weight.clone().requires_grad_(True)

    def f(X, w, weight, bias):
        return torch.func.functional_call(conv, {"weight": weight, "bias": bias}, (X, edge_index, w))

    weight = conv.weight.detach().clone().requires_grad_(True)
    bias = conv.bias.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (X, w, weight, bias))


def test_gradcheck_dcrnn(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(1)
    cell = DCRNN(2, 3, 3).double()
    X = torch.randn(n, 2, dtype=torch.float64, requires_grad=True)
    H = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    w = edge_weight.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda X, H, w: cell(X, edge_index, w, H), (X, H, w))
    # cached (non-differentiable weights) path: gradients w.r.t. inputs only
    assert torch.autograd.gradcheck(lambda X, H: cell(X, edge_index, edge_weight, H), (X, H))
    batched = BatchedDCRNN(2, 3, 2).double()
    Xb = torch.randn(2, 2, n, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda Xb: batched(Xb, edge_index, edge_weight), (Xb,))


def test_parameter_gradients_match_dense(graph):
    edge_index, edge_weight, n = graph
    torch.manual_seed(2)
    cell = DCRNN(2, 4, 3).double()
    X = torch.randn(n, 2, dtype=torch.float64)
    H = torch.randn(n, 4, dtype=torch.float64)
    g1 = torch.autograd.grad(cell(X, edge_index, edge_weight, H).square().sum(), list(cell.parameters()))
    g2 = torch.autograd.grad(dense_dcrnn(cell, X, edge_index, edge_weight, H).square().sum(),
                             list(cell.parameters()))
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------- #
# Transition-matrix cache
# --------------------------------------------------------------------------- #
def test_support_cache_hits_and_invalidation(graph):
    clear_support_cache()
    edge_index, edge_weight, n = graph
    edge_weight = edge_weight.float()
    s1 = get_diffusion_supports(edge_index, edge_weight, n)
    s2 = get_diffusion_supports(edge_index.clone(), edge_weight.clone(), n)  # same graph, new tensors
    assert s2.stacked[0] is s1.stacked[0] and s2.stacked[1] is s1.stacked[1]
    # in-place change of the weights invalidates the values
    edge_weight[0] += 1.0
    s3 = get_diffusion_supports(edge_index, edge_weight, n)
    assert s3.stacked[0] is s1.stacked[0]
    assert not torch.equal(s3.stacked[1], s1.stacked[1])
    S1, S2 = s3.to_dense()
    R1, R2 = dense_supports(edge_index, edge_weight, n, torch.float32)
    torch.testing.assert_close(S1, R1)
    torch.testing.assert_close(S2, R2)
    # a different graph gets a different pattern
    other = edge_index.flip(0)
    s4 = get_diffusion_supports(other, edge_weight, n)
    assert s4.stacked[0] is not s1.stacked[0]
    torch.testing.assert_close(s4.to_dense()[0], dense_supports(other, edge_weight, n, torch.float32)[0])
    # in-place change of edge_index is detected too
    ei = edge_index.clone()
    a = get_diffusion_supports(ei, None, n)
    ei[1, 0] = (ei[1, 0] + 1) % n
    b = get_diffusion_supports(ei, None, n)
    torch.testing.assert_close(b.to_dense()[0], dense_supports(ei, None, n, torch.float32)[0])
    assert not torch.equal(a.to_dense()[0], b.to_dense()[0])


def test_differentiable_edge_weight_gets_gradient(graph):
    edge_index, edge_weight, n = graph
    conv = DConv(2, 2, 3).double()
    X = torch.randn(n, 2, dtype=torch.float64)
    w1 = edge_weight.clone().requires_grad_(True)
    w2 = edge_weight.clone().requires_grad_(True)
    g1, = torch.autograd.grad(conv(X, edge_index, w1).sum(), w1)
    g2, = torch.autograd.grad(dense_dconv(X, edge_index, w2, conv.weight, conv.bias).sum(), w2)
    torch.testing.assert_close(g1, g2)


def test_inference_mode_then_training(graph):
    clear_support_cache()
    edge_index, edge_weight, n = graph
    cell = DCRNN(2, 3, 2)
    X = torch.randn(n, 2)
    with torch.inference_mode():
        cell(X, edge_index, edge_weight.float())
    out = cell(X, edge_index, edge_weight.float())  # reuses supports built in inference mode
    out.sum().backward()
    assert cell.conv_x_z.weight.grad is not None


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #
def test_bad_inputs(graph):
    edge_index, edge_weight, n = graph
    edge_weight = edge_weight.float()
    cell = DCRNN(2, 3, 2)
    X = torch.randn(n, 2)
    with pytest.raises(ValueError, match="K must be a positive integer"):
        DCRNN(2, 3, -1)
    with pytest.raises(ValueError, match="K must be a positive integer"):
        DConv(2, 3, 0)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        cell(torch.randn(2, n, 2), edge_index)
    with pytest.raises(ValueError, match="in_channels = 2"):
        cell(torch.randn(n, 3), edge_index)
    with pytest.raises(ValueError, match=r"shape \(2, E\)"):
        cell(X, edge_index.T)
    with pytest.raises(ValueError, match=r"node ids in \[0, 5\]"):
        cell(torch.randn(4, 2), edge_index)
    with pytest.raises(ValueError, match="node ids"):
        cell(X, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match="edge_weight must have shape"):
        cell(X, edge_index, edge_weight[:-1])
    with pytest.raises(ValueError, match="integers"):
        cell(X, edge_index.float())
    with pytest.raises(ValueError, match="H must have shape"):
        cell(X, edge_index, edge_weight, torch.zeros(n, 4))
    batched = BatchedDCRNN(2, 3, 2)
    with pytest.raises(ValueError, match=r"\(B, T, N, 2\)"):
        batched(torch.randn(3, n, 2), edge_index)
    with pytest.raises(ValueError, match="in_channels = 2"):
        batched(torch.randn(1, 2, n, 5), edge_index)
    with pytest.raises(ValueError, match="H must have shape"):
        batched(torch.randn(1, 2, n, 2), edge_index, None, torch.zeros(n, 3))
    # an edge list replicated per batch item (upstream style) is rejected with a hint
    rep = torch.cat([edge_index, edge_index + n], 1)
    with pytest.raises(ValueError, match="not replicated"):
        batched(torch.randn(2, 2, n, 2), rep)
    with pytest.raises(ValueError, match="in_channels = 2"):
        DConv(2, 3, 2)(torch.randn(n, 4), edge_index)
    model = DCRNNSeq2Seq(2, 1, 4, 1, 2, num_timesteps_out=3)
    with pytest.raises(ValueError, match="targets must have shape"):
        model.train()(torch.randn(1, 2, n, 2), edge_index, targets=torch.randn(1, 2, n, 1))
    with pytest.raises(ValueError, match=r"\(B, T_in, N, 2\)"):
        model(torch.randn(2, n, 2), edge_index)


# --------------------------------------------------------------------------- #
# Encoder-decoder
# --------------------------------------------------------------------------- #
def _seq2seq(**kw):
    torch.manual_seed(0)
    return DCRNNSeq2Seq(2, 1, hidden_channels=8, num_layers=2, K=2, num_timesteps_out=4, **kw)


def test_seq2seq_shapes_and_horizon(graph):
    edge_index, edge_weight, n = graph
    model = _seq2seq()
    X = torch.randn(3, 6, n, 2)
    assert model(X, edge_index, edge_weight.float()).shape == (3, 4, n, 1)
    assert model(X[:, :2], edge_index, num_timesteps_out=7).shape == (3, 7, n, 1)
    keys = set(model.state_dict())
    assert "encoder.0.conv_x_z.weight" in keys and "decoder.1.conv_x_h.bias" in keys
    assert "projection.weight" in keys
    assert model.encoder[0].conv_x_z.weight.shape == (2, 2, 2 + 8, 8)
    assert model.decoder[0].conv_x_z.weight.shape == (2, 2, 1 + 8, 8)


def test_seq2seq_teacher_forcing(graph):
    edge_index, edge_weight, n = graph
    model = _seq2seq(use_curriculum_learning=True, cl_decay_steps=10)
    X = torch.randn(2, 5, n, 2)
    y = torch.randn(2, 4, n, 1)
    y2 = y.clone()
    y2[:, 1] += 1.0
    model.train()
    forced = model(X, edge_index, targets=y, teacher_forcing_ratio=1.0)
    forced2 = model(X, edge_index, targets=y2, teacher_forcing_ratio=1.0)
    torch.testing.assert_close(forced[:, :2], forced2[:, :2])  # steps 0, 1 precede y[:, 1]
    assert not torch.allclose(forced[:, 2], forced2[:, 2])  # step 2 is fed y[:, 1]
    # teacher forcing off: ratio 0, no targets, or eval mode -> free running, targets ignored
    free = model(X, edge_index)
    torch.testing.assert_close(model(X, edge_index, targets=y, teacher_forcing_ratio=0.0), free)
    torch.testing.assert_close(model(X, edge_index, targets=y2, batches_seen=10 ** 6), free)
    model.eval()
    torch.testing.assert_close(model(X, edge_index, targets=y), free)
    assert not torch.allclose(forced, free)
    # curriculum off: targets are never fed unless a ratio is forced
    plain = _seq2seq()
    plain.load_state_dict(model.state_dict())
    plain.train()
    torch.testing.assert_close(plain(X, edge_index, targets=y), free)
    # schedule: eps = k / (k + exp(i / k))
    assert model.sampling_probability(0) == pytest.approx(10 / 11)
    assert model.sampling_probability(50) == pytest.approx(10 / (10 + math.e ** 5))
    assert model.sampling_probability(10 ** 9) == 0.0


def test_seq2seq_deterministic_and_trainable(graph):
    edge_index, edge_weight, n = graph
    X = torch.randn(2, 3, n, 2)
    y = torch.randn(2, 4, n, 1)
    outs = []
    for _ in range(2):
        model = _seq2seq(use_curriculum_learning=True, cl_decay_steps=5)
        n_params = len(list(model.parameters()))
        torch.manual_seed(123)
        out = model.train()(X, edge_index, edge_weight.float(), targets=y, batches_seen=5)
        loss = (out - y).abs().mean()
        loss.backward()
        assert len(list(model.parameters())) == n_params  # nothing created lazily
        assert all(p.grad is not None for p in model.parameters())
        outs.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=0, atol=0)
    for a, b in zip(outs[0][1], outs[1][1]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(graph):
    edge_index, edge_weight, n = graph
    model = _seq2seq()
    X = torch.randn(2, 3, n, 2)
    cpu = model(X, edge_index, edge_weight.float())
    gpu = model.cuda()(X.cuda(), edge_index.cuda(), edge_weight.float().cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-4)


def test_seq2seq_matches_stacked_cells(graph):
    """Encoder = stacked BatchedDCRNN layers; decoder starts from their last
    states, is fed a zero GO symbol, then its own projected predictions."""
    edge_index, edge_weight, n = graph
    edge_weight = edge_weight.float()
    model = _seq2seq().eval()
    X = torch.randn(2, 3, n, 2)
    seq, states = X, []
    for cell in model.encoder:
        seq = cell(seq, edge_index, edge_weight)
        states.append(seq[:, -1])
    inp, preds = torch.zeros(2, 1, n, 1), []
    for _ in range(4):
        x = inp
        for layer, cell in enumerate(model.decoder):
            x = cell(x, edge_index, edge_weight, states[layer])
            states[layer] = x[:, 0]
        inp = model.projection(x)
        preds.append(inp[:, 0])
    torch.testing.assert_close(model(X, edge_index, edge_weight), torch.stack(preds, 1), atol=1e-5, rtol=1e-5)


def test_input_chunking_is_exact(graph, monkeypatch):
    import torch_geometric_temporal.nn.recurrent.dcrnn as dcrnn_module

    edge_index, edge_weight, n = graph
    batched = BatchedDCRNN(2, 3, 3).double()
    X = torch.randn(2, 5, n, 2, dtype=torch.float64)
    full = batched(X, edge_index, edge_weight)
    monkeypatch.setattr(dcrnn_module, "_CHUNK_ELEMENTS", 1)  # one step per chunk
    torch.testing.assert_close(batched(X, edge_index, edge_weight), full)


def test_autocast_bfloat16(graph):
    edge_index, edge_weight, n = graph
    model = _seq2seq()
    X = torch.randn(2, 3, n, 2)
    ref = model(X, edge_index, edge_weight.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(X, edge_index, edge_weight.float())
    torch.testing.assert_close(out.float(), ref, atol=5e-2, rtol=5e-2)
    out.float().sum().backward()
    assert model.encoder[0].conv_x_z.weight.grad is not None
