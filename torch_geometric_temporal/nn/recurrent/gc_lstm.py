r"""Graph convolution embedded LSTM (GC-LSTM, Chen et al., 2018)."""
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Parameter

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._cheb import cheb_basis, cheb_filter, scaled_laplacian
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph, check_state

__all__ = ["GCLSTM"]


class GCLSTM(torch.nn.Module):
    r"""The integrated graph convolutional LSTM cell from the `"GC-LSTM: Graph
    Convolution Embedded LSTM for Dynamic Link Prediction"
    <https://arxiv.org/abs/1812.04206>`_ paper: an LSTM whose input enters
    through a dense product and whose hidden state is propagated over the
    graph by a :math:`K`-localized Chebyshev filter :math:`\ast_\mathcal{G}`
    (:class:`~torch_geometric.nn.conv.ChebConv`),

    .. math::
        \mathbf{I} &= \sigma(\mathbf{X}_t \mathbf{W}_i +
        \mathbf{\Theta}_i \ast_\mathcal{G} \mathbf{H}_{t-1} + \mathbf{b}_i),

        \mathbf{F} &= \sigma(\mathbf{X}_t \mathbf{W}_f +
        \mathbf{\Theta}_f \ast_\mathcal{G} \mathbf{H}_{t-1} + \mathbf{b}_f),

        \mathbf{C}_t &= \mathbf{F} \odot \mathbf{C}_{t-1} + \mathbf{I} \odot
        \tanh(\mathbf{X}_t \mathbf{W}_c +
        \mathbf{\Theta}_c \ast_\mathcal{G} \mathbf{H}_{t-1} + \mathbf{b}_c),

        \mathbf{O} &= \sigma(\mathbf{X}_t \mathbf{W}_o +
        \mathbf{\Theta}_o \ast_\mathcal{G} \mathbf{H}_{t-1} + \mathbf{b}_o),

        \mathbf{H}_t &= \mathbf{O} \odot \tanh(\mathbf{C}_t).

    In the paper :math:`\mathbf{X}_t` is the adjacency matrix of snapshot
    :math:`t` (one row per node); any node features work. The filters are the
    ``ChebConv`` submodules ``conv_i``, ``conv_f``, ``conv_c``, ``conv_o``
    (each with its own bias when ``bias`` is set); ``W_i``, ``W_f``, ``W_c``,
    ``W_o`` :math:`(F, \text{out\_channels})` (glorot) and ``b_i``, ``b_f``,
    ``b_c``, ``b_o`` :math:`(1, \text{out\_channels})` (zeros), as upstream
    PyTorch Geometric Temporal's ``state_dict``. The four filters share one
    Chebyshev basis of :math:`\mathbf{H}_{t-1}` (one propagation of
    :math:`K - 1` steps instead of four), with the same result.

    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden and cell) features.
        K (int): Chebyshev filter size :math:`K` (hops :math:`K - 1`).
        normalization (str, optional): Normalization of the graph Laplacian
            (default: :obj:`"sym"`): :obj:`None`
            (:math:`\mathbf{L} = \mathbf{D} - \mathbf{A}`), :obj:`"sym"`
            (:math:`\mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`)
            or :obj:`"rw"` (:math:`\mathbf{I} - \mathbf{D}^{-1}\mathbf{A}`).
            For a non-symmetric normalization pass :obj:`lambda_max` to
            :meth:`forward`; without it :math:`\lambda_\max` is taken as twice
            the largest Laplacian weight, as ``ChebConv`` does.
        bias (bool, optional): If :obj:`False`, the ``ChebConv`` filters learn
            no additive bias (:math:`\mathbf{b}_\cdot` remain).
            (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(N, F)`, edge indices :math:`(2, E)`
          (row 0 = source), optional edge weights :math:`(E,)`, optional
          hidden and cell states :math:`(N, \text{out\_channels})` (zeros if
          omitted), optional ``lambda_max`` (scalar tensor)
        - **output:** ``(H, C)``, each :math:`(N, \text{out\_channels})`
    """

    def __init__(self, in_channels: int, out_channels: int, K: int,
                 normalization: Optional[str] = "sym", bias: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.normalization = normalization
        self.bias = bias
        ChebConv = pyg("nn").ChebConv
        for gate in ("i", "f", "c", "o"):  # creation order = upstream's (same init for a seed)
            setattr(self, f"conv_{gate}",
                    ChebConv(in_channels=out_channels, out_channels=out_channels, K=K,
                             normalization=normalization, bias=bias))
            setattr(self, f"W_{gate}", Parameter(torch.empty(in_channels, out_channels)))
            setattr(self, f"b_{gate}", Parameter(torch.empty(1, out_channels)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Glorot-initialize the input weights and zero the gate biases (the
        ``ChebConv`` filters keep their own initialization)."""
        inits = pyg("nn.inits")
        for gate in ("i", "f", "c", "o"):
            inits.glorot(getattr(self, f"W_{gate}"))
        for gate in ("i", "f", "c", "o"):
            inits.zeros(getattr(self, f"b_{gate}"))

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None, C: Optional[Tensor] = None,
                lambda_max: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""One step of the cell.

        Args:
            X (torch.Tensor): Node features :math:`(N, F)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`;
                an unweighted graph if omitted.
            H (torch.Tensor, optional): Hidden state
                :math:`(N, \text{out\_channels})`; zeros if omitted.
            C (torch.Tensor, optional): Cell state
                :math:`(N, \text{out\_channels})`; zeros if omitted.
            lambda_max (torch.Tensor, optional): Largest eigenvalue of the
                Laplacian (needed for a non-symmetric normalization).

        Returns:
            (torch.Tensor, torch.Tensor): The new hidden state and cell state,
            each :math:`(N, \text{out\_channels})`.
        """
        N = check_features(type(self).__name__, X, self.in_channels)
        check_graph(edge_index, edge_weight, N, X.device)
        H = check_state("H", H, X, (N, self.out_channels))
        C = check_state("C", C, X, (N, self.out_channels))
        laplacian = scaled_laplacian(self.conv_i, edge_index, edge_weight, N, lambda_max, X.dtype)
        return self._step(self._input_part(X, laplacian), H, C, laplacian)

    def _input_part(self, X: Tensor, laplacian: Tuple[Tensor, Tensor]) -> Tensor:
        r"""The input products :math:`\mathbf{X} \mathbf{W}_\cdot` of the gates
        ``i, f, c, o`` (no graph), stacked on the last axis ``(N, ..., 4 out)``,
        of node-major ``X (N, ..., F)`` (every step of a batch at once in
        :class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`;
        ``laplacian`` is unused, for the Chebyshev cells' common interface)."""
        return X @ torch.cat([self.W_i, self.W_f, self.W_c, self.W_o], dim=1)

    def _step(self, XW: Tensor, H: Tensor, C: Tensor,
              laplacian: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Tensor]:
        r"""The update from the input part ``XW (N, ..., 4 out)`` (see
        :meth:`_input_part`) and node-major ``H``, ``C`` ``(N, ..., out)`` (a
        batch ``(N, B, C)`` on one graph propagates as one ``(N, B C)``
        matrix)."""
        x_i, x_f, x_c, x_o = XW.split(self.out_channels, dim=-1)
        bh = cheb_basis(self.conv_i, H, laplacian, self.K)
        I = torch.sigmoid(x_i + cheb_filter(self.conv_i, bh) + self.b_i)
        F = torch.sigmoid(x_f + cheb_filter(self.conv_f, bh) + self.b_f)
        C = F * C + I * torch.tanh(x_c + cheb_filter(self.conv_c, bh) + self.b_c)
        O = torch.sigmoid(x_o + cheb_filter(self.conv_o, bh) + self.b_o)
        return O * torch.tanh(C), C
