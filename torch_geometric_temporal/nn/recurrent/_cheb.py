r"""Chebyshev graph filters shared between the gates of one recurrent cell.

A :class:`~torch_geometric.nn.conv.ChebConv` computes

.. math::
    \mathbf{X}' = \sum_{k=0}^{K-1} \mathbf{Z}^{(k)} \mathbf{\Theta}^{(k)} + \mathbf{b},
    \quad \mathbf{Z}^{(0)} = \mathbf{X}, \; \mathbf{Z}^{(1)} = \hat{\mathbf{L}}\mathbf{X},
    \; \mathbf{Z}^{(k)} = 2\hat{\mathbf{L}}\mathbf{Z}^{(k-1)} - \mathbf{Z}^{(k-2)},

with :math:`\hat{\mathbf{L}} = 2\mathbf{L}/\lambda_\max - \mathbf{I}`. The basis
:math:`\mathbf{Z}^{(k)}` depends only on the graph and on :math:`\mathbf{X}`,
not on the filter, so every gate that filters the same input (the input
:math:`\mathbf{X}` or the hidden state :math:`\mathbf{H}`) shares one basis:
the cells below build the scaled Laplacian once per step and propagate each
distinct input :math:`K - 1` times, then apply each gate's own ``ChebConv``
weights. The result equals calling each ``ChebConv`` on its own.
"""
from typing import List, Optional, Tuple

from torch import Tensor

__all__ = ["scaled_laplacian", "cheb_basis", "cheb_filter"]


def scaled_laplacian(conv, edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
                     lambda_max, dtype) -> Tuple[Tensor, Tensor]:
    r"""The edges and weights of :math:`\hat{\mathbf{L}}`, as ``conv`` (a
    ``ChebConv``) normalizes them for its own forward pass."""
    return conv.__norm__(edge_index, num_nodes, edge_weight, conv.normalization,
                         lambda_max, dtype=dtype)


def cheb_basis(conv, x: Tensor, laplacian: Tuple[Tensor, Tensor], K: int) -> List[Tensor]:
    r"""The Chebyshev basis :math:`[\mathbf{Z}^{(0)}, \dots, \mathbf{Z}^{(K-1)}]`
    of node-major ``x (N, C)`` or ``x (N, ..., C)`` (e.g. ``(N, B, C)``: a
    batch on one shared graph, propagated as one ``(N, B C)`` matrix, see
    :mod:`~torch_geometric_temporal.nn.recurrent.batched`), with ``conv``'s
    message passing."""
    edge_index, norm = laplacian
    shape = x.shape

    def propagate(z: Tensor) -> Tensor:
        return conv.propagate(edge_index, x=z.reshape(shape[0], -1), norm=norm).view(shape)

    basis = [x]
    if K > 1:
        basis.append(propagate(x))
    for _ in range(2, K):
        basis.append(2.0 * propagate(basis[-1]) - basis[-2])
    return basis


def cheb_filter(conv, basis: List[Tensor]) -> Tensor:
    r"""``conv``'s output for the input whose basis is ``basis``."""
    out = conv.lins[0](basis[0])
    for lin, z in zip(conv.lins[1:], basis[1:]):
        out = out + lin(z)
    if conv.bias is not None:
        out = out + conv.bias
    return out
