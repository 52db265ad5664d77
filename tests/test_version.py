"""The fork's version sorts above upstream PyTorch Geometric Temporal 0.56.2, so
pip never replaces it with upstream as an "upgrade", and the installed
distribution's metadata says the same version as the package."""
import re
from importlib import metadata
from pathlib import Path

import torch_geometric_temporal

UPSTREAM = (0, 56, 2)


def _parts(version: str):
    return tuple(int(p) for p in re.match(r"(\d+)\.(\d+)\.(\d+)", version).groups())


def test_version_sorts_above_upstream():
    assert _parts(torch_geometric_temporal.__version__) > UPSTREAM


def test_setup_reads_the_package_version():
    setup = (Path(__file__).resolve().parents[1] / "setup.py").read_text(encoding="utf-8")
    assert 'version=VERSION' in setup and '__version__ = "' in setup
    assert metadata.version("torch-geometric-temporal") == torch_geometric_temporal.__version__
