"""``--model`` for every recurrent model through the scripts: base and index
batching train each to the same per-epoch MAE on (small synthetic)
Chickenpox, ``metr_la_main.py --model a3tgcn`` runs PGT-I's METR-LA A3TGCN2
configuration, ``pems_ddp.py`` accepts every model, and the checkpoint
identity names the model and its hyper-parameters."""
import importlib.util
from pathlib import Path

import pytest
import torch

from torch_geometric_temporal.train.checkpoint import CheckpointError, load_checkpoint
from torch_geometric_temporal.train.models import MODEL_NAMES
from torch_geometric_temporal.train.stats import read_csv

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scalability_testing"


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"_models_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small(data_dir, out, *extra):
    return ["--data-dir", str(data_dir), "--out-dir", str(out), "--batch-size", "8", "--max-batches", "2",
            "--seed", "3", "-q", "--threads", "1", "--device", "cpu", *extra]


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_base_and_index_train_every_model_identically(model, chickenpox_path, tmp_path):
    script = load_script("chicken_pox_main")
    rows = {}
    for mode in ("base", "index"):
        out = tmp_path / mode
        result = script.main(small(chickenpox_path, out, "--mode", mode, "--model", model, "--epochs", "2",
                                   "--hidden", "4", "--layers", "1"))
        stats = read_csv(out / "stats.csv")[0]
        assert stats["model"] == model and stats["mode"] == mode
        assert len(result["test"]["mae_per_step"]) == script.SPEC.num_timesteps_out
        rows[mode] = (read_csv(out / "per_epoch_stats.csv"), stats["test_mae"])
    (base, base_test), (index, index_test) = rows["base"], rows["index"]
    assert len(base) == len(index) == 2
    for b, i in zip(base, index):
        assert b["train_mae"] == i["train_mae"] and b["val_mae"] == i["val_mae"], (model, b, i)
    assert base_test == index_test
    assert base[0]["train_mae"] != base[1]["train_mae"]  # it trained


def test_metr_la_a3tgcn_runs_pgti_configuration(metr_la_dir, tmp_path):
    script = load_script("metr_la_main")
    out = tmp_path / "a3tgcn"
    script.main(small(metr_la_dir, out, "--mode", "index", "--model", "a3tgcn", "--epochs", "1"))
    epochs = read_csv(out / "per_epoch_stats.csv")
    assert len(epochs) == 1 and float(epochs[0]["train_mae"]) > 0
    state = load_checkpoint(str(out / "checkpoint.pt"))
    weights = state["model"]
    T = script.SPEC.num_timesteps_in
    assert weights["tgnn._attention"].shape == (T,)  # periods = T_in
    assert weights["tgnn._base_tgcn.conv_z.lin.weight"].shape == (32, 2)  # A3TGCN2(2 features, 32 channels)
    assert weights["linear.weight"].shape == (script.SPEC.num_timesteps_out, 32)  # Linear(32, T_out)
    assert state["identity"]["model"] == "a3tgcn" and state["identity"]["hidden"] is None


def test_resume_refuses_another_models_or_hyper_parameters(chickenpox_path, tmp_path):
    script = load_script("chicken_pox_main")
    out = tmp_path / "run"

    def argv(model="gconv_gru", epochs=1, *extra):
        return small(chickenpox_path, out, "--model", model, "--epochs", str(epochs), "--hidden", "4",
                     "--layers", "1", *extra)

    script.main(argv())
    with pytest.raises(CheckpointError, match="model: 'gconv_gru' -> 'tgcn'"):
        script.main(argv("tgcn", 1, "--resume"))
    for extra, changed in ((("--hidden", "5"), "hidden"), (("--layers", "2"), "layers"), (("-K", "3"), "K")):
        with pytest.raises(CheckpointError, match=changed):
            script.main(argv("gconv_gru", 1, *extra, "--resume"))  # the later flag wins
    script.main(argv("gconv_gru", 2, "--resume"))
    assert len(read_csv(out / "per_epoch_stats.csv")) == 2


def test_bad_model_hyper_parameters_are_one_clear_error(chickenpox_path, tmp_path):
    script = load_script("chicken_pox_main")
    with pytest.raises(ValueError, match="tgcn has no K"):
        script.main(small(chickenpox_path, tmp_path / "k", "--model", "tgcn", "-K", "2", "--epochs", "1"))
    with pytest.raises(SystemExit):
        script.main(small(chickenpox_path, tmp_path / "x", "--model", "transformer"))


def test_pems_ddp_accepts_every_model():
    ddp = load_script("pems_ddp")
    for model in MODEL_NAMES:
        _, config = ddp.parse_args(["--dataset", "chickenpox", "--model", model, "--device", "cpu"])
        assert config.model == model


def test_readme_lists_every_model():
    readme = (ROOT / "README.md").read_text()
    assert f"`--model {{{','.join(MODEL_NAMES)}}}`" in readme


@pytest.mark.slow
@pytest.mark.distributed
def test_pems_ddp_trains_other_models_like_one_process(metr_la_dir, tmp_path):
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
        # --lr 0: every rank keeps the broadcast initial weights, so the test metrics equal one process's
        single = run_experiment(*args("a3tgcn", tmp_path / "single", 1, "0"))["test"]
        result = run_ddp_experiment(*args("a3tgcn", tmp_path / "ddp", 2, "0"), client=client)["test"]
        assert result["count"] == single["count"] > 0
        assert result["mae"] == pytest.approx(single["mae"], rel=1e-5)
        trained = run_ddp_experiment(*args("gconv_lstm", tmp_path / "lstm", 2, "0.01"), client=client)
        assert [row["epoch"] for row in trained["history"]] == [1] and trained["history"][0]["train_mae"] > 0
    finally:
        close_cluster(cluster, client)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_trains_on_the_gpu(model, chickenpox_path, tmp_path):
    """``-g``: data and model on cuda:0 (initial states, AGCRN's node embeddings, A3TGCN2's attention on the
    device of the batch)."""
    script = load_script("chicken_pox_main")
    args = small(chickenpox_path, tmp_path / "gpu", "--mode", "index", "--model", model, "--epochs", "1",
                 "--hidden", "4", "--layers", "1")
    args[args.index("--device") + 1] = "cuda"
    result = script.main(args + ["-g"])
    assert result["history"][0]["train_mae"] > 0 and float(result["test_mae"]) > 0


def test_ddp_script_writes_into_the_current_directory_by_default():
    # PGT-I's README: a run leaves its CSVs in the current directory (single process and DDP alike)
    from torch_geometric_temporal.train.cli import parse_args
    from torch_geometric_temporal.train.datasets import DATASETS

    _, config = load_script("pems_ddp").parse_args(["--dataset", "chickenpox"])
    assert config.out_dir == "."
    assert parse_args(DATASETS["chickenpox"], []).out_dir == "."
