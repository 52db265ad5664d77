r"""Attention based spatial-temporal graph convolutional networks (ASTGCN, Guo
et al., AAAI 2019): :class:`ChebConvAttention`, the attention modules, one
:class:`ASTGCNBlock` and the model :class:`ASTGCN`. The Chebyshev supports and
the attention-weighted products live in
:mod:`~torch_geometric_temporal.nn.attention._chebyshev`."""
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_temporal.nn.attention._chebyshev import (  # noqa: F401 (_LAMBDA_CACHE: read by tests)
    _LAMBDA_CACHE,
    _DenseProduct,
    _EntryProduct,
    _support_size,
    chebyshev_dense,
    chebyshev_supports,
    dense_is_smaller,
    laplacian_lambda_max,
    scaled_laplacian_entries,
)
from torch_geometric_temporal.nn.attention.stgcn import _positive_int, check_normalization
from torch_geometric_temporal.nn.recurrent._checks import check_graph

__all__ = ["ChebConvAttention", "SpatialAttention", "TemporalAttention", "ASTGCNBlock", "ASTGCN"]


class ChebConvAttention(torch.nn.Module):
    r"""The Chebyshev graph convolution with spatial attention of the
    `"Attention Based Spatial-Temporal Graph Convolutional Networks for
    Traffic Flow Forecasting" <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_
    paper (section "Spatial-temporal convolution"): every Chebyshev
    polynomial of the scaled Laplacian is weighted entry-wise by the
    attention matrix :math:`\mathbf{S}` of each batch item,

    .. math::
        \mathbf{X}' = \sum_{k=0}^{K-1} \left(T_k(\hat{\mathbf{L}}) \odot
        \mathbf{S}\right)^\top \mathbf{X} \mathbf{\Theta}_k + \mathbf{b},
        \quad \hat{\mathbf{L}} = \frac{2\mathbf{L}}{\lambda_\max} - \mathbf{I},

    (the transpose as in the authors' code, whose :math:`\mathbf{S}` is
    normalized over its first axis; with :math:`\mathbf{S} = \mathbf{1}`
    this is :class:`~torch_geometric.nn.conv.ChebConv`). The caller's
    :math:`\mathbf{S}` is a dense :math:`(B, N, N)` tensor and orders
    :math:`k \ge 2` are built as dense :math:`N \times N` matrices: memory
    grows as :math:`N^2`. The products are dense :math:`(N, N)` matrix
    products or, where those would be slower (:func:`dense_is_smaller`: few
    features, sparse graph), messages over the nonzero entries of each
    :math:`T_k(\hat{\mathbf{L}})` (edges within :math:`k` hops); both give
    the same result and keep only :math:`\mathbf{S}`, :math:`\mathbf{X}`
    and the graph for the backward pass (no per-order :math:`(B, N, N)`
    product, no :math:`(B, E', F)` messages: the backward pass remakes them).

    **Difference from upstream PyTorch Geometric Temporal 0.56.2**, whose
    ``state_dict`` (``_weight`` of shape :math:`(K, F, C)`, ``_bias``) and
    checkpoints are kept: upstream weights only orders 0 and 1 by
    :math:`\mathbf{S}`, applies order 1 to the order-0 term
    :math:`\mathrm{diag}(\mathbf{S})\mathbf{X}` rather than to
    :math:`\mathbf{X}`, without the transpose, and continues the Chebyshev
    recursion from there without attention. Setting the attribute
    ``upstream_formula = True`` (not a constructor argument, so the
    signature stays upstream's) reproduces upstream's outputs; the two agree
    for :math:`K = 1`.

    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output features :math:`C`.
        K (int): Chebyshev filter size :math:`K` (hops :math:`K - 1`).
        normalization (str, optional): Normalization of the graph Laplacian
            (default: :obj:`None`): :obj:`None`
            (:math:`\mathbf{L} = \mathbf{D} - \mathbf{A}`), :obj:`"sym"`
            (:math:`\mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`)
            or :obj:`"rw"` (:math:`\mathbf{I} - \mathbf{D}^{-1}\mathbf{A}`);
            other than :obj:`"sym"`, pass ``lambda_max`` to :meth:`forward`.
        bias (bool, optional): If :obj:`False`, no additive bias.
            (default: :obj:`True`)
        **kwargs (optional): upstream's ``MessagePassing`` options; only
            ``aggr="add"`` is accepted (the sum is the convolution).

    Shapes:
        - **input:** node features :math:`(B, N, F)`, edge indices
          :math:`(2, E)`, spatial attention :math:`(B, N, N)`, optional edge
          weights :math:`(E,)`, ``batch`` and ``lambda_max`` as
          :class:`~torch_geometric.nn.conv.ChebConv`
        - **output:** :math:`(B, N, C)`
    """

    #: Reproduce upstream 0.56.2's formula (see the class docstring).
    upstream_formula: bool = False

    def __init__(self, in_channels: int, out_channels: int, K: int,
                 normalization: Optional[str] = None, bias: bool = True, **kwargs):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("K", K)):
            _positive_int("ChebConvAttention", name, value)
        check_normalization("ChebConvAttention", normalization)
        unknown = {k: v for k, v in kwargs.items() if not (k == "aggr" and v == "add")}
        if unknown:
            raise ValueError(f"ChebConvAttention takes no MessagePassing options besides "
                             f"aggr='add', got {unknown}; drop them.")
        self._in_channels = in_channels
        self._out_channels = out_channels
        self._normalization = normalization
        self._weight = torch.nn.Parameter(torch.empty(K, in_channels, out_channels))
        if bias:
            self._bias = torch.nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("_bias", None)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self._weight)
        if self._bias is not None:
            torch.nn.init.uniform_(self._bias)

    def reset_parameters(self) -> None:
        r"""Re-initialize the parameters (Xavier weights, uniform bias)."""
        self._reset_parameters()

    def _laplacian(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
                   batch: Optional[Tensor], lambda_max) -> Tuple[Tensor, Tensor]:
        if self._normalization != "sym" and lambda_max is None:
            raise ValueError("ChebConvAttention: pass lambda_max to forward() when the "
                             "normalization is not 'sym' (e.g. from "
                             "torch_geometric.transforms.LaplacianLambdaMax).")
        if lambda_max is None:
            lambda_max = 2.0
        if not isinstance(lambda_max, Tensor):
            lambda_max = torch.tensor(lambda_max, dtype=x.dtype, device=x.device)
        return scaled_laplacian_entries(edge_index, edge_weight, x.size(1), self._normalization,
                                        lambda_max, batch, x.dtype)

    def _basis(self, x: Tensor, laplacian: Tuple[Tensor, Tensor], S: Tensor) -> Tensor:
        r"""The attention-weighted Chebyshev basis of ``x (B, N, F')``:
        ``(B, N, K, F')`` (``F'`` may hold several time steps)."""
        K, (B, N, Fx) = self._weight.size(0), x.shape
        index, value = laplacian
        if self.upstream_formula:
            return self._upstream_basis(x, index, value, S)
        value = value.to(x.dtype)
        polys = chebyshev_dense(index, value, N, K)
        if dense_is_smaller(K, N, _support_size(polys, value.numel()), Fx):
            return _DenseProduct.apply(S, x, *polys[1:])
        order, (i, j), v = chebyshev_supports(index, value, N, K, polys)
        del polys
        Z = _EntryProduct.apply(S[:, i, j] * v, x, order * N + j, i, K * N)
        return Z.view(B, K, N, Fx).transpose(1, 2)

    def _upstream_basis(self, x: Tensor, index: Tensor, value: Tensor, S: Tensor) -> Tensor:
        row, col = index
        N = x.size(1)

        def apply(weight: Tensor, z: Tensor) -> Tensor:  # out[row] += weight * z[col]
            return torch.zeros_like(z).index_add_(1, row, weight.unsqueeze(-1) * z[:, col])

        nodes = torch.arange(N, device=x.device)
        basis = [S[:, nodes, nodes].unsqueeze(-1) * x]
        if self._weight.size(0) > 1:
            basis.append(apply(value * S[:, row, col], basis[0]))
        for _ in range(2, self._weight.size(0)):
            basis.append(2.0 * apply(value.expand(x.size(0), -1), basis[-1]) - basis[-2])
        return torch.stack(basis, dim=2)

    def _combine(self, Z: Tensor) -> Tensor:
        r"""``Z (B, N, K, F, ...)`` -> ``(B, N, C, ...)``: the filter and bias."""
        out = torch.einsum("bnkf...,kfc->bnc...", Z, self._weight.to(Z.dtype))
        if self._bias is not None:
            out = out + self._bias.view(-1, *([1] * (Z.dim() - 4)))
        return out

    def forward(self, x: torch.FloatTensor, edge_index: torch.LongTensor,
                spatial_attention: torch.FloatTensor, edge_weight: Optional[Tensor] = None,
                batch: Optional[Tensor] = None,
                lambda_max: Optional[Tensor] = None) -> torch.FloatTensor:
        r"""Args:
            x (torch.Tensor): Node features :math:`(B, N, F)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            spatial_attention (torch.Tensor): Attention :math:`(B, N, N)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`.
            batch (torch.Tensor, optional): Graph id of each node, with one
                ``lambda_max`` per graph.
            lambda_max (torch.Tensor or float, optional): Largest eigenvalue
                of the Laplacian (needed unless ``normalization="sym"``).

        Returns:
            torch.Tensor: :math:`(B, N, C)`.
        """
        _check_nodes("ChebConvAttention", x, self._in_channels)
        B, N, _ = x.shape
        _check_attention(spatial_attention, B, N, x)
        check_graph(edge_index, edge_weight, N, x.device)
        laplacian = self._laplacian(x, edge_index, edge_weight, batch, lambda_max)
        return self._combine(self._basis(x, laplacian, spatial_attention.to(x.dtype)).unsqueeze(-1)
                             ).squeeze(-1)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self._in_channels}, {self._out_channels}, "
                f"K={self._weight.size(0)}, normalization={self._normalization})"
                + (", upstream_formula=True" if self.upstream_formula else ""))


def _check_nodes(owner: str, x, in_channels: int) -> None:
    if not isinstance(x, Tensor) or x.dim() != 3 or x.size(2) != in_channels:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{owner} expects x of shape (B, N, {in_channels}) (in_channels = "
                         f"{in_channels}), got {shape}; one time step per call.")
    if not x.dtype.is_floating_point:
        raise ValueError(f"x must be a floating tensor, got {x.dtype}; use x.float().")


def _check_attention(S, B: int, N: int, x: Tensor) -> None:
    if not isinstance(S, Tensor) or tuple(S.shape) != (B, N, N):
        shape = tuple(S.shape) if isinstance(S, Tensor) else type(S).__name__
        raise ValueError(f"spatial_attention must have shape (B, N, N) = ({B}, {N}, {N}), got "
                         f"{shape}; pass one N x N attention matrix per batch item.")
    if S.device != x.device:
        raise ValueError(f"spatial_attention is on {S.device} but x is on {x.device}; move both "
                         "to the same device.")


def _reset_uniform(module: torch.nn.Module) -> None:
    r"""Upstream's initialization: Xavier-uniform for every parameter of two
    or more dimensions, uniform on :math:`[0, 1)` for the others."""
    for p in module.parameters():
        if p.dim() > 1:
            torch.nn.init.xavier_uniform_(p)
        else:
            torch.nn.init.uniform_(p)


class SpatialAttention(torch.nn.Module):
    r"""The spatial attention of the `"Attention Based Spatial-Temporal Graph
    Convolutional Networks for Traffic Flow Forecasting"
    <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_ paper,

    .. math::
        \mathbf{S} = \mathrm{softmax}\left(\mathbf{V}_s \, \sigma\left(
        (\mathcal{X} \mathbf{W}_1) \mathbf{W}_2 (\mathbf{W}_3 \mathcal{X})^\top
        + \mathbf{b}_s\right)\right),

    normalized over the first node axis (as the authors' code). It holds and
    returns :math:`N \times N` matrices: the parameters ``_Vs``, ``_bs`` and
    an output of :math:`B N^2` values.

    Args:
        in_channels (int): Number of input features :math:`F`.
        num_of_vertices (int): Number of nodes :math:`N`.
        num_of_timesteps (int): Number of time steps :math:`T`.

    Shapes:
        - **input:** :math:`(B, N, F, T)`
        - **output:** :math:`(B, N, N)`
    """

    def __init__(self, in_channels: int, num_of_vertices: int, num_of_timesteps: int):
        super().__init__()
        self._W1 = torch.nn.Parameter(torch.empty(num_of_timesteps))
        self._W2 = torch.nn.Parameter(torch.empty(in_channels, num_of_timesteps))
        self._W3 = torch.nn.Parameter(torch.empty(in_channels))
        self._bs = torch.nn.Parameter(torch.empty(1, num_of_vertices, num_of_vertices))
        self._Vs = torch.nn.Parameter(torch.empty(num_of_vertices, num_of_vertices))
        _reset_uniform(self)

    def forward(self, X: torch.FloatTensor) -> torch.FloatTensor:
        LHS = torch.matmul(torch.matmul(X, self._W1), self._W2)  # (B, N, T)
        RHS = torch.matmul(self._W3, X).transpose(-1, -2)  # (B, T, N)
        sig = torch.sigmoid(torch.matmul(LHS, RHS) + self._bs)  # (B, N, N)
        # bmm with Vs broadcast (a view): autograd keeps sig, which the sigmoid
        # keeps anyway, where matmul would keep a transposed (B N, N) copy of it
        S = torch.bmm(self._Vs.expand(sig.size(0), -1, -1), sig)
        return F.softmax(S, dim=1)


class TemporalAttention(torch.nn.Module):
    r"""The temporal attention of the `"Attention Based Spatial-Temporal
    Graph Convolutional Networks for Traffic Flow Forecasting"
    <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_ paper,

    .. math::
        \mathbf{E} = \mathrm{softmax}\left(\mathbf{V}_e \, \sigma\left(
        ((\mathcal{X}^\top \mathbf{U}_1) \mathbf{U}_2) (\mathbf{U}_3 \mathcal{X})
        + \mathbf{b}_e\right)\right),

    normalized over the first time axis (as the authors' code).

    Args:
        in_channels (int): Number of input features :math:`F`.
        num_of_vertices (int): Number of nodes :math:`N`.
        num_of_timesteps (int): Number of time steps :math:`T`.

    Shapes:
        - **input:** :math:`(B, N, F, T)`
        - **output:** :math:`(B, T, T)`
    """

    def __init__(self, in_channels: int, num_of_vertices: int, num_of_timesteps: int):
        super().__init__()
        self._U1 = torch.nn.Parameter(torch.empty(num_of_vertices))
        self._U2 = torch.nn.Parameter(torch.empty(in_channels, num_of_vertices))
        self._U3 = torch.nn.Parameter(torch.empty(in_channels))
        self._be = torch.nn.Parameter(torch.empty(1, num_of_timesteps, num_of_timesteps))
        self._Ve = torch.nn.Parameter(torch.empty(num_of_timesteps, num_of_timesteps))
        _reset_uniform(self)

    def forward(self, X: torch.FloatTensor) -> torch.FloatTensor:
        LHS = torch.matmul(torch.matmul(X.permute(0, 3, 2, 1), self._U1), self._U2)  # (B, T, N)
        RHS = torch.matmul(self._U3, X)  # (B, N, T)
        E = torch.matmul(self._Ve, torch.sigmoid(torch.matmul(LHS, RHS) + self._be))
        return F.softmax(E, dim=1)


EdgeIndex = Union[Tensor, List[Tensor]]


def check_block_input(owner: str, X, in_channels: int, num_nodes: Optional[int],
                      num_steps: Optional[int], edge_index: EdgeIndex) -> None:
    r"""Check ``X (B, N, F, T)`` and ``edge_index``: one ``(2, E)`` tensor or a
    list of one per time step."""
    expected = f"(B, {num_nodes or 'N'}, {in_channels}, {num_steps or 'T'})"
    if not isinstance(X, Tensor) or X.dim() != 4:
        shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"{owner} expects X of shape {expected}, got {shape}; a loader batch "
                         "x (B, T, N, F) becomes X = x.permute(0, 2, 3, 1).")
    for axis, name, want in ((1, "num_of_vertices", num_nodes), (2, "in_channels", in_channels),
                             (3, "len_input", num_steps)):
        if want is not None and X.size(axis) != want:
            raise ValueError(f"{owner} was built with {name} = {want} but X has {X.size(axis)} "
                             f"on axis {axis} (shape {tuple(X.shape)}, expected {expected}); a "
                             "loader batch x (B, T, N, F) becomes X = x.permute(0, 2, 3, 1).")
    if not X.dtype.is_floating_point:
        raise ValueError(f"X must be a floating tensor, got {X.dtype}; use X.float().")
    graphs = edge_index if isinstance(edge_index, list) else [edge_index]
    if isinstance(edge_index, list) and len(edge_index) < X.size(3):
        raise ValueError(f"{owner}: edge_index is a list of {len(edge_index)} graphs but X has "
                         f"{X.size(3)} time steps; pass one (2, E) tensor per time step, or one "
                         "tensor for a static graph.")
    for graph in graphs:
        check_graph(graph, None, X.size(1), X.device)


class ASTGCNBlock(torch.nn.Module):
    r"""One spatial-temporal block of the `"Attention Based Spatial-Temporal
    Graph Convolutional Networks for Traffic Flow Forecasting"
    <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_ paper: temporal
    attention :math:`\mathbf{E}` re-weights the time steps, the spatial
    attention :math:`\mathbf{S}` (an :math:`N \times N` matrix per batch
    item) is computed from :math:`\mathcal{X}\mathbf{E}`, a
    :class:`ChebConvAttention` filters every time step of :math:`\mathcal{X}`
    with :math:`\mathbf{S}`, then a ReLU, a temporal convolution (width 3,
    stride ``time_strides``), a residual :math:`1 \times 1` convolution, a
    ReLU and layer normalization over the features.

    For a static graph all time steps are filtered in one sparse product.
    Without ``"sym"`` normalization, :math:`\lambda_\max` of the graph's
    Laplacian with this ``normalization`` is computed (dense :math:`O(N^3)`
    eigenvalues, once per graph and process: cached); upstream 0.56.2 always takes it from
    the unnormalized Laplacian :math:`\mathbf{D} - \mathbf{A}`, which for
    ``"rw"`` leaves the spectrum of :math:`\hat{\mathbf{L}}` outside
    :math:`[-1, 1]`, and reproduces that with ``upstream_formula = True``.
    Edge weights are not used (as upstream).

    Args:
        in_channels (int): Number of input features :math:`F`.
        K (int): Chebyshev filter size :math:`K`.
        nb_chev_filter (int): Number of Chebyshev filters.
        nb_time_filter (int): Number of temporal convolution filters.
        time_strides (int): Stride of the temporal convolution.
        num_of_vertices (int): Number of nodes :math:`N`.
        num_of_timesteps (int): Number of input time steps :math:`T`.
        normalization (str, optional): Laplacian normalization (see
            :class:`ChebConvAttention`). (default: :obj:`None`)
        bias (bool, optional): Bias of the graph convolution.
            (default: :obj:`True`)

    Shapes:
        - **input:** :math:`(B, N, F, T)`, edge indices :math:`(2, E)` or a
          list of :math:`T` of them
        - **output:** :math:`(B, N, \text{nb\_time\_filter}, \lceil T /
          \text{time\_strides} \rceil)`
    """

    def __init__(self, in_channels: int, K: int, nb_chev_filter: int, nb_time_filter: int,
                 time_strides: int, num_of_vertices: int, num_of_timesteps: int,
                 normalization: Optional[str] = None, bias: bool = True):
        super().__init__()
        self._temporal_attention = TemporalAttention(in_channels, num_of_vertices,
                                                     num_of_timesteps)
        self._spatial_attention = SpatialAttention(in_channels, num_of_vertices, num_of_timesteps)
        self._chebconv_attention = ChebConvAttention(in_channels, nb_chev_filter, K,
                                                     normalization, bias)
        self._time_convolution = torch.nn.Conv2d(nb_chev_filter, nb_time_filter, kernel_size=(1, 3),
                                                 stride=(1, time_strides), padding=(0, 1))
        self._residual_convolution = torch.nn.Conv2d(in_channels, nb_time_filter,
                                                     kernel_size=(1, 1), stride=(1, time_strides))
        self._layer_norm = torch.nn.LayerNorm(nb_time_filter)
        self._normalization = normalization
        _reset_uniform(self)

    def _lambda_max(self, edge_index: Tensor, N: int) -> Optional[float]:
        if self._normalization == "sym":
            return None
        upstream = self._chebconv_attention.upstream_formula
        return laplacian_lambda_max(edge_index, N, None if upstream else self._normalization)

    def forward(self, X: torch.FloatTensor, edge_index: EdgeIndex) -> torch.FloatTensor:
        B, N, Fin, T = X.shape
        E = self._temporal_attention(X)
        X_tilde = torch.matmul(X.reshape(B, -1, T), E).reshape(B, N, Fin, T)
        S = self._spatial_attention(X_tilde).to(X.dtype)
        conv = self._chebconv_attention
        if isinstance(edge_index, list):
            Z = torch.stack([conv._basis(X[..., t], conv._laplacian(
                X, edge_index[t], None, None, self._lambda_max(edge_index[t], N)), S)
                for t in range(T)], dim=-1)  # (B, N, K, F, T)
        else:
            laplacian = conv._laplacian(X, edge_index, None, None, self._lambda_max(edge_index, N))
            Z = conv._basis(X.reshape(B, N, Fin * T), laplacian, S).view(B, N, -1, Fin, T)
        X_hat = F.relu(conv._combine(Z))  # (B, N, C, T)
        X_hat = self._time_convolution(X_hat.permute(0, 2, 1, 3))
        X = self._residual_convolution(X.permute(0, 2, 1, 3))
        X = self._layer_norm(F.relu(X + X_hat).permute(0, 3, 2, 1))
        return X.permute(0, 2, 3, 1)


class ASTGCN(torch.nn.Module):
    r"""The attention based spatial-temporal graph convolutional network
    (one component: the recent series) of the `"Attention Based
    Spatial-Temporal Graph Convolutional Networks for Traffic Flow
    Forecasting" <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_
    paper: ``nb_block`` :class:`ASTGCNBlock` s (the first with stride
    ``time_strides``), then a convolution over all time steps and features
    gives ``num_for_predict`` values per node.

    Every block builds :math:`N \times N` matrices: its spatial attention
    parameters and output (the attention's sigmoid and softmax,
    :math:`2 B N^2` values per block, are kept for the backward pass), and
    for :math:`K \ge 3` the Chebyshev polynomials
    :math:`T_k(\hat{\mathbf{L}})`; memory grows as :math:`N^2`. Measured
    (``benchmarks/bench_astgcn.py``: 2 blocks, 2 input features, 64/64
    filters, :math:`K = 3`, 12 steps, one static graph of about 8 links per
    node, one training step on CPU): 20 MB for one sample at PeMS-BAY size
    (:math:`N = 325`, +21 MB per further sample), 257 MB at PeMS-All-LA size
    (:math:`N = 2{,}716`, +248 MB per further sample; :math:`B = 11`:
    2.9 GiB); upstream 0.56.2's formula needs about 2.2-2.6x that.

    **Differences from upstream PyTorch Geometric Temporal 0.56.2** (whose
    constructor, ``state_dict`` keys and checkpoints are kept): the graph
    convolution follows the paper (see :class:`ChebConvAttention`) and
    :math:`\lambda_\max` is that of the chosen Laplacian (see
    :class:`ASTGCNBlock`). ``model.upstream_formula = True`` (an attribute,
    not a constructor argument) reproduces upstream's outputs.

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
        num_of_vertices (int): Number of nodes :math:`N`.
        normalization (str, optional): Laplacian normalization (see
            :class:`ChebConvAttention`; the paper's is :obj:`"sym"`, which
            needs no eigenvalue). (default: :obj:`None`)
        bias (bool, optional): Bias of the graph convolutions.
            (default: :obj:`True`)

    Shapes:
        - **input:** :math:`(B, N, F, T)` (a loader batch ``x (B, T, N, F)``
          as ``x.permute(0, 2, 3, 1)``), edge indices :math:`(2, E)` or a
          list of :math:`T` of them
        - **output:** :math:`(B, N, T_{out})`
    """

    def __init__(self, nb_block: int, in_channels: int, K: int, nb_chev_filter: int,
                 nb_time_filter: int, time_strides: int, num_for_predict: int, len_input: int,
                 num_of_vertices: int, normalization: Optional[str] = None, bias: bool = True):
        super().__init__()
        check_model_arguments("ASTGCN", nb_block, in_channels, K, nb_chev_filter, nb_time_filter,
                              time_strides, num_for_predict, len_input)
        _positive_int("ASTGCN", "num_of_vertices", num_of_vertices)
        check_normalization("ASTGCN", normalization)
        self.in_channels = in_channels
        self.len_input = len_input
        self.num_of_vertices = num_of_vertices
        self._blocklist = torch.nn.ModuleList([ASTGCNBlock(
            in_channels, K, nb_chev_filter, nb_time_filter, time_strides, num_of_vertices,
            len_input, normalization, bias)])
        self._blocklist.extend([ASTGCNBlock(
            nb_time_filter, K, nb_chev_filter, nb_time_filter, 1, num_of_vertices,
            len_input // time_strides, normalization, bias) for _ in range(nb_block - 1)])
        self._final_conv = torch.nn.Conv2d(len_input // time_strides, num_for_predict,
                                           kernel_size=(1, nb_time_filter))
        _reset_uniform(self)

    @property
    def upstream_formula(self) -> bool:
        r"""Reproduce upstream 0.56.2's graph convolution and
        :math:`\lambda_\max` (see the class docstring); set on every block."""
        return all(b._chebconv_attention.upstream_formula for b in self._blocklist)

    @upstream_formula.setter
    def upstream_formula(self, value: bool) -> None:
        for block in self._blocklist:
            block._chebconv_attention.upstream_formula = bool(value)

    def forward(self, X: torch.FloatTensor, edge_index: torch.LongTensor) -> torch.FloatTensor:
        r"""Args:
            X (torch.Tensor): Node features :math:`(B, N, F, T)`.
            edge_index (torch.Tensor or list): Edge indices :math:`(2, E)`,
                or a list with one per time step.

        Returns:
            torch.Tensor: :math:`(B, N, T_{out})`.
        """
        check_block_input("ASTGCN", X, self.in_channels, self.num_of_vertices, self.len_input,
                          edge_index)
        for block in self._blocklist:
            X = block(X, edge_index)
        return self._final_conv(X.permute(0, 3, 1, 2))[..., -1].permute(0, 2, 1)


def check_model_arguments(owner: str, nb_block: int, in_channels: int, K: int,
                          nb_chev_filter: int, nb_time_filter: int, time_strides: int,
                          num_for_predict: int, len_input: int) -> None:
    r"""The constructor checks shared by :class:`ASTGCN` and MSTGCN."""
    for name, value in (("nb_block", nb_block), ("in_channels", in_channels), ("K", K),
                        ("nb_chev_filter", nb_chev_filter), ("nb_time_filter", nb_time_filter),
                        ("time_strides", time_strides), ("num_for_predict", num_for_predict),
                        ("len_input", len_input)):
        _positive_int(owner, name, value)
    if len_input % time_strides:
        raise ValueError(f"{owner}: len_input = {len_input} must be a multiple of time_strides = "
                         f"{time_strides} (the blocks after the first and the final convolution "
                         "take len_input // time_strides steps); change one of them.")
