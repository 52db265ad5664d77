r"""DNNTSP of `Yu et al., "Predicting Temporal Sets with Deep Neural Networks"
(KDD 2020) <https://dl.acm.org/doi/abs/10.1145/3394486.3403152>`_, under
PyTorch Geometric Temporal's names, arguments and ``state_dict`` keys: element
relationship learning (weighted GCN on each set's co-occurrence graph),
attention-based temporal dependency learning (masked self-attention), and
gated information fusing with the global item embedding.

Deviations from upstream 0.56.2, both kept behind ``upstream_attention=True``
where they change numbers:

- The paper's masked self-attention runs, for each item, over its sequence
  of snapshot embeddings (each snapshot attends to itself and the earlier
  ones). Upstream attends over the *items* of one snapshot with a causal mask
  on item ids (item ``i`` sees items ``0..i``), an order items do not have.
  Default: the paper's; ``upstream_attention=True``: upstream's.
- Upstream prints two shapes on every call; this module does not.

Kept from upstream for its output shape: the temporal aggregation is a
per-snapshot linear map (the paper sums the snapshots with attention weights
into one vector per item), so the output has one row per snapshot.
"""
import math
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..._pyg import pyg
from ..recurrent._checks import _shape, check_graph

__all__ = ["DNNTSP"]


class MaskedSelfAttention(nn.Module):
    r"""Causal multi-head self-attention along axis 1 of ``(B, L, F)``; the
    heads are averaged (``"mean"``, ``output_dim`` features each) or
    concatenated (``"concat"``, ``output_dim / n_heads`` each).

    Args:
        input_dim (int), output_dim (int), n_heads (int), attention_aggregate
        (str, optional): ``"mean"`` (default) or ``"concat"``.
    """

    def __init__(self, input_dim: int, output_dim: int, n_heads: int,
                 attention_aggregate: str = "mean"):
        super().__init__()
        if attention_aggregate not in ("mean", "concat"):
            raise ValueError(f"attention_aggregate must be 'mean' or 'concat', got "
                             f"{attention_aggregate!r}.")
        self.attention_aggregate = attention_aggregate
        self.input_dim, self.output_dim, self.n_heads = input_dim, output_dim, n_heads
        size = output_dim // n_heads if attention_aggregate == "concat" else output_dim
        self.per_head_dim = self.dq = self.dk = self.dv = size
        self.Wq = nn.Linear(input_dim, n_heads * size, bias=False)
        self.Wk = nn.Linear(input_dim, n_heads * size, bias=False)
        self.Wv = nn.Linear(input_dim, n_heads * size, bias=False)

    def forward(self, input_tensor: Tensor) -> Tensor:
        q, k, v = (W(input_tensor).unflatten(-1, (self.n_heads, self.per_head_dim)).transpose(1, 2)
                   for W in (self.Wq, self.Wk, self.Wv))  # (B, H, L, e)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                             scale=1.0 / math.sqrt(self.per_head_dim))
        out = out.transpose(1, 2)  # (B, L, H, e)
        return out.flatten(-2) if self.attention_aggregate == "concat" else out.mean(dim=2)


class GlobalGatedUpdater(nn.Module):
    r"""Gated fusion with the global item embedding, per item ``i``:
    :math:`(1 - \alpha_i) \mathbf{e}_i + \alpha_i \mathbf{h}_i`.

    Args:
        items_total (int): items. item_embedding (nn.Embedding): the shared table.

    Shapes:
        ``(S * items_total, D)`` -> ``(S, items_total, D)``.
    """

    def __init__(self, items_total: int, item_embedding: nn.Embedding):
        super().__init__()
        self.items_total = items_total
        self.item_embedding = item_embedding
        self.alpha = nn.Parameter(torch.rand(items_total, 1))

    def forward(self, nodes_output: Tensor) -> Tensor:
        H = nodes_output.view(-1, self.items_total, nodes_output.size(-1))
        return (1 - self.alpha) * self.item_embedding.weight + self.alpha * H


class AggregateTemporalNodeFeatures(nn.Module):
    r"""Upstream's temporal aggregation: one linear map (no bias) per
    snapshot row; ``(S, items_total, D)`` -> ``(S * items_total, D)``.

    Args:
        item_embed_dim (int): features :math:`D`.
    """

    def __init__(self, item_embed_dim: int):
        super().__init__()
        self.Wq = nn.Linear(item_embed_dim, item_embed_dim, bias=False)

    def forward(self, nodes_output: Tensor) -> Tensor:
        return self.Wq(nodes_output).flatten(0, 1)


class WeightedGCNBlock(nn.Module):
    r"""Stacked weighted GCN layers (:class:`~torch_geometric.nn.conv.GCNConv`),
    each followed by batch norm over the rows and ReLU.

    Args:
        in_features (int), hidden_sizes (list of int), out_features (int).
    """

    def __init__(self, in_features: int, hidden_sizes: List[int], out_features: int):
        super().__init__()
        GCNConv = pyg("nn").GCNConv
        sizes = [in_features] + list(hidden_sizes) + [out_features]
        self.gcns = nn.ModuleList(GCNConv(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.relus = nn.ModuleList(nn.ReLU() for _ in sizes[1:])
        self.bns = nn.ModuleList(nn.BatchNorm1d(b) for b in sizes[1:])

    def forward(self, node_features: Tensor, edge_index: torch.LongTensor,
                edges_weight: Optional[Tensor] = None) -> Tensor:
        h = node_features
        for gcn, bn in zip(self.gcns, self.bns):
            h = F.relu(bn(gcn(h, edge_index, edges_weight)))
        return h


class DNNTSP(nn.Module):
    r"""The deep neural network for temporal set prediction of `"Predicting
    Temporal Sets with Deep Neural Networks"
    <https://dl.acm.org/doi/abs/10.1145/3394486.3403152>`_ (Yu et al., KDD
    2020): a two-layer weighted GCN over the snapshots' item graphs, masked
    self-attention over each item's snapshots (earlier ones only), a linear
    temporal map, and gated fusion with a learned item embedding. See the
    module docstring for the deviations from upstream.

    Args:
        items_total (int): items :math:`I` (nodes of every snapshot).
        item_embedding_dim (int): features :math:`D` (input and output).
        n_heads (int): attention heads (averaged).
        upstream_attention (bool, keyword only): upstream 0.56.2's attention
            over the items of a snapshot instead of over the snapshots of an
            item (default: :obj:`False`).

    Shapes:
        ``X (S * I, D)`` (the ``S`` snapshots' item features stacked, snapshot
        major), ``edge_index (2, E)`` (their graphs, node ids in
        ``[0, S * I)``), ``edge_weight (E,)`` (optional) -> ``(S, I, D)``.
    """

    def __init__(self, items_total: int, item_embedding_dim: int, n_heads: int, *,
                 upstream_attention: bool = False):
        super().__init__()
        self.item_embedding = nn.Embedding(items_total, item_embedding_dim)
        self.item_embedding_dim = item_embedding_dim
        self.items_total = items_total
        self.upstream_attention = upstream_attention
        self.stacked_gcn = WeightedGCNBlock(item_embedding_dim, [item_embedding_dim],
                                            item_embedding_dim)
        self.masked_self_attention = MaskedSelfAttention(item_embedding_dim, item_embedding_dim,
                                                         n_heads)
        self.aggregate_nodes_temporal_feature = AggregateTemporalNodeFeatures(item_embedding_dim)
        self.global_gated_updater = GlobalGatedUpdater(items_total, self.item_embedding)

    def extra_repr(self) -> str:
        return (f"items_total={self.items_total}, item_embedding_dim={self.item_embedding_dim}, "
                f"n_heads={self.masked_self_attention.n_heads}, "
                f"upstream_attention={self.upstream_attention}")

    def _check(self, X, edge_index, edge_weight) -> None:
        D, I = self.item_embedding_dim, self.items_total
        if not isinstance(X, Tensor) or X.dim() != 2 or X.size(1) != D:
            raise ValueError(f"DNNTSP expects X of shape (S * items_total, {D}), got {_shape(X)}; "
                             f"stack the snapshots' item features, snapshot major.")
        if X.size(0) % I:
            raise ValueError(f"X has {X.size(0)} rows, not a multiple of items_total = {I}; "
                             "pass every item of every snapshot.")
        if not X.dtype.is_floating_point:
            raise ValueError(f"X must be a floating tensor, got {X.dtype}; use X.float().")
        check_graph(edge_index, edge_weight, X.size(0), X.device)

    def forward(self, X: Tensor, edge_index: torch.LongTensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        self._check(X, edge_index, edge_weight)
        H = self.stacked_gcn(X, edge_index, edge_weight)
        H = H.view(-1, self.items_total, self.item_embedding_dim)  # (S, I, D)
        if self.upstream_attention:
            H = self.masked_self_attention(H)
        else:
            H = self.masked_self_attention(H.transpose(0, 1)).transpose(0, 1)
        H = self.aggregate_nodes_temporal_feature(H)
        return self.global_gated_updater(H)
