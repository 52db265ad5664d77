r"""Baselines for ``bench_dcrnn.py``: a re-implementation of the approach of
PyTorch Geometric Temporal 0.56's ``DConv``/``DCRNN``/``BatchedDCRNN``
(written for this benchmark from its description; upstream code is not copied).

* :class:`DenseDConv` / :class:`DenseDCRNN` - per call, the dense ``N x N``
  adjacency is built from ``edge_index`` (``to_dense_adj``), degrees are dense
  mat-vec products, the reversed edge list is read off the dense transpose
  (``dense_to_sparse``), and messages are passed with PyG's ``MessagePassing``
  (gather/scatter), the edge weights entering only through the degrees.
* :class:`ReplicatedBatchedDCRNN` - batches of ``B`` sequences by replicating
  the edge list ``B`` times with node offsets (a disjoint union of ``B N``
  nodes, rebuilt on every forward) and running the per-snapshot cell on
  ``(B N, F)`` inputs. ``dense_nodes="graph"`` (default) builds the dense
  adjacency of the single graph per call, as upstream's ``BatchedDConv`` does,
  and propagates over the replicated edges; ``dense_nodes="union"`` builds it
  for the whole ``B N``-node union (the per-snapshot approach applied
  literally to the big graph).

Parameter names/shapes are those of upstream and of our cells, so state dicts
are interchangeable.
"""
import torch
from torch_geometric_temporal._pyg import pyg

MessagePassing = pyg("nn.conv").MessagePassing
_utils = pyg("utils")


class DenseDConv(MessagePassing):
    def __init__(self, in_channels, out_channels, K, bias=True):
        super().__init__(aggr="add", flow="source_to_target")
        self.weight = torch.nn.Parameter(torch.empty(2, K, in_channels, out_channels))
        self.bias = torch.nn.Parameter(torch.zeros(out_channels)) if bias else None
        torch.nn.init.xavier_uniform_(self.weight)

    def message(self, x_j, norm):
        return norm.view(-1, 1) * x_j

    def _norms(self, edge_index, edge_weight, num_nodes, device):
        adj = _utils.to_dense_adj(edge_index, edge_attr=edge_weight, max_num_nodes=num_nodes)[0]
        deg_out = (adj @ torch.ones(num_nodes, 1, device=device)).flatten()
        deg_in = (torch.ones(1, num_nodes, device=device) @ adj).flatten()
        row = edge_index[0]
        reverse_edge_index, _ = _utils.dense_to_sparse(adj.transpose(0, 1))
        return deg_out.reciprocal()[row], deg_in.reciprocal()[row], reverse_edge_index

    def forward(self, X, edge_index, edge_weight, norms=None):
        norm_out, norm_in, rev = norms if norms is not None else self._norms(
            edge_index, edge_weight, X.size(0), X.device)
        w = self.weight
        Tx_0 = Tx_1 = X
        H = X @ w[0][0] + X @ w[1][0]
        if w.size(1) > 1:
            Tx_1_o = self.propagate(edge_index, x=X, norm=norm_out, size=None)
            Tx_1_i = self.propagate(rev, x=X, norm=norm_in, size=None)
            H = H + Tx_1_o @ w[0][1] + Tx_1_i @ w[1][1]
        for k in range(2, w.size(1)):
            Tx_2_o = 2.0 * self.propagate(edge_index, x=Tx_1_o, norm=norm_out, size=None) - Tx_0
            Tx_2_i = 2.0 * self.propagate(rev, x=Tx_1_i, norm=norm_in, size=None) - Tx_0
            H = H + Tx_2_o @ w[0][k] + Tx_2_i @ w[1][k]
            Tx_0, Tx_1_o, Tx_1_i = Tx_1, Tx_2_o, Tx_2_i
        if self.bias is not None:
            H = H + self.bias
        return H


class DenseDCRNN(torch.nn.Module):
    def __init__(self, in_channels, out_channels, K, bias=True):
        super().__init__()
        self.out_channels = out_channels
        c = in_channels + out_channels
        self.conv_x_z = DenseDConv(c, out_channels, K, bias)
        self.conv_x_r = DenseDConv(c, out_channels, K, bias)
        self.conv_x_h = DenseDConv(c, out_channels, K, bias)

    def forward(self, X, edge_index, edge_weight=None, H=None, norms_of=None):
        if H is None:
            H = torch.zeros(X.size(0), self.out_channels, device=X.device)
        kw = {} if norms_of is None else {"norms": norms_of()}
        Z = torch.sigmoid(self.conv_x_z(torch.cat([X, H], 1), edge_index, edge_weight, **kw))
        kw = {} if norms_of is None else {"norms": norms_of()}
        R = torch.sigmoid(self.conv_x_r(torch.cat([X, H], 1), edge_index, edge_weight, **kw))
        kw = {} if norms_of is None else {"norms": norms_of()}
        H_tilde = torch.tanh(self.conv_x_h(torch.cat([X, H * R], 1), edge_index, edge_weight, **kw))
        return Z * H + (1 - Z) * H_tilde


class ReplicatedBatchedDCRNN(DenseDCRNN):
    def __init__(self, in_channels, out_channels, K, bias=True, dense_nodes="graph"):
        super().__init__(in_channels, out_channels, K, bias)
        if dense_nodes not in ("graph", "union"):
            raise ValueError("dense_nodes must be 'graph' or 'union'")
        self.dense_nodes = dense_nodes

    def forward(self, X, edge_index, edge_weight):
        B, T, N, F = X.shape
        offsets = (torch.arange(B, device=X.device) * N).repeat_interleave(edge_index.size(1))
        ei = edge_index.repeat(1, B) + offsets  # (2, B E) disjoint union
        ew = edge_weight.repeat(B)
        conv = self.conv_x_z
        if self.dense_nodes == "graph":
            def norms_of():  # dense N x N per call (single graph), replicated norms/edges
                n_out, n_in, rev = conv._norms(edge_index, edge_weight, N, X.device)
                rev_offsets = (torch.arange(B, device=X.device) * N).repeat_interleave(rev.size(1))
                return n_out.repeat(B), n_in.repeat(B), rev.repeat(1, B) + rev_offsets
        else:
            norms_of = None  # dense (B N) x (B N) per call
        H = torch.zeros(B * N, self.out_channels, device=X.device)
        outs = []
        for t in range(T):
            H = super().forward(X[:, t].reshape(B * N, F), ei, ew, H, norms_of=norms_of)
            outs.append(H.reshape(B, N, self.out_channels))
        return torch.stack(outs, 1)
