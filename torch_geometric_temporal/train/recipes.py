r"""Training recipes: a paper's whole training setup behind one flag
(``--recipe NAME`` of the training scripts and ``pems_ddp.py``).

A recipe is a set of :class:`~torch_geometric_temporal.train.config.RunConfig`
values. The rule: **a flag given on the command line wins over the recipe**,
the recipe wins over the script's defaults (``--recipe dcrnn --batch-size 32``
trains the DCRNN recipe with batches of 32). :func:`apply_recipe` takes the
names of the flags given explicitly, which the command line finds out
(:func:`~torch_geometric_temporal.train.cli.given_flags`).

``dcrnn``: the training setup of `Diffusion Convolutional Recurrent Neural
Network: Data-Driven Traffic Forecasting <https://arxiv.org/abs/1707.01926>`_
(its reference configuration ``dcrnn_la.yaml``/``dcrnn_bay.yaml``):
:class:`~torch_geometric_temporal.nn.recurrent.DCRNNSeq2Seq` with 2 layers of
64 units and ``K=3`` (the reference ``max_diffusion_step`` 2: ``K`` counts
the terms per direction here, ``max_diffusion_step = K - 1``), Adam with
learning rate 0.01 and epsilon 1e-3, the learning rate times 0.1 at epochs
20, 30, 40 and 50, gradient norm clipped at 5, curriculum learning
(scheduled sampling) with decay constant 2000, batches of 64, 100 epochs.
The masked MAE on the speed (zeros masked) is every traffic script's loss,
and the traffic loaders' second input feature is the time of day, as in the
paper (:func:`check_recipe_data` warns when a dataset has no second
feature).
"""
import logging
from dataclasses import dataclass, field
from typing import Any, Collection, Dict, Tuple

from torch_geometric_temporal.train.config import RunConfig

__all__ = ["Recipe", "RECIPES", "apply_recipe", "check_recipe_data"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    r"""A named training setup.

    Args:
        name (str): the ``--recipe`` value.
        paper (str): the source of the settings (a link).
        settings (dict): :class:`RunConfig` field -> value.
        models (tuple of str): the ``--model`` values it applies to.
        num_features (int): input features the paper's model reads (the
            target and the time of day).
    """

    name: str
    paper: str
    settings: Dict[str, Any] = field(default_factory=dict)
    models: Tuple[str, ...] = ()
    num_features: int = 1


#: Every recipe, by name.
RECIPES: Dict[str, Recipe] = {r.name: r for r in (
    Recipe("dcrnn", "https://arxiv.org/abs/1707.01926", settings={
        "model": "seq2seq", "hidden": 64, "layers": 2, "diffusion_steps": 3, "lr": 0.01, "adam_eps": 1e-3,
        "lr_milestones": [20, 30, 40, 50], "lr_gamma": 0.1, "grad_clip": 5.0, "curriculum": True,
        "cl_decay_steps": 2000, "batch_size": 64, "epochs": 100,
    }, models=("seq2seq",), num_features=2),
)}


def apply_recipe(config: RunConfig, given: Collection[str] = ()) -> RunConfig:
    r""":obj:`config` with its recipe's settings, except those of the
    :obj:`given` fields (flags the user set explicitly, which win).

    Args:
        config (RunConfig): parsed settings; ``config.recipe`` names the
            recipe (``None``: returned unchanged).
        given (collection of str): :class:`RunConfig` field names given
            explicitly on the command line.

    Raises:
        ValueError: an unknown recipe, or an explicit ``--model`` the recipe
            does not apply to.
    """
    if config.recipe is None:
        return config
    if config.recipe not in RECIPES:
        raise ValueError(f"unknown --recipe {config.recipe!r}; choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[config.recipe]
    changes = {k: list(v) if isinstance(v, list) else v for k, v in recipe.settings.items() if k not in given}
    config = config.replace(**changes)
    if recipe.models and config.model not in recipe.models:
        raise ValueError(f"--recipe {recipe.name} trains --model {' or '.join(recipe.models)}, not --model "
                         f"{config.model}; drop --model or --recipe")
    return config


def check_recipe_data(config: RunConfig, num_features: int) -> None:
    r"""Warn once when the data lacks features the recipe's model reads
    (e.g. the time of day of the DCRNN recipe)."""
    recipe = RECIPES.get(config.recipe) if config.recipe else None
    if recipe is not None and num_features < recipe.num_features:
        log.warning("--recipe %s: the paper's model reads %d input features (the target and the time of day); "
                    "this dataset has %d", recipe.name, recipe.num_features, num_features)
