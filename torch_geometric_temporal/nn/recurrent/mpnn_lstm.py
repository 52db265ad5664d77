r"""Message passing network with LSTMs over a window of graphs (MPNN-LSTM,
Panagopoulos et al., 2021)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph

__all__ = ["MPNNLSTM"]


class MPNNLSTM(torch.nn.Module):
    r"""The message passing neural network with long short-term memory from
    the `"Transfer Graph Neural Networks for Pandemic Forecasting"
    <https://arxiv.org/abs/2009.08388>`_ paper. The input holds the graphs of
    the last :math:`T` (``window``) time steps, each on the same
    :math:`N` (``num_nodes``) nodes, stacked as one disconnected graph. Two
    graph convolutions (:class:`~torch_geometric.nn.conv.GCNConv`), each
    followed by ReLU, batch normalization and dropout, embed every node of
    every step,

    .. math::
        \mathbf{H}^{(1)} &= \mathrm{drop}(\mathrm{BN}(\mathrm{ReLU}(
        \hat{\mathbf{A}} \mathbf{X} \mathbf{\Theta}_1 + \mathbf{c}_1))),

        \mathbf{H}^{(2)} &= \mathrm{drop}(\mathrm{BN}(\mathrm{ReLU}(
        \hat{\mathbf{A}} \mathbf{H}^{(1)} \mathbf{\Theta}_2 + \mathbf{c}_2))),

    two stacked LSTMs run over the :math:`T` steps of each node's
    :math:`[\mathbf{H}^{(1)}, \mathbf{H}^{(2)}]`, and the output per node is
    the last hidden state of each LSTM followed by a skip connection of the
    raw input: all :math:`F` features of the first step and the last feature
    of each later step,

    .. math::
        \mathbf{O}_n = [\mathbf{h}^{\text{LSTM}_1}_{n,T},
        \mathbf{h}^{\text{LSTM}_2}_{n,T}, \mathbf{X}_{n,1,:},
        \mathbf{X}_{n,2,F}, \dots, \mathbf{X}_{n,T,F}].

    Submodules (upstream PyTorch Geometric Temporal's ``state_dict`` keys):
    ``_convolution_1``, ``_convolution_2``, ``_batch_norm_1``,
    ``_batch_norm_2``, ``_recurrent_1``, ``_recurrent_2``. In training mode
    batch normalization uses the statistics of the nodes of the call and
    dropout is active.

    Args:
        in_channels (int): Number of input features :math:`F`.
        hidden_size (int): Size :math:`h` of the hidden representations.
        num_nodes (int): Number of nodes :math:`N` of each graph.
        window (int): Number of time steps :math:`T` in the input.
        dropout (float): Dropout probability after each convolution.

    Shapes:
        - **input:** node features :math:`(S \cdot T \cdot N, F)` for
          :math:`S \geq 1` samples (rows ordered by sample, then time step,
          then node), edge indices :math:`(2, E)` of the stacked graphs (node
          ids in :math:`[0, S T N)`), edge weights :math:`(E,)` or
          :obj:`None`
        - **output:** :math:`(S \cdot N, 2h + F + T - 1)`
    """

    def __init__(self, in_channels: int, hidden_size: int, num_nodes: int, window: int,
                 dropout: float):
        super().__init__()
        for name, value in (("num_nodes", num_nodes), ("window", window)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout!r}.")
        self.window = window
        self.num_nodes = num_nodes
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.in_channels = in_channels
        GCNConv = pyg("nn").GCNConv  # creation order = upstream's (same init for a seed)
        self._convolution_1 = GCNConv(in_channels, hidden_size)
        self._convolution_2 = GCNConv(hidden_size, hidden_size)
        self._batch_norm_1 = torch.nn.BatchNorm1d(hidden_size)
        self._batch_norm_2 = torch.nn.BatchNorm1d(hidden_size)
        self._recurrent_1 = torch.nn.LSTM(2 * hidden_size, hidden_size, 1)
        self._recurrent_2 = torch.nn.LSTM(hidden_size, hidden_size, 1)

    def reset_parameters(self) -> None:
        r"""Re-initialize every parameter (and the batch norm statistics)."""
        for module in (self._convolution_1, self._convolution_2, self._batch_norm_1,
                       self._batch_norm_2, self._recurrent_1, self._recurrent_2):
            module.reset_parameters()

    def _embed(self, conv, norm, X: Tensor, edge_index: Tensor,
               edge_weight: Optional[Tensor]) -> Tensor:
        X = norm(torch.relu(conv(X, edge_index, edge_weight)))
        return F.dropout(X, p=self.dropout, training=self.training)

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor]) -> Tensor:
        r"""Embed the window's graphs and run the LSTMs over the steps.

        Args:
            X (torch.Tensor): Node features :math:`(S \cdot T \cdot N, F)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)` of the
                stacked graphs.
            edge_weight (torch.Tensor or None): Edge weights :math:`(E,)`;
                :obj:`None` for an unweighted graph.

        Returns:
            torch.Tensor: :math:`(S \cdot N, 2h + F + T - 1)`.
        """
        name = type(self).__name__
        rows = check_features(name, X, self.in_channels)
        T, N, C = self.window, self.num_nodes, self.in_channels
        if rows == 0 or rows % (T * N):
            raise ValueError(f"{name} expects X with S * window * num_nodes = S * {T} * {N} rows "
                             f"(S >= 1 samples), got {rows}; stack the {T} graphs of the window "
                             "(each with num_nodes nodes) along the node axis.")
        check_graph(edge_index, edge_weight, rows, X.device)
        steps = X.view(-1, T, N, C).transpose(1, 2).reshape(-1, T, C)  # (S N, T, F)
        skip = torch.cat([steps[:, 0, :], steps[:, 1:, C - 1]], dim=1)
        H_1 = self._embed(self._convolution_1, self._batch_norm_1, X, edge_index, edge_weight)
        H_2 = self._embed(self._convolution_2, self._batch_norm_2, H_1, edge_index, edge_weight)
        H = torch.cat([H_1, H_2], dim=1)
        H = H.view(-1, T, N, H.size(1)).transpose(0, 1).reshape(T, -1, H.size(-1))  # (T, S N, 2h)
        out, (h_1, _) = self._recurrent_1(H)
        _, (h_2, _) = self._recurrent_2(out)
        return torch.cat([h_1[0], h_2[0], skip], dim=1)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, hidden_size={self.hidden_size}, "
                f"num_nodes={self.num_nodes}, window={self.window}, dropout={self.dropout}")
