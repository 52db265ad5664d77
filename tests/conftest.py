"""Shared fixtures: small files in every upstream dataset format, written into
temporary folders by :mod:`torch_geometric_temporal.dataset.synthetic`, plus
the real files under ``tests/data``. Tests never download: ``PGT_OFFLINE`` is
set and ``PGT_DATA_DIR`` points into a temporary folder for every test."""
from pathlib import Path

import pytest

from torch_geometric_temporal.dataset import synthetic

DATA = Path(__file__).resolve().parent / "data"
METR_LA_PKL = DATA / "metr_la" / "adj_mx.pkl"
PEMS_BAY_PKL = DATA / "pems_bay" / "adj_mx_bay.pkl"
LOS_SPEED_CSV = DATA / "los_loop" / "los_speed.csv"


@pytest.fixture(autouse=True)
def _offline_data_dir(monkeypatch, tmp_path_factory):
    """No test may download, nor touch ~/.cache: offline, default root in tmp."""
    monkeypatch.setenv("PGT_OFFLINE", "1")
    monkeypatch.setenv("PGT_DATA_DIR", str(tmp_path_factory.mktemp("pgt_data_dir")))


@pytest.fixture
def chickenpox_path(tmp_path):
    """A small ``chickenpox.json`` (N=6 counties, T=40 weeks)."""
    return synthetic.write_chickenpox(tmp_path / "chickenpox.json", num_nodes=6,
                                      num_timesteps=40, seed=1)


@pytest.fixture
def windmill_path(tmp_path):
    """A small ``windmill_output.json`` (N=7 windmills, T=60 hours)."""
    return synthetic.write_windmill(tmp_path / "windmill_output.json", num_nodes=7,
                                    num_timesteps=60, seed=2)


@pytest.fixture
def metr_la_dir(tmp_path):
    """Folder with a small ``METR-LA.zip`` (N=8 sensors, T=300 steps)."""
    synthetic.write_metr_la(tmp_path, num_timesteps=300, num_nodes=8, seed=3)
    return tmp_path


@pytest.fixture
def pems_bay_dir(tmp_path):
    """Folder with a small ``PEMS-BAY.zip`` (N=9 sensors, T=250 steps)."""
    synthetic.write_pems_bay(tmp_path, num_timesteps=250, num_nodes=9, seed=4)
    return tmp_path


@pytest.fixture
def pems_all_la_dir(tmp_path):
    """Folder with small ``pems_AllLA_adj_mat.pkl`` + ``pems_AllLA_speed.h5``."""
    pytest.importorskip("tables")
    synthetic.write_pems_all_la(tmp_path, num_timesteps=200, num_nodes=10, seed=5)
    return tmp_path


@pytest.fixture
def pems_dir(tmp_path):
    """Folder with small ``pems_cali_adj_mat.pkl`` + ``pems_cali_speed.h5``."""
    pytest.importorskip("tables")
    synthetic.write_pems(tmp_path, num_timesteps=200, num_nodes=11, seed=6)
    return tmp_path


@pytest.fixture(scope="session")
def metr_la_real_graph_dir(tmp_path_factory):
    """``METR-LA.zip`` with the real METR-LA graph (207 sensors) and 400
    steps of synthetic speeds."""
    out = tmp_path_factory.mktemp("metr_la_real_graph")
    synthetic.write_metr_la(out, num_timesteps=400, adj=METR_LA_PKL, seed=7)
    return out


@pytest.fixture(scope="session")
def pems_bay_real_graph_dir(tmp_path_factory):
    """``PEMS-BAY.zip`` with the real PeMS-BAY graph (325 sensors) and 300
    steps of synthetic speeds."""
    out = tmp_path_factory.mktemp("pems_bay_real_graph")
    synthetic.write_pems_bay(out, num_timesteps=300, adj=PEMS_BAY_PKL, seed=8)
    return out


@pytest.fixture(scope="session")
def los_loop_metr_la_dir(tmp_path_factory):
    """The real 7 days of METR-LA speeds (``los_speed.csv``) on the real
    graph, converted to METR-LA files (2,016 steps x 207 sensors)."""
    out = tmp_path_factory.mktemp("los_loop_metr_la")
    return synthetic.los_loop_to_metr_la(LOS_SPEED_CSV, METR_LA_PKL, out)


@pytest.fixture
def dcrnn_hdf5_dir(tmp_path):
    """DCRNN's own layout: the real ``adj_mx.pkl`` graph and a ``metr-la.h5``
    of 150 steps of synthetic speeds."""
    pytest.importorskip("tables")
    synthetic.write_dcrnn_hdf5(tmp_path, "adj_mx.pkl", "metr-la.h5", num_timesteps=150,
                               adj=METR_LA_PKL, seed=9)
    return tmp_path


@pytest.fixture
def fake_cuda(monkeypatch):
    """A machine with two emulated CUDA devices and an NVIDIA driver: ``torch.cuda``
    reports them (UUIDs, allocator peaks) and a fake ``pynvml`` answers. NVML
    numbers the GPUs in another order than CUDA (its index 0 is ``cuda:1``'s
    GPU), as under ``CUDA_VISIBLE_DEVICES=1,0``. Nothing can run on them: a
    test must keep tensors off them. Returns a namespace recording the calls
    (``initialized``: what ``torch.cuda.is_initialized()`` answers, ``False``)."""
    import sys
    import types

    import torch

    mb = 2 ** 20
    uuids = ["GPU-00000000-aaaa-0000-0000-000000000000", "GPU-11111111-bbbb-1111-1111-111111111111"]
    nvml_order = [1, 0]  # NVML index i -> CUDA index
    calls = types.SimpleNamespace(uuid_lookups=[], index_lookups=[], inits=0, resets=[], uuids=uuids,
                                  initialized=False, set_devices=[])

    def index(device=None):
        if device is None:
            return 0
        device = torch.device("cuda", device) if isinstance(device, int) else torch.device(device)
        return 0 if device.index is None else device.index

    def properties(device=None):
        return types.SimpleNamespace(uuid=uuids[index(device)][4:], name="Fake GPU", total_memory=80 * 1024 * mb)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: calls.initialized)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.set_devices.append(index(device)))
    monkeypatch.setattr(torch.cuda, "get_device_properties", properties)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: calls.resets.append(index(device)))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: (100 + index(device)) * mb)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda device=None: (200 + index(device)) * mb)

    def init():
        calls.inits += 1

    def by_uuid(uuid):
        calls.uuid_lookups.append(uuid)
        if uuid not in uuids:
            raise RuntimeError(f"NVML: no GPU {uuid}")
        return ("handle", uuids.index(uuid))

    def by_index(i):
        calls.index_lookups.append(i)
        return ("handle", nvml_order[i])

    def memory(handle):  # cuda:0's GPU uses 1000 MB of 16000, cuda:1's 3000 of 80000
        cuda = handle[1]
        return types.SimpleNamespace(used=(1000 + 2000 * cuda) * mb, total=(16000 + 64000 * cuda) * mb)

    fake = types.SimpleNamespace(nvmlInit=init, nvmlShutdown=lambda: None, nvmlDeviceGetHandleByUUID=by_uuid,
                                 nvmlDeviceGetHandleByIndex=by_index, nvmlDeviceGetMemoryInfo=memory)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return calls
