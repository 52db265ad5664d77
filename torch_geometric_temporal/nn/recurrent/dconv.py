r"""Sparse bidirectional diffusion convolution (DCRNN) with cached supports.

Convention (that of the DCRNN reference code, followed by PyTorch Geometric
Temporal). An edge :math:`j \rightarrow i` with weight :math:`w_{ji}` is stored
in PyG order, ``edge_index[0] = j`` (source), ``edge_index[1] = i`` (target).
With :math:`d_\text{out}(j) = \sum_{j \rightarrow i} w_{ji}` and
:math:`d_\text{in}(i) = \sum_{j \rightarrow i} w_{ji}` the two supports are

.. math::
    (S_1 X)_i = \sum_{j \rightarrow i} \frac{w_{ji}}{d_\text{out}(j)} X_j,
    \qquad S_1 = (D_O^{-1} W)^\top,

    (S_2 X)_j = \sum_{j \rightarrow i} \frac{w_{ji}}{d_\text{in}(i)} X_i,
    \qquad S_2 = (D_I^{-1} W^\top)^\top,

i.e. :math:`S_2` is the forward support of the reversed graph. Each support
is stored as a sparse CSR matrix (:math:`O(E)` memory; no :math:`N \times N`
tensor is ever built) and cached per graph, see :func:`get_diffusion_supports`.
Both directions are applied in one sparse product per diffusion step (stacked
:math:`[S_1; S_2]`, then block-diagonal :math:`\mathrm{diag}(S_1, S_2)`), and
batched inputs are multiplied as one node-major ``(N, B C)`` matrix.
"""
import numbers
import threading
import warnings
import weakref
from collections import OrderedDict
from typing import Iterator, List, Optional, Tuple

import torch
from torch import Tensor

__all__ = [
    "DConv",
    "BatchedDConv",
    "DiffusionSupports",
    "get_diffusion_supports",
    "clear_support_cache",
]

_CACHE_MAX_GRAPHS = 8
_CACHE_MAX_WEIGHTS = 4


# --------------------------------------------------------------------------- #
# Sparse structure and the sparse-dense product
# --------------------------------------------------------------------------- #
class _CSRStructure:
    r"""Row-sorted CSR pattern of an ``(nrows, ncols)`` sparse matrix.

    ``row``/``col`` hold the coordinates of each stored entry (in CSR order),
    ``transpose`` is the pattern of the transposed matrix and
    ``to_transpose`` maps values in this order to values in the transposed
    pattern's order.
    """

    __slots__ = ("crow", "col", "row", "shape", "transpose", "to_transpose", "__weakref__")

    def __init__(self, crow: Tensor, col: Tensor, row: Tensor, shape: Tuple[int, int]):
        self.crow = crow
        self.col = col
        self.row = row
        self.shape = shape
        self.transpose: Optional["_CSRStructure"] = None
        self.to_transpose: Optional[Tensor] = None


_CSR_WARNED = False


def _csr(struct: _CSRStructure, values: Tensor) -> Tensor:
    global _CSR_WARNED
    if not _CSR_WARNED:  # torch warns once that CSR support is "beta"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out = torch.sparse_csr_tensor(struct.crow, struct.col, values, struct.shape,
                                          check_invariants=False)
        _CSR_WARNED = True
        return out
    return torch.sparse_csr_tensor(struct.crow, struct.col, values, struct.shape,
                                   check_invariants=False)


class _SparseMM(torch.autograd.Function):
    r"""``S @ X`` for a CSR ``S`` given by (pattern, values) and dense ``X (N, M)``.

    ``values_t`` are the values of :math:`S^\top` in the transposed pattern's
    order: the backward pass is a second CSR product with the cached
    transposed pattern instead of letting autograd transpose ``S`` on every
    call. The gradient with respect to the values is
    :math:`\partial L / \partial S_{ab} = G_a \cdot X_b`.
    """

    @staticmethod
    def forward(ctx, values: Tensor, values_t: Tensor, X: Tensor,  # type: ignore[override]
                struct: _CSRStructure) -> Tensor:
        ctx.struct = struct
        ctx.save_for_backward(values, values_t, X if ctx.needs_input_grad[0] else None)
        # Computed in the dtype of X, outside autocast. CPU: bf16/fp16 run in
        # float32 (torch has no bf16 CSR kernel on CPU; benchmarks/
        # bench_dconv_amp.py, N = 325, B = 8: fp32 1.8 ms, bf16 via fp32 2.4 ms).
        # CUDA: bf16 X gives a bf16 product (cuSPARSE accumulates in fp32).
        with torch.autocast(device_type=X.device.type, enabled=False):
            if X.device.type == "cpu" and X.dtype in (torch.float16, torch.bfloat16):
                out = torch.sparse.mm(_csr(struct, values.float()), X.float())
                return out.to(X.dtype)
            if values.dtype != X.dtype:
                values = values.to(X.dtype)
            return torch.sparse.mm(_csr(struct, values), X)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        values, values_t, X = ctx.saved_tensors
        struct = ctx.struct
        grad_values = grad_X = None
        if ctx.needs_input_grad[2]:
            grad_X = _SparseMM.apply(values_t, values, grad.contiguous(), struct.transpose)
        if ctx.needs_input_grad[0]:
            grad_values = (grad[struct.row] * X[struct.col]).sum(-1).to(values.dtype)
        return grad_values, None, grad_X, None


# --------------------------------------------------------------------------- #
# Supports and their cache
# --------------------------------------------------------------------------- #
class DiffusionSupports:
    r"""The normalized diffusion supports :math:`S_1, S_2` of one graph.

    Obtain it with :func:`get_diffusion_supports`. Both directions are applied
    in one sparse product: the first diffusion step multiplies by the stacked
    ``(2N, N)`` matrix :math:`[S_1; S_2]`, later steps by the block-diagonal
    ``(2N, 2N)`` matrix :math:`\mathrm{diag}(S_1, S_2)`.

    Attributes:
        num_nodes (int): :math:`N`.
        stacked (tuple): CSR pattern (cached) and values of :math:`[S_1; S_2]`.
        block_diagonal (tuple): CSR pattern (cached) and values of
            :math:`\mathrm{diag}(S_1, S_2)`.
    """

    def __init__(self, num_nodes: int, stacked: Tuple[_CSRStructure, Tensor],
                 block_diagonal: Tuple[_CSRStructure, Tensor]):
        self.num_nodes = num_nodes
        self.stacked = stacked
        self.block_diagonal = block_diagonal
        # The values both products use, made here, not lazily on first use: a
        # recomputed step (recompute.py) must replay the same autograd ops.
        self._values: dict = {}
        self._pair("stacked", 1.0)
        self._pair("block_diagonal", 2.0)

    def _pair(self, name: str, scale: float) -> Tuple[Tensor, Tensor]:
        struct, values = getattr(self, name)
        key = (name, scale)
        pair = self._values.get(key)
        if pair is None:
            if scale != 1.0:
                values = values * scale
            pair = self._values[key] = (values, values[struct.to_transpose])
        return pair

    def _apply(self, name: str, X: Tensor, scale: float = 1.0) -> Tensor:
        values, values_t = self._pair(name, scale)
        return _SparseMM.apply(values, values_t, X, getattr(self, name)[0])

    def propagate(self, X: Tensor) -> Tensor:
        r"""Return :math:`[S_1 X; S_2 X]` of shape ``(2N, M)`` for ``X (N, M)``."""
        return self._apply("stacked", X)

    def to_dense(self) -> Tuple[Tensor, Tensor]:
        r"""Dense :math:`(S_1, S_2)` (for tests and debugging only)."""
        n = self.num_nodes
        dense = _csr(*self.stacked).to_dense()
        return dense[:n], dense[n:]


def _pattern(rows: Tensor, cols: Tensor, shape: Tuple[int, int]) -> Tuple[_CSRStructure, Tensor]:
    """Row-sorted CSR pattern with entries at ``(rows, cols)``; returns (pattern, perm)."""
    nrows, ncols = shape
    perm = torch.argsort(rows * ncols + cols, stable=True)
    counts = torch.bincount(rows, minlength=nrows)
    crow = torch.zeros(nrows + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.cumsum(counts, 0)
    return _CSRStructure(crow, cols[perm].contiguous(), rows[perm].contiguous(), shape), perm


def _inverse(perm: Tensor) -> Tensor:
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel(), device=perm.device)
    return inv


def _pattern_pair(rows: Tensor, cols: Tensor, shape: Tuple[int, int]) -> Tuple[_CSRStructure, Tensor]:
    """Pattern plus its linked transpose; returns (pattern, perm from entry order)."""
    struct, perm = _pattern(rows, cols, shape)
    trans, perm_t = _pattern(cols, rows, (shape[1], shape[0]))
    inv, inv_t = _inverse(perm), _inverse(perm_t)
    struct.transpose, struct.to_transpose = trans, inv[perm_t]
    trans.transpose, trans.to_transpose = struct, inv_t[perm]
    return struct, perm


class _GraphEntry:
    """Cached patterns of one edge list plus cached support values per weight."""

    def __init__(self, edge_index: Tensor, num_nodes: int):
        self.edge_index = edge_index.detach().clone()
        self.ref = _weak(edge_index)
        self.version = _version(edge_index)
        self.num_nodes = n = num_nodes
        src, dst = self.edge_index[0], self.edge_index[1]
        # Entry order: the E entries of S_1 (row dst, col src) then the E of S_2 (row src, col dst).
        rows = torch.cat([dst, src + n])
        self.stacked, self.perm_stacked = _pattern_pair(rows, torch.cat([src, dst]), (2 * n, n))
        self.block_diagonal, self.perm_block = _pattern_pair(rows, torch.cat([src, dst + n]),
                                                             (2 * n, 2 * n))
        self.weights: "OrderedDict[int, tuple]" = OrderedDict()
        self._next_key = 0

    def matches(self, edge_index: Tensor, num_nodes: int) -> bool:
        if num_nodes != self.num_nodes or edge_index.shape != self.edge_index.shape:
            return False
        if edge_index.device != self.edge_index.device:
            return False
        if self.ref is not None and self.ref() is edge_index and \
                self.version is not None and _version(edge_index) == self.version:
            return True
        if torch.equal(edge_index, self.edge_index):
            self.ref, self.version = _weak(edge_index), _version(edge_index)
            return True
        return False

    def values(self, edge_weight: Optional[Tensor], dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
        r"""Values of :math:`[S_1; S_2]` and :math:`\mathrm{diag}(S_1, S_2)` in CSR order."""
        src, dst = self.edge_index[0], self.edge_index[1]
        n = self.num_nodes
        if edge_weight is None:
            w = torch.ones(src.numel(), dtype=dtype, device=src.device)
        else:
            w = edge_weight.to(dtype)
        d_out = torch.zeros(n, dtype=dtype, device=w.device).index_add(0, src, w)
        d_in = torch.zeros(n, dtype=dtype, device=w.device).index_add(0, dst, w)
        entries = torch.cat([w * _safe_reciprocal(d_out)[src], w * _safe_reciprocal(d_in)[dst]])
        return entries[self.perm_stacked], entries[self.perm_block]

    def cached_values(self, edge_weight: Optional[Tensor], dtype: torch.dtype):
        for key, (ref, version, copy, dt, vals) in self.weights.items():
            if dt != dtype:
                continue
            if edge_weight is None or copy is None:
                if edge_weight is None and copy is None:
                    self.weights.move_to_end(key)
                    return vals
                continue
            if copy.shape != edge_weight.shape or copy.dtype != edge_weight.dtype:
                continue
            if (ref is not None and ref() is edge_weight and version is not None
                    and _version(edge_weight) == version) or torch.equal(copy, edge_weight):
                self.weights[key] = (_weak(edge_weight), _version(edge_weight), copy, dt, vals)
                self.weights.move_to_end(key)
                return vals
        vals = self.values(edge_weight, dtype)
        copy = None if edge_weight is None else edge_weight.detach().clone()
        ref = None if edge_weight is None else _weak(edge_weight)
        ver = None if edge_weight is None else _version(edge_weight)
        self.weights[self._next_key] = (ref, ver, copy, dtype, vals)
        self._next_key += 1
        while len(self.weights) > _CACHE_MAX_WEIGHTS:
            self.weights.popitem(last=False)
        return vals


def _safe_reciprocal(d: Tensor) -> Tensor:
    zero = d == 0
    return torch.where(zero, torch.zeros_like(d), 1.0 / torch.where(zero, torch.ones_like(d), d))


def _weak(t: Tensor):
    try:
        return weakref.ref(t)
    except TypeError:  # pragma: no cover - tensors support weak references
        return None


def _version(t: Tensor) -> Optional[int]:
    try:
        return t._version
    except RuntimeError:  # inference tensors have no version counter
        return None


_CACHE: "OrderedDict[int, _GraphEntry]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_COUNTER = [0]


def clear_support_cache() -> None:
    r"""Drop every cached transition matrix (e.g. to free accelerator memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _check_graph(edge_index: Tensor, edge_weight: Optional[Tensor], device: torch.device) -> None:
    if not isinstance(edge_index, Tensor):
        raise ValueError(
            f"edge_index must be a torch.Tensor of shape (2, E), got {type(edge_index).__name__}; "
            "convert it with torch.as_tensor(edge_index, dtype=torch.long).")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}; "
            "pass edge_index.t() if it is (E, 2).")
    if edge_index.dtype.is_floating_point or edge_index.dtype.is_complex or edge_index.dtype == torch.bool:
        raise ValueError(f"edge_index must hold integers (torch.long), got {edge_index.dtype}; "
                         "convert it with edge_index.long().")
    if edge_index.device != device:
        raise ValueError(f"edge_index is on {edge_index.device} but the node features are on "
                         f"{device}; move both to the same device.")
    if edge_weight is not None:
        if not isinstance(edge_weight, Tensor) or edge_weight.dim() != 1 or \
                edge_weight.numel() != edge_index.size(1):
            shape = tuple(edge_weight.shape) if isinstance(edge_weight, Tensor) else type(edge_weight)
            raise ValueError(f"edge_weight must have shape (E,) = ({edge_index.size(1)},), got "
                             f"{shape}; pass one weight per column of edge_index (or None).")
        if not edge_weight.dtype.is_floating_point:
            raise ValueError(f"edge_weight must be a floating tensor, got {edge_weight.dtype}; "
                             "convert it with edge_weight.float().")
        if edge_weight.device != device:
            raise ValueError(f"edge_weight is on {edge_weight.device} but the node features are on "
                             f"{device}; move both to the same device.")


def _check_range(edge_index: Tensor, num_nodes: int) -> None:
    if edge_index.numel() == 0:
        return
    lo, hi = int(edge_index.min()), int(edge_index.max())
    if lo < 0 or hi >= num_nodes:
        raise ValueError(
            f"edge_index holds node ids in [{lo}, {hi}] but the input has N = {num_nodes} nodes "
            f"(valid ids 0..{num_nodes - 1}); pass the edge list of one graph (not replicated "
            "per batch item) and node features with N on the node axis.")


def get_diffusion_supports(edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
                           dtype: torch.dtype = torch.float32,
                           device: Optional[torch.device] = None) -> DiffusionSupports:
    r"""Return the (cached) normalized diffusion supports of a graph.

    The CSR patterns are cached per edge list and the normalized values per
    edge-weight vector (LRU, 8 graphs x 4 weight vectors). A cached graph is
    recognised by tensor identity and version counter (an in-place change of
    ``edge_index``/``edge_weight`` invalidates it) and otherwise by exact
    equality with a stored copy, so a new tensor holding the same graph (e.g.
    re-created each step by a data loader) still hits the cache, and a
    changed graph never does. If ``edge_weight`` requires gradients (and
    grad mode is on) the values are recomputed inside the autograd graph on
    every call, so gradients reach ``edge_weight``; only the patterns are
    cached then.

    Args:
        edge_index (torch.Tensor): ``(2, E)`` integer edge list, row = source.
        edge_weight (torch.Tensor, optional): ``(E,)`` positive edge weights;
            ``None`` means all ones.
        num_nodes (int): number of nodes :math:`N`.
        dtype (torch.dtype): dtype of the support values (that of the features).
        device (torch.device, optional): expected device (default: that of
            ``edge_index``).
    """
    device = edge_index.device if device is None and isinstance(edge_index, Tensor) else device
    _check_graph(edge_index, edge_weight, device)
    differentiable = edge_weight is not None and edge_weight.requires_grad and torch.is_grad_enabled()
    with _CACHE_LOCK, torch.inference_mode(False):
        entry = None
        for key, cand in _CACHE.items():
            if cand.matches(edge_index, num_nodes):
                entry = cand
                _CACHE.move_to_end(key)
                break
        if entry is None:
            _check_range(edge_index, num_nodes)
            entry = _GraphEntry(edge_index.long() if edge_index.dtype != torch.long else edge_index,
                                num_nodes)
            _CACHE[_CACHE_COUNTER[0]] = entry
            _CACHE_COUNTER[0] += 1
            while len(_CACHE) > _CACHE_MAX_GRAPHS:
                _CACHE.popitem(last=False)
        if differentiable:
            v_stacked, v_block = entry.values(edge_weight, dtype)
        else:
            v_stacked, v_block = entry.cached_values(edge_weight, dtype)
    return DiffusionSupports(num_nodes, (entry.stacked, v_stacked), (entry.block_diagonal, v_block))


def iter_diffusion_terms(X: Tensor, supports: DiffusionSupports, K: int) -> Iterator[Tensor]:
    r"""The :math:`2K - 1` distinct diffusion terms of ``X (N, M)``, one at a
    time: ``X_0, X_1^{(1)}, X_1^{(2)}, ..., X_{K-1}^{(1)}, X_{K-1}^{(2)}`` with
    :math:`X_0 = X`, :math:`X_1^{(d)} = S_d X`,
    :math:`X_k^{(d)} = 2 S_d X_{k-1}^{(d)} - X_{k-2}^{(d)}`; both directions
    share one sparse product per :math:`k`. Only the two latest products are
    held, so a consumer that reduces the terms as they come (a running sum)
    keeps no more.
    """
    yield X
    if K < 2:
        return
    N, M = X.shape
    prev = supports.propagate(X)  # (2N, M) = [S_1 X; S_2 X]
    yield from prev.view(2, N, M).unbind(0)
    before = None
    for k in range(2, K):
        cur = supports._apply("block_diagonal", prev, 2.0)
        if k == 2:
            cur = (cur.view(2, N, M) - X).view(2 * N, M)
        else:
            cur = cur.sub_(before)
        yield from cur.view(2, N, M).unbind(0)
        before, prev = prev, cur


def diffusion_terms(X: Tensor, supports: DiffusionSupports, K: int) -> List[Tensor]:
    r"""The list of :func:`iter_diffusion_terms`."""
    return list(iter_diffusion_terms(X, supports, K))


def effective_weight(weight: Tensor) -> Tensor:
    r"""Stack ``weight (2, K, C, O)`` into ``((2K-1) C, O)`` matching
    :func:`diffusion_terms` (the two :math:`k = 0` blocks are summed because
    both multiply :math:`X_0`; then ``weight[0, k], weight[1, k]`` for
    :math:`k = 1, \dots, K-1`)."""
    two, K, C, O = weight.shape
    head = weight[0, 0] + weight[1, 0]
    if K == 1:
        return head
    return torch.cat([head, weight[:, 1:].transpose(0, 1).reshape(2 * (K - 1) * C, O)], 0)


def diffuse_features(X: Tensor, supports: DiffusionSupports, K: int) -> Tensor:
    r"""Concatenate the diffusion terms of node-major ``X (N, L, C)`` into
    ``(N, L, (2K - 1) C)`` (term-major on the last axis)."""
    N, L, C = X.shape
    terms = diffusion_terms(X.reshape(N, L * C), supports, K)
    if len(terms) == 1:
        return X
    return torch.cat([t.view(N, L, C) for t in terms], dim=-1)


def _linear(X: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    r"""``X @ weight (+ bias)`` over the last axis of a contiguous ``X``."""
    flat = X.reshape(-1, X.size(-1))
    out = flat @ weight if bias is None else torch.addmm(bias, flat, weight)
    return out.view(*X.shape[:-1], weight.size(1))


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


# --------------------------------------------------------------------------- #
# Modules
# --------------------------------------------------------------------------- #
class DConv(torch.nn.Module):
    r"""The diffusion convolution layer from the `"Diffusion Convolutional
    Recurrent Neural Network: Data-Driven Traffic Forecasting"
    <https://arxiv.org/abs/1707.01926>`_ paper (sparse, cached supports).

    .. math::
        H = \sum_{k=0}^{K-1} \left( X_k^{(1)} \Theta_{0,k} + X_k^{(2)} \Theta_{1,k}
        \right) + b,
        \quad X_0^{(d)} = X,\; X_1^{(d)} = S_d X,\;
        X_k^{(d)} = 2 S_d X_{k-1}^{(d)} - X_{k-2}^{(d)},

    with :math:`S_1 = (D_O^{-1} W)^\top` (for an edge :math:`j \rightarrow i`
    of weight :math:`w_{ji}`, :math:`(S_1 X)_i = \sum_j w_{ji} X_j / d_\text{out}(j)`)
    and :math:`S_2 = (D_I^{-1} W^\top)^\top` (the same on the reversed graph,
    normalized by in-degrees). The :math:`k = 0` term appears once per
    direction, as in PyTorch Geometric Temporal; ``weight[d, k]`` is
    :math:`\Theta_{d,k}`, so upstream checkpoints load unchanged. Unlike
    upstream, each message is scaled by its edge weight (upstream uses the
    weights only in the degrees) and the recursion is exact for every
    :math:`K`; on symmetric unit-weight graphs with :math:`K \le 3` both agree.
    Cost: :math:`O(K E C)` time and :math:`O(E)` extra memory.

    Args:
        in_channels (int): Number of input features :math:`C`.
        out_channels (int): Number of output features.
        K (int): Filter size :math:`K \geq 1` (number of diffusion terms per
            direction, including :math:`X_0`).
        bias (bool, optional): If set to :obj:`False`, the layer will not learn
            an additive bias (default :obj:`True`).

    Shapes:
        - **X**: ``(N, in_channels)`` or ``(*, N, in_channels)``.
        - **edge_index**: ``(2, E)`` long, row = source, ids in ``[0, N)``.
        - **edge_weight**: ``(E,)`` or ``None`` (all ones).
        - **output**: ``(*, N, out_channels)``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, bias: bool = True):
        super().__init__()
        _check_positive_int("in_channels", in_channels)
        _check_positive_int("out_channels", out_channels)
        _check_positive_int("K", K)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.weight = torch.nn.Parameter(torch.empty(2, K, in_channels, out_channels))
        if bias:
            self.bias = torch.nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Xavier-uniform weights and zero bias (as upstream)."""
        torch.nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)

    def _check_input(self, X: Tensor) -> None:
        if not isinstance(X, Tensor) or X.dim() < 2:
            shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise ValueError(f"{type(self).__name__} expects X of shape (N, {self.in_channels}) or "
                             f"(*, N, {self.in_channels}), got {shape}.")
        if X.size(-1) != self.in_channels:
            raise ValueError(f"{type(self).__name__} was built with in_channels = {self.in_channels} "
                             f"but X has {X.size(-1)} features (shape {tuple(X.shape)}); rebuild "
                             "the layer or fix the feature axis (last).")
        if not X.dtype.is_floating_point:
            raise ValueError(f"X must be a floating tensor, got {X.dtype}; use X.float().")

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                supports: Optional[DiffusionSupports] = None) -> Tensor:
        r"""Apply the diffusion convolution.

        Args:
            X (torch.Tensor): Node features ``(*, N, in_channels)``.
            edge_index (torch.Tensor): Edge indices ``(2, E)``.
            edge_weight (torch.Tensor, optional): Edge weights ``(E,)``.
            supports (DiffusionSupports, optional): precomputed supports
                (then ``edge_index``/``edge_weight`` are not read).

        Returns:
            torch.Tensor: ``(*, N, out_channels)``.
        """
        self._check_input(X)
        N = X.size(-2)
        if supports is None:
            supports = get_diffusion_supports(edge_index, edge_weight, N, X.dtype, X.device)
        lead = X.shape[:-2]
        Xn = X.reshape(-1, N, self.in_channels).transpose(0, 1).contiguous()  # (N, L, C)
        feats = diffuse_features(Xn, supports, self.K)
        out = _linear(feats, effective_weight(self.weight), self.bias)
        return out.transpose(0, 1).reshape(*lead, N, self.out_channels)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, K={self.K}, "
                f"bias={self.bias is not None})")


class BatchedDConv(DConv):
    r"""Batched :class:`DConv`: ``X`` of shape ``(B, N, C)`` or ``(B, T, N, C)``
    (any leading axes) is diffused for all batch items with one sparse product
    over an ``(N, B T C)`` view, never replicating the edge list. Same
    parameters and result as :class:`DConv` applied to each item.
    """
