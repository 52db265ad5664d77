"""``--model stgcn|astgcn|mstgcn|gman|mtgnn``: each forecaster maps an index
batch (B, T_in, N, F) to (B, T_out, N, 1) through a view of the batch, trains
through the harness with base and index batching to the same per-epoch MAE
(METR-LA layout: speed and time of day, 12 steps in and out), GMAN reads the
time of day back from the standardized feature, and bad sizes are one clear
ValueError."""
import importlib.util
from pathlib import Path

import pytest
import torch

from torch_geometric_temporal.train.attention_models import (
    GMANForecaster,
    MTGNNForecaster,
    STGCNForecaster,
    dense_adjacency,
)
from torch_geometric_temporal.train.models import ATTENTION_MODELS, build_model
from torch_geometric_temporal.train.stats import read_csv

ROOT = Path(__file__).resolve().parents[2]
B, T_IN, T_OUT, N, F = 2, 12, 12, 5, 2


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def graph():
    src = torch.arange(N)
    edge_index = torch.stack([torch.cat([src, (src + 1) % N]), torch.cat([(src + 1) % N, src])])
    return edge_index, torch.rand(edge_index.size(1), generator=torch.Generator().manual_seed(1)) + 0.1


def batch(seed=0):
    X = torch.randn(B, T_IN, N, F, generator=torch.Generator().manual_seed(seed))
    X[..., 1] = ((torch.arange(T_IN) + 100) / 288.0)[None, :, None]  # time of day, raw fraction
    return X


@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_every_model_maps_an_index_batch_to_the_horizon(name):
    torch.manual_seed(0)
    model = build_model(name, F, T_OUT, hidden_channels=8, num_layers=1, num_timesteps_in=T_IN, num_nodes=N)
    out = model(batch(), *graph())
    assert out.shape == (B, T_OUT, N, 1) and torch.isfinite(out).all()
    out.square().sum().backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, f"{name}: parameters without a gradient: {unused}"


def test_stgcn_defaults_follow_the_paper():
    stgcn = build_model("stgcn", F, T_OUT, num_timesteps_in=T_IN, num_nodes=N)
    assert isinstance(stgcn, STGCNForecaster) and len(stgcn.blocks) == 2
    conv = stgcn.blocks[0]
    assert (conv.hidden_channels, conv.out_channels, conv.kernel_size, conv.K) == (16, 64, 3, 3)
    assert build_model("stgcn", 1, 4, num_layers=1, num_timesteps_in=4, num_nodes=N).blocks[0].kernel_size == 2
    with pytest.raises(ValueError, match="fewer --layers"):
        build_model("stgcn", F, T_OUT, num_layers=3, num_timesteps_in=6, num_nodes=N)


@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_wrong_layout_or_sizes_are_one_clear_error(name):
    model = build_model(name, F, T_OUT, hidden_channels=8, num_layers=1, num_timesteps_in=T_IN, num_nodes=N)
    X = batch()
    with pytest.raises(ValueError, match=r"\(B, T_in, N, F\)"):
        model(X[0], *graph())
    with pytest.raises(ValueError, match="N=5"):
        model(torch.randn(B, T_IN, N + 1, F), *graph())
    with pytest.raises(ValueError, match="T_in=12"):
        model(X.permute(0, 3, 2, 1), *graph())  # (B, F, N, T): upstream's layout, not the loaders'


def test_astgcn_and_mstgcn_defaults_follow_the_paper():
    for name in ("astgcn", "mstgcn"):
        model = build_model(name, F, T_OUT, num_timesteps_in=T_IN, num_nodes=N)
        assert len(model.model._blocklist) == 2, name
        with pytest.raises(ValueError, match="--layers >= 1"):
            build_model(name, F, T_OUT, num_layers=0, num_timesteps_in=T_IN, num_nodes=N)
    astgcn = build_model("astgcn", F, T_OUT, hidden_channels=8, K=2, num_timesteps_in=T_IN, num_nodes=N)
    cheb = astgcn.model._blocklist[0]._chebconv_attention
    assert tuple(cheb._weight.shape) == (2, F, 8) and cheb._normalization == "sym"


def test_gman_time_of_day_from_the_standardized_feature():
    torch.manual_seed(0)
    mean, std = 0.4, 0.3
    model = GMANForecaster(N, T_IN, 3, num_features=F, hidden_channels=4, heads=2, blocks=1,
                           time_of_day_feature=1, time_of_day_stats=(mean, std))
    X = batch()
    X[0, :, :, 1] = (((torch.arange(T_IN) + 280) % 288) / 288.0)[:, None]  # crosses midnight
    X[..., 1] = (X[..., 1] - mean) / std
    TE = model.temporal_embedding(X)
    assert TE.shape == (B, T_IN + 3, 2) and (TE[..., 0] == 0).all()
    assert TE[0, :, 1].tolist() == [(280 + t) % 288 for t in range(T_IN + 3)]
    assert TE[1, :, 1].tolist() == [100 + t for t in range(T_IN + 3)]
    position = GMANForecaster(N, T_IN, 3, num_features=F, hidden_channels=4, heads=2, blocks=1)
    assert position.temporal_embedding(X)[1, :, 1].tolist() == list(range(T_IN + 3))
    with pytest.raises(ValueError, match="not a time of day"):
        GMANForecaster(N, T_IN, 3, num_features=F, hidden_channels=4, heads=2, blocks=1,
                       time_of_day_feature=1)(X * 10)


def test_gman_defaults():
    from torch_geometric_temporal.dataset.scaling import Scaler

    scaler = Scaler(torch.tensor([50.0, 0.4]), torch.tensor([10.0, 0.3]))
    gman = build_model("gman", F, T_OUT, num_timesteps_in=T_IN, num_nodes=N, scaler=scaler)
    assert gman.SE.shape == (N, 64) and gman.steps_per_day == 288 and gman.time_of_day_feature == 1
    assert (float(gman.tod_mean), float(gman.tod_std)) == pytest.approx((0.4, 0.3))
    assert build_model("gman", F, T_OUT, num_timesteps_in=T_IN, num_nodes=N).time_of_day_feature is None
    assert build_model("gman", F, T_OUT, hidden_channels=4, num_timesteps_in=T_IN, num_nodes=N).SE.shape == (N, 4)
    no_tod = build_model("gman", 1, 4, num_timesteps_in=4, num_nodes=N)
    assert no_tod.time_of_day_feature is None and no_tod.steps_per_day == 8
    with pytest.raises(ValueError, match="must divide --hidden"):
        build_model("gman", F, T_OUT, hidden_channels=12, K=8, num_timesteps_in=T_IN, num_nodes=N)


def test_mtgnn_predefined_graph_is_the_runs_graph():
    edge_index, edge_weight = graph()
    A = dense_adjacency(edge_index, edge_weight, N)
    for (s, t), w in zip(edge_index.t().tolist(), edge_weight.tolist()):
        assert A[t, s] == pytest.approx(w)
    assert int((A != 0).sum()) == edge_index.size(1)
    torch.manual_seed(0)
    model = MTGNNForecaster(N, F, T_IN, T_OUT, hidden_channels=4, layers=1, learn_graph=False).eval()
    out = model(batch(), edge_index, edge_weight)
    assert out.shape == (B, T_OUT, N, 1)
    assert not torch.allclose(out, model(batch(), edge_index, edge_weight * 5))  # the weights matter


def test_mtgnn_defaults_and_bad_sizes():
    model = build_model("mtgnn", F, T_OUT, num_timesteps_in=T_IN, num_nodes=N)
    assert isinstance(model, MTGNNForecaster) and model.learn_graph
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]  # upstream's unused convs
    assert frozen and all("._residual_conv." in n for n in frozen)
    with pytest.raises(ValueError, match="num_nodes"):
        build_model("mtgnn", F, T_OUT, num_timesteps_in=T_IN)
    with pytest.raises(ValueError, match="--layers >= 1"):
        build_model("mtgnn", F, T_OUT, num_layers=0, num_timesteps_in=T_IN, num_nodes=N)


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"_attention_script_{name}", ROOT / "scalability_testing"
                                                  / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", ATTENTION_MODELS)
def test_base_and_index_train_identically_on_metr_la(model, metr_la_dir, tmp_path):
    script = load_script("metr_la_main")
    rows = {}
    for mode in ("base", "index"):
        out = tmp_path / mode
        script.main(["--data-dir", str(metr_la_dir), "--out-dir", str(out), "--batch-size", "4",
                     "--max-batches", "2", "--seed", "3", "-q", "--threads", "1", "--device", "cpu",
                     "--mode", mode, "--model", model, "--epochs", "2", "--hidden", "4", "--layers", "1"])
        rows[mode] = read_csv(out / "per_epoch_stats.csv")
    base, index = rows["base"], rows["index"]
    assert len(base) == len(index) == 2
    for b, i in zip(base, index):
        assert b["train_mae"] == i["train_mae"] and b["val_mae"] == i["val_mae"], (model, b, i)
    assert base[0]["train_mae"] != base[1]["train_mae"]  # it trained


@pytest.mark.slow
@pytest.mark.distributed
def test_pems_ddp_trains_the_attention_models(metr_la_dir, tmp_path):
    """Two DDP ranks: every trainable parameter gets a gradient (MTGNN's unused upstream convolutions are
    frozen), so DDP's reducer finishes; --lr 0 keeps the broadcast weights, so the test MAE equals one
    process's."""
    pytest.importorskip("distributed")
    from torch_geometric_temporal.distributed.cluster import close_cluster, start_cluster
    from torch_geometric_temporal.train.ddp_experiment import run_ddp_experiment
    from torch_geometric_temporal.train.experiment import run_experiment

    ddp = load_script("pems_ddp")

    def args(model, out, npar, lr):
        return ddp.parse_args(["--dataset", "metr-la", "--data-dir", str(metr_la_dir), "--out-dir", str(out),
                               "-m", "index", "-np", str(npar), "--epochs", "1", "--batch-size", "8",
                               "--hidden", "4", "--layers", "1", "--model", model, "--lr", lr, "-q",
                               "--device", "cpu", "--timeout", "120", "--collective-timeout", "30"])

    cluster, client = start_cluster(2, timeout=60)
    try:
        single = run_experiment(*args("mtgnn", tmp_path / "single", 1, "0"))["test"]
        result = run_ddp_experiment(*args("mtgnn", tmp_path / "ddp", 2, "0"), client=client)["test"]
        assert result["count"] == single["count"] > 0
        assert result["mae"] == pytest.approx(single["mae"], rel=1e-5)
        for model in ("stgcn", "astgcn", "mstgcn", "gman"):
            trained = run_ddp_experiment(*args(model, tmp_path / model, 2, "0.01"), client=client)
            assert [row["epoch"] for row in trained["history"]] == [1] and trained["history"][0]["train_mae"] > 0
    finally:
        close_cluster(cluster, client)
