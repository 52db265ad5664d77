import pytest

from torch_geometric_temporal.train.config import RunConfig
from torch_geometric_temporal.train.datasets import DATASETS
from torch_geometric_temporal.train.experiment import load_data


@pytest.mark.parametrize("name", ["metr_la", "pems_bay", "pems_all_la", "pems"])
def test_traffic_scripts_train_on_the_speed_only(name):
    """The loaders' upstream default is every feature; the harness asks for
    the speed explicitly."""
    assert tuple(DATASETS[name].window.target_features) == (0,)


def test_harness_batches_have_one_target_channel(metr_la_dir, tmp_path):
    spec = DATASETS["metr_la"]
    config = RunConfig(epochs=1, lr=1e-3, out_dir=str(tmp_path), batch_size=4,
                       data_dir=str(metr_la_dir))
    x, y = next(iter(load_data(spec, config).train))
    assert x.shape[-1] == 2 and y.shape[-1] == 1
    _, y_upstream = next(iter(spec.open(str(metr_la_dir)).get_index_dataset(batch_size=4)[0]))
    assert y_upstream.shape[-1] == 2
