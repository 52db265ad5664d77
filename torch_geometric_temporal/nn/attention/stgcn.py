r"""Spatio-temporal graph convolutional networks (STGCN, Yu et al., 2018): the
gated temporal convolution :class:`TemporalConv` and the spatio-temporal
block :class:`STConv`."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._cheb import cheb_basis, cheb_filter, scaled_laplacian
from torch_geometric_temporal.nn.recurrent._checks import check_graph

__all__ = ["TemporalConv", "STConv"]

_NORMALIZATIONS = (None, "sym", "rw")


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}.")
    return value


def check_normalization(owner: str, normalization) -> None:
    r"""Raise a :class:`ValueError` unless ``normalization`` is one of
    :obj:`None`, :obj:`"sym"`, :obj:`"rw"` (the Laplacians of
    :func:`torch_geometric.utils.get_laplacian`)."""
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"{owner}: normalization must be None, 'sym' or 'rw', got "
                         f"{normalization!r}.")


def check_sequence(owner: str, X, in_channels: int, min_steps: int,
                   num_nodes: Optional[int] = None) -> None:
    r"""Check a time-major batch ``X (B, T, N, F)`` with ``F = in_channels``,
    at least ``min_steps`` time steps and, if given, ``num_nodes`` nodes."""
    expected = f"(B, T, N, {in_channels})"
    if not isinstance(X, Tensor) or X.dim() != 4:
        shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"{owner} expects X of shape {expected}, got {shape}; add the "
                         "missing batch or feature axis (e.g. X.unsqueeze(0)).")
    if X.size(3) != in_channels:
        raise ValueError(f"{owner} was built with in_channels = {in_channels} but X has "
                         f"{X.size(3)} features on its last axis (shape {tuple(X.shape)}); "
                         "X must be (B, T, N, F): permute it or rebuild the layer.")
    if not X.dtype.is_floating_point:
        raise ValueError(f"X must be a floating tensor, got {X.dtype}; use X.float().")
    if X.size(1) < min_steps:
        raise ValueError(f"{owner} needs at least {min_steps} time steps on axis 1 of X "
                         f"(the kernels' span), got {X.size(1)} (shape {tuple(X.shape)}); "
                         "pass a longer window or a smaller kernel_size.")
    if num_nodes is not None and X.size(2) != num_nodes:
        raise ValueError(f"{owner} was built with num_nodes = {num_nodes} but X has "
                         f"{X.size(2)} nodes on axis 2 (shape {tuple(X.shape)}); X must be "
                         "(B, T, N, F): permute it or rebuild the layer.")


class TemporalConv(torch.nn.Module):
    r"""The gated temporal convolution of the `"Spatio-Temporal Graph
    Convolutional Networks: A Deep Learning Framework for Traffic
    Forecasting" <https://arxiv.org/abs/1709.04875>`_ paper (section 3.3), a
    gated linear unit after `"Convolutional Sequence to Sequence Learning"
    <https://arxiv.org/abs/1705.03122>`_, run on every node with shared
    kernels of width :math:`K_t` along time (no padding):

    .. math::
        \mathbf{H} = \mathrm{ReLU}\left(\mathbf{P} \odot \sigma(\mathbf{Q})
        + \mathbf{R}\right), \quad
        \mathbf{P} = \Gamma_1 \ast_\tau \mathbf{X}, \;
        \mathbf{Q} = \Gamma_2 \ast_\tau \mathbf{X}, \;
        \mathbf{R} = \Gamma_3 \ast_\tau \mathbf{X}.

    The paper's gated unit is :math:`\mathbf{P} \odot \sigma(\mathbf{Q})` with
    a residual connection; as upstream PyTorch Geometric Temporal, the
    residual is a third convolution :math:`\Gamma_3` (so input and output
    widths may differ) and a ReLU follows. The three kernels are the
    ``Conv2d`` submodules ``conv_1``, ``conv_2``, ``conv_3`` (upstream's
    ``state_dict`` keys), applied as one convolution.

    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output features.
        kernel_size (int, optional): Kernel width :math:`K_t` along time.
            (default: :obj:`3`)

    Shapes:
        - **input:** :math:`(B, T, N, F)`
        - **output:** :math:`(B, T - K_t + 1, N, \text{out\_channels})`
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("kernel_size", kernel_size)):
            _positive_int("TemporalConv", name, value)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.conv_1 = torch.nn.Conv2d(in_channels, out_channels, (1, kernel_size))
        self.conv_2 = torch.nn.Conv2d(in_channels, out_channels, (1, kernel_size))
        self.conv_3 = torch.nn.Conv2d(in_channels, out_channels, (1, kernel_size))

    def reset_parameters(self) -> None:
        r"""Re-initialize the three kernels (PyTorch's ``Conv2d`` default)."""
        for conv in (self.conv_1, self.conv_2, self.conv_3):
            conv.reset_parameters()

    def _gate(self, X: Tensor) -> Tensor:
        r"""The gated unit on the channel-major layout ``(B, F, N, T)``."""
        convs = (self.conv_1, self.conv_2, self.conv_3)
        weight = torch.cat([c.weight for c in convs])
        bias = torch.cat([c.bias for c in convs])
        P, Q, R = F.conv2d(X, weight, bias).chunk(3, dim=1)
        return F.relu(P * torch.sigmoid(Q) + R)

    def forward(self, X: torch.FloatTensor) -> torch.FloatTensor:
        r"""Args:
            X (torch.Tensor): Node features :math:`(B, T, N, F)`.

        Returns:
            torch.Tensor: :math:`(B, T - K_t + 1, N, \text{out\_channels})`.
        """
        check_sequence("TemporalConv", X, self.in_channels, self.kernel_size)
        return self._gate(X.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"


class STConv(torch.nn.Module):
    r"""The spatio-temporal convolution block of the `"Spatio-Temporal Graph
    Convolutional Networks: A Deep Learning Framework for Traffic
    Forecasting" <https://arxiv.org/abs/1709.04875>`_ paper (section 3.4):
    a "sandwich" of two gated temporal convolutions (:class:`TemporalConv`,
    width :math:`K_t`) around a :math:`K`-localized Chebyshev graph
    convolution applied to every time step,

    .. math::
        \mathbf{v}^{l+1} = \mathrm{Norm}\left(\Gamma_1^l \ast_\tau
        \mathrm{ReLU}\left(\Theta^l \ast_\mathcal{G}
        (\Gamma_0^l \ast_\tau \mathbf{v}^l)\right)\right),

    so an input of :math:`T` steps gives :math:`T - 2(K_t - 1)` steps. The
    graph convolution is the ``ChebConv`` submodule ``_graph_conv``, run on
    all :math:`B \cdot T` snapshots as one sparse propagation over a
    node-major matrix (upstream loops over them; same result).

    The paper normalizes with layer normalization; as upstream PyTorch
    Geometric Temporal (whose ``state_dict`` keys and checkpoints are kept),
    :math:`\mathrm{Norm}` is a ``BatchNorm2d`` over the node axis
    (``_batch_norm``: one mean and variance per node, over batch, time and
    channels), so the block is built for one number of nodes.

    Args:
        num_nodes (int): Number of nodes :math:`N`.
        in_channels (int): Number of input features :math:`F`.
        hidden_channels (int): Number of features of the graph convolution.
        out_channels (int): Number of output features.
        kernel_size (int): Kernel width :math:`K_t` of both temporal
            convolutions.
        K (int): Chebyshev filter size :math:`K` (hops :math:`K - 1`).
        normalization (str, optional): Normalization of the graph Laplacian
            (default: :obj:`"sym"`): :obj:`None`
            (:math:`\mathbf{L} = \mathbf{D} - \mathbf{A}`), :obj:`"sym"`
            (:math:`\mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`)
            or :obj:`"rw"` (:math:`\mathbf{I} - \mathbf{D}^{-1}\mathbf{A}`);
            :math:`\lambda_\max` is taken as twice the largest Laplacian
            weight, as ``ChebConv`` does without ``lambda_max``.
        bias (bool, optional): If :obj:`False`, the graph convolution learns
            no additive bias. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(B, T, N, F)`, edge indices
          :math:`(2, E)` (row 0 = source), optional edge weights :math:`(E,)`
        - **output:** :math:`(B, T - 2(K_t - 1), N, \text{out\_channels})`
    """

    def __init__(self, num_nodes: int, in_channels: int, hidden_channels: int,
                 out_channels: int, kernel_size: int, K: int,
                 normalization: str = "sym", bias: bool = True):
        super().__init__()
        for name, value in (("num_nodes", num_nodes), ("hidden_channels", hidden_channels),
                            ("K", K)):
            _positive_int("STConv", name, value)
        check_normalization("STConv", normalization)
        self.num_nodes = num_nodes
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.K = K
        self.normalization = normalization
        self.bias = bias
        # creation order = upstream's (same initialization for a seed)
        self._temporal_conv1 = TemporalConv(in_channels, hidden_channels, kernel_size)
        self._graph_conv = pyg("nn").ChebConv(hidden_channels, hidden_channels, K=K,
                                              normalization=normalization, bias=bias)
        self._temporal_conv2 = TemporalConv(hidden_channels, out_channels, kernel_size)
        self._batch_norm = torch.nn.BatchNorm2d(num_nodes)

    def reset_parameters(self) -> None:
        r"""Re-initialize every parameter and the batch-norm statistics."""
        self._temporal_conv1.reset_parameters()
        self._graph_conv.reset_parameters()
        self._temporal_conv2.reset_parameters()
        self._batch_norm.reset_parameters()

    def forward(self, X: torch.FloatTensor, edge_index: torch.LongTensor,
                edge_weight: torch.FloatTensor = None) -> torch.FloatTensor:
        r"""Args:
            X (torch.Tensor): Node features :math:`(B, T, N, F)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`
                (unit weights if omitted).

        Returns:
            torch.Tensor: :math:`(B, T - 2(K_t - 1), N, \text{out\_channels})`.
        """
        check_sequence("STConv", X, self.in_channels, 2 * self.kernel_size - 1, self.num_nodes)
        check_graph(edge_index, edge_weight, self.num_nodes, X.device)
        conv = self._graph_conv
        H = self._temporal_conv1._gate(X.permute(0, 3, 2, 1))  # (B, C, N, T')
        laplacian = scaled_laplacian(conv, edge_index, edge_weight, self.num_nodes, None, H.dtype)
        H = H.permute(2, 0, 3, 1)  # node-major (N, B, T', C): one propagation for all snapshots
        H = F.relu(cheb_filter(conv, cheb_basis(conv, H, laplacian, self.K)))
        H = self._temporal_conv2._gate(H.permute(1, 3, 0, 2))  # (B, C_out, N, T'')
        return self._batch_norm(H.transpose(1, 2)).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f"num_nodes={self.num_nodes}, {self.in_channels}, {self.hidden_channels}, "
                f"{self.out_channels}, kernel_size={self.kernel_size}, K={self.K}, "
                f"normalization={self.normalization!r}, bias={self.bias}")
