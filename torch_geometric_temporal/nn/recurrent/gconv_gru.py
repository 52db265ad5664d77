r"""Chebyshev graph convolutional GRU (GCRN, Seo et al., 2018)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._cheb import cheb_basis, cheb_filter, scaled_laplacian
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph, check_state

__all__ = ["GConvGRU"]


class GConvGRU(torch.nn.Module):
    r"""The Chebyshev graph convolutional gated recurrent unit cell from the
    `"Structured Sequence Modeling with Graph Convolutional Recurrent Networks"
    <https://arxiv.org/abs/1612.07659>`_ paper (GCRN): a GRU whose dense
    products are :math:`K`-localized Chebyshev graph filters
    :math:`\ast_\mathcal{G}` (:class:`~torch_geometric.nn.conv.ChebConv`),

    .. math::
        \mathbf{Z} &= \sigma(\mathbf{W}_{xz} \ast_\mathcal{G} \mathbf{X}_t +
        \mathbf{W}_{hz} \ast_\mathcal{G} \mathbf{H}_{t-1}),

        \mathbf{R} &= \sigma(\mathbf{W}_{xr} \ast_\mathcal{G} \mathbf{X}_t +
        \mathbf{W}_{hr} \ast_\mathcal{G} \mathbf{H}_{t-1}),

        \tilde{\mathbf{H}} &= \tanh(\mathbf{W}_{xh} \ast_\mathcal{G} \mathbf{X}_t +
        \mathbf{W}_{hh} \ast_\mathcal{G} (\mathbf{R} \odot \mathbf{H}_{t-1})),

        \mathbf{H}_t &= \mathbf{Z} \odot \mathbf{H}_{t-1} + (1 - \mathbf{Z}) \odot
        \tilde{\mathbf{H}},

    each filter with its own bias. The six filters are the ``ChebConv``
    submodules ``conv_x_z``, ``conv_h_z``, ``conv_x_r``, ``conv_h_r``,
    ``conv_x_h``, ``conv_h_h`` (upstream PyTorch Geometric Temporal's
    ``state_dict`` keys). The scaled Laplacian is built once per step and the
    filters on the same input share one Chebyshev basis (three propagations
    of :math:`K - 1` steps instead of six), with the same result.

    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden) features.
        K (int): Chebyshev filter size :math:`K` (hops :math:`K - 1`).
        normalization (str, optional): Normalization of the graph Laplacian
            (default: :obj:`"sym"`): :obj:`None`
            (:math:`\mathbf{L} = \mathbf{D} - \mathbf{A}`), :obj:`"sym"`
            (:math:`\mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`)
            or :obj:`"rw"` (:math:`\mathbf{I} - \mathbf{D}^{-1}\mathbf{A}`).
            For a non-symmetric normalization pass :obj:`lambda_max` to
            :meth:`forward` (see
            :class:`torch_geometric.transforms.LaplacianLambdaMax`); without
            it :math:`\lambda_\max` is taken as twice the largest Laplacian
            weight, as ``ChebConv`` does.
        bias (bool, optional): If :obj:`False`, the filters learn no additive
            bias. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(N, F)`, edge indices :math:`(2, E)`
          (row 0 = source), optional edge weights :math:`(E,)`, optional
          hidden state :math:`(N, \text{out\_channels})` (zeros if omitted),
          optional ``lambda_max`` (scalar tensor)
        - **output:** hidden state :math:`(N, \text{out\_channels})`
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
        for gate in ("z", "r", "h"):  # creation order = upstream's (same init for a seed)
            for source, channels in (("x", in_channels), ("h", out_channels)):
                setattr(self, f"conv_{source}_{gate}",
                        ChebConv(in_channels=channels, out_channels=out_channels, K=K,
                                 normalization=normalization, bias=bias))

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None, lambda_max: Optional[Tensor] = None) -> Tensor:
        r"""One step of the cell.

        Args:
            X (torch.Tensor): Node features :math:`(N, F)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`;
                an unweighted graph if omitted.
            H (torch.Tensor, optional): Hidden state
                :math:`(N, \text{out\_channels})`; zeros if omitted.
            lambda_max (torch.Tensor, optional): Largest eigenvalue of the
                Laplacian (needed for a non-symmetric normalization).

        Returns:
            torch.Tensor: The new hidden state :math:`(N, \text{out\_channels})`.
        """
        N = check_features(type(self).__name__, X, self.in_channels)
        check_graph(edge_index, edge_weight, N, X.device)
        H = check_state("H", H, X, (N, self.out_channels))
        laplacian = scaled_laplacian(self.conv_x_z, edge_index, edge_weight, N, lambda_max, X.dtype)
        return self._step(self._input_part(X, laplacian), H, laplacian)

    def _input_part(self, X: Tensor, laplacian: Tuple[Tensor, Tensor]) -> Tensor:
        r"""The input filters :math:`[\mathbf{W}_{xz}, \mathbf{W}_{xr},
        \mathbf{W}_{xh}] \ast_\mathcal{G} \mathbf{X}`, stacked on the last axis
        ``(N, ..., 3 out)``, of node-major ``X (N, ..., F)`` (e.g. ``(N, T, B,
        F)``: every step of a batch in one propagation; used by
        :class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`)."""
        bx = cheb_basis(self.conv_x_z, X, laplacian, self.K)
        return torch.cat([cheb_filter(self.conv_x_z, bx), cheb_filter(self.conv_x_r, bx),
                          cheb_filter(self.conv_x_h, bx)], dim=-1)

    def _step(self, XW: Tensor, H: Tensor, laplacian: Tuple[Tensor, Tensor]) -> Tensor:
        r"""The update from the input part ``XW (N, ..., 3 out)`` (see
        :meth:`_input_part`) and node-major ``H (N, ..., out)`` (a batch
        ``(N, B, C)`` on one graph propagates as one ``(N, B C)`` matrix)."""
        x_z, x_r, x_h = XW.split(self.out_channels, dim=-1)
        bh = cheb_basis(self.conv_x_z, H, laplacian, self.K)
        Z = torch.sigmoid(x_z + cheb_filter(self.conv_h_z, bh))
        R = torch.sigmoid(x_r + cheb_filter(self.conv_h_r, bh))
        brh = cheb_basis(self.conv_x_z, R * H, laplacian, self.K)
        H_tilde = torch.tanh(x_h + cheb_filter(self.conv_h_h, brh))
        return Z * H + (1 - Z) * H_tilde
