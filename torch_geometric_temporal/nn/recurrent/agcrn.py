r"""Adaptive graph convolutional recurrent unit (AGCRN, Bai et al., 2020):
node-adaptive graph convolution :class:`AVWGCN` and the cell :class:`AGCRN`."""
from typing import List, Optional

import torch
from torch import Tensor

from torch_geometric_temporal._pyg import pyg
from torch_geometric_temporal.nn.recurrent._checks import check_features, check_state

__all__ = ["AVWGCN", "AGCRN"]


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")


def _check_embeddings(owner: str, E, num_nodes: int, embedding_dimensions: int, X: Tensor) -> None:
    if not isinstance(E, Tensor) or E.dim() != 2 or E.size(0) != num_nodes or \
            E.size(1) != embedding_dimensions:
        shape = tuple(E.shape) if isinstance(E, Tensor) else type(E).__name__
        raise ValueError(f"{owner} expects node embeddings E of shape (N, embedding_dimensions) = "
                         f"({num_nodes}, {embedding_dimensions}) for X with N = {num_nodes} nodes, "
                         f"got {shape}; pass one embedding row per node of X (usually a "
                         "torch.nn.Parameter of the model).")
    if E.device != X.device or E.dtype != X.dtype:
        raise ValueError(f"E is {E.dtype} on {E.device} but X is {X.dtype} on {X.device}; "
                         "give both the same dtype and device.")


def adaptive_adjacency(E: Tensor) -> Tensor:
    r"""The data-adaptive graph
    :math:`\tilde{\mathbf{A}} = \mathrm{softmax}(\mathrm{ReLU}(\mathbf{E}
    \mathbf{E}^\top))` (row-wise softmax) of node embeddings ``E (N, d)``:
    a dense :math:`(N, N)` matrix."""
    return torch.softmax(torch.relu(E @ E.t()), dim=1)


def chebyshev_terms(X: Tensor, A: Tensor, K: int) -> Tensor:
    r"""The Chebyshev terms :math:`T_k(\tilde{\mathbf{A}}) \mathbf{X}`,
    :math:`k = 0, \dots, K - 1` (:math:`T_0 = \mathbf{I}`,
    :math:`T_1 = \tilde{\mathbf{A}}`,
    :math:`T_k = 2 \tilde{\mathbf{A}} T_{k-1} - T_{k-2}`), of ``X (B, N, C)``,
    computed by the recursion on the features (never the :math:`K` matrix
    powers) with one ``(N, N) @ (N, B C)`` product per term. Returns
    ``(B, N, K, C)``."""
    B, N, C = X.shape
    x0 = X.transpose(0, 1).reshape(N, B * C)  # node-major: one product for the batch
    terms: List[Tensor] = [x0]
    if K > 1:
        terms.append(A @ x0)
    for _ in range(2, K):
        terms.append(2 * (A @ terms[-1]) - terms[-2])
    return torch.stack(terms, dim=1).view(N, K, B, C).permute(2, 0, 1, 3)


class AVWGCN(torch.nn.Module):
    r"""The node adaptive graph convolution of the `"Adaptive Graph
    Convolutional Recurrent Network for Traffic Forecasting"
    <https://arxiv.org/abs/2007.02842>`_ paper: a Chebyshev graph convolution
    on the adaptive graph :math:`\tilde{\mathbf{A}} =
    \mathrm{softmax}(\mathrm{ReLU}(\mathbf{E} \mathbf{E}^\top))` whose
    weights and bias are node specific, drawn from shared pools by the node
    embeddings :math:`\mathbf{E}` (node adaptive parameter learning),

    .. math::
        \mathbf{X}'_n = \sum_{k=0}^{K-1} \big(T_k(\tilde{\mathbf{A}})
        \mathbf{X}\big)_n \, (\mathbf{E}_n \mathbf{W})_k + \mathbf{E}_n
        \mathbf{b},

    with the pools :math:`\mathbf{W}` (``weights_pool``,
    :math:`(d, K, C, F')`) and :math:`\mathbf{b}` (``bias_pool``,
    :math:`(d, F')`).

    Args:
        in_channels (int): Number of input features :math:`C`.
        out_channels (int): Number of output features :math:`F'`.
        K (int): Chebyshev filter size :math:`K` (terms
            :math:`T_0, \dots, T_{K-1}`; upstream needs :math:`K \geq 2`).
        embedding_dimensions (int): Node embedding size :math:`d`.

    Shapes:
        - **input:** node features :math:`(B, N, C)`, node embeddings
          :math:`(N, d)`
        - **output:** :math:`(B, N, F')`
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, embedding_dimensions: int):
        super().__init__()
        _check_int("K", K, 1)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.embedding_dimensions = embedding_dimensions
        self.weights_pool = torch.nn.Parameter(
            torch.empty(embedding_dimensions, K, in_channels, out_channels))
        self.bias_pool = torch.nn.Parameter(torch.empty(embedding_dimensions, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Glorot-uniform weight pool and zero bias pool (as upstream)."""
        inits = pyg("nn.inits")
        inits.glorot(self.weights_pool)
        inits.zeros(self.bias_pool)

    def _apply_terms(self, terms: Tensor, E: Tensor) -> Tensor:
        r"""Node-specific weights and bias applied to Chebyshev terms
        ``(B, N, K, C)``."""
        W = torch.einsum("nd,dkio->nkio", E, self.weights_pool)
        out = torch.einsum("bnki,nkio->bno", terms, W)
        return out + E @ self.bias_pool

    def forward(self, X: Tensor, E: Tensor) -> Tensor:
        r"""Apply the convolution.

        Args:
            X (torch.Tensor): Node features :math:`(B, N, C)`.
            E (torch.Tensor): Node embeddings :math:`(N, d)`.

        Returns:
            torch.Tensor: :math:`(B, N, F')`.
        """
        N = check_features(type(self).__name__, X, self.in_channels, layout=("B", "N"))
        _check_embeddings(type(self).__name__, E, N, self.embedding_dimensions, X)
        return self._apply_terms(chebyshev_terms(X, adaptive_adjacency(E), self.K), E)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, K={self.K}, "
                f"embedding_dimensions={self.embedding_dimensions}")


class AGCRN(torch.nn.Module):
    r"""The adaptive graph convolutional recurrent unit from the `"Adaptive
    Graph Convolutional Recurrent Network for Traffic Forecasting"
    <https://arxiv.org/abs/2007.02842>`_ paper: a GRU whose products are node
    adaptive graph convolutions :math:`\ast_{\mathbf{E}}` (:class:`AVWGCN`)
    on the graph learned from the node embeddings :math:`\mathbf{E}`,

    .. math::
        [\mathbf{R}, \mathbf{Z}] &= \sigma([\mathbf{X}_t, \mathbf{H}_{t-1}]
        \ast_{\mathbf{E}} \mathbf{\Theta}_\text{gate}),

        \tilde{\mathbf{H}} &= \tanh([\mathbf{X}_t, \mathbf{R} \odot
        \mathbf{H}_{t-1}] \ast_{\mathbf{E}} \mathbf{\Theta}_\text{update}),

        \mathbf{H}_t &= \mathbf{Z} \odot \mathbf{H}_{t-1} + (1 - \mathbf{Z})
        \odot \tilde{\mathbf{H}}.

    The gate convolution (submodule ``_gate``, :math:`2\,\text{out}`
    channels) gives the reset gate in its first and the update gate in its
    second ``out_channels`` outputs, and ``_update`` the candidate state
    (upstream PyTorch Geometric Temporal's and the authors' code's layout and
    ``state_dict`` keys). The adaptive graph and the Chebyshev terms of
    :math:`\mathbf{X}_t` are computed once per step and shared by both
    convolutions.

    Args:
        number_of_nodes (int): Number of nodes :math:`N`; kept for upstream
            compatibility (the embeddings ``E`` fix :math:`N`).
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Number of output (hidden) features.
        K (int): Chebyshev filter size :math:`K` (upstream needs
            :math:`K \geq 2`).
        embedding_dimensions (int): Node embedding size :math:`d`.

    Shapes:
        - **input:** node features :math:`(B, N, F)`, node embeddings
          :math:`(N, d)`, optional hidden state
          :math:`(B, N, \text{out\_channels})` (zeros if omitted)
        - **output:** hidden state :math:`(B, N, \text{out\_channels})`
    """

    def __init__(self, number_of_nodes: int, in_channels: int, out_channels: int, K: int,
                 embedding_dimensions: int):
        super().__init__()
        self.number_of_nodes = number_of_nodes
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.embedding_dimensions = embedding_dimensions
        channels = in_channels + out_channels
        self._gate = AVWGCN(channels, 2 * out_channels, K, embedding_dimensions)
        self._update = AVWGCN(channels, out_channels, K, embedding_dimensions)

    def reset_parameters(self) -> None:
        r"""Re-initialize every parameter as at construction."""
        self._gate.reset_parameters()
        self._update.reset_parameters()

    def forward(self, X: Tensor, E: Tensor, H: Optional[Tensor] = None) -> Tensor:
        r"""One step of the cell.

        Args:
            X (torch.Tensor): Node features :math:`(B, N, F)`.
            E (torch.Tensor): Node embeddings :math:`(N, d)`.
            H (torch.Tensor, optional): Hidden state
                :math:`(B, N, \text{out\_channels})`; zeros if omitted.

        Returns:
            torch.Tensor: The new hidden state
            :math:`(B, N, \text{out\_channels})`.
        """
        name = type(self).__name__
        N = check_features(name, X, self.in_channels, layout=("B", "N"))
        _check_embeddings(name, E, N, self.embedding_dimensions, X)
        H = check_state("H", H, X, (X.size(0), N, self.out_channels))
        A = adaptive_adjacency(E)
        terms_x = chebyshev_terms(X, A, self.K)
        gates = torch.sigmoid(self._gate._apply_terms(
            torch.cat([terms_x, chebyshev_terms(H, A, self.K)], dim=-1), E))
        R, Z = torch.split(gates, self.out_channels, dim=-1)
        H_tilde = torch.tanh(self._update._apply_terms(
            torch.cat([terms_x, chebyshev_terms(R * H, A, self.K)], dim=-1), E))
        return Z * H + (1 - Z) * H_tilde

    def extra_repr(self) -> str:
        return (f"number_of_nodes={self.number_of_nodes}, {self.in_channels}, "
                f"{self.out_channels}, K={self.K}, "
                f"embedding_dimensions={self.embedding_dimensions}")
