r"""The DCRNN encoder-decoder (sequence to sequence) model."""
import math
from typing import List, Optional

import torch
from torch import Tensor

from torch_geometric_temporal.nn.recurrent.dconv import _check_positive_int, get_diffusion_supports
from torch_geometric_temporal.nn.recurrent.dcrnn import BatchedDCRNN
from torch_geometric_temporal.nn.recurrent.recompute import checkpoint_step, recompute_active

__all__ = ["DCRNNSeq2Seq"]


class DCRNNSeq2Seq(torch.nn.Module):
    r"""The encoder-decoder of the `"Diffusion Convolutional Recurrent Neural
    Network: Data-Driven Traffic Forecasting" <https://arxiv.org/abs/1707.01926>`_
    paper.

    A stack of ``num_layers`` diffusion convolutional GRUs encodes the
    ``T_in`` input steps; its final hidden states initialise a second stack
    (the decoder), which emits ``T_out`` steps. Each decoder step's top hidden
    state is projected (a per-node :class:`torch.nn.Linear`) to
    ``out_channels``; the decoder's first input is a zero "GO" symbol and each
    later input is the previous prediction. With scheduled sampling
    (``use_curriculum_learning=True``, training mode, ``targets`` given) the
    ground truth :math:`y_{t-1}` replaces the prediction with probability

    .. math::
        \epsilon_i = \frac{k}{k + \exp(i / k)},

    where :math:`i` = ``batches_seen`` and :math:`k` = ``cl_decay_steps``
    (inverse sigmoid decay; one draw per decoder step for the whole batch, from
    the global torch RNG, as in the paper's reference code).

    All parameters are created in ``__init__`` (DDP-safe) and there is no
    module-level device. State-dict keys: ``encoder.<l>.conv_x_{z,r,h}.{weight,bias}``,
    ``decoder.<l>.conv_x_{z,r,h}.{weight,bias}``, ``projection.{weight,bias}``.

    Args:
        in_channels (int): Input features per node and step.
        out_channels (int): Predicted features per node and step (also the
            decoder's input size).
        hidden_channels (int, optional): Hidden units per layer (default 64).
        num_layers (int, optional): Layers in encoder and decoder (default 2).
        K (int, optional): Diffusion filter size :math:`K` (default 2), in
            PyTorch Geometric Temporal's convention (:math:`K` terms per
            direction including :math:`X_0`); the reference code's
            ``max_diffusion_step`` is :math:`K - 1` (its METR-LA setting 2 is
            ``K=3`` here).
        num_timesteps_out (int, optional): Default horizon ``T_out`` (default 12).
        bias (bool, optional): Learn additive biases (default :obj:`True`).
        use_curriculum_learning (bool, optional): Enable scheduled sampling
            (default :obj:`False`).
        cl_decay_steps (int, optional): :math:`k` of the decay (default 2000).
        recompute (bool, optional): Activation recomputation: keep only each
            step's hidden state per layer for backward and recompute the
            step's gates and diffusion terms there (training with gradients
            only; same loss, gradients and random stream, see
            :mod:`~torch_geometric_temporal.nn.recurrent.recompute`). About
            ``2 num_layers (T_in + T_out)`` hidden states ``(N, B, hidden)``
            stay alive instead of every step's activations. A settable
            attribute (default :obj:`False`).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64,
                 num_layers: int = 2, K: int = 2, num_timesteps_out: int = 12, bias: bool = True,
                 use_curriculum_learning: bool = False, cl_decay_steps: int = 2000,
                 recompute: bool = False):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("hidden_channels", hidden_channels), ("num_layers", num_layers),
                            ("K", K), ("num_timesteps_out", num_timesteps_out),
                            ("cl_decay_steps", cl_decay_steps)):
            _check_positive_int(name, value)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.K = K
        self.num_timesteps_out = num_timesteps_out
        self.use_curriculum_learning = use_curriculum_learning
        self.cl_decay_steps = cl_decay_steps
        self.recompute = bool(recompute)
        self.encoder = torch.nn.ModuleList(
            BatchedDCRNN(in_channels if i == 0 else hidden_channels, hidden_channels, K, bias)
            for i in range(num_layers))
        self.decoder = torch.nn.ModuleList(
            BatchedDCRNN(out_channels if i == 0 else hidden_channels, hidden_channels, K, bias)
            for i in range(num_layers))
        self.projection = torch.nn.Linear(hidden_channels, out_channels, bias=bias)

    def reset_parameters(self) -> None:
        for cell in list(self.encoder) + list(self.decoder):
            cell.reset_parameters()
        self.projection.reset_parameters()

    def sampling_probability(self, batches_seen: int) -> float:
        r"""Teacher-forcing probability :math:`k / (k + \exp(i / k))` at step ``batches_seen``."""
        k = self.cl_decay_steps
        x = batches_seen / k
        if x > 700:  # exp overflow; the probability is 0 to double precision
            return 0.0
        return k / (k + math.exp(x))

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                targets: Optional[Tensor] = None, batches_seen: int = 0,
                num_timesteps_out: Optional[int] = None,
                teacher_forcing_ratio: Optional[float] = None) -> Tensor:
        r"""Encode ``X`` and decode ``T_out`` steps.

        Args:
            X (torch.Tensor): Inputs ``(B, T_in, N, in_channels)``.
            edge_index (torch.Tensor): Edge indices ``(2, E)`` of the shared graph.
            edge_weight (torch.Tensor, optional): Edge weights ``(E,)``.
            targets (torch.Tensor, optional): Ground truth ``(B, T_out, N,
                out_channels)`` for teacher forcing; read only in training mode.
            batches_seen (int, optional): Training step :math:`i` of the decay.
            num_timesteps_out (int, optional): Override the horizon ``T_out``.
            teacher_forcing_ratio (float, optional): Override the scheduled
                probability (e.g. ``1.0`` always feeds the ground truth); still
                only used in training mode with ``targets``.

        Returns:
            torch.Tensor: Predictions ``(B, T_out, N, out_channels)``.
        """
        if not isinstance(X, Tensor) or X.dim() != 4:
            shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise ValueError(f"DCRNNSeq2Seq expects X of shape (B, T_in, N, {self.in_channels}), "
                             f"got {shape}.")
        B, T_in, N, F = X.shape
        if F != self.in_channels:
            raise ValueError(f"DCRNNSeq2Seq was built with in_channels = {self.in_channels} but X "
                             f"has {F} features (shape {tuple(X.shape)}).")
        T_out = self.num_timesteps_out if num_timesteps_out is None else num_timesteps_out
        _check_positive_int("num_timesteps_out", T_out)
        if targets is not None:
            expected = (B, T_out, N, self.out_channels)
            if not isinstance(targets, Tensor) or tuple(targets.shape) != expected:
                shape = tuple(targets.shape) if isinstance(targets, Tensor) else type(targets)
                raise ValueError(f"targets must have shape (B, T_out, N, out_channels) = "
                                 f"{expected}, got {shape}.")
        if teacher_forcing_ratio is not None and not 0.0 <= teacher_forcing_ratio <= 1.0:
            raise ValueError(f"teacher_forcing_ratio must lie in [0, 1], got {teacher_forcing_ratio}.")

        p_teacher = 0.0
        if self.training and targets is not None:
            if teacher_forcing_ratio is not None:
                p_teacher = float(teacher_forcing_ratio)
            elif self.use_curriculum_learning:
                p_teacher = self.sampling_probability(batches_seen)

        supports = get_diffusion_supports(edge_index, edge_weight, N, X.dtype, X.device)

        recompute = recompute_active(self)
        # Encoder, layer by layer over the whole input sequence (node-major):
        # without recomputation the input part of each layer is diffused for
        # all T_in steps at once.
        seq = X.permute(2, 1, 0, 3)  # (N, T_in, B, F)
        hidden: List[Tensor] = []
        for cell in self.encoder:
            h = X.new_zeros(N, B, self.hidden_channels)
            outs = cell._sequence(seq, h, supports, cell._gate_weights(), recompute)
            hidden.append(outs[-1])
            seq = outs

        # Decoder, step by step, fed its own previous prediction (or the truth).
        dec_weights = [cell._gate_weights() for cell in self.decoder]
        truth = targets.permute(1, 2, 0, 3) if p_teacher > 0.0 else None  # (T_out, N, B, O)
        inp = X.new_zeros(N, B, self.out_channels)  # GO symbol
        preds = []
        for t in range(T_out):
            x = inp
            for layer, cell in enumerate(self.decoder):
                hidden[layer] = checkpoint_step(cell._full_step, x, hidden[layer], supports,
                                                dec_weights[layer], enabled=recompute)
                x = hidden[layer]
            y = self.projection(x)
            preds.append(y)
            inp = y
            if truth is not None and t + 1 < T_out:
                if p_teacher >= 1.0 or float(torch.rand(())) < p_teacher:
                    inp = truth[t]
        return torch.stack(preds, 0).permute(2, 0, 1, 3).contiguous()
