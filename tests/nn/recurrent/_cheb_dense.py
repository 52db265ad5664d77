"""Dense references for the Chebyshev cells (GConvGRU, GConvLSTM, GCLSTM) and
their shared test graphs, written from the documented formulas (not from the
cells' code): a ``ChebConv`` with weights Theta_k and bias b maps X to
sum_k T_k(L_hat)^T X Theta_k^T + b, L_hat = 2 L / lambda_max - I, with the
edge j -> i stored as column (j, i) of edge_index."""
import torch


def graph(directed: bool = False, n: int = 6, seed: int = 0):
    """A small weighted graph on ``n`` nodes (a ring plus two chords)."""
    g = torch.Generator().manual_seed(seed)
    src = list(range(n)) + [0, 2]
    dst = [(i + 1) % n for i in range(n)] + [3, 5]
    if not directed:
        src, dst = src + dst, dst + src
    edge_index = torch.tensor([src, dst])
    weight = torch.rand(len(src), generator=g) + 0.5
    if not directed:
        half = len(src) // 2
        weight = torch.cat([weight[:half], weight[:half]])
    return edge_index, weight


def laplacian(edge_index, edge_weight, n, normalization):
    """Dense L indexed [source, target]."""
    w = torch.ones(edge_index.size(1), dtype=torch.float64) if edge_weight is None \
        else edge_weight.double()
    W = torch.zeros(n, n, dtype=torch.float64).index_put(tuple(edge_index), w, accumulate=True)
    W.fill_diagonal_(0)
    deg = W.sum(1)
    if normalization is None:
        return torch.diag(deg) - W
    if normalization == "sym":
        d = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
        return torch.eye(n, dtype=torch.float64) - d[:, None] * W * d[None, :]
    d = torch.where(deg > 0, 1.0 / deg, torch.zeros_like(deg))
    return torch.eye(n, dtype=torch.float64) - d[:, None] * W


def cheb(conv, x, edge_index, edge_weight, normalization, lambda_max=None):
    """The dense float64 output of ``conv`` (a ChebConv) on ``x (N, C)``."""
    n = x.size(0)
    L = laplacian(edge_index, edge_weight, n, normalization)
    lam = 2.0 * float(L.max()) if lambda_max is None else float(lambda_max)
    S = (2.0 * L / lam - torch.eye(n, dtype=torch.float64)).T  # propagation: target <- source
    x = x.double()
    T = [x, S @ x]
    while len(T) < len(conv.lins):
        T.append(2.0 * S @ T[-1] - T[-2])
    out = sum(t @ lin.weight.double().T for t, lin in zip(T, conv.lins))
    return out if conv.bias is None else out + conv.bias.double()
