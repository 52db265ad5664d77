r"""Temporal graph convolutional GRU cells (T-GCN, Zhao et al., 2019): one
snapshot :class:`TGCN` and the batched :class:`TGCN2`."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph, check_state

__all__ = ["TGCN", "TGCN2"]

_Graph = Tuple[Tensor, Tensor]


class _TGCNCell(torch.nn.Module):
    r"""Parameters and fused step shared by :class:`TGCN` and :class:`TGCN2`
    (and the attention cells built on them).

    A :class:`~torch_geometric.nn.conv.GCNConv` is linear in the node
    features, :math:`\hat{\mathbf{A}} \mathbf{X} \mathbf{W}^\top + \mathbf{b}`,
    so the three gate convolutions of the same :math:`\mathbf{X}` share one
    normalized graph and one propagation: :math:`\hat{\mathbf{A}} \mathbf{X}`
    is computed once (or :math:`\mathbf{X} [\mathbf{W}_z; \mathbf{W}_r;
    \mathbf{W}_h]^\top` is propagated once when that has fewer channels) and
    mapped by the three stacked weights, with the result of three
    ``GCNConv`` calls. The node axis is the second to last, so inputs of
    shape ``(..., N, C)`` (a batch on one shared graph) propagate together.
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 cached: bool = False, add_self_loops: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        GCNConv = pyg("nn").GCNConv
        for gate in ("z", "r", "h"):  # creation order = upstream's (same init for a seed)
            setattr(self, f"conv_{gate}", GCNConv(in_channels=in_channels, out_channels=out_channels,
                                                  improved=improved, cached=cached,
                                                  add_self_loops=add_self_loops))
            setattr(self, f"linear_{gate}", torch.nn.Linear(2 * out_channels, out_channels))
        self._cached_graph: Optional[_Graph] = None

    def reset_parameters(self) -> None:
        r"""Re-initialize every parameter as at construction and drop the
        cached normalized graph."""
        for gate in ("z", "r", "h"):
            getattr(self, f"conv_{gate}").reset_parameters()
            getattr(self, f"linear_{gate}").reset_parameters()
        self._cached_graph = None

    def _graph(self, edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
               dtype: torch.dtype) -> _Graph:
        r"""The symmetrically normalized graph
        :math:`\hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2}`
        as ``(edge_index, edge_weight)``; with ``cached=True`` the first
        graph is kept and reused, as ``GCNConv`` does."""
        if self._cached_graph is not None:
            return self._cached_graph
        gcn_norm = pyg("nn.conv.gcn_conv").gcn_norm
        graph = gcn_norm(edge_index, edge_weight, num_nodes, self.improved,
                         self.add_self_loops, "source_to_target", dtype)
        if self.cached:
            self._cached_graph = graph
        return graph

    def _input_part(self, X: Tensor, graph: _Graph) -> Tensor:
        r"""The three gate convolutions of ``X (..., N, F)``, stacked on the
        last axis: ``(..., N, 3 out_channels)`` in the order
        :math:`[\mathbf{Z}, \mathbf{R}, \tilde{\mathbf{H}}]`."""
        convs = (self.conv_z, self.conv_r, self.conv_h)
        weight = torch.cat([conv.lin.weight for conv in convs])
        bias = torch.cat([conv.bias for conv in convs])
        edge_index, edge_weight = graph
        if X.size(-1) <= weight.size(0):
            AX = self.conv_z.propagate(edge_index, x=X, edge_weight=edge_weight)
            return F.linear(AX, weight, bias)
        return self.conv_z.propagate(edge_index, x=F.linear(X, weight), edge_weight=edge_weight) + bias

    def _input_parts(self, X: Tensor, graph: _Graph) -> Tensor:
        r"""The gate convolutions of all periods of ``X (..., N, F, T)`` in
        one propagation: ``(..., N, T, 3 out_channels)``."""
        *lead, N, C, T = X.shape
        convs = (self.conv_z, self.conv_r, self.conv_h)
        weight = torch.cat([conv.lin.weight for conv in convs])
        bias = torch.cat([conv.bias for conv in convs])
        edge_index, edge_weight = graph
        if C <= weight.size(0):
            AX = self.conv_z.propagate(edge_index, x=X.reshape(*lead, N, C * T), edge_weight=edge_weight)
            return F.linear(AX.view(*lead, N, C, T).transpose(-1, -2), weight, bias)
        XW = F.linear(X.transpose(-1, -2), weight)
        AXW = self.conv_z.propagate(edge_index, x=XW.reshape(*lead, N, -1), edge_weight=edge_weight)
        return AXW.view(*lead, N, T, -1) + bias

    def _recur(self, G: Tensor, H: Tensor) -> Tensor:
        r"""The GRU update from the gate convolutions ``G (..., N, 3 out)``
        and the previous state ``H (..., N, out)``."""
        G_z, G_r, G_h = G.split(self.out_channels, dim=-1)
        Z = torch.sigmoid(self.linear_z(torch.cat([G_z, H], dim=-1)))
        R = torch.sigmoid(self.linear_r(torch.cat([G_r, H], dim=-1)))
        H_tilde = torch.tanh(self.linear_h(torch.cat([G_h, H * R], dim=-1)))
        return Z * H + (1 - Z) * H_tilde

    def _step(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
              H: Optional[Tensor], layout: Tuple[str, ...]) -> Tensor:
        N = check_features(type(self).__name__, X, self.in_channels, layout=layout)
        check_graph(edge_index, edge_weight, N, X.device)
        H = check_state("H", H, X, (*X.shape[:-1], self.out_channels))
        graph = self._graph(edge_index, edge_weight, N, X.dtype)
        return self._recur(self._input_part(X, graph), H)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, improved={self.improved}, "
                f"cached={self.cached}, add_self_loops={self.add_self_loops}")


class TGCN(_TGCNCell):
    r"""The temporal graph convolutional gated recurrent cell from the
    `"T-GCN: A Temporal Graph Convolutional Network for Traffic Prediction"
    <https://arxiv.org/abs/1811.05320>`_ paper: a GRU whose inputs are graph
    convolutions :math:`f(\mathbf{A}, \mathbf{X}_t)` of the node features,

    .. math::
        \mathbf{Z} &= \sigma(\mathbf{W}_z [f_z(\mathbf{A}, \mathbf{X}_t),
        \mathbf{H}_{t-1}] + \mathbf{b}_z),

        \mathbf{R} &= \sigma(\mathbf{W}_r [f_r(\mathbf{A}, \mathbf{X}_t),
        \mathbf{H}_{t-1}] + \mathbf{b}_r),

        \tilde{\mathbf{H}} &= \tanh(\mathbf{W}_h [f_h(\mathbf{A}, \mathbf{X}_t),
        \mathbf{R} \odot \mathbf{H}_{t-1}] + \mathbf{b}_h),

        \mathbf{H}_t &= \mathbf{Z} \odot \mathbf{H}_{t-1} + (1 - \mathbf{Z})
        \odot \tilde{\mathbf{H}},

    where each :math:`f_g(\mathbf{A}, \mathbf{X}) = \hat{\mathbf{D}}^{-1/2}
    \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2} \mathbf{X} \mathbf{\Theta}_g +
    \mathbf{c}_g` is one :class:`~torch_geometric.nn.conv.GCNConv` (the
    submodules ``conv_z``, ``conv_r``, ``conv_h``) and :math:`[\cdot, \cdot]`
    the concatenation mapped by the ``Linear`` submodules ``linear_z``,
    ``linear_r``, ``linear_h`` (upstream PyTorch Geometric Temporal's
    parametrization and ``state_dict`` keys: one linear GCN layer per gate
    rather than the two-layer GCN the paper describes for its spatial
    model). The three convolutions share one normalized graph and one
    propagation.

    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden) features.
        improved (bool, optional): If :obj:`True`, added self loops get
            weight 2 (:math:`\hat{\mathbf{A}} = \mathbf{A} + 2\mathbf{I}`) on
            a weighted graph; with no ``edge_weight`` every edge and loop
            weighs 1, as in ``GCNConv``. (default: :obj:`False`)
        cached (bool, optional): If :obj:`True`, the normalized graph of the
            first call is kept and reused by every later call (only for a
            fixed graph). (default: :obj:`False`)
        add_self_loops (bool, optional): If :obj:`False`, no self loops are
            added before normalizing. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(N, F)`, edge indices :math:`(2, E)`
          (row 0 = source), optional edge weights :math:`(E,)`, optional
          hidden state :math:`(N, \text{out\_channels})` (zeros if omitted)
        - **output:** hidden state :math:`(N, \text{out\_channels})`
    """

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None) -> Tensor:
        r"""One step of the cell.

        Args:
            X (torch.Tensor): Node features :math:`(N, F)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`;
                an unweighted graph if omitted.
            H (torch.Tensor, optional): Hidden state
                :math:`(N, \text{out\_channels})`; zeros if omitted.

        Returns:
            torch.Tensor: The new hidden state :math:`(N, \text{out\_channels})`.
        """
        return self._step(X, edge_index, edge_weight, H, ("N",))


class TGCN2(_TGCNCell):
    r"""The temporal graph convolutional gated recurrent cell of :class:`TGCN`
    (`"T-GCN: A Temporal Graph Convolutional Network for Traffic Prediction"
    <https://arxiv.org/abs/1811.05320>`_) for a batch of node-feature
    matrices on one shared graph: the same equations and parameters
    (``state_dict`` keys ``conv_z``, ``linear_z``, ... as upstream), applied
    to every batch item, with one propagation over the whole batch.

    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden) features.
        batch_size (int): The batch size :math:`B`; kept for upstream
            compatibility and not used (the batch size is read from ``X``).
        improved (bool, optional): If :obj:`True`, added self loops get
            weight 2 (on a weighted graph; with no ``edge_weight`` every edge
            and loop weighs 1, as in ``GCNConv``). (default: :obj:`False`)
        cached (bool, optional): If :obj:`True`, the normalized graph of the
            first call is kept and reused by every later call (only for a
            fixed graph). (default: :obj:`False`)
        add_self_loops (bool, optional): If :obj:`False`, no self loops are
            added before normalizing. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(B, N, F)`, edge indices
          :math:`(2, E)` of the one graph (node ids in :math:`[0, N)`, not
          replicated per item), optional edge weights :math:`(E,)`, optional
          hidden state :math:`(B, N, \text{out\_channels})` (zeros if omitted)
        - **output:** hidden state :math:`(B, N, \text{out\_channels})`
    """

    def __init__(self, in_channels: int, out_channels: int, batch_size: int,
                 improved: bool = False, cached: bool = False, add_self_loops: bool = True):
        super().__init__(in_channels, out_channels, improved=improved, cached=cached,
                         add_self_loops=add_self_loops)
        self.batch_size = batch_size

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None) -> Tensor:
        r"""One step of the cell for a batch.

        Args:
            X (torch.Tensor): Node features :math:`(B, N, F)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)` of the
                shared graph.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`;
                an unweighted graph if omitted.
            H (torch.Tensor, optional): Hidden state
                :math:`(B, N, \text{out\_channels})`; zeros if omitted.

        Returns:
            torch.Tensor: The new hidden state :math:`(B, N, \text{out\_channels})`.
        """
        return self._step(X, edge_index, edge_weight, H, ("B", "N"))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, batch_size={self.batch_size}, "
                f"improved={self.improved}, cached={self.cached}, "
                f"add_self_loops={self.add_self_loops}")
