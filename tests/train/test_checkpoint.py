import os
import pickle
import random
import stat

import numpy as np
import pytest
import torch

from torch_geometric_temporal.train.checkpoint import (
    CheckpointError,
    check_identity,
    data_fingerprint,
    kept_settings,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)

EDGES = torch.tensor([[0, 1, 2], [1, 2, 0]])


class Planted:
    """Unpickling this calls ``open(marker, "w")``: code run by a data file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_planted_pickle_checkpoint_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "owned"
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {}, "payload": Planted(marker)}, path)  # torch's zip format
    with pytest.raises(CheckpointError, match="older version or is not a checkpoint of this package"):
        load_checkpoint(str(path))
    with open(path, "wb") as f:  # a bare pickle
        pickle.dump({"payload": Planted(marker)}, f, protocol=2)
    with pytest.raises(CheckpointError, match="; delete it or start without --resume") as info:
        load_checkpoint(str(path))
    assert not marker.exists()
    # torch's own message advises retrying with weights_only=False: never pass that on
    assert "weights_only" not in str(info.value)


def test_old_and_foreign_checkpoints_are_one_clear_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    # what earlier versions wrote: NumPy's RNG state as an ndarray
    torch.save({"model": {}, "rng": {"numpy": np.random.get_state()}}, path)
    with pytest.raises(CheckpointError, match="older version"):
        load_checkpoint(str(path))
    torch.save({"model": {}}, path)  # loads, but is not ours
    with pytest.raises(CheckpointError, match="format None"):
        load_checkpoint(str(path))
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="--out-dir"):
        load_checkpoint(str(path))
    with pytest.raises(FileNotFoundError, match="drop --resume"):
        load_checkpoint(str(tmp_path / "missing.pt"))


def test_rng_state_round_trips_through_weights_only(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.gauss(0, 1), np.random.standard_normal()  # cached Gaussians are part of the state
    save_checkpoint({"rng": rng_state()}, str(tmp_path / "c.pt"))
    first = (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    set_rng_state(load_checkpoint(str(tmp_path / "c.pt"))["rng"])
    again = (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    assert first == again


def test_rng_states_stay_on_cpu_whatever_map_location(tmp_path):
    gen = torch.Generator().manual_seed(5)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1),
                                                     milestones=[2, 5])
    save_checkpoint({"model": {"w": torch.ones(2)}, "scheduler": scheduler.state_dict(), "rng": rng_state(),
                     "loader_rng": [[gen.get_state()]]}, str(tmp_path / "c.pt"))
    state = load_checkpoint(str(tmp_path / "c.pt"), map_location="meta")  # stands in for a GPU
    assert state["model"]["w"].is_meta
    assert state["scheduler"] == scheduler.state_dict()  # its Counter of milestones intact
    assert state["rng"]["torch"].device.type == "cpu" and state["loader_rng"][0][0].device.type == "cpu"
    set_rng_state(state["rng"])
    torch.Generator().set_state(state["loader_rng"][0][0])


def test_checkpoint_respects_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save_checkpoint({"v": 1}, str(tmp_path / "c.pt"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "c.pt").st_mode) == 0o640


def test_identity_mismatch_names_every_difference():
    fp = data_fingerprint(EDGES, torch.ones(3), torch.tensor([50.0, 0.5]), torch.tensor([9.0, 0.3]),
                          windows=[10, 2, 3], num_nodes=3, num_features=2)
    saved = {"dataset": "metr_la", "hidden": 8, **fp}
    check_identity(saved, {"dataset": "metr_la"}, "c.pt")  # a part of the identity is fine
    check_identity(saved, {**saved, **data_fingerprint(EDGES, torch.ones(3), torch.tensor([50.0, 0.5 + 1e-8]),
                                                       torch.tensor([9.0, 0.3]), windows=[10, 2, 3], num_nodes=3,
                                                       num_features=2)}, "c.pt")  # last-bit noise
    other = data_fingerprint(EDGES, torch.full((3,), 2.0), torch.tensor([50.0, 0.5]), torch.tensor([9.0, 0.3]),
                             windows=[10, 2, 3], num_nodes=3, num_features=2)
    with pytest.raises(CheckpointError, match=r"dataset: 'metr_la' -> 'pems_bay'; hidden: 8 -> 16; graph: "):
        check_identity(saved, {**saved, "dataset": "pems_bay", "hidden": 16, **other}, "c.pt")
    with pytest.raises(CheckpointError, match=r"ranks: \(not recorded\) -> 2"):
        check_identity(saved, {"ranks": 2}, "c.pt")
    with pytest.raises(CheckpointError, match="no run identity"):
        check_identity(None, {"dataset": "metr_la"}, "c.pt")


def test_kept_settings_free_epochs():
    saved = {"epochs": 3, "lr": 0.01, "lr_milestones": (2,), "seed": 0}
    assert kept_settings(saved, {"epochs": 9, "lr": 0.01, "lr_milestones": [2], "seed": 0}) == []
    assert kept_settings(saved, {"epochs": 9, "lr": 0.5, "seed": 4}) == [("lr", 0.01, 0.5), ("seed", 0, 4)]


def test_optimizer_and_best_weights_stay_on_cpu_whatever_map_location(tmp_path):
    w = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([w], lr=0.1)
    w.grad = torch.ones(2)
    opt.step()
    save_checkpoint({"model": {"w": w.detach()}, "optimizer": opt.state_dict(), "best_model": {"w": w.detach()}},
                    str(tmp_path / "c.pt"))
    state = load_checkpoint(str(tmp_path / "c.pt"), map_location="meta")  # stands in for a GPU
    assert state["model"]["w"].is_meta
    # Optimizer.load_state_dict puts each entry on its parameter's device itself, and keeps Adam's step on
    # the CPU as a fresh run has it (moved to the GPU, every step would read it back to the host)
    assert all(t.device.type == "cpu" for t in state["optimizer"]["state"][0].values())
    assert state["best_model"]["w"].device.type == "cpu"


def test_trainer_resumes_onto_another_device(tmp_path):
    """The whole resume path (Trainer.resume -> load_checkpoint(map_location=device) -> model, optimizer,
    scheduler, RNG and loader-generator states) with a non-CPU device: ``meta`` stands in for a GPU."""
    from torch_geometric_temporal.train.trainer import TrainConfig, Trainer

    class Lin(torch.nn.Linear):
        def forward(self, X, edge_index, edge_weight=None):
            return super().forward(X)

    def trainer(device):
        torch.manual_seed(0)
        model = Lin(2, 1).to(device)
        x = torch.randn(12, 3, 3, 2)
        data = torch.utils.data.TensorDataset(x, x[..., :1])
        gen = torch.Generator().manual_seed(4)
        loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True, generator=gen)
        config = TrainConfig(epochs=1, null_value=None, lr_milestones=(1,))
        return Trainer(model, loader, loader, edge_index=EDGES, out_dir=str(tmp_path), device=device,
                       config=config), gen

    first, gen = trainer("cpu")
    first.fit()
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    expected_order = gen.get_state()
    gen.manual_seed(99)  # resuming must restore it
    torch.manual_seed(123)

    resumed, gen = trainer(torch.device("meta"))
    resumed.resume()
    (param,) = [p for p in resumed.model.parameters() if p.ndim == 2]
    assert param.is_meta and resumed.epoch == 1 and resumed.scheduler.last_epoch == 1
    state = resumed.optimizer.state[param]
    assert state["exp_avg"].is_meta and state["step"].device.type == "cpu" and float(state["step"]) == 3
    assert all(t.device.type == "cpu" for t in resumed.best_state.values())
    assert torch.equal(gen.get_state(), expected_order)
    assert torch.equal(torch.get_rng_state(), saved["rng"]["torch"])


def test_identity_without_amp_counts_as_amp_off():
    from torch_geometric_temporal.train.checkpoint import CheckpointError, check_identity

    old = {"model": "seq2seq"}  # written before --amp existed
    check_identity(old, {"model": "seq2seq", "amp": "off"}, "ck.pt")
    with pytest.raises(CheckpointError, match=r"amp: 'off' -> 'bf16'"):
        check_identity(old, {"model": "seq2seq", "amp": "bf16"}, "ck.pt")
    with pytest.raises(CheckpointError, match=r"amp: 'bf16' -> 'off'"):
        check_identity({"model": "seq2seq", "amp": "bf16"}, {"model": "seq2seq", "amp": "off"}, "ck.pt")
