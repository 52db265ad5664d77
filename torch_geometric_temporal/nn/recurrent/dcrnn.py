r"""Diffusion convolutional GRU cells (DCRNN), per snapshot and batched."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from torch_geometric_temporal.nn.recurrent.dconv import (
    BatchedDConv,
    DConv,
    DiffusionSupports,
    _check_positive_int,
    effective_weight,
    get_diffusion_supports,
    iter_diffusion_terms,
)
from torch_geometric_temporal.nn.recurrent.recompute import checkpoint_step, recompute_active

__all__ = ["DCRNN", "BatchedDCRNN"]

# Largest diffusion-feature tensor built when the input parts of several time
# steps are computed together (elements); bounds the temporary memory.
_CHUNK_ELEMENTS = 1 << 24

_GateWeights = Tuple[Tensor, Optional[Tensor], Tensor, Tensor]


def _diffuse_linear(X: Tensor, supports: DiffusionSupports, K: int, weight: Tensor,
                    bias: Optional[Tensor] = None) -> Tensor:
    r"""``X (N, L, C)``'s diffusion terms times ``weight ((2K-1) C, O)`` (+
    ``bias``): ``(N, L, O)``, as a running sum of each term's product with
    its block of rows, so the ``(N, L, (2K-1) C)`` concatenation of the
    terms is never built (a step's peak memory is that much lower, and
    without gradients each term is freed once used)."""
    N, L, C = X.shape
    out: Optional[Tensor] = None
    for i, term in enumerate(iter_diffusion_terms(X.reshape(N, L * C), supports, K)):
        flat, w = term.reshape(N * L, C), weight[i * C:(i + 1) * C]
        if out is None:
            out = flat @ w if bias is None else torch.addmm(bias, flat, w)
        else:
            out = torch.addmm(out, flat, w)
    return out.view(N, L, weight.size(1))


def _reset_update(XW: Tensor, HW: Tensor, H: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Pointwise part of a GRU step before the second diffusion: the update
    gate :math:`Z` and :math:`R \odot H` from the input part ``XW (N, B, 3
    out)``, the state part ``HW (N, B, 2 out)`` of :math:`[Z, R]` and ``H``."""
    hid = H.size(-1)
    Z, R = torch.sigmoid(XW[..., :2 * hid] + HW).split(hid, dim=-1)
    return Z, R * H


def _new_state(XW: Tensor, RHW: Tensor, H: Tensor, Z: Tensor) -> Tensor:
    r"""Pointwise part of a GRU step after the second diffusion: the candidate
    :math:`\tilde H` from ``XW`` and the part ``RHW (N, B, out)`` of
    :math:`R \odot H`, then :math:`Z \odot H + (1 - Z) \odot \tilde H`."""
    hid = H.size(-1)
    H_tilde = torch.tanh(XW[..., 2 * hid:] + RHW)
    dtype = H_tilde.dtype  # (dtypes differ only under autocast)
    return torch.lerp(H_tilde, H.to(dtype), Z.to(dtype))


class _DCGRUCell(torch.nn.Module):
    r"""Shared parameters and fused step of the diffusion convolutional GRU.

    The step works on node-major tensors ``(N, B, C)``. Diffusion is linear
    and channel-wise, so each gate convolution of :math:`[X, H]` splits into an
    :math:`X` part and an :math:`H` part: the :math:`X` parts of all three
    gates come from one diffusion of :math:`X` (for a whole sequence at once
    in :class:`BatchedDCRNN`), :math:`H` is diffused once for both the update
    and reset gates, and :math:`R \odot H` once for the candidate state. The
    result equals three separate :class:`DConv` calls.
    """

    _conv_cls = DConv
    # The dense parts of a step (instance attributes replace them: compiled.py).
    _reset_update = staticmethod(_reset_update)
    _new_state = staticmethod(_new_state)

    def __init__(self, in_channels: int, out_channels: int, K: int, bias: bool = True):
        super().__init__()
        _check_positive_int("in_channels", in_channels)
        _check_positive_int("out_channels", out_channels)
        _check_positive_int("K", K)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.bias = bias
        channels = in_channels + out_channels
        self.conv_x_z = self._conv_cls(channels, out_channels, K, bias=bias)
        self.conv_x_r = self._conv_cls(channels, out_channels, K, bias=bias)
        self.conv_x_h = self._conv_cls(channels, out_channels, K, bias=bias)

    def reset_parameters(self) -> None:
        for conv in (self.conv_x_z, self.conv_x_r, self.conv_x_h):
            conv.reset_parameters()

    def _gate_weights(self) -> _GateWeights:
        r"""Regroup the three convolutions' parameters for the fused step
        (once per sequence; differentiable).

        Returns ``(w_x, b_x, w_h_zr, w_h_h)``: ``w_x`` maps the diffusion
        terms of :math:`X` to the input parts of :math:`[Z, R, \tilde H]`
        (``3 out`` columns, biases ``b_x``), ``w_h_zr`` maps those of
        :math:`H` to :math:`[Z, R]` and ``w_h_h`` those of :math:`R \odot H`
        to :math:`\tilde H`.
        """
        c = self.in_channels
        wz, wr, wh = self.conv_x_z.weight, self.conv_x_r.weight, self.conv_x_h.weight
        w_x = torch.cat([effective_weight(wz[:, :, :c]), effective_weight(wr[:, :, :c]),
                         effective_weight(wh[:, :, :c])], dim=1)
        w_h_zr = torch.cat([effective_weight(wz[:, :, c:]), effective_weight(wr[:, :, c:])], dim=1)
        w_h_h = effective_weight(wh[:, :, c:])
        b_x = None
        if self.bias:
            b_x = torch.cat([self.conv_x_z.bias, self.conv_x_r.bias, self.conv_x_h.bias])
        return w_x, b_x, w_h_zr, w_h_h

    def _input_part(self, X: Tensor, supports: DiffusionSupports, weights: _GateWeights) -> Tensor:
        r"""Input contributions ``(N, L, 3 out)`` to :math:`[Z, R, \tilde H]` for
        node-major ``X (N, L, in)`` (``L`` may cover many steps at once)."""
        w_x, b_x = weights[0], weights[1]
        return _diffuse_linear(X, supports, self.K, w_x, b_x)

    def _input_sequence(self, X: Tensor, supports: DiffusionSupports,
                        weights: _GateWeights) -> List[Tensor]:
        r"""Input parts of a whole sequence ``X (N, T, B, in)``, diffused for
        several steps per sparse product (chunks of at most
        ``_CHUNK_ELEMENTS`` diffusion features); returns ``T`` tensors
        ``(N, B, 3 out)``."""
        N, T, B, C = X.shape
        per_step = N * B * C * (2 * self.K - 1)
        chunk = max(1, min(T, _CHUNK_ELEMENTS // max(per_step, 1)))
        parts: List[Tensor] = []
        for t0 in range(0, T, chunk):
            xs = X[:, t0:t0 + chunk]
            L = xs.size(1)
            XW = self._input_part(xs.reshape(N, L * B, C), supports, weights)
            parts.extend(XW.view(N, L, B, -1).unbind(1))
        return parts

    def _step(self, XW: Tensor, H: Tensor, supports: DiffusionSupports,
              weights: _GateWeights) -> Tensor:
        r"""One GRU step from the input part ``XW (N, B, 3 out)`` (see
        :meth:`_input_part`) and ``H (N, B, out)``; returns ``(N, B, out)``."""
        Z, RH = self._reset_update(XW, _diffuse_linear(H, supports, self.K, weights[2]), H)
        return self._new_state(XW, _diffuse_linear(RH, supports, self.K, weights[3]), H, Z)

    def _full_step(self, X: Tensor, H: Tensor, supports: DiffusionSupports,
                   weights: _GateWeights) -> Tensor:
        r"""One GRU step from the step's input ``X (N, B, in)``: its input part
        and :meth:`_step` (the unit that activation recomputation replays)."""
        return self._step(self._input_part(X, supports, weights), H, supports, weights)

    def _sequence(self, X: Union[Tensor, Sequence[Tensor]], H: Tensor,
                  supports: DiffusionSupports, weights: _GateWeights,
                  recompute: bool = False) -> List[Tensor]:
        r"""Run the cell over a node-major sequence ``X (N, T, B, in)`` (or a
        list of ``T`` tensors ``(N, B, in)``) from ``H (N, B, out)``; returns
        the ``T`` hidden states ``(N, B, out)``.

        Without recomputation the input parts of several steps are diffused
        together (:meth:`_input_sequence`); with it, each step (input part
        included) is one checkpoint, so only the hidden states are kept.
        """
        outputs: List[Tensor] = []
        if recompute:
            steps = X if isinstance(X, (list, tuple)) else X.unbind(1)
            for x in steps:
                H = checkpoint_step(self._full_step, x, H, supports, weights)
                outputs.append(H)
            return outputs
        if isinstance(X, (list, tuple)):
            X = torch.stack(X, 1)
        for XW in self._input_sequence(X, supports, weights):
            H = self._step(XW, H, supports, weights)
            outputs.append(H)
        return outputs

    def _run_batched(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
                     H: Optional[Tensor], recompute: bool) -> Tensor:
        r"""The body of :meth:`BatchedDCRNN.forward` (also run by
        :class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`
        for a :class:`DCRNN` cell)."""
        if not isinstance(X, Tensor) or X.dim() != 4:
            shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise ValueError(f"BatchedDCRNN expects X of shape (B, T, N, {self.in_channels}), "
                             f"got {shape}; add missing axes with X.unsqueeze(...).")
        B, T, N, F = X.shape
        if F != self.in_channels:
            raise ValueError(f"BatchedDCRNN was built with in_channels = {self.in_channels} but X "
                             f"has {F} features (shape {tuple(X.shape)}); fix the last axis.")
        if H is None:
            h = X.new_zeros(N, B, self.out_channels)
        else:
            if H.shape != (B, N, self.out_channels):
                raise ValueError(f"H must have shape (B, N, out_channels) = "
                                 f"({B}, {N}, {self.out_channels}), got {tuple(H.shape)}.")
            h = H.transpose(0, 1).contiguous()
        supports = self._supports(X, edge_index, edge_weight, N)
        weights = self._gate_weights()
        outputs = self._sequence(X.permute(2, 1, 0, 3), h, supports, weights, recompute)
        return torch.stack(outputs, 0).permute(2, 0, 1, 3).contiguous()

    def _supports(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
                  num_nodes: int) -> DiffusionSupports:
        return get_diffusion_supports(edge_index, edge_weight, num_nodes, X.dtype, X.device)

    def extra_repr(self) -> str:
        extra = ", recompute=True" if getattr(self, "recompute", False) else ""
        return f"{self.in_channels}, {self.out_channels}, K={self.K}, bias={self.bias}{extra}"


class DCRNN(_DCGRUCell):
    r"""The diffusion convolutional gated recurrent unit from the `"Diffusion
    Convolutional Recurrent Neural Network: Data-Driven Traffic Forecasting"
    <https://arxiv.org/abs/1707.01926>`_ paper, for one graph snapshot.

    .. math::
        Z &= \sigma(\mathrm{DConv}_z([X, H])), \quad
        R = \sigma(\mathrm{DConv}_r([X, H])), \\
        \tilde H &= \tanh(\mathrm{DConv}_h([X, R \odot H])), \quad
        H' = Z \odot H + (1 - Z) \odot \tilde H,

    with :class:`~torch_geometric_temporal.nn.recurrent.dconv.DConv` (sparse,
    cached supports; see there for the diffusion convention). Parameters are
    those of PyTorch Geometric Temporal (``conv_x_z``, ``conv_x_r``,
    ``conv_x_h``, each with ``weight (2, K, in + out, out)`` and ``bias
    (out,)``), so upstream state dicts load.

    Args:
        in_channels (int): Number of input features.
        out_channels (int): Number of output features (hidden size).
        K (int): Filter size :math:`K \geq 1`.
        bias (bool, optional): If set to :obj:`False`, the layer will not learn
            an additive bias (default :obj:`True`).
    """

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None) -> Tensor:
        r"""One recurrent step.

        Args:
            X (torch.Tensor): Node features ``(N, in_channels)``.
            edge_index (torch.Tensor): Edge indices ``(2, E)``, row = source.
            edge_weight (torch.Tensor, optional): Edge weights ``(E,)``.
            H (torch.Tensor, optional): Hidden state ``(N, out_channels)``;
                zeros if ``None``.

        Returns:
            torch.Tensor: The new hidden state ``(N, out_channels)``.
        """
        if not isinstance(X, Tensor) or X.dim() != 2:
            shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise ValueError(f"DCRNN expects X of shape (N, {self.in_channels}), got {shape}; "
                             "use BatchedDCRNN for (B, T, N, F) inputs.")
        if X.size(1) != self.in_channels:
            raise ValueError(f"DCRNN was built with in_channels = {self.in_channels} but X has "
                             f"{X.size(1)} features; rebuild the layer or fix X.")
        N = X.size(0)
        if H is None:
            H = X.new_zeros(N, self.out_channels)
        elif H.shape != (N, self.out_channels):
            raise ValueError(f"H must have shape (N, out_channels) = ({N}, {self.out_channels}), "
                             f"got {tuple(H.shape)}.")
        supports = self._supports(X, edge_index, edge_weight, N)
        weights = self._gate_weights()
        XW = self._input_part(X.unsqueeze(1), supports, weights)
        return self._step(XW, H.unsqueeze(1), supports, weights).squeeze(1)


class BatchedDCRNN(_DCGRUCell):
    r"""Batched, sequence-level :class:`DCRNN`: runs the cell over ``T`` steps
    for ``B`` sequences on one shared graph and returns every hidden state.

    The diffusion is applied to all batch items at once, as one sparse product
    with the cached :math:`N \times N` supports over a node-major
    ``(N, B \cdot C)`` view; the edge list is never replicated per batch item.
    Parameters (``conv_x_z``, ``conv_x_r``, ``conv_x_h``) are identical to
    :class:`DCRNN`'s, so state dicts are interchangeable.

    Upstream PGT's ``BatchedDCRNN(in_channels, out_channels, K, bias=True)``
    is called ``model(X, edge_index, edge_weight)``; that call works here
    unchanged (``edge_weight`` and the initial state ``H`` are optional).

    Args:
        in_channels (int): Number of input features.
        out_channels (int): Number of output features (hidden size).
        K (int): Filter size :math:`K \geq 1`.
        bias (bool, optional): If set to :obj:`False`, the layer will not learn
            an additive bias (default :obj:`True`).
        recompute (bool, optional): Activation recomputation: keep only the
            hidden state of each step for backward and recompute the step's
            gates and diffusion terms there (training with gradients only;
            same result, see
            :mod:`~torch_geometric_temporal.nn.recurrent.recompute`). A
            settable attribute (default :obj:`False`).
    """

    _conv_cls = BatchedDConv

    def __init__(self, in_channels: int, out_channels: int, K: int, bias: bool = True,
                 recompute: bool = False):
        super().__init__(in_channels, out_channels, K, bias)
        self.recompute = bool(recompute)

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None) -> Tensor:
        r"""Run the cell over a batch of sequences.

        Args:
            X (torch.Tensor): Inputs ``(B, T, N, in_channels)``.
            edge_index (torch.Tensor): Edge indices ``(2, E)`` of the single
                shared graph (ids in ``[0, N)``), row = source.
            edge_weight (torch.Tensor, optional): Edge weights ``(E,)``.
            H (torch.Tensor, optional): Initial hidden state
                ``(B, N, out_channels)``; zeros if ``None``.

        Returns:
            torch.Tensor: Hidden states of every step ``(B, T, N, out_channels)``.
        """
        return self._run_batched(X, edge_index, edge_weight, H, recompute_active(self))
