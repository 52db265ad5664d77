r"""A graph convolutional LSTM cell for heterogeneous graphs."""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_graph, check_state
from torch_geometric_temporal.nn.recurrent.evolvegcno import glorot_

__all__ = ["HeteroGCLSTM"]

#: The four gates: (name, activation).
_GATES = (("i", torch.sigmoid), ("f", torch.sigmoid), ("c", torch.tanh), ("o", torch.sigmoid))


class HeteroGCLSTM(torch.nn.Module):
    r"""A graph convolutional LSTM cell for heterogeneous graphs, after the
    GC-LSTM of the `"GC-LSTM: Graph Convolution Embedded LSTM for Dynamic
    Link Prediction" <https://arxiv.org/abs/1812.04206>`_ paper (Chen et al.,
    2018), with one :class:`~torch_geometric.nn.conv.SAGEConv` per edge type
    (combined by :class:`~torch_geometric.nn.conv.HeteroConv`, summed over
    the edge types ending at a node type) in place of the graph convolution.

    For every node type :math:`\tau` with features :math:`\mathbf{X}_\tau`,
    hidden state :math:`\mathbf{H}_\tau` and cell state
    :math:`\mathbf{C}_\tau`:

    .. math::
        \mathbf{I}_\tau &= \sigma(\mathbf{X}_\tau \mathbf{W}_{i,\tau} +
        \mathrm{Conv}_i(\mathbf{H})_\tau + \mathbf{b}_{i,\tau}), \quad
        \mathbf{F}_\tau = \sigma(\mathbf{X}_\tau \mathbf{W}_{f,\tau} +
        \mathrm{Conv}_f(\mathbf{H})_\tau + \mathbf{b}_{f,\tau}), \\
        \mathbf{T}_\tau &= \tanh(\mathbf{X}_\tau \mathbf{W}_{c,\tau} +
        \mathrm{Conv}_c(\mathbf{H})_\tau + \mathbf{b}_{c,\tau}), \quad
        \mathbf{C}'_\tau = \mathbf{F}_\tau \odot \mathbf{C}_\tau +
        \mathbf{I}_\tau \odot \mathbf{T}_\tau, \\
        \mathbf{O}_\tau &= \sigma(\mathbf{X}_\tau \mathbf{W}_{o,\tau} +
        \mathrm{Conv}_o(\mathbf{H})_\tau + \mathbf{b}_{o,\tau}), \quad
        \mathbf{H}'_\tau = \mathbf{O}_\tau \odot \tanh(\mathbf{C}'_\tau),

    where :math:`\mathrm{Conv}_g(\mathbf{H})_\tau` sums, over the edge types
    :math:`(\sigma, r, \tau)` of ``metadata`` present in ``edge_index_dict``,
    a mean-aggregating SAGE convolution of the hidden states
    :math:`\mathbf{H}_\sigma \rightarrow \mathbf{H}_\tau`. All gates read the
    previous hidden state.

    Parameter names (``W_i.<node type>``, ``b_i.<node type>``,
    ``conv_i.convs.<src___rel___dst>.lin_l.weight``, ... for the gates
    ``i, f, c, o``) and the computation are those of PyTorch Geometric
    Temporal's ``HeteroGCLSTM``, so its state dicts load unchanged. Unlike
    upstream: the SAGE convolutions are built for their known input size
    (``out_channels``, the hidden states) rather than lazily, so the
    parameters exist before the first call; zero initial states take the
    dtype and device of the features (upstream's are float32 on the CPU); and
    a node type that no present edge type points to gets no convolution term
    (upstream raises a ``KeyError``).

    Args:
        in_channels_dict (dict of str to int): Number of input features of
            each node type.
        out_channels (int): Number of output features (hidden and cell state
            size), the same for every node type.
        metadata (tuple): ``(node_types, edge_types)`` of the graphs, with
            edge types ``(src, relation, dst)`` tuples, e.g.
            ``snapshot.metadata()`` of a
            :class:`~torch_geometric.data.HeteroData` snapshot.
        bias (bool, optional): If set to :obj:`False`, the SAGE convolutions
            learn no additive bias (the gate biases :math:`\mathbf{b}` are
            always learned). (default: :obj:`True`)

    Shapes:
        - **input:** ``x_dict``: node type to features
          :math:`(N_\tau, F_\tau)`; ``edge_index_dict``: edge type
          ``(src, rel, dst)`` to edge indices :math:`(2, E)` (row 0 indexes
          ``src`` nodes, row 1 ``dst`` nodes); ``h_dict``, ``c_dict``
          *(optional, zeros if omitted)*: node type to states
          :math:`(N_\tau, \text{out\_channels})`
        - **output:** ``(h_dict, c_dict)``: node type to the new hidden and
          cell states :math:`(N_\tau, \text{out\_channels})`, for the node
          types of ``x_dict``
    """

    def __init__(
        self,
        in_channels_dict: dict,
        out_channels: int,
        metadata: tuple,
        bias: bool = True,
    ):
        super().__init__()
        self.in_channels_dict = in_channels_dict
        self.out_channels = out_channels
        self.metadata = metadata
        self.bias = bias
        if not isinstance(metadata, (tuple, list)) or len(metadata) != 2:
            raise ValueError("metadata must be (node_types, edge_types), e.g. snapshot.metadata() "
                             f"of a HeteroData snapshot; got {metadata!r}.")
        self._edge_types = [tuple(edge_type) for edge_type in metadata[1]]
        for edge_type in self._edge_types:
            if len(edge_type) != 3:
                raise ValueError(f"metadata[1] must hold (src, relation, dst) edge types, got "
                                 f"{edge_type!r}.")
        nn = pyg("nn")
        for gate, _ in _GATES:
            convs = {edge_type: nn.SAGEConv(in_channels=(out_channels, out_channels),
                                            out_channels=out_channels, bias=bias)
                     for edge_type in self._edge_types}
            setattr(self, f"conv_{gate}", nn.HeteroConv(convs))
            setattr(self, f"W_{gate}", torch.nn.ParameterDict({
                node_type: torch.nn.Parameter(torch.empty(in_channels, out_channels))
                for node_type, in_channels in in_channels_dict.items()}))
            setattr(self, f"b_{gate}", torch.nn.ParameterDict({
                node_type: torch.nn.Parameter(torch.empty(1, out_channels))
                for node_type in in_channels_dict}))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Glorot-initialize the input weights and gate biases, and reset the
        SAGE convolutions."""
        for gate, _ in _GATES:
            for name in ("W", "b"):
                for parameter in getattr(self, f"{name}_{gate}").values():
                    glorot_(parameter)
            getattr(self, f"conv_{gate}").reset_parameters()

    def _check(self, x_dict: Dict[str, Tensor], edge_index_dict: Dict[tuple, Tensor],
               h_dict: Optional[Dict[str, Tensor]], c_dict: Optional[Dict[str, Tensor]]
               ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        if not isinstance(x_dict, dict) or not x_dict:
            raise ValueError("x_dict must be a non-empty dict of node type to features (N, F), "
                             "e.g. snapshot.x_dict.")
        num_nodes = {}
        for node_type, X in x_dict.items():
            if node_type not in self.in_channels_dict:
                raise ValueError(f"x_dict has node type {node_type!r}, which in_channels_dict "
                                 f"({sorted(self.in_channels_dict)}) lacks; rebuild the layer "
                                 "with its number of features.")
            num_nodes[node_type] = check_features(f"HeteroGCLSTM (node type {node_type!r})", X,
                                                  self.in_channels_dict[node_type])
        if not isinstance(edge_index_dict, dict):
            raise ValueError("edge_index_dict must be a dict of (src, relation, dst) to edge "
                             "indices (2, E), e.g. snapshot.edge_index_dict.")
        device = next(iter(x_dict.values())).device
        for edge_type in self._edge_types:
            if edge_type not in edge_index_dict:
                continue
            src, _, dst = edge_type
            missing = [t for t in (src, dst) if t not in num_nodes]
            if missing:
                raise ValueError(f"edge type {edge_type} is in edge_index_dict but x_dict has no "
                                 f"features for node type {missing[0]!r}; add them to x_dict.")
            edge_index = edge_index_dict[edge_type]
            check_graph(edge_index, None, max(num_nodes[src], num_nodes[dst]), device)
            for row, node_type in enumerate((src, dst)):
                ids = edge_index[row]
                if ids.numel() and int(ids.max()) >= num_nodes[node_type]:
                    raise ValueError(
                        f"edge_index_dict[{edge_type}] row {row} holds {node_type!r} ids up to "
                        f"{int(ids.max())} but x_dict[{node_type!r}] has "
                        f"N = {num_nodes[node_type]} nodes; pass this graph's edges.")
        states = []
        for name, given in (("h_dict", h_dict), ("c_dict", c_dict)):
            if given is not None:
                missing = [t for t in x_dict if not isinstance(given, dict) or given.get(t) is None]
                if missing:
                    raise ValueError(f"{name} must be a dict with a state for every node type of "
                                     f"x_dict; it lacks {missing[0]!r}. Pass the states returned "
                                     "by the previous call, or None (zeros).")
            states.append({
                node_type: check_state(f"{name}[{node_type!r}]",
                                       None if given is None else given[node_type], X,
                                       (num_nodes[node_type], self.out_channels))
                for node_type, X in x_dict.items()})
        return states[0], states[1]

    def forward(
        self,
        x_dict: Dict[str, Tensor],
        edge_index_dict: Dict[tuple, Tensor],
        h_dict: Optional[Dict[str, Tensor]] = None,
        c_dict: Optional[Dict[str, Tensor]] = None,
    ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        r"""One LSTM step on every node type of a heterogeneous snapshot.

        Args:
            x_dict (dict): Node type to features :math:`(N_\tau, F_\tau)`,
                e.g. ``snapshot.x_dict``.
            edge_index_dict (dict): Edge type ``(src, rel, dst)`` to edge
                indices :math:`(2, E)`, e.g. ``snapshot.edge_index_dict``.
            h_dict (dict, optional): Node type to hidden state
                :math:`(N_\tau, \text{out\_channels})`.
            c_dict (dict, optional): Node type to cell state
                :math:`(N_\tau, \text{out\_channels})`.

        Returns:
            (dict, dict): the new ``h_dict`` and ``c_dict``.
        """
        h_dict, c_dict = self._check(x_dict, edge_index_dict, h_dict, c_dict)
        gates = {}
        for gate, activation in _GATES:
            conv = getattr(self, f"conv_{gate}")(h_dict, edge_index_dict)
            W, b = getattr(self, f"W_{gate}"), getattr(self, f"b_{gate}")
            gates[gate] = {}
            for node_type, X in x_dict.items():
                pre = torch.matmul(X, W[node_type])
                if node_type in conv:
                    pre = pre + conv[node_type]
                gates[gate][node_type] = activation(pre + b[node_type])
        c_new = {t: gates["f"][t] * C + gates["i"][t] * gates["c"][t] for t, C in c_dict.items()}
        h_new = {t: gates["o"][t] * torch.tanh(C) for t, C in c_new.items()}
        return h_new, c_new
