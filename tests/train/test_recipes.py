"""train/recipes.py and the command line's --recipe: the DCRNN preset's
values land in RunConfig and in the optimizer, and flags given explicitly
win over it."""
import pytest

from torch_geometric_temporal.dataset import ChickenpoxDatasetLoader
from torch_geometric_temporal.train.cli import build_parser, given_flags, parse_args
from torch_geometric_temporal.train.config import RunConfig
from torch_geometric_temporal.train.datasets import DatasetSpec
from torch_geometric_temporal.train.experiment import build_trainer, load_data
from torch_geometric_temporal.train.recipes import RECIPES, apply_recipe

SPEC = DatasetSpec(name="fake", loader=ChickenpoxDatasetLoader, num_timesteps_in=4, num_timesteps_out=4,
                   null_value=None, epochs=7, batch_size=16, lr=1e-3)

DCRNN = dict(model="seq2seq", hidden=64, layers=2, diffusion_steps=3, lr=0.01, adam_eps=1e-3,
             lr_milestones=[20, 30, 40, 50], lr_gamma=0.1, grad_clip=5.0, curriculum=True, cl_decay_steps=2000,
             batch_size=64, epochs=100)


def test_dcrnn_recipe_sets_the_papers_setup():
    config = parse_args(SPEC, ["--recipe", "dcrnn"])
    assert {k: getattr(config, k) for k in DCRNN} == DCRNN
    assert RECIPES["dcrnn"].settings == DCRNN


def test_flags_given_explicitly_win_over_the_recipe():
    config = parse_args(SPEC, ["--recipe", "dcrnn", "--batch-size", "8", "--lr=0.002", "-K", "2", "--curriculum",
                               "false", "--lr-milestones", "--hidden", "16"])
    assert (config.batch_size, config.lr, config.diffusion_steps, config.curriculum) == (8, 0.002, 2, False)
    assert config.lr_milestones == [] and config.hidden == 16
    assert (config.adam_eps, config.grad_clip, config.epochs) == (1e-3, 5.0, 100)  # the rest: the recipe
    plain = parse_args(SPEC, ["--batch-size", "8"])  # no recipe: the script's defaults
    assert (plain.model, plain.lr, plain.adam_eps, plain.epochs, plain.grad_clip) == ("batched", 1e-3, 1e-8, 7, None)


def test_given_flags_names_only_what_argv_sets():
    parser = build_parser(SPEC)
    assert given_flags(parser, ["-bs", "3", "--recipe", "dcrnn", "-q"]) == {"batch_size", "recipe", "quiet"}
    assert given_flags(parser, []) == set()
    assert parser.parse_args([]).batch_size == 16  # defaults restored


def test_recipe_refuses_another_model_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(SPEC, ["--recipe", "dcrnn", "--model", "tgcn"])
    assert exit_info.value.code == 2
    assert "--recipe dcrnn trains --model seq2seq, not --model tgcn" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown --recipe"):
        apply_recipe(RunConfig(epochs=1, batch_size=1, lr=1.0, out_dir=".", recipe="nope"))


def test_recipe_reaches_the_optimizer_scheduler_and_clipping(tmp_path, caplog):
    config = parse_args(SPEC, ["--recipe", "dcrnn", "--hidden", "4", "--batch-size", "4", "--device", "cpu",
                               "--out-dir", str(tmp_path)])
    import torch

    data = load_data(SPEC, config)
    trainer = build_trainer(SPEC, config, data, torch.device("cpu"))
    group = trainer.optimizer.param_groups[0]
    assert isinstance(trainer.optimizer, torch.optim.Adam)
    assert (group["lr"], group["eps"]) == (0.01, 1e-3)
    assert sorted(trainer.scheduler.milestones) == [20, 30, 40, 50] and trainer.scheduler.gamma == 0.1
    assert trainer.config.grad_clip == 5.0 and trainer.config.epochs == 100
    model = trainer.model
    assert type(model).__name__ == "DCRNNSeq2Seq" and model.K == 3 and model.use_curriculum_learning
    assert model.cl_decay_steps == 2000
    assert "reads 2 input features" in caplog.text  # Chickenpox has no time of day


def test_pems_ddp_applies_the_recipe_the_same_way():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scalability_testing" / "pems_ddp.py"
    spec = importlib.util.spec_from_file_location("_recipe_pems_ddp", path)
    ddp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ddp)
    _, config = ddp.parse_args(["--dataset", "chickenpox", "--recipe", "dcrnn", "-bs", "8", "--recompute", "auto",
                                "--amp", "bf16"])
    assert {k: getattr(config, k) for k in DCRNN if k != "batch_size"} == {k: v for k, v in DCRNN.items()
                                                                          if k != "batch_size"}
    assert (config.batch_size, config.recompute, config.amp, config.mode) == (8, "auto", "bf16", "index")


def test_pems_main_runs_the_recipe_out_of_core_with_recomputation(tmp_path):
    """The issue's end-to-end command at a tiny size: synthetic PeMS files,
    --recipe dcrnn --mmap --recompute on through the script's main."""
    from torch_geometric_temporal.dataset.synthetic import random_adjacency, write_pems
    from torch_geometric_temporal.train.cli import make_main
    from torch_geometric_temporal.train.datasets import DATASETS

    write_pems(tmp_path / "pems", num_timesteps=160, adj=random_adjacency(12, neighbours=9))
    row = make_main(DATASETS["pems"])(["--mode", "index", "--data-dir", str(tmp_path / "pems"), "--recipe", "dcrnn",
                                       "--mmap", "--recompute", "on", "--hidden", "4", "-bs", "4", "-e", "1",
                                       "--max-batches", "2", "--threads", "1", "-q",
                                       "--out-dir", str(tmp_path / "run")])
    assert row["model"] == "seq2seq" and row["epochs"] == 1 and row["batch_size"] == 4
    assert float(row["process_rss_peak_mb"]) > 0 and (tmp_path / "run" / "stats.csv").exists()


def test_the_help_texts_flags_are_the_recipe():
    from torch_geometric_temporal.train.cli import _recipe_flags

    flags = _recipe_flags(RECIPES["dcrnn"].settings).split()
    assert parse_args(SPEC, flags) == parse_args(SPEC, ["--recipe", "dcrnn"]).replace(recipe=None)
