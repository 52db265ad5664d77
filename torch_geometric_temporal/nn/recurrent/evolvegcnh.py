r"""EvolveGCN-H: a GCN whose weight matrix is the hidden state of a GRU fed
with a top-k summary of the node features."""
from typing import Optional

from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent.evolvegcno import GCNConv_Fixed_W, _EvolveGCN

__all__ = ["EvolveGCNH", "GCNConv_Fixed_W"]


class EvolveGCNH(_EvolveGCN):
    r"""The EvolveGCN-H layer from the `"EvolveGCN: Evolving Graph
    Convolutional Networks for Dynamic Graphs"
    <https://arxiv.org/abs/1902.10191>`_ paper (Pareja et al., 2020): the
    weight of a GCN layer is the hidden state of a recurrent network whose
    input summarizes the current node features.

    Each call evolves the weight once and convolves with it:

    .. math::
        \mathbf{y} &= \mathbf{X}_t \mathbf{p} / \lVert \mathbf{p} \rVert, \quad
        \mathbf{Z}_t = [\mathbf{X}_t \odot \tanh(\mathbf{y})]_{i_1, \dots, i_C}, \\
        \mathbf{W}_t &= \mathrm{GRU}(\mathbf{Z}_t, \mathbf{W}_{t-1}), \\
        \mathbf{X}'_t &= \mathbf{\hat{D}}^{-1/2} \mathbf{\hat{A}}_t
        \mathbf{\hat{D}}^{-1/2} \mathbf{X}_t \mathbf{W}_t,

    where :math:`i_1, \dots, i_C` are the :math:`C` nodes of highest score
    :math:`\mathbf{y}` (:class:`~torch_geometric.nn.pool.TopKPooling` with
    learned :math:`\mathbf{p}`), the GRU (:class:`torch.nn.GRU`) takes the
    :math:`C` rows of :math:`\mathbf{W}_{t-1}` as batch items with the
    selected nodes' summaries as their inputs, and :math:`\mathbf{W}_0` is
    the learned ``initial_weight``. The evolved weight is kept in
    :attr:`weight` (gradients flow through all calls since the last
    :meth:`reinitialize_weight`); call :meth:`reinitialize_weight` to start a
    new sequence, and after each ``backward`` (e.g. at every epoch): as
    upstream, a call after a backward through the kept weight would
    otherwise make the next backward fail ("backward through the graph a
    second time"); ``model.weight = model.weight.detach()`` instead keeps
    the weight and truncates the gradient. No activation is applied.

    Difference from PyTorch Geometric Temporal, where it contradicts the
    paper: the summary keeps :math:`k = C` nodes, as the paper's
    ``summarize(H_t, #col(W))``, for any snapshot with :math:`N \ge C`
    nodes. Upstream pools with ratio ``in_channels / num_of_nodes``, which
    gives :math:`k = C` only for some :math:`N` (e.g. ``num_of_nodes``) and
    fails otherwise, including ``in_channels == num_of_nodes`` (a ratio of
    1 keeps one node); wherever upstream runs, the outputs are the same, and
    its state dicts (``initial_weight``, ``pooling_layer.*``,
    ``recurrent_layer.*``) load unchanged. ``num_of_nodes`` is kept for
    that compatibility and sets :attr:`ratio` only. The GRU is
    :class:`torch.nn.GRU` (as upstream), not the paper's matrix GRU.

    Args:
        num_of_nodes (int): Number of nodes of the snapshots (upstream's
            pooling ratio is ``in_channels / num_of_nodes``; see above).
        in_channels (int): Number of input and output features :math:`C`
            (the evolved weight is :math:`C \times C`).
        improved (bool, optional): If set to :obj:`True`, added self-loops
            have weight 2: :math:`\mathbf{\hat{A}} = \mathbf{A} + 2\mathbf{I}`.
            As PyTorch Geometric's ``gcn_norm`` (and so upstream), this holds
            only when ``edge_weight`` is given; without it every node gets
            one self-loop of weight 1. (default: :obj:`False`)
        cached (bool, optional): If set to :obj:`True`, the normalization is
            reused while the same graph tensors are passed (upstream accepts
            the flag but never caches; same outputs). (default: :obj:`False`)
        normalize (bool, optional): Whether to add self-loops and apply the
            symmetric normalization. (default: :obj:`True`)
        add_self_loops (bool, optional): If set to :obj:`False`, no
            self-loops are added. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(N, C)` with :math:`N \ge C`, edge
          indices :math:`(2, E)`, edge weights :math:`(E,)` *(optional)*
        - **output:** node features :math:`(N, C)`
    """

    def __init__(
        self,
        num_of_nodes: int,
        in_channels: int,
        improved: bool = False,
        cached: bool = False,
        normalize: bool = True,
        add_self_loops: bool = True,
    ):
        super().__init__(in_channels, improved, cached, normalize, add_self_loops)
        self.num_of_nodes = num_of_nodes
        self.ratio = in_channels / num_of_nodes
        # An integer ratio is the count k itself: the top in_channels nodes.
        self.pooling_layer = pyg("nn").TopKPooling(in_channels, int(in_channels))
        self._create_recurrent_and_conv()
        self.reset_parameters()

    def forward(self, X: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""Evolve the weight one step from the top-:math:`C` summary of
        ``X`` and convolve the snapshot with it.

        Args:
            X (torch.Tensor): Node features :math:`(N, C)`, :math:`N \ge C`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`.

        Returns:
            torch.Tensor: Node features :math:`(N, C)`.
        """
        N = self._check(X, edge_index, edge_weight)
        if N < self.in_channels:
            raise ValueError(f"EvolveGCNH summarizes a snapshot by its top in_channels = "
                             f"{self.in_channels} nodes but X has N = {N}; use in_channels <= N "
                             "(e.g. a linear layer to fewer features first).")
        summary = self.pooling_layer(X, edge_index)[0]
        W = self._evolve(summary.unsqueeze(0))
        return self.conv_layer(W, X, edge_index, edge_weight)
