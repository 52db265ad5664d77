r"""GMAN, the graph multi-attention network of `Zheng et al., "GMAN: A Graph
Multi-Attention Network for Traffic Prediction" (AAAI 2020)
<https://arxiv.org/abs/1911.08415>`_, under PyTorch Geometric Temporal's names,
arguments and ``state_dict`` keys.

Every "fully connected" layer of the paper is a 1 x 1 convolution followed by
batch normalization (upstream's ``Conv2D``/``FullyConnected``, kept for their
``state_dict`` keys); it is computed here as a linear map on the feature axis,
which is the same function without the permutes. The spatial attention
scores every pair of nodes, an ``N x N`` matrix per batch item, time step and
head; it runs through :func:`torch.nn.functional.scaled_dot_product_attention`,
whose fused kernels compute those scores in blocks without storing them (its
math fallback stores them).

Heads: the paper splits the ``D = K * d`` features into ``K`` heads of
``d`` features each. Upstream 0.56.2 calls ``torch.split(x, K)`` (chunks *of
size* ``K``), which gives ``d`` heads of ``K`` features instead; both scale
the scores by ``1 / sqrt(d)``. The two agree when ``K == d``. This module
follows the paper; ``upstream_heads=True`` restores upstream's split (and
loads upstream's weights to the same outputs whatever ``K`` and ``d``).
Upstream's causal mask (``mask=True``) has ``K * B`` copies for ``d * B``
score matrices and fails unless ``K == d``; here it works for any ``K``, ``d``.
"""
import math
from typing import Callable, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GMAN", "SpatioTemporalAttention", "SpatioTemporalEmbedding"]

Activation = Optional[Callable[[Tensor], Tensor]]


def _shape(value) -> str:
    return str(tuple(value.shape)) if isinstance(value, Tensor) else type(value).__name__


def _check(name: str, value, dims: int, layout: str, fix: str, floating: bool = True) -> None:
    """One ValueError unless ``value`` is a ``dims``-D (floating) tensor."""
    if not isinstance(value, Tensor) or value.dim() != dims:
        raise ValueError(f"{name} must be a tensor of shape {layout}, got {_shape(value)}; {fix}.")
    if floating and not value.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating tensor, got {value.dtype}; use {name}.float().")


def _batch_norm_last(bn: nn.BatchNorm2d, X: Tensor) -> Tensor:
    """``bn`` over the last axis of ``X (..., C)``, computed on the ``(M, C)``
    rows: the statistics, running averages and output of ``BatchNorm2d`` on
    the ``(B, C, H, W)`` permutation, without the permutes. (PyTorch 2.13's
    CPU batch-norm backward in eval mode returns wrong input gradients for a
    permuted ``(1, C, H, 1)`` input whose gradient arrives contiguous: upstream
    0.56.2's node-embedding gradients are wrong that way.)"""
    momentum = 0.0
    if bn.training:
        bn.num_batches_tracked.add_(1)
        momentum = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    out = F.batch_norm(X.reshape(-1, X.size(-1)), bn.running_mean, bn.running_var, bn.weight,
                       bn.bias, bn.training, momentum, bn.eps)
    return out.view(X.shape)


class Conv2D(nn.Module):
    r"""One "fully connected" layer of GMAN: a 1 x 1 convolution over the
    feature axis, batch normalization over that axis, then an activation.

    Args:
        input_dims (int): input features.
        output_dims (int): output features.
        kernel_size (tuple or list): kept for upstream's API; GMAN uses ``(1, 1)``.
        stride (tuple or list, optional): likewise (default: ``(1, 1)``).
        use_bias (bool, optional): add a bias (default: :obj:`True`).
        activation (callable, optional): applied last (default: ReLU; ``None``: none).
        bn_decay (float, optional): batch-norm ``momentum`` (default: :obj:`None`,
            a cumulative average).

    Shapes:
        input ``(B, T, N, input_dims)``, output ``(B, T, N, output_dims)``.
    """

    def __init__(self, input_dims: int, output_dims: int, kernel_size: Union[tuple, list],
                 stride: Union[tuple, list] = (1, 1), use_bias: bool = True,
                 activation: Activation = F.relu, bn_decay: Optional[float] = None):
        super().__init__()
        if tuple(kernel_size) != (1, 1) or tuple(stride) != (1, 1):
            raise ValueError(f"GMAN's Conv2D is a 1 x 1 convolution; got kernel_size="
                             f"{kernel_size}, stride={stride}; use (1, 1).")
        self._activation = activation
        self._conv2d = nn.Conv2d(input_dims, output_dims, 1, bias=use_bias)
        self._batch_norm = nn.BatchNorm2d(output_dims, momentum=bn_decay)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self._conv2d.weight)
        if self._conv2d.bias is not None:
            nn.init.zeros_(self._conv2d.bias)
        self._batch_norm.reset_parameters()

    def normalize(self, X: Tensor) -> Tensor:
        """Batch norm over the last axis, then the activation."""
        X = _batch_norm_last(self._batch_norm, X)
        return X if self._activation is None else self._activation(X)

    def forward(self, X: Tensor) -> Tensor:
        weight = self._conv2d.weight.view(self._conv2d.out_channels, -1)
        return self.normalize(F.linear(X, weight, self._conv2d.bias))


class FullyConnected(nn.Module):
    r"""A stack of :class:`Conv2D` layers (GMAN's "FC" blocks).

    Args:
        input_dims (int or list): input features of each layer.
        units (int or list): output features of each layer.
        activations (callable or list): activation of each layer (``None``: none).
        bn_decay (float): batch-norm momentum.
        use_bias (bool, optional): biases (default: :obj:`True`).

    Shapes:
        input ``(B, T, N, input_dims[0])``, output ``(B, T, N, units[-1])``.
    """

    def __init__(self, input_dims: Union[int, list], units: Union[int, list],
                 activations: Union[Activation, list], bn_decay: float, use_bias: bool = True):
        super().__init__()
        if isinstance(units, int):
            units, input_dims, activations = [units], [input_dims], [activations]
        if not len(units) == len(input_dims) == len(activations):
            raise ValueError(f"input_dims, units and activations need one entry per layer; got "
                             f"{len(input_dims)}, {len(units)} and {len(activations)}.")
        self._conv2ds = nn.ModuleList(
            Conv2D(i, o, (1, 1), use_bias=use_bias, activation=a, bn_decay=bn_decay)
            for i, o, a in zip(input_dims, units, activations))

    def forward(self, X: Tensor) -> Tensor:
        for conv in self._conv2ds:
            X = conv(X)
        return X


def _fc(dims: int, activation: Activation, bn_decay: float, **kw) -> FullyConnected:
    return FullyConnected(dims, dims, activation, bn_decay, **kw)


def _fc2(dims_in: int, dims: int, bn_decay: float, out: Optional[int] = None,
         use_bias: bool = True) -> FullyConnected:
    """Two layers, ReLU then none (GMAN's input, embedding and output blocks)."""
    return FullyConnected([dims_in, dims], [dims, dims if out is None else out], [F.relu, None],
                          bn_decay, use_bias)


class SpatioTemporalEmbedding(nn.Module):
    r"""The spatio-temporal embedding (STE) of GMAN: the node embedding ``SE``
    and the one-hot day-of-week and time-of-day of every step, each through a
    two-layer FC block, added.

    .. math::
        \mathrm{STE}_{t, v} = \mathrm{FC}_S(e^S_v) + \mathrm{FC}_T([\mathrm{onehot}_7(
        \mathrm{dow}_t) \,\|\, \mathrm{onehot}_{T}(\mathrm{tod}_t)])

    The one-hot product is computed as a row lookup in the first layer's
    weight (same function, no ``(B, T, 7 + T)`` one-hot tensor).

    Args:
        D (int): embedding size (``K * d``).
        bn_decay (float): batch-norm momentum.
        steps_per_day (int): time-of-day slots :math:`T`.
        use_bias (bool, optional): biases in the FC blocks (default: :obj:`True`).

    Shapes:
        ``SE (N, D)``, ``TE (B, T_total, 2)`` (day of week, time-of-day slot;
        integers, taken modulo 7 and ``T``), ``T`` (int, slots per day) ->
        ``(B, T_total, N, D)``.
    """

    def __init__(self, D: int, bn_decay: float, steps_per_day: int, use_bias: bool = True):
        super().__init__()
        self.D, self.steps_per_day = D, steps_per_day
        self._fully_connected_se = _fc2(D, D, bn_decay, use_bias=use_bias)
        self._fully_connected_te = _fc2(steps_per_day + 7, D, bn_decay, use_bias=use_bias)

    def extra_repr(self) -> str:
        return f"D={self.D}, steps_per_day={self.steps_per_day}"

    def _time_embedding(self, TE: Tensor, T: int) -> Tensor:
        first, rest = self._fully_connected_te._conv2ds[0], self._fully_connected_te._conv2ds[1:]
        weight = first._conv2d.weight.view(first._conv2d.out_channels, -1).t()  # (7 + T, D)
        if weight.size(0) != 7 + T:
            raise ValueError(f"SpatioTemporalEmbedding was built with steps_per_day = "
                             f"{weight.size(0) - 7} but is called with T = {T}; pass the same value.")
        TE = TE.long()
        X = weight[TE[..., 0] % 7] + weight[7 + TE[..., 1] % T]  # (B, T_total, D)
        if first._conv2d.bias is not None:
            X = X + first._conv2d.bias
        X = first.normalize(X.unsqueeze(2))
        for conv in rest:
            X = conv(X)
        return X

    def forward(self, SE: Tensor, TE: Tensor, T: int) -> Tensor:
        _check("SE", SE, 2, f"(N, {self.D})", "one embedding row per node")
        if SE.size(1) != self.D:
            raise ValueError(f"SE has {SE.size(1)} features but the model has D = K * d = "
                             f"{self.D}; pass SE of shape (N, {self.D}).")
        _check("TE", TE, 3, "(B, T_total, 2)", "one (day of week, time of day) pair per step",
               floating=False)
        if TE.size(-1) != 2:
            raise ValueError(f"TE must have shape (B, T_total, 2) (day of week, time-of-day slot), "
                             f"got {_shape(TE)}.")
        SE = self._fully_connected_se(SE.unsqueeze(0).unsqueeze(0))
        return SE + self._time_embedding(TE, T)


def _heads(X: Tensor, head_size: int) -> Tensor:
    """``(..., D)`` -> ``(..., D / head_size, head_size)``, contiguous chunks."""
    return X.unflatten(-1, (X.size(-1) // head_size, head_size))


def _attend(query: Tensor, key: Tensor, value: Tensor, head_size: int, d: int,
            axis: int, causal: bool = False) -> Tensor:
    """Multi-head scaled dot-product attention along ``axis`` (1: time,
    2: nodes) of ``(B, T, N, D)`` tensors, scaled by ``1 / sqrt(d)``;
    returns ``(B, T_q, N, D)``."""
    other = 3 - axis
    B, M = query.size(0), query.size(other)
    # (B * other, H, L, e): 4-D, as the fused (flash) kernels require; a 5-D
    # input falls back to the math path, which stores the L x L scores
    q, k, v = (_heads(t, head_size).movedim(other, 1).movedim(-2, 2).flatten(0, 1)
               for t in (query, key, value))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=1.0 / math.sqrt(d))
    return out.unflatten(0, (B, M)).movedim(2, -2).movedim(1, other).flatten(-2)


class _Attention(nn.Module):
    """Query, key and value FC blocks over ``[X || STE]`` and the output FC
    block (GMAN's spatial and temporal attention)."""

    def __init__(self, K: int, d: int, bn_decay: float, axis: int, mask: bool = False,
                 upstream_heads: bool = False, in_factor: int = 2):
        super().__init__()
        D = K * d
        self._K, self._d, self._mask, self.axis = K, d, mask, axis
        self.head_size = K if upstream_heads else d
        self._fully_connected_q = FullyConnected(in_factor * D, D, F.relu, bn_decay)
        self._fully_connected_k = FullyConnected(in_factor * D, D, F.relu, bn_decay)
        self._fully_connected_v = FullyConnected(in_factor * D, D, F.relu, bn_decay)
        self._fully_connected = _fc(D, F.relu, bn_decay)

    def forward(self, X: Tensor, STE: Tensor) -> Tensor:
        X = torch.cat((X, STE), dim=-1)
        out = _attend(self._fully_connected_q(X), self._fully_connected_k(X),
                      self._fully_connected_v(X), self.head_size, self._d, self.axis, self._mask)
        return self._fully_connected(out)


class SpatialAttention(_Attention):
    r"""GMAN's spatial attention: every node attends to every node at the
    same step (an ``N x N`` score matrix per batch item, step and head).

    Args:
        K (int): heads. d (int): features per head. bn_decay (float): batch-norm momentum.

    Shapes:
        ``X``, ``STE`` ``(B, T, N, K * d)`` -> ``(B, T, N, K * d)``.
    """

    def __init__(self, K: int, d: int, bn_decay: float, *, upstream_heads: bool = False):
        super().__init__(K, d, bn_decay, axis=2, upstream_heads=upstream_heads)


class TemporalAttention(_Attention):
    r"""GMAN's temporal attention: every step attends to the steps of the same
    node (with ``mask``, only to itself and earlier steps).

    Args:
        K (int): heads. d (int): features per head. bn_decay (float): batch-norm
        momentum. mask (bool): causal mask.

    Shapes:
        ``X``, ``STE`` ``(B, T, N, K * d)`` -> ``(B, T, N, K * d)``.
    """

    def __init__(self, K: int, d: int, bn_decay: float, mask: bool, *,
                 upstream_heads: bool = False):
        super().__init__(K, d, bn_decay, axis=1, mask=mask, upstream_heads=upstream_heads)


class GatedFusion(nn.Module):
    r"""GMAN's gated fusion of the spatial and temporal outputs:
    :math:`z = \sigma(H_S W_{z,1} + H_T W_{z,2} + b_z)`,
    :math:`H = \mathrm{FC}(z \odot H_S + (1 - z) \odot H_T)`.

    Args:
        D (int): features. bn_decay (float): batch-norm momentum.
    """

    def __init__(self, D: int, bn_decay: float):
        super().__init__()
        self._fully_connected_xs = _fc(D, None, bn_decay, use_bias=False)
        self._fully_connected_xt = _fc(D, None, bn_decay, use_bias=True)
        self._fully_connected_h = _fc2(D, D, bn_decay)

    def forward(self, HS: Tensor, HT: Tensor) -> Tensor:
        z = torch.sigmoid(self._fully_connected_xs(HS) + self._fully_connected_xt(HT))
        return self._fully_connected_h(z * HS + (1 - z) * HT)


class SpatioTemporalAttention(nn.Module):
    r"""One ST-attention block of `GMAN <https://arxiv.org/abs/1911.08415>`_:
    spatial and temporal multi-head attention over ``[X || STE]``, gated
    fusion, and a residual connection, :math:`X + \mathrm{fuse}(H_S, H_T)`.

    The spatial attention scores every node against every node: an ``N x N``
    matrix per batch item, step and head (not stored by the fused attention
    kernels).

    Args:
        K (int): attention heads.
        d (int): features per head (``D = K * d``).
        bn_decay (float): batch-norm momentum.
        mask (bool): causal mask in the temporal attention.
        upstream_heads (bool, keyword only): upstream 0.56.2's head split
            (``d`` heads of ``K`` features) instead of the paper's (``K``
            heads of ``d``) (default: :obj:`False`).

    Shapes:
        ``X``, ``STE`` ``(B, T, N, K * d)`` -> ``(B, T, N, K * d)``.
    """

    def __init__(self, K: int, d: int, bn_decay: float, mask: bool, *,
                 upstream_heads: bool = False):
        super().__init__()
        self.D = K * d
        self._spatial_attention = SpatialAttention(K, d, bn_decay, upstream_heads=upstream_heads)
        self._temporal_attention = TemporalAttention(K, d, bn_decay, mask,
                                                     upstream_heads=upstream_heads)
        self.K, self.d, self.mask = K, d, mask
        self.upstream_heads = upstream_heads
        self._gated_fusion = GatedFusion(self.D, bn_decay)

    def extra_repr(self) -> str:
        return (f"K={self.K}, d={self.d}, mask={self.mask}, "
                f"upstream_heads={self.upstream_heads}")

    def forward(self, X: Tensor, STE: Tensor) -> Tensor:
        for name, value in (("X", X), ("STE", STE)):
            _check(name, value, 4, f"(B, T, N, {self.D})", "GMAN's hidden layout")
            if value.size(-1) != self.D:
                raise ValueError(f"{name} has {value.size(-1)} features but the block has "
                                 f"D = K * d = {self.D}; pass (B, T, N, {self.D}).")
        if X.shape != STE.shape:
            raise ValueError(f"X {_shape(X)} and STE {_shape(STE)} must have the same shape.")
        H = self._gated_fusion(self._spatial_attention(X, STE), self._temporal_attention(X, STE))
        return X + H


class TransformAttention(_Attention):
    r"""GMAN's transform attention: each future step (queries from its STE)
    attends to the history steps (keys from their STE, values from the encoder
    output), per node.

    Args:
        K (int): heads. d (int): features per head. bn_decay (float): batch-norm momentum.

    Shapes:
        ``X``, ``STE_his`` ``(B, T_in, N, K * d)``, ``STE_pred`` ``(B, T_out, N,
        K * d)`` -> ``(B, T_out, N, K * d)``.
    """

    def __init__(self, K: int, d: int, bn_decay: float, *, upstream_heads: bool = False):
        super().__init__(K, d, bn_decay, axis=1, upstream_heads=upstream_heads, in_factor=1)

    def forward(self, X: Tensor, STE_his: Tensor, STE_pred: Tensor) -> Tensor:
        out = _attend(self._fully_connected_q(STE_pred), self._fully_connected_k(STE_his),
                      self._fully_connected_v(X), self.head_size, self._d, self.axis)
        return self._fully_connected(out)


class GMAN(nn.Module):
    r"""The graph multi-attention network of `"GMAN: A Graph Multi-Attention
    Network for Traffic Prediction" <https://arxiv.org/abs/1911.08415>`_
    (Zheng et al., AAAI 2020): an encoder of ``L`` ST-attention blocks over the
    history, a transform attention from history to future steps, a decoder of
    ``L`` blocks, one output channel per node and future step.

    Memory: the spatial attention of every block scores all node pairs, an
    ``N x N`` matrix per batch item, step and head, ``B * T * heads * N^2``
    scores per block; the fused kernels of
    :func:`~torch.nn.functional.scaled_dot_product_attention` do not store
    them, its math fallback does.

    Args:
        L (int): ST-attention blocks in the encoder and in the decoder.
        K (int): attention heads.
        d (int): features per head (``D = K * d``).
        num_his (int): history steps :math:`T_{in}`.
        bn_decay (float): batch-norm ``momentum`` in PyTorch's sense (the
            weight of each new batch; the paper's TensorFlow decay 0.9 is
            0.1 here), as upstream passes it.
        steps_per_day (int): time-of-day slots in a day.
        use_bias (bool): biases in the spatio-temporal embedding's FC blocks.
        mask (bool): causal mask in the temporal attention.
        upstream_heads (bool, keyword only): upstream 0.56.2's head split (``d``
            heads of ``K`` features); default: the paper's ``K`` heads of ``d``.

    Shapes:
        ``X (B, T_in, N)`` (one input channel), ``SE (N, K * d)`` (node
        embedding, e.g. node2vec), ``TE (B, T_in + T_out, 2)`` (day of week,
        time-of-day slot of every history and future step) ->
        ``(B, T_out, N)``.
    """

    def __init__(self, L: int, K: int, d: int, num_his: int, bn_decay: float,
                 steps_per_day: int, use_bias: bool, mask: bool, *, upstream_heads: bool = False):
        super().__init__()
        D = K * d
        self.D = D
        self._num_his = num_his
        self._steps_per_day = steps_per_day
        self._st_embedding = SpatioTemporalEmbedding(D, bn_decay, steps_per_day, use_bias)
        self._st_att_block1 = nn.ModuleList(
            SpatioTemporalAttention(K, d, bn_decay, mask, upstream_heads=upstream_heads)
            for _ in range(L))
        self._st_att_block2 = nn.ModuleList(
            SpatioTemporalAttention(K, d, bn_decay, mask, upstream_heads=upstream_heads)
            for _ in range(L))
        self._transform_attention = TransformAttention(K, d, bn_decay,
                                                       upstream_heads=upstream_heads)
        self._fully_connected_1 = _fc2(1, D, bn_decay)
        self.L, self.K, self.d, self.mask = L, K, d, mask
        self.upstream_heads = upstream_heads
        self._fully_connected_2 = _fc2(D, D, bn_decay, out=1)

    def extra_repr(self) -> str:
        return (f"L={self.L}, K={self.K}, d={self.d}, num_his={self._num_his}, "
                f"steps_per_day={self._steps_per_day}, mask={self.mask}, "
                f"upstream_heads={self.upstream_heads}")

    def _check(self, X, SE, TE) -> None:
        _check("X", X, 3, f"(B, {self._num_his}, N)", "GMAN takes one channel: pass x[..., 0]")
        if X.size(1) != self._num_his:
            raise ValueError(f"X has {X.size(1)} history steps but GMAN was built with num_his "
                             f"= {self._num_his}; rebuild it or cut X.")
        _check("TE", TE, 3, "(B, T_in + T_out, 2)", "one (day of week, time of day) pair per step",
               floating=False)
        if TE.size(0) != X.size(0) or TE.size(1) <= self._num_his:
            raise ValueError(f"TE must have shape (B, num_his + T_out, 2) = ({X.size(0)}, "
                             f"{self._num_his} + T_out, 2) with T_out >= 1, got {_shape(TE)}.")
        if isinstance(SE, Tensor) and SE.dim() == 2 and SE.size(0) != X.size(2):
            raise ValueError(f"SE has {SE.size(0)} rows but X has N = {X.size(2)} nodes; pass "
                             "one embedding row per node.")

    def forward(self, X: Tensor, SE: Tensor, TE: Tensor) -> Tensor:
        self._check(X, SE, TE)
        X = self._fully_connected_1(X.unsqueeze(-1))
        STE = self._st_embedding(SE, TE, self._steps_per_day)
        STE_his, STE_pred = STE[:, :self._num_his], STE[:, self._num_his:]
        for block in self._st_att_block1:
            X = block(X, STE_his)
        X = self._transform_attention(X, STE_his, STE_pred)
        for block in self._st_att_block2:
            X = block(X, STE_pred)
        return self._fully_connected_2(X).squeeze(3)
