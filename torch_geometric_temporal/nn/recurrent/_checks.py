r"""Input checks shared by the recurrent cells.

Each check raises one :class:`ValueError` that names the problem and the fix,
instead of the shape or index error PyTorch Geometric would raise deep inside
a convolution (or, for an out-of-range edge index on a GPU, a device assert).
"""
from typing import Optional, Sequence

import torch
from torch import Tensor

__all__ = ["check_features", "check_graph", "check_state", "check_edge_type"]


def _shape(value) -> str:
    return str(tuple(value.shape)) if isinstance(value, Tensor) else type(value).__name__


def check_features(owner: str, X, in_channels: int, layout: Sequence[str] = ("N",),
                   feature_axis: int = -1) -> int:
    r"""Check node features ``X`` of shape ``layout + (in_channels,)``.

    Args:
        owner (str): the class name, for the message.
        X (torch.Tensor): the node features.
        in_channels (int): the feature count the layer was built with.
        layout (sequence of str, optional): names of the axes other than the
            feature axis, in order, e.g. ``("N",)`` (default) or
            ``("B", "N")``; the axis named ``"N"`` is the node axis.
        feature_axis (int, optional): where the feature axis is
            (default: :obj:`-1`, the last).

    Returns:
        int: the number of nodes :math:`N`.
    """
    names = list(layout)
    axis = feature_axis if feature_axis >= 0 else len(names) + 1 + feature_axis
    names.insert(axis, str(in_channels))
    expected = "(" + ", ".join(names) + ")"
    if not isinstance(X, Tensor) or X.dim() != len(names):
        raise ValueError(f"{owner} expects X of shape {expected}, got {_shape(X)}; "
                         "reshape X (one snapshot per call) or use the batched module.")
    if X.size(axis) != in_channels:
        raise ValueError(f"{owner} was built with in_channels = {in_channels} but X has "
                         f"{X.size(axis)} features (shape {_shape(X)}); rebuild the layer or fix X.")
    if not X.dtype.is_floating_point:
        raise ValueError(f"X must be a floating tensor, got {X.dtype}; use X.float().")
    return X.size(names.index("N")) if "N" in names else X.size(0)


def check_graph(edge_index, edge_weight: Optional[Tensor], num_nodes: int,
                device: torch.device, weight_name: str = "edge_weight") -> None:
    r"""Check ``edge_index (2, E)`` (integer ids in ``[0, num_nodes)``, on
    ``device``) and the optional per-edge ``edge_weight (E,)``.

    Args:
        edge_index (torch.Tensor): the edge list, row 0 = source.
        edge_weight (torch.Tensor, optional): one floating weight per edge.
        num_nodes (int): :math:`N` of the node features.
        device (torch.device): the device of the node features.
        weight_name (str, optional): the argument's name, for the message
            (default: :obj:`"edge_weight"`).
    """
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"edge_index must be a torch.Tensor of shape (2, E), got "
                         f"{type(edge_index).__name__}; convert it with "
                         "torch.as_tensor(edge_index, dtype=torch.long).")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {_shape(edge_index)}; "
                         "pass edge_index.t() if it is (E, 2).")
    if edge_index.dtype.is_floating_point or edge_index.dtype.is_complex or edge_index.dtype == torch.bool:
        raise ValueError(f"edge_index must hold integers (torch.long), got {edge_index.dtype}; "
                         "convert it with edge_index.long().")
    if edge_index.device != device:
        raise ValueError(f"edge_index is on {edge_index.device} but the node features are on "
                         f"{device}; move both to the same device.")
    if edge_index.numel():
        lo, hi = (int(v) for v in torch.aminmax(edge_index))
        if lo < 0 or hi >= num_nodes:
            raise ValueError(
                f"edge_index holds node ids in [{lo}, {hi}] but X has N = {num_nodes} nodes "
                f"(valid ids 0..{num_nodes - 1}); pass the edge list of this graph and node "
                "features with one row per node.")
    if edge_weight is not None:
        if not isinstance(edge_weight, Tensor) or edge_weight.dim() != 1 or \
                edge_weight.numel() != edge_index.size(1):
            raise ValueError(f"{weight_name} must have shape (E,) = ({edge_index.size(1)},), got "
                             f"{_shape(edge_weight)}; pass one weight per column of edge_index "
                             "(or None).")
        if not edge_weight.dtype.is_floating_point:
            raise ValueError(f"{weight_name} must be a floating tensor, got {edge_weight.dtype}; "
                             f"convert it with {weight_name}.float().")
        if edge_weight.device != device:
            raise ValueError(f"{weight_name} is on {edge_weight.device} but the node features are "
                             f"on {device}; move both to the same device.")


def check_state(name: str, S: Optional[Tensor], like: Tensor, shape: Sequence[int]) -> Tensor:
    r"""Return the recurrent state ``S`` after checking its shape, or zeros
    of ``shape`` (dtype and device of ``like``) if ``S`` is ``None``.

    Args:
        name (str): the argument's name (``"H"``, ``"C"``), for the message.
        S (torch.Tensor, optional): the state passed by the caller.
        like (torch.Tensor): the node features (dtype and device of the zeros).
        shape (sequence of int): the expected shape.
    """
    shape = tuple(int(s) for s in shape)
    if S is None:
        return like.new_zeros(shape)
    if not isinstance(S, Tensor) or tuple(S.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} (nodes of X, out_channels), got "
                         f"{_shape(S)}; pass the state returned for this graph's nodes, or None.")
    if S.device != like.device:
        raise ValueError(f"{name} is on {S.device} but X is on {like.device}; move both to the "
                         "same device.")
    return S


def check_edge_type(edge_type, edge_index: Tensor, num_relations: int) -> None:
    r"""Check the relation id of each edge: integer ``edge_type (E,)`` with
    values in ``[0, num_relations)``, on the device of ``edge_index``."""
    E = edge_index.size(1)
    if not isinstance(edge_type, Tensor) or edge_type.dim() != 1 or edge_type.numel() != E:
        raise ValueError(f"edge_type must have shape (E,) = ({E},), got {_shape(edge_type)}; "
                         "pass one relation id per column of edge_index.")
    if edge_type.dtype.is_floating_point or edge_type.dtype.is_complex or edge_type.dtype == torch.bool:
        raise ValueError(f"edge_type must hold integers (torch.long), got {edge_type.dtype}; "
                         "convert it with edge_type.long().")
    if edge_type.device != edge_index.device:
        raise ValueError(f"edge_type is on {edge_type.device} but edge_index is on "
                         f"{edge_index.device}; move both to the same device.")
    if E:
        lo, hi = (int(v) for v in torch.aminmax(edge_type))
        if lo < 0 or hi >= num_relations:
            raise ValueError(f"edge_type holds relation ids in [{lo}, {hi}] but the layer was built "
                             f"with num_relations = {num_relations} (valid ids 0..{num_relations - 1}); "
                             "rebuild the layer or fix edge_type.")
