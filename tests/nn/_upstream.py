"""Golden-fixture checks against upstream PyTorch Geometric Temporal 0.56.2.

The fixtures in ``tests/data/upstream/<ClassName>[__<variant>].pt`` were made
by ``tests/fixtures/make_upstream_fixtures.py`` (its docstring describes the
format and how to regenerate them). ``tests/nn/conftest.py`` puts this folder
on ``sys.path``, so any test under ``tests/nn`` can do::

    from _upstream import check_against_fixture, check_signature, load_fixture

    def test_equals_upstream():
        fixture = load_fixture("GConvGRU__rw")
        check_signature(GConvGRU, fixture)
        check_against_fixture(GConvGRU, fixture)
"""
from pathlib import Path
from typing import Any, Callable, List, Optional

import torch

UPSTREAM_DIR = Path(__file__).resolve().parents[1] / "data" / "upstream"
ATOL = 1e-5


def decode(obj: Any) -> Any:
    """Undo the fixture encoding: ``{"__tuple__": [...]}`` -> tuple and
    ``{"__items__": [[key, value], ...]}`` -> dict (tuple keys such as
    ``HeteroGCLSTM``'s edge types come back as tuples)."""
    if isinstance(obj, dict):
        if set(obj) == {"__tuple__"}:
            return tuple(decode(x) for x in obj["__tuple__"])
        if set(obj) == {"__items__"}:
            return {decode(k): decode(v) for k, v in obj["__items__"]}
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(x) for x in obj]
    return obj


def fixture_names(cls_name: Optional[str] = None) -> List[str]:
    """Fixture names (file stems), all or those of one class (with variants)."""
    names = sorted(p.stem for p in UPSTREAM_DIR.glob("*.pt"))
    if cls_name is None:
        return names
    return [n for n in names if n == cls_name or n.startswith(cls_name + "__")]


def load_fixture(name: str) -> dict:
    """Load ``tests/data/upstream/<name>.pt`` (``weights_only=True``), decoded."""
    path = UPSTREAM_DIR / f"{name}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no upstream fixture {path}; have {fixture_names()}")
    fixture = decode(torch.load(path, weights_only=True))
    fixture["name"] = name
    return fixture


def _tensors(obj: Any, where: str):
    """(path, tensor) pairs of an output, in a fixed order; a tuple output is
    compared as a list, a dict by key."""
    if isinstance(obj, torch.Tensor):
        yield where, obj
    elif isinstance(obj, (tuple, list)):
        for i, x in enumerate(obj):
            yield from _tensors(x, f"{where}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{where}[{k!r}]")
    elif obj is not None:
        raise AssertionError(f"{where}: unexpected output type {type(obj).__name__}")


def _compare(name: str, what: str, ours: torch.Tensor, theirs: torch.Tensor, atol: float):
    if tuple(ours.shape) != tuple(theirs.shape):
        raise AssertionError(f"{name}: {what} shape {tuple(ours.shape)}, upstream "
                             f"{tuple(theirs.shape)}")
    diff = (ours.detach().to(theirs.dtype) - theirs).abs()
    if not torch.allclose(ours.detach().to(theirs.dtype), theirs, atol=atol, rtol=0):
        raise AssertionError(f"{name}: {what} differs from upstream by up to "
                             f"{diff.max().item():.3g} (atol {atol})")


def _structure(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return "T"
    if isinstance(obj, (tuple, list)):
        return [_structure(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _structure(v) for k, v in obj.items()}
    return obj


def build_model(model_cls: type, fixture: dict,
                build: Optional[Callable[[dict], torch.nn.Module]] = None) -> torch.nn.Module:
    """``model_cls(**fixture["init"])`` (or ``build(fixture)``) with upstream's
    state_dict loaded strictly, in eval mode."""
    model = build(fixture) if build is not None else model_cls(**fixture["init"])
    model.load_state_dict(fixture["state_dict"], strict=True)
    return model.eval()


def check_against_fixture(model_cls: type, fixture: dict,
                          build: Optional[Callable[[dict], torch.nn.Module]] = None,
                          atol: float = ATOL, scaled_grads: bool = False) -> torch.nn.Module:
    """Rebuild, load upstream's state_dict (strict), replay the recorded calls in
    order on one instance, compare every output and, after one backward of the
    recorded loss (sum over steps and output tensors of ``(t ** 2).sum()``),
    every parameter gradient; an ``AssertionError`` names the first mismatch.
    ``scaled_grads``: a gradient's tolerance is ``atol * max(1, max |upstream
    gradient|)`` (float32 summation order: gradients of size 100 differ by
    ~1e-5 between two correct implementations).
    Returns the model (for further checks)."""
    name = fixture.get("name", fixture["class"])
    model = build_model(model_cls, fixture, build)
    loss = None
    for k, (step, expected) in enumerate(zip(fixture["steps"], fixture["outputs"])):
        out = model(*step["args"], **step["kwargs"])
        if isinstance(out, tuple):
            out = list(out)
        if _structure(out) != _structure(expected):
            raise AssertionError(f"{name}: step {k} returns {_structure(out)}, upstream "
                                 f"{_structure(expected)}")
        for (where, ours), (_, theirs) in zip(_tensors(out, "output"),
                                              _tensors(expected, "output")):
            _compare(name, f"step {k} {where}", ours, theirs, atol)
            term = (ours ** 2).sum()
            loss = term if loss is None else loss + term
    if abs(float(loss.detach()) - fixture["loss_value"]) > atol * max(1.0, abs(fixture["loss_value"])):
        raise AssertionError(f"{name}: loss {float(loss.detach())}, upstream {fixture['loss_value']}")
    if loss.requires_grad:
        loss.backward()
    params = dict(model.named_parameters())
    missing = sorted(set(fixture["grads"]) - set(params))
    if missing:
        raise AssertionError(f"{name}: parameters {missing} of upstream are missing")
    for pname, theirs in fixture["grads"].items():
        grad = params[pname].grad
        if theirs is None:
            if grad is not None and grad.abs().max() > 0:
                raise AssertionError(f"{name}: {pname} gets a gradient, upstream none")
            continue
        if grad is None:
            raise AssertionError(f"{name}: {pname} gets no gradient, upstream does")
        scale = max(1.0, float(theirs.abs().max())) if scaled_grads and theirs.numel() else 1.0
        _compare(name, f"gradient of {pname}", grad, theirs, atol * scale)
    return model


def check_signature(our_cls: type, fixture: dict, forward: bool = True,
                    extra: tuple = ()) -> None:
    """Our constructor has upstream's argument names, order, kinds and defaults
    (defaults compared by ``repr``); with ``forward``, ``forward`` has upstream's
    argument names, order and defaults too. ``extra``: names of our own
    keyword-only arguments with defaults (e.g. a flag restoring upstream's
    behaviour), left out of the comparison."""
    import inspect

    def params(fn):
        out = []
        for p in list(inspect.signature(fn).parameters.values())[1:]:
            has = p.default is not inspect.Parameter.empty
            if p.name in extra and p.kind is p.KEYWORD_ONLY and has:
                continue
            out.append({"name": p.name, "kind": p.kind.name, "has_default": has,
                        "default": repr(p.default) if has else None})
        return out

    pairs = [("__init__", fixture["parameters"], fixture["signature"])]
    if forward:
        pairs.append(("forward", fixture["forward_parameters"], fixture["forward_signature"]))
    for attr, theirs, text in pairs:
        ours = params(getattr(our_cls, attr))
        if ours != theirs:
            raise AssertionError(
                f"{our_cls.__name__}.{attr}{inspect.signature(getattr(our_cls, attr))} "
                f"differs from upstream's {fixture['class']}.{attr}{text}")


def check_fresh_state_dict(model_cls: type, fixture: dict) -> None:
    """A freshly built ``model_cls(**fixture["init"])`` has upstream's
    ``state_dict`` keys, in upstream's order, with upstream's shapes."""
    ours = model_cls(**fixture["init"]).state_dict()
    theirs = fixture["state_dict"]
    if list(ours) != list(theirs):
        raise AssertionError(f"{fixture.get('name')}: state_dict keys {list(ours)}, upstream "
                             f"{list(theirs)}")
    for key, value in ours.items():
        if value.shape != theirs[key].shape:
            raise AssertionError(f"{fixture.get('name')}: {key} has shape {tuple(value.shape)}, "
                                 f"upstream {tuple(theirs[key].shape)}")
