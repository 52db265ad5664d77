r"""Attention temporal graph convolutional networks (A3T-GCN, Bai et al.,
2020): one snapshot sequence :class:`A3TGCN` and the batched
:class:`A3TGCN2`."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph, check_state
from torch_geometric_temporal.nn.recurrent.temporalgcn import TGCN, TGCN2, _TGCNCell

__all__ = ["A3TGCN", "A3TGCN2"]

_DIFFERENCES = r"""
    Two points differ between the paper and upstream PyTorch Geometric
    Temporal 0.56.2:

    - **The hidden state is carried from period to period** (the paper,
      section 2.5: :math:`\mathbf{H}_{t-1}` is the T-GCN output of the
      previous period), so the cell is a recurrent network over the
      :math:`T` periods. Upstream feeds the same ``H`` argument to every
      period (its issue #270), which makes the periods independent; its
      outputs equal these only for ``periods=1``. Upstream checkpoints load
      unchanged (the parameters are the same); to reproduce upstream's
      outputs set the attribute ``carry_state = False`` on the model (it is
      not a constructor argument, so the signature stays upstream's).
    - **The attention scores are one learned parameter per period**
      (``_attention``, as upstream, so its ``state_dict`` keys and
      checkpoints are kept), not scores computed from each hidden state by
      the paper's two-layer perceptron: the weights :math:`\alpha_t` do not
      depend on the input.
"""


class _A3TGCNBase(torch.nn.Module):
    r"""The recurrence over the periods and the attention, shared by
    :class:`A3TGCN` and :class:`A3TGCN2`."""

    _layout: Tuple[str, ...] = ("N", "T")
    #: Carry the hidden state from period to period (the paper); ``False``
    #: feeds the initial ``H`` to every period (upstream 0.56.2).
    carry_state: bool = True

    def _setup(self, base: _TGCNCell) -> None:
        if isinstance(self.periods, bool) or not isinstance(self.periods, int) or self.periods < 1:
            raise ValueError(f"periods must be a positive int (the number of time steps of X), "
                             f"got {self.periods!r}.")
        self._base_tgcn = base  # creation order = upstream's (same init for a seed)
        self._attention = torch.nn.Parameter(torch.empty(self.periods))
        torch.nn.init.uniform_(self._attention)

    def reset_parameters(self) -> None:
        r"""Re-initialize every parameter as at construction."""
        self._base_tgcn.reset_parameters()
        torch.nn.init.uniform_(self._attention)

    def _run(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
             H: Optional[Tensor]) -> Tensor:
        name = type(self).__name__
        N = check_features(name, X, self.in_channels, layout=self._layout,
                           feature_axis=len(self._layout) - 1)
        if X.size(-1) != self.periods:
            raise ValueError(f"{name} was built with periods = {self.periods} but X has "
                             f"{X.size(-1)} periods on its last axis (shape {tuple(X.shape)}); "
                             "pass exactly `periods` time steps or rebuild the layer.")
        check_graph(edge_index, edge_weight, N, X.device)
        H = check_state("H", H, X, (*X.shape[:-2], self.out_channels))
        base = self._base_tgcn
        G = base._input_parts(X, base._graph(edge_index, edge_weight, N, X.dtype))
        probs = torch.softmax(self._attention, dim=0)
        H_0, H_accum = H, 0
        # unbind, not G[..., period, :]: one gradient for G, not a full-size one per period
        for period, G_p in enumerate(G.unbind(-2)):
            H = base._recur(G_p, H if self.carry_state else H_0)
            H_accum = H_accum + probs[period] * H
        return H_accum

    def extra_repr(self) -> str:
        batch = f", batch_size={self.batch_size}" if hasattr(self, "batch_size") else ""
        return (f"{self.in_channels}, {self.out_channels}, periods={self.periods}{batch}, "
                f"improved={self.improved}, cached={self.cached}, "
                f"add_self_loops={self.add_self_loops}"
                + ("" if self.carry_state else ", carry_state=False"))


class A3TGCN(_A3TGCNBase):
    __doc__ = r"""The attention temporal graph convolutional cell from the
    `"A3T-GCN: Attention Temporal Graph Convolutional Network for Traffic
    Forecasting" <https://arxiv.org/abs/2006.11583>`_ paper: a :class:`TGCN`
    cell (submodule ``_base_tgcn``) runs over the :math:`T` periods of the
    input and the hidden states are averaged with attention weights,

    .. math::
        \mathbf{H}_t &= \mathrm{TGCN}(\mathbf{X}_t, \mathbf{H}_{t-1}),
        \quad t = 1, \dots, T,

        \alpha &= \mathrm{softmax}(\mathbf{a}),

        \mathbf{H}_\text{out} &= \sum_{t=1}^{T} \alpha_t \mathbf{H}_t,

    with :math:`\mathbf{H}_0` the ``H`` argument (zeros if omitted) and
    :math:`\mathbf{a} \in \mathbb{R}^T` the parameter ``_attention``. The
    gate convolutions of all periods are computed in one propagation.
    """ + _DIFFERENCES + r"""
    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden) features.
        periods (int): Number of time periods :math:`T`.
        improved (bool, optional): If :obj:`True`, added self loops get
            weight 2 (on a weighted graph; with no ``edge_weight`` every edge
            and loop weighs 1, as in ``GCNConv``). (default: :obj:`False`)
        cached (bool, optional): If :obj:`True`, the normalized graph of the
            first call is kept and reused by every later call (only for a
            fixed graph). (default: :obj:`False`)
        add_self_loops (bool, optional): If :obj:`False`, no self loops are
            added before normalizing. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(N, F, T)`, edge indices
          :math:`(2, E)` (row 0 = source), optional edge weights :math:`(E,)`,
          optional initial hidden state :math:`(N, \text{out\_channels})`
          (zeros if omitted)
        - **output:** attention-weighted hidden state
          :math:`(N, \text{out\_channels})`
    """

    def __init__(self, in_channels: int, out_channels: int, periods: int, improved: bool = False,
                 cached: bool = False, add_self_loops: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.periods = periods
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self._setup(TGCN(in_channels, out_channels, improved=improved, cached=cached,
                         add_self_loops=add_self_loops))

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None) -> Tensor:
        r"""Run the cell over the periods and pool the hidden states.

        Args:
            X (torch.Tensor): Node features :math:`(N, F, T)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`;
                an unweighted graph if omitted.
            H (torch.Tensor, optional): Initial hidden state
                :math:`(N, \text{out\_channels})`; zeros if omitted.

        Returns:
            torch.Tensor: :math:`(N, \text{out\_channels})`.
        """
        return self._run(X, edge_index, edge_weight, H)


class A3TGCN2(_A3TGCNBase):
    __doc__ = r"""The attention temporal graph convolutional cell of
    :class:`A3TGCN` (`"A3T-GCN: Attention Temporal Graph Convolutional
    Network for Traffic Forecasting" <https://arxiv.org/abs/2006.11583>`_)
    for a batch of sequences on one shared graph, in upstream's
    :math:`(B, N, F, T)` layout: a :class:`TGCN2` cell (submodule
    ``_base_tgcn``) runs over the :math:`T` periods and the hidden states
    are averaged with the attention weights
    :math:`\alpha = \mathrm{softmax}(\mathbf{a})` (parameter ``_attention``).
    The gate convolutions of all periods and batch items are computed in one
    propagation.
    """ + _DIFFERENCES + r"""
    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden) features.
        periods (int): Number of time periods :math:`T`.
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
        - **input:** node features :math:`(B, N, F, T)`, edge indices
          :math:`(2, E)` of the one graph (node ids in :math:`[0, N)`, not
          replicated per item), optional edge weights :math:`(E,)`, optional
          initial hidden state :math:`(B, N, \text{out\_channels})` (zeros if
          omitted)
        - **output:** attention-weighted hidden state
          :math:`(B, N, \text{out\_channels})`
    """

    _layout = ("B", "N", "T")

    def __init__(self, in_channels: int, out_channels: int, periods: int, batch_size: int,
                 improved: bool = False, cached: bool = False, add_self_loops: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.periods = periods
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.batch_size = batch_size
        self._setup(TGCN2(in_channels, out_channels, batch_size, improved=improved, cached=cached,
                          add_self_loops=add_self_loops))

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                H: Optional[Tensor] = None) -> Tensor:
        r"""Run the cell over the periods and pool the hidden states.

        Args:
            X (torch.Tensor): Node features :math:`(B, N, F, T)`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)` of the
                shared graph.
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`;
                an unweighted graph if omitted.
            H (torch.Tensor, optional): Initial hidden state
                :math:`(B, N, \text{out\_channels})`; zeros if omitted.

        Returns:
            torch.Tensor: :math:`(B, N, \text{out\_channels})`.
        """
        return self._run(X, edge_index, edge_weight, H)
