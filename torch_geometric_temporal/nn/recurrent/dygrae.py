r"""DyGrAE's encoder: a gated graph convolution followed by an LSTM."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph

__all__ = ["DyGrEncoder"]

_AGGREGATIONS = ("mean", "add", "max")


class DyGrEncoder(torch.nn.Module):
    r"""The encoder of the dynamic graph autoencoder (DyGrAE) from the
    `"Predictive Temporal Embedding of Dynamic Graphs"
    <https://ieeexplore.ieee.org/document/9073186>`_ paper (Taheri et al.,
    2019): a gated graph neural network embeds the nodes of each snapshot and
    an LSTM carries the embeddings through time.

    For one snapshot with node features :math:`\mathbf{X}` (at most
    ``conv_out_channels`` features; :class:`~torch_geometric.nn.conv.GatedGraphConv`
    pads them with zeros)

    .. math::
        \tilde{\mathbf{H}} &= \mathrm{GGNN}(\mathbf{X}, \mathcal{E}), \\
        \mathbf{O}, (\mathbf{H}', \mathbf{C}') &=
        \mathrm{LSTM}(\tilde{\mathbf{H}}, (\mathbf{H}, \mathbf{C})),

    where the gated graph convolution runs ``conv_num_layers`` propagation
    steps with aggregation ``conv_aggr`` (each message scaled by its edge
    weight) and the LSTM takes one time step with the nodes as its batch, so
    every node keeps its own hidden and cell state. As in PyTorch Geometric
    Temporal, the recurrence is per node: the paper pools each snapshot into
    one graph embedding before its LSTM; pool the returned node outputs for
    that (e.g. their mean).

    Parameter names (``conv_layer.*``, ``recurrent_layer.*``) and the
    computation are those of PyTorch Geometric Temporal's ``DyGrEncoder``, so
    its state dicts load unchanged. Unlike upstream, which calls
    ``.squeeze()`` on its outputs, only the LSTM's layer axis is removed (and
    only when ``lstm_num_layers == 1``), so a graph with one node or an LSTM
    with one channel keeps its node and channel axes; and a stacked LSTM
    (``lstm_num_layers > 1``) accepts the ``(lstm_num_layers, N,
    lstm_out_channels)`` states it returns.

    Args:
        conv_out_channels (int): Number of output channels of the gated graph
            convolution (at least the number of input features).
        conv_num_layers (int): Number of propagation steps of the gated graph
            convolution.
        conv_aggr (str): Aggregation of the messages: :obj:`"mean"`,
            :obj:`"add"` or :obj:`"max"`.
        lstm_out_channels (int): Number of LSTM channels (hidden and cell
            state size).
        lstm_num_layers (int): Number of stacked LSTM layers.

    Shapes:
        - **input:** node features :math:`(N, F)` with
          :math:`F \le` ``conv_out_channels``, edge indices :math:`(2, E)`,
          edge weights :math:`(E,)` *(optional)*, hidden and cell states
          :math:`(N, C)` with :math:`C` = ``lstm_out_channels`` (or
          :math:`(L, N, C)` with :math:`L` = ``lstm_num_layers``) *(optional,
          both or neither; zeros if omitted)*
        - **output:** ``(H_tilde, H, C)``: the LSTM output :math:`(N, C)`
          (that of the last layer) and the new hidden and cell states,
          :math:`(N, C)` if :math:`L = 1`, else :math:`(L, N, C)`
    """

    def __init__(
        self,
        conv_out_channels: int,
        conv_num_layers: int,
        conv_aggr: str,
        lstm_out_channels: int,
        lstm_num_layers: int,
    ):
        super().__init__()
        if conv_aggr not in _AGGREGATIONS:
            raise ValueError(f"conv_aggr must be one of {', '.join(map(repr, _AGGREGATIONS))}, "
                             f"got {conv_aggr!r}.")
        self.conv_out_channels = conv_out_channels
        self.conv_num_layers = conv_num_layers
        self.conv_aggr = conv_aggr
        self.lstm_out_channels = lstm_out_channels
        self.lstm_num_layers = lstm_num_layers
        self.conv_layer = pyg("nn").GatedGraphConv(
            out_channels=conv_out_channels, num_layers=conv_num_layers, aggr=conv_aggr, bias=True)
        self.recurrent_layer = torch.nn.LSTM(
            input_size=conv_out_channels, hidden_size=lstm_out_channels, num_layers=lstm_num_layers)

    def _state(self, name: str, S: Tensor, N: int, like: Tensor) -> Tensor:
        L, C = self.lstm_num_layers, self.lstm_out_channels
        if isinstance(S, Tensor) and S.dim() == 2 and L == 1:
            S = S.unsqueeze(0)
        if not isinstance(S, Tensor) or tuple(S.shape) != (L, N, C):
            got = tuple(S.shape) if isinstance(S, Tensor) else type(S).__name__
            expected = f"(N, lstm_out_channels) = ({N}, {C})" if L == 1 else \
                f"(lstm_num_layers, N, lstm_out_channels) = ({L}, {N}, {C})"
            raise ValueError(f"{name} must have shape {expected}, got {got}; pass the state "
                             "DyGrEncoder returned for this graph's nodes, or None.")
        if S.device != like.device:
            raise ValueError(f"{name} is on {S.device} but X is on {like.device}; move both to the "
                             "same device.")
        return S

    def forward(
        self,
        X: Tensor,
        edge_index: Tensor,
        edge_weight: Optional[Tensor] = None,
        H: Optional[Tensor] = None,
        C: Optional[Tensor] = None,
    ) -> Tuple[Tensor, Tensor, Tensor]:
        r"""One snapshot: gated graph convolution, then one LSTM step per node.

        Args:
            X (torch.Tensor): Node features :math:`(N, F)`,
                :math:`F \le` ``conv_out_channels``.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`.
            H (torch.Tensor, optional): Hidden state, see the class shapes.
            C (torch.Tensor, optional): Cell state, given with :obj:`H`.

        Returns:
            (torch.Tensor, torch.Tensor, torch.Tensor): the output
            ``H_tilde`` and the new ``H`` and ``C``.
        """
        if not isinstance(X, Tensor) or X.dim() != 2:
            got = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise ValueError(f"DyGrEncoder expects X of shape (N, F) with F <= conv_out_channels "
                             f"= {self.conv_out_channels}, got {got}; pass one snapshot per call.")
        features = X.size(1)
        N = check_features("DyGrEncoder", X, features)
        if features > self.conv_out_channels:
            raise ValueError(f"X has {features} features but DyGrEncoder was built with "
                             f"conv_out_channels = {self.conv_out_channels}; the gated graph "
                             "convolution needs conv_out_channels >= the number of features.")
        check_graph(edge_index, edge_weight, N, X.device)
        if (H is None) != (C is None):
            raise ValueError("DyGrEncoder got only one of H and C; pass both states returned by "
                             "the previous call, or neither (zeros).")
        state = None
        if H is not None:
            state = (self._state("H", H, N, X), self._state("C", C, N, X))
        H_tilde = self.conv_layer(X, edge_index, edge_weight)
        H_tilde, (H, C) = self.recurrent_layer(H_tilde.unsqueeze(0), state)
        if self.lstm_num_layers == 1:
            H, C = H.squeeze(0), C.squeeze(0)
        return H_tilde.squeeze(0), H, C

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(conv_out_channels={self.conv_out_channels}, "
                f"conv_num_layers={self.conv_num_layers}, conv_aggr={self.conv_aggr!r}, "
                f"lstm_out_channels={self.lstm_out_channels}, "
                f"lstm_num_layers={self.lstm_num_layers})")
