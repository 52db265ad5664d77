"""BatchedRecurrent: every wrappable cell over (B, T, N, F) equals a loop over
batch items and steps of the plain cell (outputs, last cell state and
gradients, weighted and unweighted graphs); one shared graph for the linear
convolutions; bad input -> ValueError; batched_cell names."""
import pytest
import torch

from torch_geometric_temporal.nn.recurrent.agcrn import AGCRN
from torch_geometric_temporal.nn.recurrent.attentiontemporalgcn import A3TGCN2
from torch_geometric_temporal.nn.recurrent.batched import CELL_NAMES, BatchedRecurrent, batched_cell
from torch_geometric_temporal.nn.recurrent.dcrnn import BatchedDCRNN, DCRNN
from torch_geometric_temporal.nn.recurrent.dygrae import DyGrEncoder
from torch_geometric_temporal.nn.recurrent.evolvegcno import EvolveGCNO
from torch_geometric_temporal.nn.recurrent.gc_lstm import GCLSTM
from torch_geometric_temporal.nn.recurrent.gconv_gru import GConvGRU
from torch_geometric_temporal.nn.recurrent.gconv_lstm import GConvLSTM
from torch_geometric_temporal.nn.recurrent.lrgcn import LRGCN
from torch_geometric_temporal.nn.recurrent.mpnn_lstm import MPNNLSTM
from torch_geometric_temporal.nn.recurrent.temporalgcn import TGCN, TGCN2

B, T, N, F, C = 3, 4, 7, 3, 4


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def graph(weighted: bool):
    g = torch.Generator().manual_seed(3)
    src = torch.randint(0, N, (20,), generator=g)
    dst = torch.randint(0, N, (20,), generator=g)
    keep = src != dst
    edge_index = torch.stack([src[keep], dst[keep]])
    weight = torch.rand(edge_index.size(1), generator=g) + 0.1 if weighted else None
    return edge_index, weight


# name -> (build, step(cell, x (N, F), graph kwargs, state) -> (out, state), has_cell)
def _gru(cell, x, ei, ew, state, **kw):
    h = cell(x, ei, ew, state[0], **kw)
    return h, (h,)


def _lstm(cell, x, ei, ew, state, **kw):
    h, c = cell(x, ei, ew, *state, **kw)
    return h, (h, c)


def _tgcn2(cell, x, ei, ew, state):
    h = cell(x[None], ei, ew, None if state[0] is None else state[0][None])[0]
    return h, (h,)


def _bdcrnn(cell, x, ei, ew, state):
    h = cell(x[None, None], ei, ew, None if state[0] is None else state[0][None])[0, 0]
    return h, (h,)


def _lrgcn(cell, x, ei, et, state):
    h, c = cell(x, ei, et, *state)
    return h, (h, c)


def _dygrae(cell, x, ei, ew, state):
    out, h, c = cell(x, ei, ew, *state)
    return out, (h, c)


CELLS = {
    "gconv_gru": (lambda: GConvGRU(F, C, K=3), _gru, False),
    "gconv_gru_rw": (lambda: GConvGRU(F, C, K=2, normalization="rw"), _gru, False),
    "gconv_lstm": (lambda: GConvLSTM(F, C, K=3), _lstm, True),
    "gc_lstm": (lambda: GCLSTM(F, C, K=2), _lstm, True),
    "tgcn": (lambda: TGCN(F, C), _gru, False),
    "tgcn2": (lambda: TGCN2(F, C, batch_size=B, improved=True), _tgcn2, False),
    "dcrnn": (lambda: DCRNN(F, C, K=2), _gru, False),
    "batched_dcrnn": (lambda: BatchedDCRNN(F, C, K=3), _bdcrnn, False),
    "lrgcn": (lambda: LRGCN(F, C, num_relations=2, num_bases=None), _lrgcn, True),
    "dygrae": (lambda: DyGrEncoder(C + 1, 2, "add", C, 1), _dygrae, True),
    "dygrae_2layers": (lambda: DyGrEncoder(F, 1, "mean", C, 2), _dygrae, True),
}


def _randomize(module):
    with torch.no_grad():  # non-zero biases, so a misplaced bias cannot pass
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("name", sorted(CELLS))
def test_batched_equals_loop_over_items_and_steps(name, weighted):
    build, step, has_cell = CELLS[name]
    torch.manual_seed(0)
    cell = build()
    _randomize(cell)
    model = BatchedRecurrent(cell)
    ei, ew = graph(weighted)
    X = torch.randn(B, T, N, F, requires_grad=True)
    with_state = name != "dygrae_2layers"
    H0 = torch.randn(B, N, C) if with_state else None
    C0 = torch.randn(B, N, C) if with_state and has_cell else None
    kw, loop_kw = {}, {}
    if name == "lrgcn":  # relations instead of weights
        et = torch.randint(0, 2, (ei.size(1),)) if weighted else torch.zeros(ei.size(1), dtype=torch.long)
        kw, ew = {"edge_type": et}, et
    if name == "gconv_gru_rw":
        kw = loop_kw = {"lambda_max": torch.tensor(1.8)}
    if has_cell:
        out, c_last = model(X, ei, None if name == "lrgcn" else ew, H0, C0, return_cell=True, **kw)
    else:
        out = model(X, ei, ew, H0, **kw)
    assert out.shape == (B, T, N, C)

    outs, cells = [], []
    for b in range(B):
        state = (None if H0 is None else H0[b],) + ((None if C0 is None else C0[b],) if has_cell else ())
        for t in range(T):
            o, state = step(cell, X[b, t], ei, ew, state, **loop_kw)
            outs.append(o)
        if has_cell:
            cells.append(state[1] if state[1].dim() == 2 else state[1][-1])
    ref = torch.stack(outs).view(B, T, N, C)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    if has_cell:
        torch.testing.assert_close(c_last, torch.stack(cells), atol=1e-5, rtol=1e-5)

    weights = torch.randn(B, T, N, C)
    inputs = [X, *cell.parameters()]
    got = torch.autograd.grad((out * weights).sum(), inputs, allow_unused=True)
    want = torch.autograd.grad((ref * weights).sum(), inputs, allow_unused=True)
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if g is not None:
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("given", [True, False])
def test_agcrn_equals_loop_with_own_or_given_embeddings(given):
    torch.manual_seed(0)
    cell = AGCRN(N, F, C, K=3, embedding_dimensions=2)
    _randomize(cell)
    E = torch.randn(N, 2, requires_grad=True)
    model = BatchedRecurrent(cell, node_embeddings=E if given else None)
    assert isinstance(model.node_embeddings, torch.nn.Parameter) != given
    X = torch.randn(B, T, N, F, requires_grad=True)
    H0 = torch.randn(B, N, C)
    out = model(X, H=H0)
    emb = model.node_embeddings
    h, outs = H0, []
    for t in range(T):
        h = cell(X[:, t], emb, h)
        outs.append(h)
    ref = torch.stack(outs, 1)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    inputs = [X, emb, *cell.parameters()]
    for g, w in zip(torch.autograd.grad(out.sum(), inputs), torch.autograd.grad(ref.sum(), inputs)):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
    # E given per call overrides the module's
    E2 = torch.randn(N, 2)
    assert not torch.allclose(model(X, E=E2, H=H0), out)


def _record(conv, calls):
    original = conv.propagate

    def propagate(edge_index, **kw):
        calls.append((edge_index.size(1), int(edge_index.max()), tuple(kw["x"].shape)))
        return original(edge_index, **kw)
    conv.propagate = propagate


def test_chebyshev_propagates_the_shared_graph_node_major():
    torch.manual_seed(0)
    ei, ew = graph(True)
    cell = GConvGRU(F, C, K=3)
    calls = []
    _record(cell.conv_x_z, calls)
    BatchedRecurrent(cell)(torch.randn(B, T, N, F), ei, ew)
    # X's basis for all steps at once, then per step the bases of H and R*H (K - 1 = 2 products each)
    assert len(calls) == 2 + T * 2 * 2
    assert [shape for _, _, shape in calls[:2]] == [(N, T * B * F)] * 2
    for edges, top, shape in calls:
        assert edges <= ei.size(1) + N and top < N  # one graph (+ its diagonal), ids < N
    assert {shape for _, _, shape in calls[2:]} == {(N, B * C)}  # node-major (N, B C)


@pytest.mark.parametrize("name", ["gconv_gru", "gconv_lstm", "gc_lstm"])
def test_chebyshev_input_chunks_give_the_same_result(name, monkeypatch):
    import torch_geometric_temporal.nn.recurrent.batched as batched

    torch.manual_seed(0)
    ei, ew = graph(True)
    model = batched_cell(name, F, C, K=3)
    X = torch.randn(B, T, N, F)
    whole = model(X, ei, ew)
    monkeypatch.setattr(batched, "_CHUNK_ELEMENTS", N * B * F * 3 * 2)  # two steps per chunk
    torch.testing.assert_close(model(X, ei, ew), whole, atol=1e-6, rtol=1e-6)


def test_tgcn_propagates_all_steps_once():
    torch.manual_seed(0)
    ei, ew = graph(True)
    cell = TGCN(F, C)
    calls = []
    _record(cell.conv_z, calls)
    BatchedRecurrent(cell)(torch.randn(B, T, N, F), ei, ew)
    assert len(calls) == 1
    edges, top, shape = calls[0]
    assert edges <= ei.size(1) + N and top < N and shape[-2] == N


@pytest.mark.parametrize("name", CELL_NAMES)
def test_batched_cell_builds_every_name(name):
    torch.manual_seed(0)
    kw = {"number_of_nodes": N} if name == "agcrn" else {}
    model = batched_cell(name.upper() if name == "tgcn" else name, F, C, **kw)
    ei, ew = graph(name != "lrgcn")
    out = model(torch.randn(B, T, N, F), ei, ew)
    assert out.shape == (B, T, N, C) and torch.isfinite(out).all()
    assert model.out_channels == C
    assert set(model.state_dict()) >= {f"cell.{k}" for k in model.cell.state_dict()}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", CELL_NAMES)
def test_cuda_equals_cpu(name, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # DyGrEncoder's cuDNN LSTM
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    kw = {"number_of_nodes": N} if name == "agcrn" else {}
    model = batched_cell(name, F, C, **kw)
    ei, ew = graph(name != "lrgcn")
    X = torch.randn(B, T, N, F)
    want = model(X, ei, ew)
    model = model.cuda()
    got = model(X.cuda(), ei.cuda(), None if ew is None else ew.cuda())
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), want, atol=1e-5, rtol=1e-5)


def test_batched_cell_unknown_name():
    with pytest.raises(ValueError, match="gconv_gru"):
        batched_cell("a3tgcn", F, C)


@pytest.mark.parametrize("cell", [
    lambda: A3TGCN2(F, C, periods=T, batch_size=B),
    lambda: MPNNLSTM(F, C, N, 1, 0.0),
    lambda: EvolveGCNO(F),
    lambda: torch.nn.Linear(F, C),
])
def test_unwrappable_cells_are_refused_with_the_reason(cell):
    with pytest.raises(ValueError, match="cannot wrap"):
        BatchedRecurrent(cell())


def test_bad_input_gets_value_error_naming_the_fix():
    torch.manual_seed(0)
    ei, ew = graph(True)
    model = batched_cell("gconv_lstm", F, C)
    X = torch.randn(B, T, N, F)
    with pytest.raises(ValueError, match=r"\(B, T, N, 3\)"):
        model(X[0], ei, ew)  # wrong rank
    with pytest.raises(ValueError, match="in_channels = 3"):
        model(torch.randn(B, T, N, F + 1), ei, ew)
    with pytest.raises(ValueError, match="N = 5"):
        model(X[:, :, :5], ei, ew)  # N mismatch: edge ids >= N
    with pytest.raises(ValueError, match="node ids"):
        model(X, ei + N, ew)  # edge index out of range
    with pytest.raises(ValueError, match="edge_weight must have shape"):
        model(X, ei, ew[:-1])
    with pytest.raises(ValueError, match="H must have shape"):
        model(X, ei, ew, H=torch.zeros(B, N + 1, C))
    with pytest.raises(ValueError, match="C must have shape"):
        model(X, ei, ew, C=torch.zeros(N, C))
    with pytest.raises(ValueError, match="edge_index"):
        model(X)
    gru = batched_cell("tgcn", F, C)
    with pytest.raises(ValueError, match="cell state"):
        gru(X, ei, ew, return_cell=True)
    with pytest.raises(ValueError, match="only used by"):
        gru(X, ei, ew, lambda_max=torch.tensor(2.0))
    with pytest.raises(ValueError, match="edge_weight=None"):
        batched_cell("lrgcn", F, C)(X, ei, ew)
    with pytest.raises(ValueError, match="edge_type"):
        batched_cell("lrgcn", F, C, num_relations=2)(X, ei)
