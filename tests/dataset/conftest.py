"""Crafted HDF5 files: pandas speed tables that run code when unpickled."""
import warnings
from pathlib import Path

import numpy as np
import pytest

from torch_geometric_temporal.dataset import synthetic


class Touch:
    """Unpickling this creates the file ``path``: it stands for any code a
    pickle can run (``os.system``...)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def write_crafted_h5(path: Path, ids, marker: Path, how: str, num_timesteps: int = 40) -> Path:
    """A DCRNN-layout speed table for sensors ``ids`` that creates ``marker``
    when read with pandas: ``how="column"`` adds an object column of pickles,
    ``how="attribute"`` stores pickles as PyTables attributes of the root,
    the frame group and the index (the data itself stays numeric)."""
    pd = pytest.importorskip("pandas")
    tables = pytest.importorskip("tables")
    speeds = synthetic.synthetic_speeds(num_timesteps, len(ids), seed=7)
    frame = pd.DataFrame(speeds, index=synthetic.timestamps(num_timesteps), columns=list(ids))
    if how == "column":
        frame["evil"] = [Touch(marker)] * num_timesteps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' PerformanceWarning about pickled objects
        frame.to_hdf(path, key="df", mode="w")
    if how == "attribute":
        with tables.open_file(path, "a") as handle:
            for where in ("/", "/df", "/df/axis1", "/df/block0_values"):
                handle.get_node(where)._v_attrs.note = Touch(marker)
    assert not marker.exists()
    return path


@pytest.fixture
def crafted_h5(tmp_path):
    """``write(path, ids, how) -> marker``: writes a crafted speed table."""

    def write(path, ids, how="column"):
        marker = tmp_path / f"ran-{how}-{Path(path).stem}"
        write_crafted_h5(Path(path), ids, marker, how)
        return marker

    return write


@pytest.fixture
def ids5():
    return [f"s{i}" for i in range(5)]


@pytest.fixture
def eye5():
    return np.eye(5, dtype=np.float32)
