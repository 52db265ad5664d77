"""Scalable PyTorch Geometric Temporal: index-batching, sparse DCRNN and Dask DDP."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# One definition of the version: the package's __version__ (above upstream's 0.56.2, so that pip
# never "upgrades" this fork back to upstream PyTorch Geometric Temporal).
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "torch_geometric_temporal" / "__init__.py")
                    .read_text(encoding="utf-8"), re.M).group(1)

# The torch releases the whole test suite has passed on: 2.13.0 (CPU build, what CI
# installs) and 2.14.1 (CUDA build, run on a CPU). Widen the range only after running
# the suite on the new release.
install_requires = [
    "torch>=2.13,<2.15",
    "torch_geometric>=2.4",
    "numpy>=1.24",
]

monitor = ["psutil>=5.9", "nvidia-ml-py>=12.0", "matplotlib>=3.7", "tqdm>=4.60"]
dask = ["dask[array]>=2024.1", "distributed>=2024.1"]
hdf5 = ["pandas>=2.0", "tables>=3.8"]
gpu = ["dask-cuda>=24.0", "nvidia-ml-py>=12.0"]
test = ["pytest>=7.0", "scipy>=1.10"] + monitor + dask + hdf5

setup(
    name="torch-geometric-temporal",
    version=VERSION,
    description=(
        "Scalable PyTorch Geometric Temporal: memory-lean index-batching, "
        "sparse batched DCRNN and Dask-launched DDP training for "
        "spatiotemporal graph neural networks."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["torch_geometric_temporal", "torch_geometric_temporal.*"]),
    package_data={"torch_geometric_temporal.dataset": ["data/*.json", "data/LICENSE*"]},
    include_package_data=True,
    install_requires=install_requires,
    extras_require={
        "test": test,
        "dask": dask,
        "hdf5": hdf5,
        "gpu": gpu,
        "monitor": monitor,
        "all": sorted(set(test + gpu)),
    },
    classifiers=[
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
