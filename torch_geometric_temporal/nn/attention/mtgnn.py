r"""MTGNN of `Wu et al., "Connecting the Dots: Multivariate Time Series
Forecasting with Graph Neural Networks" (KDD 2020)
<https://arxiv.org/abs/2005.11650>`_, under PyTorch Geometric Temporal's names,
arguments and ``state_dict`` keys: a learned graph (graph learning layer), mix-hop
propagation (graph convolution) and dilated inception (temporal convolution)
layers with residual and skip connections.

Memory: the graph learning layer builds a dense ``N x N`` adjacency (two
``N x N`` products, a top-``k`` per row), and mix-hop propagation multiplies
by a dense ``N x N`` matrix, ``O(N^2)`` memory and ``O(N^2 B C T)`` time per
layer.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MTGNN", "MixProp", "GraphConstructor"]


def _reset(module: nn.Module) -> None:
    """Xavier-uniform for every weight of two or more dimensions, uniform(0, 1)
    for every vector (MTGNN's initialization)."""
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
        else:
            nn.init.uniform_(p)


def _shape(value) -> str:
    return str(tuple(value.shape)) if isinstance(value, Tensor) else type(value).__name__


def _check_adjacency(A, num_nodes: int, name: str = "A") -> None:
    if not isinstance(A, Tensor) or A.shape != (num_nodes, num_nodes):
        raise ValueError(f"{name} must be a dense ({num_nodes}, {num_nodes}) adjacency for the "
                         f"{num_nodes} nodes of X, got {_shape(A)}; e.g. torch_geometric.utils."
                         "to_dense_adj(edge_index, edge_attr=w, max_num_nodes=N)[0].")
    if not A.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating tensor, got {A.dtype}; use {name}.float().")


class Linear(nn.Module):
    r"""A 1 x 1 convolution over the channel axis of ``(B, C, N, T)`` tensors.

    Args:
        c_in (int): input channels. c_out (int): output channels.
        bias (bool, optional): add a bias (default: :obj:`True`).
    """

    def __init__(self, c_in: int, c_out: int, bias: bool = True):
        super().__init__()
        self._mlp = nn.Conv2d(c_in, c_out, kernel_size=(1, 1), bias=bias)
        _reset(self)

    def forward(self, X: Tensor) -> Tensor:
        return self._mlp(X)


class MixProp(nn.Module):
    r"""Mix-hop propagation layer of `MTGNN <https://arxiv.org/abs/2005.11650>`_:

    .. math::
        \mathbf{H}^{(0)} = \mathbf{H}_{in},\quad
        \mathbf{H}^{(k)} = \alpha \mathbf{H}_{in} + (1 - \alpha) \tilde{\mathbf{A}}
        \mathbf{H}^{(k-1)},\quad
        \mathbf{H}_{out} = \sum_{k=0}^{K} \mathbf{H}^{(k)} \mathbf{W}^{(k)}

    with :math:`\tilde{\mathbf{A}} = \tilde{\mathbf{D}}^{-1}(\mathbf{A} + \mathbf{I})`
    (row-normalized, self loops added); the sum over hops is one 1 x 1
    convolution of the concatenated hops. ``A`` is dense, ``N x N``.

    Args:
        c_in (int): input channels.
        c_out (int): output channels.
        gdep (int): propagation depth :math:`K`.
        dropout (float): unused (as in the paper's code and upstream).
        alpha (float): retain ratio :math:`\alpha` of the input, in [0, 1].

    Shapes:
        ``X (B, c_in, N, T)``, ``A (N, N)`` -> ``(B, c_out, N, T)``.
    """

    def __init__(self, c_in: int, c_out: int, gdep: int, dropout: float, alpha: float):
        super().__init__()
        self.c_in = c_in
        self._mlp = Linear((gdep + 1) * c_in, c_out)
        self._gdep = gdep
        self._dropout = dropout
        self._alpha = alpha
        _reset(self)

    def forward(self, X: Tensor, A: Tensor) -> Tensor:
        if not isinstance(X, Tensor) or X.dim() != 4 or X.size(1) != self.c_in:
            raise ValueError(f"MixProp expects X of shape (B, {self.c_in}, N, T), got {_shape(X)}.")
        _check_adjacency(A, X.size(2))
        A = A + torch.eye(A.size(0), dtype=A.dtype, device=A.device)
        A = A / A.sum(1, keepdim=True)
        H, hops = X, [X]
        for _ in range(self._gdep):
            H = self._alpha * X + (1 - self._alpha) * torch.matmul(A, H)
            hops.append(H)
        return self._mlp(torch.cat(hops, dim=1))

    def extra_repr(self) -> str:
        return f"gdep={self._gdep}, alpha={self._alpha}"


class DilatedInception(nn.Module):
    r"""Dilated inception layer: one dilated temporal convolution per kernel
    size (``c_out / len(kernel_set)`` channels each), cut to the shortest
    output and concatenated.

    Args:
        c_in (int): input channels. c_out (int): output channels.
        kernel_set (list of int): kernel sizes. dilation_factor (int): dilation.

    Shapes:
        ``(B, c_in, N, T)`` -> ``(B, c_out, N, T - d (max(kernel_set) - 1))``.
    """

    def __init__(self, c_in: int, c_out: int, kernel_set: list, dilation_factor: int):
        super().__init__()
        self._kernel_set = kernel_set
        c_out = int(c_out / len(kernel_set))
        self._time_conv = nn.ModuleList(
            nn.Conv2d(c_in, c_out, (1, k), dilation=(1, dilation_factor)) for k in kernel_set)
        _reset(self)

    def forward(self, X_in: Tensor) -> Tensor:
        outs = [conv(X_in) for conv in self._time_conv]
        length = min(o.size(3) for o in outs)
        return torch.cat([o[..., -length:] for o in outs], dim=1)


class GraphConstructor(nn.Module):
    r"""Graph learning layer of `MTGNN <https://arxiv.org/abs/2005.11650>`_: a
    directed adjacency from two node embeddings, sparsified to the ``k``
    largest entries of each row:

    .. math::
        \mathbf{M}_1 = \tanh(\alpha \mathbf{E}_1 \mathbf{\Theta}_1),\quad
        \mathbf{M}_2 = \tanh(\alpha \mathbf{E}_2 \mathbf{\Theta}_2),\quad
        \mathbf{A} = \mathrm{ReLU}(\tanh(\alpha(\mathbf{M}_1 \mathbf{M}_2^\top -
        \mathbf{M}_2 \mathbf{M}_1^\top)))

    The result is a dense ``N x N`` matrix (``N = len(idx)``): ``O(N^2)``
    memory.

    Args:
        nnodes (int): number of nodes (rows of the learned embeddings).
        k (int): entries kept per row.
        dim (int): embedding size.
        alpha (float): saturation rate of the tanh.
        xd (int, optional): with static node features of this size (``FE``),
            the embeddings are ``FE`` itself instead of learned tables
            (default: :obj:`None`).

    Shapes:
        ``idx (N,)`` node ids, ``FE (nnodes, xd)`` (only with ``xd``) ->
        ``(N, N)``.
    """

    def __init__(self, nnodes: int, k: int, dim: int, alpha: float, xd: Optional[int] = None):
        super().__init__()
        self.nnodes, self.xd = nnodes, xd
        if xd is not None:
            self._static_feature_dim = xd
            self._linear1 = nn.Linear(xd, dim)
            self._linear2 = nn.Linear(xd, dim)
        else:
            self._embedding1 = nn.Embedding(nnodes, dim)
            self._embedding2 = nn.Embedding(nnodes, dim)
            self._linear1 = nn.Linear(dim, dim)
            self._linear2 = nn.Linear(dim, dim)
        self._k = k
        self._alpha = alpha
        _reset(self)

    def _check(self, idx, FE) -> None:
        if not isinstance(idx, Tensor) or idx.dim() != 1 or idx.dtype.is_floating_point:
            raise ValueError(f"idx must be a 1-D tensor of node ids (torch.long), got "
                             f"{_shape(idx)}; use torch.arange(num_nodes).")
        if idx.numel() < self._k:
            raise ValueError(f"the graph keeps k = {self._k} neighbours per node but idx has only "
                             f"{idx.numel()} nodes; use a smaller subgraph_size/k.")
        if FE is None and self.xd is not None:
            raise ValueError(f"GraphConstructor was built with xd = {self.xd}: pass the static "
                             f"features FE of shape (N, {self.xd}).")
        if FE is not None and (not isinstance(FE, Tensor) or FE.dim() != 2
                               or FE.size(1) != self.xd):
            raise ValueError(f"FE must have shape (N, xd = {self.xd}), got {_shape(FE)}; build "
                             "the model with xd = FE.size(1).")

    def forward(self, idx: torch.LongTensor, FE: Optional[Tensor] = None) -> Tensor:
        self._check(idx, FE)
        if FE is None:
            nodevec1, nodevec2 = self._embedding1(idx), self._embedding2(idx)
        else:
            nodevec1 = nodevec2 = FE[idx, :]
        M1 = torch.tanh(self._alpha * self._linear1(nodevec1))
        M2 = torch.tanh(self._alpha * self._linear2(nodevec2))
        a = M1 @ M2.t() - M2 @ M1.t()
        A = F.relu(torch.tanh(self._alpha * a))
        mask = torch.zeros_like(A).scatter_(1, A.topk(self._k, 1).indices, 1.0)
        return A * mask

    def extra_repr(self) -> str:
        return f"nnodes={self.nnodes}, k={self._k}, alpha={self._alpha}, xd={self.xd}"


class LayerNormalization(nn.Module):
    r"""Layer normalization over ``(C, N, T)`` whose affine weights are
    indexed by the nodes of the (sub)graph.

    Args:
        normalized_shape (sequence of int): ``(C, N, T)``.
        eps (float, optional): (default: ``1e-5``).
        elementwise_affine (bool, optional): learn weights (default: :obj:`True`).
    """

    def __init__(self, normalized_shape: Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True):
        super().__init__()
        self._normalized_shape = tuple(normalized_shape)
        self._eps = eps
        self._elementwise_affine = elementwise_affine
        if elementwise_affine:
            self._weight = nn.Parameter(torch.empty(*normalized_shape))
            self._bias = nn.Parameter(torch.empty(*normalized_shape))
        else:
            self.register_parameter("_weight", None)
            self.register_parameter("_bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self._elementwise_affine:
            nn.init.ones_(self._weight)
            nn.init.zeros_(self._bias)

    def forward(self, X: Tensor, idx: torch.LongTensor) -> Tensor:
        weight = bias = None
        if self._elementwise_affine:
            weight, bias = self._weight[:, idx, :], self._bias[:, idx, :]
        return F.layer_norm(X, tuple(X.shape[1:]), weight, bias, self._eps)


def _rf_size(dilation_exponential: int, kernel_size: int, layers: int) -> int:
    """Receptive field of ``layers`` dilated layers (1 + their widths)."""
    if dilation_exponential > 1:
        return int(1 + (kernel_size - 1) * (dilation_exponential ** layers - 1)
                   / (dilation_exponential - 1))
    return layers * (kernel_size - 1) + 1


class MTGNNLayer(nn.Module):
    r"""One MTGNN layer: gated dilated inception (filter ``tanh`` times gate
    ``sigmoid``), a skip convolution, mix-hop propagation along the graph and
    its transpose (or a 1 x 1 convolution without graph), residual, layer norm.

    Args: as upstream's ``MTGNNLayer`` (``j`` is the 1-based layer index,
    ``new_dilation`` its dilation, ``receptive_field`` the model's).
    """

    def __init__(self, dilation_exponential: int, rf_size_i: int, kernel_size: int, j: int,
                 residual_channels: int, conv_channels: int, skip_channels: int,
                 kernel_set: list, new_dilation: int, layer_norm_affline: bool, gcn_true: bool,
                 seq_length: int, receptive_field: int, dropout: float, gcn_depth: int,
                 num_nodes: int, propalpha: float):
        super().__init__()
        self._dropout = dropout
        self._gcn_true = gcn_true
        rf_size_j = rf_size_i - 1 + _rf_size(dilation_exponential, kernel_size, j)
        length = max(seq_length, receptive_field) - rf_size_j + 1  # time steps after this layer
        self._filter_conv = DilatedInception(residual_channels, conv_channels, kernel_set,
                                             new_dilation)
        self._gate_conv = DilatedInception(residual_channels, conv_channels, kernel_set,
                                           new_dilation)
        self._residual_conv = nn.Conv2d(conv_channels, residual_channels, kernel_size=(1, 1))
        self._skip_conv = nn.Conv2d(conv_channels, skip_channels, kernel_size=(1, length))
        if gcn_true:
            self._mixprop_conv1 = MixProp(conv_channels, residual_channels, gcn_depth, dropout,
                                          propalpha)
            self._mixprop_conv2 = MixProp(conv_channels, residual_channels, gcn_depth, dropout,
                                          propalpha)
        self._normalization = LayerNormalization((residual_channels, num_nodes, length),
                                                 elementwise_affine=layer_norm_affline)
        _reset(self)

    def forward(self, X: Tensor, X_skip: Tensor, A_tilde: Optional[Tensor],
                idx: torch.LongTensor, training: bool):
        X_residual = X
        X = torch.tanh(self._filter_conv(X)) * torch.sigmoid(self._gate_conv(X))
        X = F.dropout(X, self._dropout, training=training)
        X_skip = self._skip_conv(X) + X_skip
        if self._gcn_true:
            X = self._mixprop_conv1(X, A_tilde) + self._mixprop_conv2(X, A_tilde.t())
        else:
            X = self._residual_conv(X)
        X = X + X_residual[:, :, :, -X.size(3):]
        return self._normalization(X, idx), X_skip


class MTGNN(nn.Module):
    r"""MTGNN, the multivariate time-series forecasting GNN of `"Connecting
    the Dots: Multivariate Time Series Forecasting with Graph Neural Networks"
    <https://arxiv.org/abs/2005.11650>`_ (Wu et al., KDD 2020).

    With ``build_adj`` the graph is learned (:class:`GraphConstructor`, a
    dense ``N x N`` adjacency rebuilt every forward); otherwise ``A_tilde``
    (dense, ``N x N``) is given. Mix-hop propagation multiplies by that dense
    matrix: memory and time grow as ``N^2``.

    Args:
        gcn_true (bool): use graph convolutions (mix-hop propagation).
        build_adj (bool): learn the adjacency.
        gcn_depth (int): propagation depth.
        num_nodes (int): nodes :math:`N`.
        kernel_set (list of int): kernel sizes of the dilated inception layers.
        kernel_size (int): kernel size for the receptive field (the largest of
            ``kernel_set``).
        dropout (float): dropout rate.
        subgraph_size (int): entries kept per row of the learned adjacency.
        node_dim (int): node embedding size.
        dilation_exponential (int): dilation growth per layer.
        conv_channels (int): channels of the temporal convolutions.
        residual_channels (int): channels of the residual stream.
        skip_channels (int): channels of the skip stream.
        end_channels (int): channels of the output block.
        seq_length (int): input steps :math:`T_{in}`.
        in_dim (int): input features :math:`F`.
        out_dim (int): outputs per node, usually the horizon :math:`T_{out}`.
        layers (int): MTGNN layers.
        propalpha (float): retain ratio of mix-hop propagation.
        tanhalpha (float): saturation rate of the graph learning layer.
        layer_norm_affline (bool): affine layer norm.
        xd (int, optional): static node feature size for the graph learning
            layer (default: :obj:`None`: learned embeddings).

    Shapes:
        ``X_in (B, in_dim, N, seq_length)``, ``A_tilde (N, N)`` (without
        ``build_adj``), ``idx (N_sub,)`` (optional subgraph of node ids; ``X_in``
        then holds those nodes), ``FE (num_nodes, xd)`` -> ``(B, out_dim, N, 1)``.
    """

    def __init__(self, gcn_true: bool, build_adj: bool, gcn_depth: int, num_nodes: int,
                 kernel_set: list, kernel_size: int, dropout: float, subgraph_size: int,
                 node_dim: int, dilation_exponential: int, conv_channels: int,
                 residual_channels: int, skip_channels: int, end_channels: int,
                 seq_length: int, in_dim: int, out_dim: int, layers: int, propalpha: float,
                 tanhalpha: float, layer_norm_affline: bool, xd: Optional[int] = None):
        super().__init__()
        self._gcn_true = gcn_true
        self._build_adj_true = build_adj
        self._num_nodes = num_nodes
        self._dropout = dropout
        self._seq_length = seq_length
        self._in_dim = in_dim
        self._layers = layers
        # every node, in order; follows .to(device), not in the state_dict (as upstream)
        self.register_buffer("_idx", torch.arange(num_nodes), persistent=False)
        self._receptive_field = _rf_size(dilation_exponential, kernel_size, layers)
        self._mtgnn_layers = nn.ModuleList()  # first: upstream's state_dict order
        self._graph_constructor = GraphConstructor(num_nodes, subgraph_size, node_dim,
                                                   alpha=tanhalpha, xd=xd)
        self._mtgnn_layers.extend(
            MTGNNLayer(dilation_exponential=dilation_exponential, rf_size_i=1,
                       kernel_size=kernel_size, j=j, residual_channels=residual_channels,
                       conv_channels=conv_channels, skip_channels=skip_channels,
                       kernel_set=kernel_set, new_dilation=dilation_exponential ** (j - 1),
                       layer_norm_affline=layer_norm_affline, gcn_true=gcn_true,
                       seq_length=seq_length, receptive_field=self._receptive_field,
                       dropout=dropout, gcn_depth=gcn_depth, num_nodes=num_nodes,
                       propalpha=propalpha)
            for j in range(1, layers + 1))
        rf = self._receptive_field
        self._start_conv = nn.Conv2d(in_dim, residual_channels, kernel_size=(1, 1))
        self._skip_conv_0 = nn.Conv2d(in_dim, skip_channels, kernel_size=(1, max(seq_length, rf)))
        self._skip_conv_E = nn.Conv2d(residual_channels, skip_channels,
                                      kernel_size=(1, max(seq_length - rf + 1, 1)))
        self._end_conv_1 = nn.Conv2d(skip_channels, end_channels, kernel_size=(1, 1))
        self._end_conv_2 = nn.Conv2d(end_channels, out_dim, kernel_size=(1, 1))
        self._out_dim = out_dim
        _reset(self)

    def extra_repr(self) -> str:
        return (f"num_nodes={self._num_nodes}, in_dim={self._in_dim}, out_dim={self._out_dim}, "
                f"seq_length={self._seq_length}, layers={self._layers}, gcn={self._gcn_true}, "
                f"build_adj={self._build_adj_true}, receptive_field={self._receptive_field}")

    def _check(self, X_in, A_tilde, idx) -> int:
        if not isinstance(X_in, Tensor) or X_in.dim() != 4:
            raise ValueError(f"MTGNN expects X_in of shape (B, in_dim, N, seq_length), got "
                             f"{_shape(X_in)}; from a (B, T, N, F) batch pass x.permute(0, 3, 2, 1).")
        if not X_in.dtype.is_floating_point:
            raise ValueError(f"X_in must be a floating tensor, got {X_in.dtype}; use X_in.float().")
        if X_in.size(1) != self._in_dim:
            raise ValueError(f"MTGNN was built with in_dim = {self._in_dim} but X_in has "
                             f"{X_in.size(1)} features (shape {_shape(X_in)}, axis 1).")
        if X_in.size(3) != self._seq_length:
            raise ValueError(f"MTGNN was built with seq_length = {self._seq_length} but X_in has "
                             f"{X_in.size(3)} steps (axis 3); rebuild it or cut X_in.")
        if idx is not None:
            if not isinstance(idx, Tensor) or idx.dim() != 1 or idx.dtype.is_floating_point:
                raise ValueError(f"idx must be a 1-D tensor of node ids (torch.long), got "
                                 f"{_shape(idx)}.")
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self._num_nodes):
                raise ValueError(f"idx holds node ids outside [0, {self._num_nodes}); pass ids "
                                 "of the num_nodes nodes the model was built with.")
        nodes = self._num_nodes if idx is None else idx.numel()
        if X_in.size(2) != nodes:
            raise ValueError(f"X_in has {X_in.size(2)} nodes (axis 2) but "
                             + (f"MTGNN was built with num_nodes = {nodes}" if idx is None
                                else f"idx selects {nodes}") + "; they must agree.")
        if self._gcn_true and not self._build_adj_true:
            _check_adjacency(A_tilde, nodes, "A_tilde")
        return nodes

    def forward(self, X_in: Tensor, A_tilde: Optional[Tensor] = None,
                idx: Optional[torch.LongTensor] = None, FE: Optional[Tensor] = None) -> Tensor:
        self._check(X_in, A_tilde, idx)
        if idx is None:
            idx = self._idx
        if self._seq_length < self._receptive_field:
            X_in = F.pad(X_in, (self._receptive_field - self._seq_length, 0, 0, 0))
        if self._gcn_true and self._build_adj_true:
            A_tilde = self._graph_constructor(idx, FE=FE)
        X = self._start_conv(X_in)
        X_skip = self._skip_conv_0(F.dropout(X_in, self._dropout, training=self.training))
        for layer in self._mtgnn_layers:
            X, X_skip = layer(X, X_skip, A_tilde, idx, self.training)
        X = F.relu(self._skip_conv_E(X) + X_skip)
        return self._end_conv_2(F.relu(self._end_conv_1(X)))
