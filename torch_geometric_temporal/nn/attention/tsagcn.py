r"""The adaptive graph convolution block of `Shi et al., "Two-Stream Adaptive
Graph Convolutional Networks for Skeleton-Based Action Recognition" (CVPR 2019)
<https://arxiv.org/abs/1805.07694>`_ with the spatial, temporal and channel
attention of its journal version, `"Skeleton-Based Action Recognition with
Multi-Stream Adaptive Graph Convolutional Networks" (MS-AAGCN, TIP 2020)
<https://arxiv.org/abs/1912.06971>`_, under PyTorch Geometric Temporal's names,
arguments and ``state_dict`` keys.

Every subset's adjacency is a dense ``N x N`` matrix, and the adaptive
(data-dependent) graph adds one ``N x N`` matrix per sample and subset.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..recurrent._checks import _shape, check_graph

__all__ = ["AAGCN", "GraphAAGCN"]


class GraphAAGCN:
    r"""The three adjacency subsets of 2s-AGCN for a directed graph: self
    links, inward links and outward links, each column-normalized
    (:math:`\mathbf{A} \mathbf{D}^{-1}`), stacked as ``A`` of shape
    ``(3, N, N)``. Inward: ``A[1][i, j] = 1 / in_j`` for an edge ``i -> j``
    of ``edge_index`` (``in_j``: the edges into ``j``); outward is its
    transpose, normalized the same way.

    Deviation from upstream 0.56.2: the matrices have ``num_nodes`` rows and
    columns; upstream sizes them by the largest node id in ``edge_index``
    (wrong when the last nodes have no edges).

    Args:
        edge_index (torch.Tensor): edges, shape ``(2, E)``.
        num_nodes (int): nodes :math:`N`.
    """

    def __init__(self, edge_index: list, num_nodes: int):
        self.num_nodes = num_nodes
        self.edge_index = edge_index
        self.A = self.get_spatial_graph(self.num_nodes)

    def get_spatial_graph(self, num_nodes: int) -> Tensor:
        """The ``(3, N, N)`` stack (self, inward, outward)."""
        edge_index = self.edge_index
        check_graph(edge_index, None, num_nodes,
                    edge_index.device if isinstance(edge_index, Tensor) else torch.device("cpu"))
        inward = torch.zeros(num_nodes, num_nodes, device=edge_index.device)
        inward.index_put_((edge_index[0], edge_index[1]),
                          torch.ones(edge_index.size(1), device=edge_index.device), accumulate=True)
        eye = torch.eye(num_nodes, device=edge_index.device)
        return torch.stack((eye, F.normalize(inward, dim=0, p=1),
                            F.normalize(inward.t(), dim=0, p=1)))


def _bn_init(bn: nn.BatchNorm2d, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.constant_(bn.bias, 0)


def _conv_init(conv: nn.Module) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    nn.init.constant_(conv.bias, 0)


class UnitTCN(nn.Module):
    r"""Temporal convolution (kernel ``kernel_size`` x 1 over time, zero
    padded to keep the length at stride 1) and batch norm.

    Args:
        in_channels (int), out_channels (int), kernel_size (int, optional):
        (default: 9), stride (int, optional): temporal stride (default: 1).

    Shapes:
        ``(B, in_channels, T, N)`` -> ``(B, out_channels, ceil(T / stride), N)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9,
                 stride: int = 1):
        super().__init__()
        pad = (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(kernel_size, 1),
                              padding=(pad, 0), stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)  # unused, kept for upstream's module tree
        _conv_init(self.conv)
        _bn_init(self.bn, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class UnitGCN(nn.Module):
    r"""Adaptive graph convolution with spatial, temporal and channel
    attention (MS-AAGCN):

    .. math::
        \mathbf{f}_{out} = \sum_{k} \mathbf{W}_k \mathbf{f}_{in}
        (\mathbf{A}_k + \alpha \mathbf{C}_k),\quad
        \mathbf{C}_k = \tanh\big(\theta_k(\mathbf{f}_{in})^\top
        \phi_k(\mathbf{f}_{in}) / (C_e T)\big)

    where :math:`\mathbf{A}_k` is learned (initialized to the graph subsets)
    and :math:`\mathbf{C}_k` is one ``N x N`` matrix per sample; then batch
    norm, a residual, ReLU, and each attention :math:`\mathbf{f} \leftarrow
    \mathbf{f} \odot \mathbf{M} + \mathbf{f}` (spatial, temporal, channel).

    Args:
        in_channels (int), out_channels (int), A (torch.Tensor): ``(S, N, N)``
        subsets, coff_embedding (int, optional): :math:`C_e =`
        ``out_channels // coff_embedding`` (default: 4), num_subset (int,
        optional): (default: 3), adaptive (bool, optional): learn
        :math:`\mathbf{A}_k` and add :math:`\alpha \mathbf{C}_k` (default:
        :obj:`True`), attention (bool, optional): (default: :obj:`True`).
    """

    def __init__(self, in_channels: int, out_channels: int, A: Tensor, coff_embedding: int = 4,
                 num_subset: int = 3, adaptive: bool = True, attention: bool = True):
        super().__init__()
        self.inter_c = out_channels // coff_embedding
        self.out_c, self.in_c = out_channels, in_channels
        self.num_subset = num_subset
        self.num_jpts = A.shape[-1]
        self.attention, self.adaptive = attention, adaptive
        self.conv_d = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1)
                                    for _ in range(num_subset))
        if adaptive:
            self.PA = nn.Parameter(A.clone())
            self.alpha = nn.Parameter(torch.zeros(1))
            self.conv_a = nn.ModuleList(nn.Conv2d(in_channels, self.inter_c, 1)
                                        for _ in range(num_subset))
            self.conv_b = nn.ModuleList(nn.Conv2d(in_channels, self.inter_c, 1)
                                        for _ in range(num_subset))
        else:
            self.register_buffer("A", A.clone(), persistent=False)
        if attention:
            self.conv_ta = nn.Conv1d(out_channels, 1, 9, padding=4)
            ker = self.num_jpts - 1 if not self.num_jpts % 2 else self.num_jpts
            self.conv_sa = nn.Conv1d(out_channels, 1, ker, padding=(ker - 1) // 2)
            self.fc1c = nn.Linear(out_channels, out_channels // 2)
            self.fc2c = nn.Linear(out_channels // 2, out_channels)
        self.down = None
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1),
                                      nn.BatchNorm2d(out_channels))
        self.bn = nn.BatchNorm2d(out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _conv_init(m)
            elif isinstance(m, nn.BatchNorm2d):
                _bn_init(m, 1)
        _bn_init(self.bn, 1e-6)
        for conv in self.conv_d:
            n, k1, k2 = conv.weight.shape[:3]
            nn.init.normal_(conv.weight, 0, math.sqrt(2.0 / (n * k1 * k2 * self.num_subset)))
        if self.attention:
            nn.init.zeros_(self.conv_ta.weight)
            nn.init.zeros_(self.conv_ta.bias)
            nn.init.xavier_normal_(self.conv_sa.weight)
            nn.init.zeros_(self.conv_sa.bias)
            nn.init.kaiming_normal_(self.fc1c.weight)
            nn.init.zeros_(self.fc1c.bias)
            nn.init.zeros_(self.fc2c.weight)
            nn.init.zeros_(self.fc2c.bias)

    def _graph_conv(self, x: Tensor) -> Tensor:
        B, C, T, V = x.shape
        flat = x.reshape(B, C * T, V)
        y = None
        for i in range(self.num_subset):
            if self.adaptive:
                theta = self.conv_a[i](x).permute(0, 3, 1, 2).reshape(B, V, self.inter_c * T)
                phi = self.conv_b[i](x).reshape(B, self.inter_c * T, V)
                A = self.PA[i] + torch.tanh(theta @ phi / theta.size(-1)) * self.alpha
            else:
                A = self.A[i]
            z = self.conv_d[i]((flat @ A).view(B, C, T, V))
            y = z if y is None else y + z
        return y

    def _attend(self, y: Tensor) -> Tensor:
        y = y * torch.sigmoid(self.conv_sa(y.mean(-2))).unsqueeze(-2) + y  # spatial
        y = y * torch.sigmoid(self.conv_ta(y.mean(-1))).unsqueeze(-1) + y  # temporal
        se = torch.sigmoid(self.fc2c(F.relu(self.fc1c(y.mean((-1, -2))))))  # channel
        return y * se.unsqueeze(-1).unsqueeze(-1) + y

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn(self._graph_conv(x)) + (x if self.down is None else self.down(x))
        y = F.relu(y)
        return self._attend(y) if self.attention else y


class AAGCN(nn.Module):
    r"""One block of the attention-enhanced adaptive graph convolutional
    network of `"Two-Stream Adaptive Graph Convolutional Networks for
    Skeleton-Based Action Recognition" <https://arxiv.org/abs/1805.07694>`_
    (Shi et al., CVPR 2019; attention from MS-AAGCN,
    https://arxiv.org/abs/1912.06971): an adaptive graph convolution
    (:class:`UnitGCN`), a temporal convolution (kernel 9), a residual and ReLU.

    Memory: the graph subsets are dense ``(3, N, N)``, and the adaptive graph
    builds one ``N x N`` matrix per sample and subset.

    Args:
        in_channels (int): input features :math:`F_{in}`.
        out_channels (int): output features.
        edge_index (torch.LongTensor): edges ``(2, E)``.
        num_nodes (int): nodes :math:`N`.
        stride (int, optional): temporal stride (default: 1).
        residual (bool, optional): residual connection (default: :obj:`True`).
        adaptive (bool, optional): learned and data-dependent graph (default:
            :obj:`True`).
        attention (bool, optional): spatial, temporal and channel attention
            (default: :obj:`True`).

    Shapes:
        ``x (B, F_in, T, N)`` -> ``(B, out_channels, ceil(T / stride), N)``.
    """

    def __init__(self, in_channels: int, out_channels: int, edge_index: torch.LongTensor,
                 num_nodes: int, stride: int = 1, residual: bool = True, adaptive: bool = True,
                 attention: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.edge_index = edge_index
        self.num_nodes = num_nodes
        self.graph = GraphAAGCN(edge_index, num_nodes)
        self.A = self.graph.A
        self.gcn1 = UnitGCN(in_channels, out_channels, self.A, adaptive=adaptive,
                            attention=attention)
        self.tcn1 = UnitTCN(out_channels, out_channels, stride=stride)
        self.attention = attention
        self.residual_mode = "tcn"
        if not residual:
            self.residual_mode = "none"
        elif in_channels == out_channels and stride == 1:
            self.residual_mode = "identity"
        else:
            self.residual = UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 4:
            raise ValueError(f"AAGCN expects x of shape (B, {self.in_channels}, T, "
                             f"{self.num_nodes}), got {_shape(x)}; from a (B, T, N, F) batch "
                             "pass x.permute(0, 3, 1, 2).")
        if x.size(1) != self.in_channels or x.size(3) != self.num_nodes:
            raise ValueError(f"AAGCN was built with in_channels = {self.in_channels} and "
                             f"num_nodes = {self.num_nodes}: x must be (B, {self.in_channels}, T, "
                             f"{self.num_nodes}), got {_shape(x)}.")
        if not x.dtype.is_floating_point:
            raise ValueError(f"x must be a floating tensor, got {x.dtype}; use x.float().")
        y = self.tcn1(self.gcn1(x))
        if self.residual_mode == "identity":
            y = y + x
        elif self.residual_mode == "tcn":
            y = y + self.residual(x)
        return F.relu(y)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"num_nodes={self.num_nodes}, residual={self.residual_mode!r}")
