r"""The one registry of the datasets the scripts train on.

A :class:`DatasetSpec` names its loader class (go-to-definition reaches it)
and the defaults of its script: ``*_main.py`` and ``pems_ddp.py --dataset``
read the same entry of :data:`DATASETS`, so their defaults cannot drift.
Defaults are PGT-I's ``*_main.py`` values: 100 epochs, except the two
large PeMS datasets (30, as PGT-I's ``pems_main.py``/``pems_all_la_main.py``);
``pems_ddp.py`` used 30 for every dataset, now each dataset's own value (METR-LA
and PeMS-BAY: 100).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Type

from torch_geometric_temporal.dataset.chickenpox import ChickenpoxDatasetLoader
from torch_geometric_temporal.dataset.loader_base import WindowedDatasetLoader
from torch_geometric_temporal.dataset.metr_la import METRLADatasetLoader
from torch_geometric_temporal.dataset.pems import PemsDatasetLoader
from torch_geometric_temporal.dataset.pems_all_la import PemsAllLADatasetLoader
from torch_geometric_temporal.dataset.pems_bay import PemsBayDatasetLoader
from torch_geometric_temporal.dataset.windmill import WindmillOutputLargeDatasetLoader
from torch_geometric_temporal.dataset.windows import WindowSpec

__all__ = ["DatasetSpec", "DATASETS"]


@dataclass(frozen=True)
class DatasetSpec:
    r"""What a script fixes about its dataset.

    Args:
        name (str): short name (default output folder ``runs/<name>``).
        loader (type): the dataset loader class.
        description (str): ``--help`` text.
        epochs (int): default ``--epochs`` (PGT-I's value).
        batch_size (int): default ``--batch-size``.
        num_timesteps_in (int): input window length.
        num_timesteps_out (int): forecast horizon.
        null_value (float, optional): masked target value (``0.0`` for
            traffic, where zero means a missing reading; ``None`` otherwise).
        lr (float): default Adam learning rate.
        threads (int, optional): default ``--threads`` (``None``: PyTorch's
            default). Tiny graphs train fastest on one thread, especially on
            a busy machine.
        target_features (sequence of int): the target channels (the speed).
    """

    name: str
    loader: Type[WindowedDatasetLoader]
    description: str = ""
    epochs: int = 100
    batch_size: int = 64
    num_timesteps_in: int = 12
    num_timesteps_out: int = 12
    null_value: Optional[float] = 0.0
    lr: float = 1e-3
    threads: Optional[int] = None
    target_features: Sequence[int] = (0,)

    @property
    def window(self) -> WindowSpec:
        r"""The windows the model is trained on."""
        return WindowSpec(self.num_timesteps_in, self.num_timesteps_out,
                          target_features=self.target_features)

    def open(self, data_dir: Optional[str] = None) -> WindowedDatasetLoader:
        r"""The loader of :obj:`data_dir` (default: the loader's own folder)."""
        return self.loader() if data_dir is None else self.loader(data_dir)


def _demo(name: str) -> str:
    return f"Demo of index batching with the {name} dataset (DCRNN)."


#: Every dataset a script trains on, by :attr:`DatasetSpec.name`.
DATASETS: Dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("chickenpox", ChickenpoxDatasetLoader, _demo("Chickenpox Hungary"), num_timesteps_in=4,
                num_timesteps_out=4, null_value=None,
                threads=1),  # 20 nodes: one thread is fastest, and robust on a busy machine
    DatasetSpec("windmill", WindmillOutputLargeDatasetLoader, _demo("Windmill Output Large"),
                num_timesteps_in=8, num_timesteps_out=8, null_value=None),
    DatasetSpec("metr_la", METRLADatasetLoader, _demo("METR-LA")),
    DatasetSpec("pems_bay", PemsBayDatasetLoader, _demo("PeMS-Bay")),
    DatasetSpec("pems_all_la", PemsAllLADatasetLoader, _demo("PeMS-All-LA"), epochs=30),
    DatasetSpec("pems", PemsDatasetLoader, _demo("PeMS"), epochs=30),
)}
