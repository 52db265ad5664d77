r"""EvolveGCN-O: a GCN whose weight matrix is evolved by a GRU, and the
graph convolution with a given (not learned) weight that both EvolveGCN
variants use."""
import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph

__all__ = ["EvolveGCNO", "GCNConv_Fixed_W"]


def glorot_(weight: Tensor) -> Tensor:
    r"""Fill ``weight`` in place from :math:`U(-a, a)`,
    :math:`a = \sqrt{6 / (\text{fan}_\text{in} + \text{fan}_\text{out})}`
    over its last two axes (PyTorch Geometric's ``glorot``)."""
    bound = math.sqrt(6.0 / (weight.size(-2) + weight.size(-1)))
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


class GCNConv_Fixed_W(torch.nn.Module):  # noqa: N801 (upstream's public name)
    r"""The graph convolution of the `"Semi-supervised Classification with
    Graph Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_ paper
    with the weight :math:`\mathbf{W}` passed to :meth:`forward` instead of
    learned (it has no parameters):

    .. math::
        \mathbf{X}' = \mathbf{\hat{D}}^{-1/2} \mathbf{\hat{A}}
        \mathbf{\hat{D}}^{-1/2} \mathbf{X} \mathbf{W},

    where :math:`A_{ij} = e_{ji}` is the weight of edge :math:`j \rightarrow i`
    (``edge_index[:, e] = (j, i)``; default 1),
    :math:`\mathbf{\hat{A}} = \mathbf{A} + \mathbf{I}` (``2 I`` if
    ``improved``; with edge weights, self-loops already present keep their
    weight) and :math:`\hat{D}_{ii} = \sum_j \hat{A}_{ij}`, the in-degree.
    Without ``normalize`` the product is :math:`\mathbf{A} \mathbf{X}
    \mathbf{W}` with the raw edge weights and no self-loops added.

    Args:
        in_channels (int): Size of each input sample.
        out_channels (int): Size of each output sample.
        improved (bool, optional): If set to :obj:`True`, added self-loops
            have weight 2: :math:`\mathbf{\hat{A}} = \mathbf{A} + 2\mathbf{I}`.
            As PyTorch Geometric's ``gcn_norm`` (and so upstream), this holds
            only when ``edge_weight`` is given; without it every node gets
            one self-loop of weight 1. (default: :obj:`False`)
        cached (bool, optional): If set to :obj:`True`, the normalized
            edge weights are kept and reused while the same ``edge_index``
            and ``edge_weight`` tensors (unmodified) are passed; another
            graph is normalized anew. Upstream accepts the flag but never
            caches; the outputs are the same. (default: :obj:`False`)
        add_self_loops (bool, optional): If set to :obj:`False`, no
            self-loops are added. (default: :obj:`True`)
        normalize (bool, optional): Whether to add self-loops and apply the
            symmetric normalization. (default: :obj:`True`)
        **kwargs (optional): Accepted for upstream compatibility; only
            ``aggr="add"`` (the default) is supported.

    Shapes:
        - **input:** weight :math:`(F_{in}, F_{out})`, node features
          :math:`(N, F_{in})`, edge indices :math:`(2, E)`, edge weights
          :math:`(E,)` *(optional)*
        - **output:** node features :math:`(N, F_{out})`
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 cached: bool = False, add_self_loops: bool = True, normalize: bool = True,
                 **kwargs):
        super().__init__()
        aggr = kwargs.pop("aggr", "add")
        if aggr != "add" or kwargs:
            raise ValueError(f"GCNConv_Fixed_W supports only aggr='add', got aggr={aggr!r} and "
                             f"{sorted(kwargs)}; drop these arguments.")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self._cache: Optional[Tuple] = None

    def reset_parameters(self) -> None:
        r"""Drop the cached normalization (there are no parameters)."""
        self._cache = None

    def _normalized(self, edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
                    dtype: torch.dtype) -> Tuple[Tensor, Optional[Tensor]]:
        if not self.normalize:
            return edge_index, edge_weight
        # The graph tensors themselves (identity) and their versions: an
        # in-place change or another graph is normalized anew.
        key = (edge_index, edge_weight, edge_index._version,
               None if edge_weight is None else edge_weight._version, num_nodes, dtype)
        cache = self._cache
        if cache is not None and cache[0][0] is key[0] and cache[0][1] is key[1] and \
                cache[0][2:] == key[2:]:
            return cache[1]
        gcn_norm = pyg("nn.conv.gcn_conv").gcn_norm
        result = gcn_norm(edge_index, edge_weight, num_nodes, self.improved, self.add_self_loops,
                          "source_to_target", dtype)
        # Keep a normalization only if it holds no autograd graph (a learned
        # edge weight must be normalized again at every call).
        if self.cached and (edge_weight is None or not edge_weight.requires_grad):
            self._cache = (key, result)
        return result

    def forward(self, W: Tensor, x: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""Propagate :math:`\mathbf{X} \mathbf{W}` over the (normalized) graph.

        Args:
            W (torch.Tensor): Weight :math:`(F_{in}, F_{out})`.
            x (torch.Tensor): Node features :math:`(N, F_{in})`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`.

        Returns:
            torch.Tensor: Node features :math:`(N, F_{out})`.
        """
        num_nodes = x.size(-2)
        edge_index, edge_weight = self._normalized(edge_index, edge_weight, num_nodes, x.dtype)
        xw = torch.matmul(x, W)
        src, dst = edge_index[0], edge_index[1]
        messages = xw.index_select(-2, src)
        if edge_weight is not None:
            messages = messages * edge_weight.view(-1, 1)
        out = xw.new_zeros(xw.shape[:-2] + (num_nodes, xw.size(-1)))
        return out.index_add_(-2, dst, messages)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class _EvolveGCN(torch.nn.Module):
    r"""What both EvolveGCN variants share: the initial weight, the GRU that
    evolves it, the fixed-weight convolution and the evolving state."""

    def __init__(self, in_channels: int, improved: bool, cached: bool, normalize: bool,
                 add_self_loops: bool):
        super().__init__()
        self.in_channels = in_channels
        self.improved = improved
        self.cached = cached
        self.normalize = normalize
        self.add_self_loops = add_self_loops
        self.weight: Optional[Tensor] = None
        self.initial_weight = torch.nn.Parameter(torch.empty(1, in_channels, in_channels))

    def _create_recurrent_and_conv(self) -> None:
        self.recurrent_layer = torch.nn.GRU(
            input_size=self.in_channels, hidden_size=self.in_channels, num_layers=1)
        self.conv_layer = GCNConv_Fixed_W(
            in_channels=self.in_channels, out_channels=self.in_channels, improved=self.improved,
            cached=self.cached, normalize=self.normalize, add_self_loops=self.add_self_loops)

    def reset_parameters(self) -> None:
        r"""Glorot-initialize the initial weight :math:`\mathbf{W}_0`."""
        glorot_(self.initial_weight)

    def reinitialize_weight(self) -> None:
        r"""Forget the evolved weight: the next call starts again from
        :math:`\mathbf{W}_0` (e.g. at the start of each epoch)."""
        self.weight = None

    def _check(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor]) -> int:
        N = check_features(type(self).__name__, X, self.in_channels)
        check_graph(edge_index, edge_weight, N, X.device)
        if self.weight is not None and self.weight.device != X.device:
            raise ValueError(f"the evolved weight is on {self.weight.device} but X is on "
                             f"{X.device}; call reinitialize_weight() after moving the model.")
        return N

    def _evolve(self, inputs: Optional[Tensor] = None) -> Tensor:
        r"""One GRU step of the weight, ``inputs`` ``(1, C, C)`` (default: the
        previous weight itself); returns the new weight ``(C, C)``."""
        previous = self.initial_weight if self.weight is None else self.weight
        _, self.weight = self.recurrent_layer(previous if inputs is None else inputs, previous)
        return self.weight.squeeze(0)


class EvolveGCNO(_EvolveGCN):
    r"""The EvolveGCN-O layer from the `"EvolveGCN: Evolving Graph
    Convolutional Networks for Dynamic Graphs"
    <https://arxiv.org/abs/1902.10191>`_ paper (Pareja et al., 2020): the
    weight of a GCN layer is the output of a recurrent network, evolved from
    one snapshot to the next, and no node embedding is carried over.

    Each call evolves the weight once and convolves with it:

    .. math::
        \mathbf{W}_t &= \mathrm{GRU}(\mathbf{W}_{t-1}, \mathbf{W}_{t-1}), \\
        \mathbf{X}'_t &= \mathbf{\hat{D}}^{-1/2} \mathbf{\hat{A}}_t
        \mathbf{\hat{D}}^{-1/2} \mathbf{X}_t \mathbf{W}_t,

    where the GRU (:class:`torch.nn.GRU`) takes each row of
    :math:`\mathbf{W}_{t-1}` (:math:`C \times C`) as a batch item, both as
    input and as hidden state, and :math:`\mathbf{W}_0` is the learned
    ``initial_weight``. The evolved weight is kept in :attr:`weight`
    (gradients flow through all calls since the last
    :meth:`reinitialize_weight`); call :meth:`reinitialize_weight` to start a
    new sequence, and after each ``backward`` (e.g. at every epoch): as
    upstream, a call after a backward through the kept weight would
    otherwise make the next backward fail ("backward through the graph a
    second time"); ``model.weight = model.weight.detach()`` instead keeps
    the weight and truncates the gradient. No activation is applied.

    The paper writes the -O recurrence as an LSTM on :math:`\mathbf{W}`;
    its authors' code and PyTorch Geometric Temporal use a GRU with
    :math:`\mathbf{W}_{t-1}` as both input and state, and so does this layer,
    so that upstream's parameter names (``initial_weight``,
    ``recurrent_layer.*``) and outputs are kept and its state dicts load.
    The GRU is :class:`torch.nn.GRU` (reset gate applied to
    :math:`\mathbf{U} \mathbf{h} + \mathbf{b}`), not the paper's matrix GRU.

    Args:
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
        - **input:** node features :math:`(N, C)`, edge indices
          :math:`(2, E)`, edge weights :math:`(E,)` *(optional)*
        - **output:** node features :math:`(N, C)`
    """

    def __init__(
        self,
        in_channels: int,
        improved: bool = False,
        cached: bool = False,
        normalize: bool = True,
        add_self_loops: bool = True,
    ):
        super().__init__(in_channels, improved, cached, normalize, add_self_loops)
        self._create_recurrent_and_conv()
        self.reset_parameters()

    def forward(self, X: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""Evolve the weight one step and convolve one snapshot with it.

        Args:
            X (torch.Tensor): Node features :math:`(N, C)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`.

        Returns:
            torch.Tensor: Node features :math:`(N, C)`.
        """
        self._check(X, edge_index, edge_weight)
        W = self._evolve()
        return self.conv_layer(W, X, edge_index, edge_weight)
