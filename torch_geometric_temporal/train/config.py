r"""What one training run is told: :class:`RunConfig`, built once from the
command line (:func:`torch_geometric_temporal.train.cli.parse_args`, or
``pems_ddp.py``'s) and passed to the harness
(:mod:`torch_geometric_temporal.train.experiment`); library code reads this
dataclass, never an :class:`argparse.Namespace`.
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ["RunConfig", "KEPT_ON_RESUME"]

#: Settings a resumed run takes from the checkpoint (the optimizer, scheduler
#: and random states come from it, so a new value could not take effect
#: consistently).
KEPT_ON_RESUME = ("lr", "weight_decay", "grad_clip", "lr_milestones", "lr_gamma", "seed", "max_batches")


@dataclass
class RunConfig:
    r"""The settings of one run: the flags of the training scripts (see
    ``--help`` for each) and, for ``pems_ddp.py``, the DDP ones.

    Args:
        mode (str): ``base``/``index`` (single process) or
            ``index``/``dask-index``/``dask`` (DDP).
        epochs (int), batch_size (int), lr (float): from the dataset's
            :class:`~torch_geometric_temporal.train.datasets.DatasetSpec`
            unless given.
        gpu (bool): keep the data on the training device (a GPU).
        device (str): ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        adam_eps (float): Adam's epsilon (the DCRNN recipe: ``1e-3``).
        recompute (str): activation recomputation of the recurrent layers:
            ``off``, ``on`` or ``auto`` (on when
            :func:`~torch_geometric_temporal.train.activation.plan_recompute`
            estimates that one training step's activations exceed half the
            device's memory).
        amp (str): ``off`` or ``bf16`` (autocast around the model, see
            :func:`~torch_geometric_temporal.train.step.resolve_amp`).
        compile (bool): ``torch.compile`` the recurrent cells' steps.
        recipe (str, optional): a preset of
            :data:`~torch_geometric_temporal.train.recipes.RECIPES` (applied
            by the command line: flags given explicitly win).
        npar, nodes, dist, scheduler_file, blocks_per_rank, timeout,
            collective_timeout, dataset: DDP only (``pems_ddp.py``).
    """

    epochs: int
    batch_size: int
    lr: float
    out_dir: str
    mode: str = "base"
    gpu: bool = False
    device: str = "auto"
    debug: bool = False
    data_dir: Optional[str] = None
    model: str = "batched"
    max_batches: Optional[int] = None
    mmap: bool = False
    seed: int = 0
    weight_decay: float = 0.0
    adam_eps: float = 1e-8
    grad_clip: Optional[float] = None
    lr_milestones: List[int] = field(default_factory=list)
    lr_gamma: float = 0.1
    hidden: Optional[int] = None
    layers: int = 2
    diffusion_steps: Optional[int] = None
    curriculum: bool = False
    cl_decay_steps: int = 2000
    shuffle: bool = True
    num_workers: int = 0
    threads: Optional[int] = None
    resume: bool = False
    overwrite: bool = False
    quiet: bool = False
    recompute: str = "off"
    amp: str = "off"
    compile: bool = False
    recipe: Optional[str] = None
    # DDP (pems_ddp.py)
    dataset: Optional[str] = None
    dist: bool = False
    scheduler_file: str = "scheduler.json"
    npar: int = 1
    nodes: int = 1
    blocks_per_rank: int = 1
    timeout: float = 3600.0
    collective_timeout: Optional[float] = None

    def replace(self, **changes: Any) -> "RunConfig":
        r"""A copy with :obj:`changes` (e.g. the settings kept on resume)."""
        return dataclasses.replace(self, **changes)

    def kept_on_resume(self) -> Dict[str, Any]:
        r"""The values of :data:`KEPT_ON_RESUME`."""
        return {name: getattr(self, name) for name in KEPT_ON_RESUME}
