"""The ``--model`` configurations: every name builds a model mapping an index
batch (B, T_in, N, F) to the trainer's (B, T_out, N, C), the read-outs
compute what their docstrings say, and bad hyper-parameters are refused."""
import pytest
import torch

from torch_geometric_temporal.train.models import (
    AGCRN_EMBEDDING_DIMENSIONS,
    MODEL_NAMES,
    RECURRENT_CELLS,
    A3TGCNForecaster,
    RecurrentForecaster,
    build_model,
)

B, T_IN, T_OUT, N, F = 3, 5, 3, 6, 2


def graph():
    src = torch.arange(N)
    edge_index = torch.stack([torch.cat([src, (src + 1) % N]), torch.cat([(src + 1) % N, src])])
    return edge_index, torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(1)) + 0.1


def build(name, **kw):
    kw = {"hidden_channels": 4, "num_timesteps_in": T_IN, "num_nodes": N, "batch_size": B, **kw}
    return build_model(name, F, T_OUT, **kw)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_maps_an_index_batch_to_the_horizon(name):
    torch.manual_seed(0)
    model = build(name, num_layers=1 if name == "seq2seq" else 2)
    X = torch.randn(B, T_IN, N, F)
    out = model(X, *graph())
    # "batched" is PGT-I's per-step model: one output per input step
    assert out.shape == ((B, T_IN, N, 1) if name == "batched" else (B, T_OUT, N, 1))
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, f"{name}: parameters without a gradient: {unused}"


@pytest.mark.parametrize("name", sorted(RECURRENT_CELLS))
def test_cells_are_stacked_layers_read_out_from_the_last_state(name):
    torch.manual_seed(0)
    model = build(name, num_layers=3)
    assert isinstance(model, RecurrentForecaster) and len(model.layers) == 3
    assert model.head.in_features == 4 and model.head.out_features == T_OUT
    X = torch.randn(B, T_IN, N, F)
    edge_index, edge_weight = graph()
    H = X
    for layer in model.layers:  # LRGCN: one relation, no weights
        H = layer(H, edge_index, None if name == "lrgcn" else edge_weight)
    assert H.shape == (B, T_IN, N, 4)
    expected = model.head(torch.relu(H[:, -1])).permute(0, 2, 1).unsqueeze(-1)
    torch.testing.assert_close(model(X, edge_index, edge_weight), expected)
    # the forecast depends on the first input step too (the state is carried)
    X2 = X.clone()
    X2[:, 0] += 1
    assert not torch.allclose(model(X2, edge_index, edge_weight), expected)


def test_cells_default_hidden_and_K():
    model = build_model("gconv_gru", F, T_OUT, num_layers=1)
    assert model.head.in_features == 32 and model.layers[0].cell.out_channels == 32
    for name, K in RECURRENT_CELLS.items():
        if K is None:
            continue
        assert build(name, num_layers=1).layers[0].cell.K == K, name
        assert build(name, num_layers=1, K=K + 1).layers[0].cell.K == K + 1, name
    agcrn = build("agcrn", num_layers=2)
    assert [layer.node_embeddings.shape for layer in agcrn.layers] == [(N, AGCRN_EMBEDDING_DIMENSIONS)] * 2


def test_a3tgcn_is_pgti_metr_la_configuration():
    torch.manual_seed(0)
    model = build_model("a3tgcn", 2, 12, num_timesteps_in=12, batch_size=32)
    assert isinstance(model, A3TGCNForecaster)
    tgnn = model.tgnn
    assert (type(tgnn).__name__, tgnn.in_channels, tgnn.out_channels, tgnn.periods, tgnn.batch_size) == \
        ("A3TGCN2", 2, 32, 12, 32)
    assert (model.linear.in_features, model.linear.out_features) == (32, 12)
    X = torch.randn(4, 12, N, 2)
    edge_index, edge_weight = graph()
    # PGT-I: relu(A3TGCN2(x (B, N, F, T))) -> Linear(32, periods) -> (B, N, T_out)
    h = model.linear(torch.relu(tgnn(X.permute(0, 2, 3, 1), edge_index, edge_weight)))
    torch.testing.assert_close(model(X, edge_index, edge_weight), h.permute(0, 2, 1).unsqueeze(-1))


def test_a3tgcn_periods_follow_the_input_length():
    model = build("a3tgcn")
    assert model.tgnn.periods == T_IN
    with pytest.raises(ValueError, match="periods"):
        model(torch.randn(B, T_IN + 1, N, F), *graph())


def test_bad_hyper_parameters_are_refused():
    with pytest.raises(ValueError, match="tgcn has no K"):
        build("tgcn", K=2)
    with pytest.raises(ValueError, match="a3tgcn has no K"):
        build("a3tgcn", K=2)
    with pytest.raises(ValueError, match="num_nodes"):
        build("agcrn", num_nodes=None)
    with pytest.raises(ValueError, match="--layers >= 1"):
        build("gconv_gru", num_layers=0)
    with pytest.raises(ValueError, match="choose one of"):
        build("transformer")


def test_batched_and_seq2seq_unchanged():
    assert type(build_model("batched", F, T_OUT)).__name__ == "BatchedDCRNN"
    assert type(build_model("batched", F, T_OUT, hidden_channels=4)).__name__ == "PerStepDCRNN"
    assert type(build_model("seq2seq", F, T_OUT)).__name__ == "DCRNNSeq2Seq"


def test_seq2seq_default_K_is_dcrnns_max_diffusion_step_2():
    from torch_geometric_temporal.train.models import SEQ2SEQ_K

    assert SEQ2SEQ_K == 3 and build_model("seq2seq", 2, 12).K == 3
    assert build_model("seq2seq", 2, 12, K=2).K == 2


def test_recompute_flag_reaches_the_recurrent_layers_or_is_refused():
    from torch_geometric_temporal.train.models import RECOMPUTE_MODELS

    for name in ("batched", "seq2seq", "gconv_gru"):
        assert name in RECOMPUTE_MODELS
        model = build_model(name, 2, 4, recompute=True, num_nodes=5)
        flags = [m.recompute for m in model.modules() if hasattr(m, "recompute")]
        assert flags and all(flags), name
        assert not any(m.recompute for m in build_model(name, 2, 4, num_nodes=5).modules()
                       if hasattr(m, "recompute"))
    with pytest.raises(ValueError, match="--model a3tgcn cannot recompute"):
        build_model("a3tgcn", 2, 4, recompute=True)
