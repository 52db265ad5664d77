r"""Checkpoints of a training run: written atomically, read without running
code, and tied to the run that wrote them.

A checkpoint holds tensors, numbers, strings, lists, tuples and dicts only
(the random states of Python, NumPy and PyTorch as tensors), so
:func:`load_checkpoint` reads it with ``torch.load(..., weights_only=True)``:
a planted ``checkpoint.pt`` whose pickle would call a function is refused
with :class:`CheckpointError`, never executed.

Each checkpoint records the run's *identity* (dataset, mode, model and its
hyper-parameters, window lengths, batch size, ranks, and a fingerprint of
the data: windows per split, nodes, features, a hash of the graph and the
training statistics). Resuming compares it with the new run's identity and
refuses any difference (:func:`check_identity`). Settings that cannot
change in the middle of a run (learning rate, weight decay, seed, LR
milestones, ...) are taken from the checkpoint (:func:`kept_settings`);
only the number of epochs may grow.

Mixed precision (``--amp``) is part of the identity: bf16 changes the
numbers, so a bf16 run never resumes an fp32 checkpoint or the reverse (a
checkpoint written before the entry existed counts as ``amp: off``, see
:data:`IDENTITY_DEFAULTS`). Activation recomputation (``--recompute``) and
``--compile`` are not: they change memory and speed, not the losses and
gradients, so a run may switch them when it resumes (e.g. turn
recomputation on to fit a larger machine's schedule on a smaller one).
"""
import copy
import hashlib
import logging
import os
import random
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from torch_geometric_temporal._atomic import atomic_write

__all__ = [
    "CHECKPOINT_NAME",
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "missing_checkpoint_error",
    "rng_state",
    "set_rng_state",
    "data_fingerprint",
    "check_identity",
    "kept_settings",
    "IDENTITY_DEFAULTS",
]

log = logging.getLogger(__name__)

#: File name of the per-epoch checkpoint inside the output directory.
CHECKPOINT_NAME = "checkpoint.pt"

#: Value of the ``"format"`` entry of every checkpoint this version writes.
CHECKPOINT_FORMAT = "torch_geometric_temporal.checkpoint/2"

#: Entries of a checkpoint that :func:`load_checkpoint` keeps on the CPU
#: whatever ``map_location`` says: the random states (``torch.set_rng_state``
#: and ``Generator.set_state`` take CPU byte tensors only), the optimizer
#: state (``Optimizer.load_state_dict`` moves each entry to its parameter's
#: device itself, and keeps Adam's ``step`` counts on the CPU, as a fresh run
#: has them: on the GPU every step would read them back to the host) and the
#: best weights (the trainer keeps them on the CPU).
_CPU_ENTRIES = ("rng", "loader_rng", "optimizer", "best_model")


class CheckpointError(ValueError):
    r"""A checkpoint that this version cannot resume from: written by an
    older version, not a checkpoint of this package, or written by a
    different run."""


_START_OVER = "start without --resume (add --overwrite to replace that run's outputs, or choose another --out-dir)"


_FIX = f"delete it or {_START_OVER}"


def missing_checkpoint_error(path: str) -> FileNotFoundError:
    r"""The error for ``--resume`` without a checkpoint (one message for
    single-process and DDP runs)."""
    return FileNotFoundError(
        f"No checkpoint at {path!r}. Resume needs the output directory of an earlier run "
        "(same --out-dir); drop --resume to start from scratch (with --overwrite if that folder "
        "holds the outputs of a run you want to replace)."
    )


def save_checkpoint(state: Dict[str, Any], path: str) -> None:
    r"""``torch.save`` :obj:`state`, stamped with :data:`CHECKPOINT_FORMAT`,
    atomically (temporary file in the same folder, ``fsync``,
    :func:`os.replace`; permissions from the umask).

    Args:
        state (dict): tensors, numbers, strings, lists, tuples and dicts
            only, so that :func:`load_checkpoint` can read it.
        path (str): the checkpoint file.
    """
    with atomic_write(path, "wb") as f:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, f)


def _to(obj: Any, device) -> Any:
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):  # OrderedDict, a scheduler's Counter of milestones, ...
        out = copy.copy(obj)
        for k, v in obj.items():
            out[k] = _to(v, device)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(v, device) for v in obj)
    return obj


def _load_failure(exc: BaseException) -> str:
    r"""What :func:`torch.load` refused, without torch's advice to retry
    with the weights-only unpickler turned off (which would run the file's
    code): this package never loads a checkpoint that way."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        reason = " ".join(text.split(marker, 1)[1].split("Check the documentation")[0].split())
        return f"it holds objects a checkpoint never holds ({reason or 'unsupported pickle'})"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "weights_only" in first:
        return "it holds objects a checkpoint never holds"
    return first[:200]


def load_checkpoint(path: str, map_location: Any = "cpu") -> Dict[str, Any]:
    r"""Read a checkpoint written by :func:`save_checkpoint` with
    ``torch.load(..., weights_only=True)`` (nothing in the file can run
    code); returns the saved dict (without the format stamp).

    Tensors go to :obj:`map_location`, except the random-number-generator
    states (``"rng"``, ``"loader_rng"``), the optimizer state and the best
    weights (``"optimizer"``, ``"best_model"``), which stay on the CPU (see
    :data:`_CPU_ENTRIES`).

    Args:
        path (str): the checkpoint file.
        map_location: device for the tensors. (default: ``"cpu"``)

    Raises:
        FileNotFoundError: no file at :obj:`path`.
        CheckpointError: the file is not a checkpoint of this version
            (an older format, a foreign or corrupt file, a pickle that
            would run code).
    """
    if not os.path.isfile(path):
        if os.path.isdir(path):
            raise CheckpointError(f"{path} is a directory, not a checkpoint file; {_FIX}.")
        raise missing_checkpoint_error(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # UnpicklingError, a torn zip (RuntimeError), EOFError, ...
        raise CheckpointError(
            f"{path} was written by an older version or is not a checkpoint of this package "
            f"({type(exc).__name__}: {_load_failure(exc)}); {_FIX}."
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} was written by an older version or is not a checkpoint of this package "
            f"(format {found!r}, expected {CHECKPOINT_FORMAT!r}); {_FIX}."
        )
    state = {k: v for k, v in state.items() if k != "format"}
    if str(map_location) != "cpu":
        state = {k: v if k in _CPU_ENTRIES else _to(v, map_location) for k, v in state.items()}
    return state


# ----------------------------------------------------------------------------
# random states as tensors
# ----------------------------------------------------------------------------
def rng_state() -> Dict[str, Any]:
    r"""The states of Python's :mod:`random`, NumPy's global generator and
    PyTorch (CPU, and every GPU once this process has initialized CUDA: a
    CPU run on a GPU machine creates no CUDA context here), as tensors and
    numbers."""
    version, words, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: Dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(words, dtype=torch.int64),
                   "gauss_next": gauss_next},
        "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # pragma: no cover - no GPU in CI
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    r"""Restore what :func:`rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(w) for w in py["state"].tolist()), py["gauss_next"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].cpu().numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():  # pragma: no cover - queued until CUDA is initialized
        for index, cuda in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda.cpu(), index)


# ----------------------------------------------------------------------------
# the run's identity
# ----------------------------------------------------------------------------
def _digest(*tensors: Optional[Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def data_fingerprint(edge_index: Tensor, edge_weight: Optional[Tensor], mean: Optional[Tensor],
                     std: Optional[Tensor], *, windows: Sequence[int], num_nodes: int,
                     num_features: int) -> Dict[str, Any]:
    r"""What a checkpoint records about the data it was trained on.

    Args:
        edge_index (Tensor): the graph ``(2, E)``.
        edge_weight (Tensor, optional): edge weights ``(E,)``.
        mean, std (Tensor, optional): training statistics.
        windows (list of int): windows per split (train, val, test).
        num_nodes (int): nodes :math:`N`.
        num_features (int): features :math:`F`.
    """
    edge_weight = None if edge_weight is None else edge_weight.float()
    stats = "none"
    if mean is not None or std is not None:
        # rounded to 6 significant digits: CPU and GPU preprocessing may differ in the last bits
        stats = "sha256 " + _digest(*(None if s is None else _round(torch.as_tensor(s)) for s in (mean, std)))
    return {
        "windows": [int(w) for w in windows],
        "nodes": int(num_nodes),
        "features": int(num_features),
        "graph": f"{int(edge_index.shape[-1])} edges, sha256 {_digest(edge_index.long(), edge_weight)}",
        "statistics": stats,
    }


def _round(t: Tensor) -> Tensor:
    r"""``t`` rounded to 6 significant digits (float64)."""
    x = t.detach().cpu().double().numpy()
    with np.errstate(divide="ignore"):
        exponent = np.where(x == 0, 0, np.floor(np.log10(np.abs(x))))
    scale = 10.0 ** (5 - exponent)
    return torch.from_numpy(np.round(x * scale) / scale)


_MISSING = object()

#: Identity entries added after the first checkpoints were written, and the
#: value a checkpoint without them had.
IDENTITY_DEFAULTS: Dict[str, Any] = {"amp": "off"}


def _show(value: Any) -> str:
    return "(not recorded)" if value is _MISSING else repr(value)


def check_identity(saved: Optional[Mapping[str, Any]], current: Mapping[str, Any], path: str) -> None:
    r"""Raise :class:`CheckpointError` naming every entry of
    :obj:`current` that differs from the checkpoint's :obj:`saved`
    identity (``name: old -> new``). Entries of :obj:`saved` missing from
    :obj:`current` are not compared (a caller may check part of the
    identity before the data is loaded).

    Args:
        saved (dict, optional): the checkpoint's ``"identity"``.
        current (dict): this run's identity.
        path (str): the checkpoint (for the message).
    """
    if saved is None:
        raise CheckpointError(f"{path} records no run identity (written by an older version); {_FIX}.")
    def recorded(key):
        return saved.get(key, IDENTITY_DEFAULTS.get(key, _MISSING))

    diffs = [f"{key}: {_show(recorded(key))} -> {value!r}" for key, value in current.items()
             if _normal(recorded(key)) != _normal(value)]
    if diffs:
        raise CheckpointError(
            f"{path} belongs to a different run ({'; '.join(diffs)}); resume with that run's settings and "
            f"data, or {_START_OVER}."
        )


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def kept_settings(saved: Mapping[str, Any], current: Mapping[str, Any],
                  free: Sequence[str] = ("epochs",)) -> List[Tuple[str, Any, Any]]:
    r"""``(name, checkpoint value, given value)`` for every setting of
    :obj:`current` that differs from the checkpoint's :obj:`saved` one,
    except the :obj:`free` ones (which a resumed run may change).

    Args:
        saved (dict): the checkpoint's settings (e.g. its ``"config"``).
        current (dict): the settings given now.
        free (list of str): names a resumed run takes from :obj:`current`.
    """
    return [(k, saved[k], v) for k, v in current.items()
            if k not in free and k in saved and _normal(saved[k]) != _normal(v)]
