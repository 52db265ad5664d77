r"""Long short-term memory relational GCN (LRGCN, Li et al., 2019)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._checks import (check_edge_type, check_features,
                                                           check_graph, check_state)

__all__ = ["LRGCN"]


class LRGCN(torch.nn.Module):
    r"""The long short-term memory R-GCN cell from the `"Predicting Path
    Failure In Time-Evolving Graphs" <https://arxiv.org/abs/1905.03994>`_
    paper: an LSTM whose dense products are relational graph convolutions
    :math:`\ast_\mathcal{R}` (:class:`~torch_geometric.nn.conv.RGCNConv`,
    one weight per relation built from ``num_bases`` shared bases, plus a
    root weight and a bias),

    .. math::
        \mathbf{I} &= \sigma(\mathbf{\Theta}_{xi} \ast_\mathcal{R} \mathbf{X}_t +
        \mathbf{\Theta}_{hi} \ast_\mathcal{R} \mathbf{H}_{t-1}),

        \mathbf{F} &= \sigma(\mathbf{\Theta}_{xf} \ast_\mathcal{R} \mathbf{X}_t +
        \mathbf{\Theta}_{hf} \ast_\mathcal{R} \mathbf{H}_{t-1}),

        \mathbf{C}_t &= \mathbf{F} \odot \mathbf{C}_{t-1} + \mathbf{I} \odot
        \tanh(\mathbf{\Theta}_{xc} \ast_\mathcal{R} \mathbf{X}_t +
        \mathbf{\Theta}_{hc} \ast_\mathcal{R} \mathbf{H}_{t-1}),

        \mathbf{O} &= \sigma(\mathbf{\Theta}_{xo} \ast_\mathcal{R} \mathbf{X}_t +
        \mathbf{\Theta}_{ho} \ast_\mathcal{R} \mathbf{H}_{t-1}),

        \mathbf{H}_t &= \mathbf{O} \odot \tanh(\mathbf{C}_t),

    with :math:`(\mathbf{\Theta} \ast_\mathcal{R} \mathbf{X})_i =
    \mathbf{\Theta}_\text{root} \mathbf{x}_i + \sum_r \frac{1}{|\mathcal{N}_r(i)|}
    \sum_{j \in \mathcal{N}_r(i)} \mathbf{\Theta}_r \mathbf{x}_j + \mathbf{b}`.
    The paper models the dependency between snapshots :math:`t-1` and
    :math:`t` as relations of the R-GCN; this cell (like upstream PyTorch
    Geometric Temporal's) takes one relational graph per step and applies it
    to both :math:`\mathbf{X}_t` and :math:`\mathbf{H}_{t-1}`, so such
    relations are expressed as edge types of that graph. The convolutions are
    the ``RGCNConv`` submodules ``conv_{x,h}_{i,f,c,o}`` (upstream's
    ``state_dict`` keys).

    Args:
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden and cell) features.
        num_relations (int): Number of relations (edge types) :math:`R`.
        num_bases (int): Number of bases of the basis-decomposition
            regularization of the relation weights (:obj:`None`: one full
            weight per relation).

    Shapes:
        - **input:** node features :math:`(N, F)` (or integer node ids
          :math:`(N,)`, see :meth:`forward`), edge indices :math:`(2, E)`
          (row 0 = source), edge types :math:`(E,)` with values in
          :math:`[0, R)`, optional hidden and cell states
          :math:`(N, \text{out\_channels})` (zeros if omitted)
        - **output:** ``(H, C)``, each :math:`(N, \text{out\_channels})`
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int,
                 num_bases: Optional[int]):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.num_bases = num_bases
        RGCNConv = pyg("nn").RGCNConv
        for gate in ("i", "f", "c", "o"):  # creation order = upstream's (same init for a seed)
            for source, channels in (("x", in_channels), ("h", out_channels)):
                setattr(self, f"conv_{source}_{gate}",
                        RGCNConv(in_channels=channels, out_channels=out_channels,
                                 num_relations=num_relations, num_bases=num_bases))

    def forward(self, X: Tensor, edge_index: Tensor, edge_type: Tensor,
                H: Optional[Tensor] = None, C: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""One step of the cell.

        Args:
            X (torch.Tensor): Node features :math:`(N, F)`, or node ids
                :math:`(N,)` (integers in :math:`[0, F)`) for ``RGCNConv``'s
                featureless mode (learned node embeddings).
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`.
            edge_type (torch.Tensor): Relation id of each edge :math:`(E,)`.
            H (torch.Tensor, optional): Hidden state
                :math:`(N, \text{out\_channels})`; zeros if omitted.
            C (torch.Tensor, optional): Cell state
                :math:`(N, \text{out\_channels})`; zeros if omitted.

        Returns:
            (torch.Tensor, torch.Tensor): The new hidden state and cell state,
            each :math:`(N, \text{out\_channels})`.
        """
        if isinstance(X, Tensor) and X.dim() == 1 and not X.dtype.is_floating_point:
            N = X.size(0)  # node ids: RGCNConv's featureless mode (learned embeddings)
            if N and (int(X.min()) < 0 or int(X.max()) >= self.in_channels):
                raise ValueError(f"X holds node ids in [{int(X.min())}, {int(X.max())}] but the layer "
                                 f"was built with in_channels = {self.in_channels} embeddings; "
                                 "pass ids in 0..in_channels - 1 or node features (N, F).")
            like = torch.empty(0, device=X.device)
        else:
            N, like = check_features(type(self).__name__, X, self.in_channels), X
        check_graph(edge_index, None, N, X.device)
        check_edge_type(edge_type, edge_index, self.num_relations)
        H = check_state("H", H, like, (N, self.out_channels))
        C = check_state("C", C, like, (N, self.out_channels))

        def pre(gate: str) -> Tensor:
            return (getattr(self, f"conv_x_{gate}")(X, edge_index, edge_type)
                    + getattr(self, f"conv_h_{gate}")(H, edge_index, edge_type))

        I = torch.sigmoid(pre("i"))
        F = torch.sigmoid(pre("f"))
        C = F * C + I * torch.tanh(pre("c"))
        O = torch.sigmoid(pre("o"))
        return O * torch.tanh(C), C
