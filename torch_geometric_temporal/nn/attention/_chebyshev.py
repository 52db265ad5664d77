r"""The Chebyshev machinery of :class:`~torch_geometric_temporal.nn.attention.astgcn.ChebConvAttention`
(ASTGCN, Guo et al., AAAI 2019, and MSTGCN): the scaled Laplacian and its
cached largest eigenvalue, the Chebyshev supports (sparse entries or dense
:math:`(N, N)`), and the two attention-weighted products as autograd
functions that keep only their inputs for the backward pass."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal._pyg import pyg

#: The lambda_max of recent graphs, shared by every block and model of the
#: process: ``(edge_index, (num_nodes, normalization), value)``, newest first.
_LAMBDA_CACHE: list = []
_CACHE_SIZE = 32


def laplacian_lambda_max(edge_index: Tensor, num_nodes: int, normalization: Optional[str],
                         cache: bool = True) -> float:
    r"""The eigenvalue of largest magnitude (its real part) of the unweighted
    graph Laplacian with ``normalization``, as
    :class:`torch_geometric.transforms.LaplacianLambdaMax`, computed in
    float64 from the dense :math:`N \times N` Laplacian (:math:`O(N^3)`;
    ``eigvalsh`` for a symmetric Laplacian, the slower ``eigvals``
    otherwise) once per graph and process: with
    ``cache``, a graph seen before (equal ``edge_index``, among the last 32)
    is looked up."""
    key = (num_nodes, normalization)
    if cache:
        for cached, cached_key, value in _LAMBDA_CACHE:
            if cached_key == key and cached.shape == edge_index.shape and \
                    cached.device == edge_index.device and torch.equal(cached, edge_index):
                return value
    utils = pyg("utils")
    index, weight = utils.get_laplacian(edge_index, None, normalization, torch.float64, num_nodes)
    L = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    L.index_put_((index[0].cpu(), index[1].cpu()), weight.cpu(), accumulate=True)
    eig = torch.linalg.eigvalsh(L) if torch.equal(L, L.t()) else torch.linalg.eigvals(L)
    value = float(eig[eig.abs().argmax()].real)
    if cache:
        _LAMBDA_CACHE.insert(0, (edge_index.detach().clone(), key, value))
        del _LAMBDA_CACHE[_CACHE_SIZE:]
    return value


def scaled_laplacian_entries(edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
                             normalization: Optional[str], lambda_max: Tensor,
                             batch: Optional[Tensor], dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    r"""The entries of :math:`\hat{\mathbf{L}} = 2\mathbf{L}/\lambda_\max -
    \mathbf{I}` (self-loops of the input dropped first): indices ``(2, E')``
    (row :math:`i`, column :math:`j`; the diagonal appears twice, once from
    :math:`\mathbf{L}` and once as :math:`-1`) and values ``(E',)``. With
    ``batch`` and one ``lambda_max`` per graph, each edge uses its graph's."""
    utils = pyg("utils")
    edge_index, edge_weight = utils.remove_self_loops(edge_index, edge_weight)
    edge_index, edge_weight = utils.get_laplacian(edge_index, edge_weight, normalization, dtype,
                                                  num_nodes)
    if batch is not None and lambda_max.numel() > 1:
        lambda_max = lambda_max[batch[edge_index[0]]]
    edge_weight = (2.0 * edge_weight) / lambda_max
    edge_weight = edge_weight.masked_fill(edge_weight == float("inf"), 0)
    return utils.add_self_loops(edge_index, edge_weight, fill_value=-1.0, num_nodes=num_nodes)


def chebyshev_dense(index: Tensor, value: Tensor, num_nodes: int, K: int,
                    start: int = 0) -> List[Tensor]:
    r"""The dense :math:`N \times N` Chebyshev polynomials
    :math:`T_k(\hat{\mathbf{L}})` for :math:`k = \text{start}, \dots, K - 1`
    (:math:`T_0 = \mathbf{I}`, :math:`T_1 = \hat{\mathbf{L}}`, :math:`T_k =
    2\hat{\mathbf{L}}T_{k-1} - T_{k-2}`: sparse-dense products,
    :math:`O(K E N)`), from the entries of :math:`\hat{\mathbf{L}}`."""
    N = num_nodes
    polys = [torch.eye(N, dtype=value.dtype, device=value.device)]
    if K > 1:
        polys.append(value.new_zeros(N, N).index_put((index[0], index[1]), value,
                                                     accumulate=True))
    if K > 2:
        L = torch.sparse_coo_tensor(index, value, (N, N), check_invariants=False)
        for _ in range(2, K):
            polys.append(2.0 * torch.sparse.mm(L, polys[-1]) - polys[-2])
    return polys[start:]


def chebyshev_supports(index: Tensor, value: Tensor, num_nodes: int, K: int,
                       polys: Optional[List[Tensor]] = None) -> Tuple[Tensor, Tensor, Tensor]:
    r"""The nonzero entries of :math:`T_0(\hat{\mathbf{L}}), \dots,
    T_{K-1}(\hat{\mathbf{L}})` as one list: polynomial order ``(nnz,)``,
    indices ``(2, nnz)`` (row :math:`i`, column :math:`j`) and values
    ``(nnz,)``. Orders :math:`k \ge 2` are taken from ``polys`` (the dense
    :func:`chebyshev_dense` of every order, computed when not given)."""
    eye = torch.arange(num_nodes, device=index.device)
    orders = [torch.zeros_like(eye)]
    indices = [torch.stack([eye, eye])]
    values = [torch.ones(num_nodes, dtype=value.dtype, device=value.device)]
    if K > 1:
        orders.append(torch.ones_like(index[0]))
        indices.append(index)
        values.append(value)
    if polys is None:
        polys = chebyshev_dense(index, value, num_nodes, K)
    for k, T in enumerate(polys[2:K], start=2):
        nz = T.detach().nonzero().t()
        orders.append(torch.full_like(nz[0], k))
        indices.append(nz)
        values.append(T[nz[0], nz[1]])
    return torch.cat(orders), torch.cat(indices, dim=1), torch.cat(values)


def _support_size(polys: List[Tensor], num_entries: int) -> int:
    r"""The number of per-entry messages of :class:`ChebConvAttention`:
    :math:`N` (order 0) + ``num_entries`` (order 1) + the nonzeros of the
    orders :math:`k \ge 2` (edges within :math:`k` hops)."""
    return polys[0].size(0) + (num_entries if len(polys) > 1 else 0) + sum(
        int(torch.count_nonzero(T.detach())) for T in polys[2:])


#: Elements of the largest transient (chunk, entries, F) message tensor.
_CHUNK_ELEMENTS = 1 << 22


def _batch_chunks(batch: int, per_item: int) -> List[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(per_item, 1))
    return [slice(s, min(s + step, batch)) for s in range(0, batch, step)]


def _scatter(weight: Tensor, x: Tensor, rows: Tensor, cols: Tensor, size: int) -> Tensor:
    r"""``out[:, rows[e]] += weight[:, e] * x[:, cols[e]]``: ``weight (B, E)``,
    ``x (B, M, F)`` -> ``(B, size, F)``, the ``(B, E, F)`` messages made
    a few batch items at a time."""
    out = x.new_zeros(x.size(0), size, x.size(2))
    for part in _batch_chunks(x.size(0), rows.numel() * x.size(2)):
        out[part].index_add_(1, rows, weight[part].unsqueeze(-1) * x[part][:, cols])
    return out


class _EntryProduct(torch.autograd.Function):
    r"""``out[:, rows[e]] += weight[:, e] * x[:, cols[e]]`` keeping only its
    inputs for the backward pass (autograd would keep the ``(B, E, F)``
    messages and gathered features, twice the messages' size)."""

    @staticmethod
    def forward(ctx, weight: Tensor, x: Tensor, rows: Tensor, cols: Tensor, size: int) -> Tensor:
        ctx.save_for_backward(weight, x, rows, cols)
        return _scatter(weight, x, rows, cols, size)

    @staticmethod
    def backward(ctx, grad: Tensor):
        weight, x, rows, cols = ctx.saved_tensors
        grad_weight = grad_x = None
        if ctx.needs_input_grad[1]:
            grad_x = _scatter(weight, grad, cols, rows, x.size(1))
        if ctx.needs_input_grad[0]:
            grad_weight = weight.new_empty(weight.shape)
            for part in _batch_chunks(x.size(0), rows.numel() * x.size(2)):
                grad_weight[part] = (grad[part][:, rows] * x[part][:, cols]).sum(-1)
        return grad_weight, grad_x, None, None, None


class _DenseProduct(torch.autograd.Function):
    r"""``out[:, :, k] = (S * T_k)^T x`` for ``S (B, N, N)``, ``x (B, N, F)``
    and :math:`T_0 = \mathbf{I}` (the diagonal of ``S`` times ``x``),
    ``T_1, ..., T_{K-1}`` given as :math:`(N, N)` tensors -> ``(B, N, K, F)``,
    keeping only its inputs for the backward pass (autograd would keep every
    :math:`(B, N, N)` product :math:`\mathbf{S} \odot T_k`); one batch
    item's :math:`(N, N)` product is alive at a time."""

    @staticmethod
    def forward(ctx, S: Tensor, x: Tensor, *T: Tensor) -> Tensor:
        ctx.save_for_backward(S, x, *T)
        out = x.new_empty(x.size(0), x.size(1), len(T) + 1, x.size(2))
        out[:, :, 0] = S.diagonal(dim1=1, dim2=2).unsqueeze(-1) * x
        for b in range(x.size(0)):
            for k, Tk in enumerate(T, start=1):
                out[b, :, k] = (S[b] * Tk).t() @ x[b]
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        S, x, *T = ctx.saved_tensors
        need_S, need_x, *need_T = ctx.needs_input_grad
        diag = S.diagonal(dim1=1, dim2=2).unsqueeze(-1)
        grad_x = diag * grad[:, :, 0] if need_x else None
        grad_S = None
        if need_S:
            grad_S = torch.zeros_like(S)
            grad_S.diagonal(dim1=1, dim2=2).copy_((x * grad[:, :, 0]).sum(-1))
        grad_T = [torch.zeros_like(Tk) if need else None for Tk, need in zip(T, need_T)]
        for b in range(x.size(0)):
            for k, Tk in enumerate(T, start=1):
                g = grad[b, :, k]
                if need_x:
                    grad_x[b] += (S[b] * Tk) @ g
                if need_S or need_T[k - 1]:
                    d = x[b] @ g.t()  # d loss / d (S_b * T_k): (N, N)
                    if need_T[k - 1]:
                        grad_T[k - 1] += S[b] * d
                    if need_S:
                        grad_S[b] += d.mul_(Tk)
        return (grad_S, grad_x, *grad_T)


def dense_is_smaller(K: int, num_nodes: int, num_entries: int, width: int) -> bool:
    r"""Whether :class:`ChebConvAttention` should use dense :math:`(N, N)`
    products rather than per-entry messages: :math:`K N^2 \le` ``num_entries``
    :math:`\times` ``width``, with ``num_entries`` the messages per feature
    (:math:`N` + the nonzeros of every :math:`T_k(\hat{\mathbf{L}})`, see
    :func:`_support_size`). Neither path keeps more than its inputs for the
    backward pass, so this is a speed choice; it tracks the measured
    crossover (one CPU thread: dense products cost about 20 ns per
    :math:`N^2` entry plus 0.03 ns per entry and feature, gathered messages
    about 30 ns per entry and feature)."""
    return K * num_nodes * num_nodes <= num_entries * width
