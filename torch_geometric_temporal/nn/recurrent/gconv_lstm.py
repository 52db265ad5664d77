r"""Chebyshev graph convolutional LSTM with peepholes (GCRN, Seo et al., 2018)."""
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.nn import Parameter

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._cheb import cheb_basis, cheb_filter, scaled_laplacian
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph, check_state

__all__ = ["GConvLSTM"]


class GConvLSTM(torch.nn.Module):
    r"""The Chebyshev graph convolutional LSTM cell (Model 2) from the
    `"Structured Sequence Modeling with Graph Convolutional Recurrent Networks"
    <https://arxiv.org/abs/1612.07659>`_ paper: a peephole LSTM whose dense
    products are :math:`K`-localized Chebyshev graph filters
    :math:`\ast_\mathcal{G}` (:class:`~torch_geometric.nn.conv.ChebConv`),

    .. math::
        \mathbf{I} &= \sigma(\mathbf{W}_{xi} \ast_\mathcal{G} \mathbf{X}_t +
        \mathbf{W}_{hi} \ast_\mathcal{G} \mathbf{H}_{t-1} +
        \mathbf{w}_{ci} \odot \mathbf{C}_{t-1} + \mathbf{b}_i),

        \mathbf{F} &= \sigma(\mathbf{W}_{xf} \ast_\mathcal{G} \mathbf{X}_t +
        \mathbf{W}_{hf} \ast_\mathcal{G} \mathbf{H}_{t-1} +
        \mathbf{w}_{cf} \odot \mathbf{C}_{t-1} + \mathbf{b}_f),

        \mathbf{C}_t &= \mathbf{F} \odot \mathbf{C}_{t-1} + \mathbf{I} \odot
        \tanh(\mathbf{W}_{xc} \ast_\mathcal{G} \mathbf{X}_t +
        \mathbf{W}_{hc} \ast_\mathcal{G} \mathbf{H}_{t-1} + \mathbf{b}_c),

        \mathbf{O} &= \sigma(\mathbf{W}_{xo} \ast_\mathcal{G} \mathbf{X}_t +
        \mathbf{W}_{ho} \ast_\mathcal{G} \mathbf{H}_{t-1} +
        \mathbf{w}_{co} \odot \mathbf{C}_t + \mathbf{b}_o),

        \mathbf{H}_t &= \mathbf{O} \odot \tanh(\mathbf{C}_t).

    The peepholes :math:`\mathbf{w}_{c\cdot}` are per-channel vectors shared
    by all nodes (the output gate looks at the new cell state
    :math:`\mathbf{C}_t`, as in the paper). The filters are the ``ChebConv``
    submodules ``conv_{x,h}_{i,f,c,o}`` (each with its own bias when ``bias``
    is set, besides :math:`\mathbf{b}_\cdot`); the parameters ``w_c_i``,
    ``w_c_f``, ``w_c_o`` (glorot) and ``b_i``, ``b_f``, ``b_c``, ``b_o``
    (zeros) have shape :math:`(1, \text{out\_channels})`, as upstream PyTorch
    Geometric Temporal's ``state_dict``. The scaled Laplacian is built once
    per step and the four filters on :math:`\mathbf{X}_t` (and the four on
    :math:`\mathbf{H}_{t-1}`) share one Chebyshev basis, with the same result.

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
            for source, channels in (("x", in_channels), ("h", out_channels)):
                setattr(self, f"conv_{source}_{gate}",
                        ChebConv(in_channels=channels, out_channels=out_channels, K=K,
                                 normalization=normalization, bias=bias))
            if gate != "c":
                setattr(self, f"w_c_{gate}", Parameter(torch.empty(1, out_channels)))
            setattr(self, f"b_{gate}", Parameter(torch.empty(1, out_channels)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Glorot-initialize the peepholes and zero the gate biases (the
        ``ChebConv`` filters keep their own initialization)."""
        inits = pyg("nn.inits")
        for gate in ("i", "f", "o"):
            inits.glorot(getattr(self, f"w_c_{gate}"))
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
        laplacian = scaled_laplacian(self.conv_x_i, edge_index, edge_weight, N, lambda_max, X.dtype)
        return self._step(self._input_part(X, laplacian), H, C, laplacian)

    def _input_part(self, X: Tensor, laplacian: Tuple[Tensor, Tensor]) -> Tensor:
        r"""The input filters :math:`\mathbf{W}_{x\cdot} \ast_\mathcal{G}
        \mathbf{X}` of the gates ``i, f, c, o``, stacked on the last axis
        ``(N, ..., 4 out)``, of node-major ``X (N, ..., F)`` (e.g. ``(N, T, B,
        F)``: every step of a batch in one propagation; used by
        :class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`)."""
        bx = cheb_basis(self.conv_x_i, X, laplacian, self.K)
        return torch.cat([cheb_filter(getattr(self, f"conv_x_{gate}"), bx)
                          for gate in ("i", "f", "c", "o")], dim=-1)

    def _step(self, XW: Tensor, H: Tensor, C: Tensor,
              laplacian: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Tensor]:
        r"""The update from the input part ``XW (N, ..., 4 out)`` (see
        :meth:`_input_part`) and node-major ``H``, ``C`` ``(N, ..., out)`` (a
        batch ``(N, B, C)`` on one graph propagates as one ``(N, B C)``
        matrix)."""
        x_i, x_f, x_c, x_o = XW.split(self.out_channels, dim=-1)
        bh = cheb_basis(self.conv_x_i, H, laplacian, self.K)
        I = torch.sigmoid(x_i + cheb_filter(self.conv_h_i, bh) + self.w_c_i * C + self.b_i)
        F = torch.sigmoid(x_f + cheb_filter(self.conv_h_f, bh) + self.w_c_f * C + self.b_f)
        C = F * C + I * torch.tanh(x_c + cheb_filter(self.conv_h_c, bh) + self.b_c)
        O = torch.sigmoid(x_o + cheb_filter(self.conv_h_o, bh) + self.w_c_o * C + self.b_o)
        return O * torch.tanh(C), C
