r"""Model configurations used by the training scripts.

* ``"batched"`` (default): PGT-I's per-step configuration, ``BatchedDCRNN(F,
  F, K=3)`` applied to the ``(B, T, N, F)`` input; the hidden state after
  input step :math:`t` is the forecast for target step :math:`t` (each output
  is a :math:`T_{in}`-step-ahead forecast), read on the target channel. With
  ``hidden_channels`` set, the recurrent layer has that many units and a
  :class:`~torch.nn.Linear` head maps them to the target.
* ``"seq2seq"``: the encoder-decoder :class:`DCRNNSeq2Seq` of
  `DCRNN <https://arxiv.org/abs/1707.01926>`_ (64 units, 2 layers, K=2 by
  default) forecasting the target channel ``T_out`` steps ahead.
"""
from typing import Optional

import torch
from torch import Tensor

from torch_geometric_temporal.nn.recurrent import BatchedDCRNN, DCRNNSeq2Seq

__all__ = ["PerStepDCRNN", "build_model", "MODEL_NAMES"]

MODEL_NAMES = ("batched", "seq2seq")


class PerStepDCRNN(torch.nn.Module):
    r"""``BatchedDCRNN`` with a linear read-out per time step.

    Args:
        in_channels (int): input features :math:`F`.
        hidden_channels (int): recurrent units.
        out_channels (int): output features. (default: ``1``)
        K (int): diffusion steps. (default: ``3``, as PGT-I)
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int = 1, K: int = 3):
        super().__init__()
        self.recurrent = BatchedDCRNN(in_channels, hidden_channels, K=K)
        self.head = torch.nn.Linear(hidden_channels, out_channels)

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T, N, F) -> (B, T, N, out_channels)``."""
        return self.head(torch.relu(self.recurrent(X, edge_index, edge_weight)))


def build_model(name: str, num_features: int, num_timesteps_out: int, *, hidden_channels: Optional[int] = None,
                num_layers: int = 2, K: Optional[int] = None, use_curriculum_learning: bool = False,
                cl_decay_steps: int = 2000) -> torch.nn.Module:
    r"""Build a model by name (see the module docstring).

    Args:
        name (str): ``"batched"`` or ``"seq2seq"``.
        num_features (int): input features :math:`F` of ``X``.
        num_timesteps_out (int): forecast horizon (``seq2seq`` only; the
            per-step model's horizon equals its input length).
        hidden_channels (int, optional): ``batched``: ``None`` for PGT-I's
            ``BatchedDCRNN(F, F)``, else units of a :class:`PerStepDCRNN`;
            ``seq2seq``: units (default ``64``).
        num_layers (int): ``seq2seq`` recurrent layers. (default: ``2``)
        K (int, optional): diffusion steps (default ``3`` for ``batched`` as
            PGT-I, ``2`` for ``seq2seq`` as DCRNN).
        use_curriculum_learning (bool): ``seq2seq`` scheduled sampling.
        cl_decay_steps (int): curriculum decay constant in batches.
    """
    if name == "batched":
        K = 3 if K is None else K
        if hidden_channels is None:
            return BatchedDCRNN(num_features, num_features, K=K)
        return PerStepDCRNN(num_features, hidden_channels, 1, K=K)
    if name == "seq2seq":
        return DCRNNSeq2Seq(
            num_features, 1, hidden_channels=64 if hidden_channels is None else hidden_channels,
            num_layers=num_layers, K=2 if K is None else K, num_timesteps_out=num_timesteps_out,
            use_curriculum_learning=use_curriculum_learning, cl_decay_steps=cl_decay_steps,
        )
    raise ValueError(f"Unknown model {name!r}; choose one of {MODEL_NAMES}.")
