r"""Multi-component spatial-temporal graph convolutional networks (MSTGCN, the
attention-free variant of ASTGCN, Guo et al., AAAI 2019): one
:class:`MSTGCNBlock` and the model :class:`MSTGCN`."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.attention.astgcn import (EdgeIndex, _reset_uniform,
                                                          check_block_input,
                                                          check_model_arguments,
                                                          laplacian_lambda_max)
from torch_geometric_temporal.nn.recurrent._cheb import cheb_basis, cheb_filter, scaled_laplacian

__all__ = ["MSTGCNBlock", "MSTGCN"]


class MSTGCNBlock(torch.nn.Module):
    r"""One spatial-temporal block of MSTGCN, the variant without attention
    of the `"Attention Based Spatial-Temporal Graph Convolutional Networks
    for Traffic Flow Forecasting" <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_
    paper: a Chebyshev graph convolution (``ChebConv`` submodule
    ``_cheb_conv``, Laplacian :math:`\mathbf{D} - \mathbf{A}` of the
    unweighted graph, :math:`\lambda_\max` computed once per graph and
    cached) on every time step, a ReLU, a temporal convolution (width 3,
    stride ``time_strides``), a residual :math:`1 \times 1` convolution, a
    ReLU and layer normalization over the features. For a static graph all
    :math:`B \cdot T` snapshots are filtered in one sparse propagation.

    Args:
        in_channels (int): Number of input features :math:`F`.
        K (int): Chebyshev filter size :math:`K`.
        nb_chev_filter (int): Number of Chebyshev filters.
        nb_time_filter (int): Number of temporal convolution filters.
        time_strides (int): Stride of the temporal convolution.

    Shapes:
        - **input:** :math:`(B, N, F, T)`, edge indices :math:`(2, E)` or a
          list of :math:`T` of them
        - **output:** :math:`(B, N, \text{nb\_time\_filter}, \lceil T /
          \text{time\_strides} \rceil)`
    """

    #: Reproduce upstream 0.56.2's static-graph path (see :class:`MSTGCN`).
    upstream_formula: bool = False

    def __init__(self, in_channels: int, K: int, nb_chev_filter: int, nb_time_filter: int,
                 time_strides: int):
        super().__init__()
        self._cheb_conv = pyg("nn").ChebConv(in_channels, nb_chev_filter, K, normalization=None)
        self._time_conv = torch.nn.Conv2d(nb_chev_filter, nb_time_filter, kernel_size=(1, 3),
                                          stride=(1, time_strides), padding=(0, 1))
        self._residual_conv = torch.nn.Conv2d(in_channels, nb_time_filter, kernel_size=(1, 1),
                                              stride=(1, time_strides))
        self._layer_norm = torch.nn.LayerNorm(nb_time_filter)
        self.nb_time_filter = nb_time_filter
        _reset_uniform(self)

    def _graph_conv(self, X: Tensor, edge_index: Tensor) -> Tensor:
        r"""``X (N, ..., F)`` node-major -> ``(N, ..., C)``: one filter."""
        conv, N = self._cheb_conv, X.size(0)
        lambda_max = laplacian_lambda_max(edge_index, N, None)
        laplacian = scaled_laplacian(conv, edge_index, None, N, lambda_max, X.dtype)
        return cheb_filter(conv, cheb_basis(conv, X, laplacian, len(conv.lins)))

    def forward(self, X: torch.FloatTensor, edge_index: EdgeIndex) -> torch.FloatTensor:
        B, N, Fin, T = X.shape
        if isinstance(edge_index, list):
            X_tilde = torch.stack([self._graph_conv(X[..., t].transpose(0, 1), edge_index[t])
                                   for t in range(T)], dim=-1).transpose(0, 1)
        elif self.upstream_formula:  # upstream's reshape: nodes mixed across batch and features
            Z = X.permute(2, 0, 1, 3).reshape(N, Fin, T * B).permute(0, 2, 1)
            Z = self._graph_conv(Z, edge_index)  # (N, T B, C)
            X_tilde = Z.permute(0, 2, 1).reshape(N, -1, B, T).permute(2, 0, 1, 3)
        else:
            Z = self._graph_conv(X.permute(1, 0, 3, 2), edge_index)  # (N, B, T, C)
            X_tilde = Z.permute(1, 0, 3, 2)
        X_tilde = self._time_conv(F.relu(X_tilde).permute(0, 2, 1, 3))
        X = self._residual_conv(X.permute(0, 2, 1, 3))
        X = self._layer_norm(F.relu(X + X_tilde).permute(0, 3, 2, 1))
        return X.permute(0, 2, 3, 1)


class MSTGCN(torch.nn.Module):
    r"""The multi-component spatial-temporal graph convolutional network
    (MSTGCN: ASTGCN without attention, one component) of the `"Attention
    Based Spatial-Temporal Graph Convolutional Networks for Traffic Flow
    Forecasting" <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_
    paper: ``nb_block`` :class:`MSTGCNBlock` s (the first with stride
    ``time_strides``), then a convolution over all time steps and features
    gives ``num_for_predict`` values per node. No :math:`N \times N` matrix
    is built in the forward pass (sparse propagation); the first call on a
    graph computes :math:`\lambda_\max` from its dense :math:`N \times N`
    Laplacian (:math:`O(N^3)`, cached).

    **Difference from upstream PyTorch Geometric Temporal 0.56.2** (whose
    constructor, ``state_dict`` keys and checkpoints are kept): for a static
    graph, upstream reshapes the ``(F, B, N, T)`` permutation of the input as
    if it were ``(N, F, T B)``, which mixes nodes with batch items and
    features whenever :math:`B > 1` or :math:`F > 1` (the list-of-graphs
    path and the paper convolve each node's own features), and fails unless
    ``nb_chev_filter == nb_time_filter`` (it reshapes by the latter). Setting
    the attribute ``model.upstream_formula = True`` (not a constructor
    argument) reproduces upstream's outputs (for any filter counts).

    Args:
        nb_block (int): Number of blocks.
        in_channels (int): Number of input features :math:`F`.
        K (int): Chebyshev filter size :math:`K`.
        nb_chev_filter (int): Number of Chebyshev filters.
        nb_time_filter (int): Number of temporal convolution filters.
        time_strides (int): Stride of the first block's temporal convolution
            (must divide ``len_input``).
        num_for_predict (int): Number of predicted steps :math:`T_{out}`.
        len_input (int): Number of input steps :math:`T`.

    Shapes:
        - **input:** :math:`(B, N, F, T)` (a loader batch ``x (B, T, N, F)``
          as ``x.permute(0, 2, 3, 1)``), edge indices :math:`(2, E)` or a
          list of :math:`T` of them
        - **output:** :math:`(B, N, T_{out})`
    """

    def __init__(self, nb_block: int, in_channels: int, K: int, nb_chev_filter: int,
                 nb_time_filter: int, time_strides: int, num_for_predict: int, len_input: int):
        super().__init__()
        check_model_arguments("MSTGCN", nb_block, in_channels, K, nb_chev_filter, nb_time_filter,
                              time_strides, num_for_predict, len_input)
        self.in_channels = in_channels
        self.len_input = len_input
        self._blocklist = torch.nn.ModuleList(
            [MSTGCNBlock(in_channels, K, nb_chev_filter, nb_time_filter, time_strides)])
        self._blocklist.extend([MSTGCNBlock(nb_time_filter, K, nb_chev_filter, nb_time_filter, 1)
                                for _ in range(nb_block - 1)])
        self._final_conv = torch.nn.Conv2d(len_input // time_strides, num_for_predict,
                                           kernel_size=(1, nb_time_filter))
        _reset_uniform(self)

    @property
    def upstream_formula(self) -> bool:
        r"""Reproduce upstream 0.56.2's static-graph path (see the class
        docstring); set on every block."""
        return all(block.upstream_formula for block in self._blocklist)

    @upstream_formula.setter
    def upstream_formula(self, value: bool) -> None:
        for block in self._blocklist:
            block.upstream_formula = bool(value)

    def forward(self, X: torch.FloatTensor, edge_index: torch.LongTensor) -> torch.FloatTensor:
        r"""Args:
            X (torch.Tensor): Node features :math:`(B, N, F, T)`.
            edge_index (torch.Tensor or list): Edge indices :math:`(2, E)`,
                or a list with one per time step.

        Returns:
            torch.Tensor: :math:`(B, N, T_{out})`.
        """
        check_block_input("MSTGCN", X, self.in_channels, None, self.len_input, edge_index)
        for block in self._blocklist:
            X = block(X, edge_index)
        return self._final_conv(X.permute(0, 3, 1, 2))[..., -1].permute(0, 2, 1)
