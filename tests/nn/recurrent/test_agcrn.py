"""Tests for AGCRN and its node adaptive graph convolution AVWGCN."""
import pytest
import torch
from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.recurrent.agcrn import AGCRN, AVWGCN


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def dense_avwgcn(conv, X, E):
    """The paper's convolution in float64 with the Chebyshev matrices T_k(A)."""
    X, E = X.double(), E.double()
    N = E.size(0)
    A = torch.softmax(torch.relu(E @ E.T), dim=1)
    T = [torch.eye(N, dtype=torch.float64), A]
    while len(T) < conv.K:
        T.append(2 * A @ T[-1] - T[-2])
    out = 0
    for k in range(conv.K):
        W_k = torch.einsum("nd,dio->nio", E, conv.weights_pool[:, k].double())  # per-node weights
        out = out + torch.einsum("bni,nio->bno", T[k] @ X, W_k)
    return out + E @ conv.bias_pool.double()


def dense_agcrn(cell, X, E, H):
    H = H.double()
    gates = torch.sigmoid(dense_avwgcn(cell._gate, torch.cat([X.double(), H], -1), E))
    R, Z = gates.split(cell.out_channels, -1)  # reset first, update second (upstream layout)
    H_tilde = torch.tanh(dense_avwgcn(cell._update, torch.cat([X.double(), R * H], -1), E))
    return Z * H + (1 - Z) * H_tilde


def _perturb(module):
    with torch.no_grad():  # the bias pools start at zero
        for p in module.parameters():
            p.add_(0.3 * torch.randn_like(p))


@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_avwgcn_equals_dense(K):
    torch.manual_seed(K)
    conv = AVWGCN(3, 5, K, 4)
    _perturb(conv)
    X, E = torch.randn(2, 7, 3), torch.randn(7, 4)
    out = conv(X, E)
    assert out.shape == (2, 7, 5)
    torch.testing.assert_close(out.double(), dense_avwgcn(conv, X, E), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("K", [2, 3])
def test_agcrn_equals_dense(K):
    torch.manual_seed(10 + K)
    cell = AGCRN(7, 3, 4, K, 2)
    _perturb(cell)
    X, E, H = torch.randn(2, 7, 3), torch.randn(7, 2), torch.randn(2, 7, 4)
    for h in (None, H):
        out = cell(X, E, h)
        ref = dense_agcrn(cell, X, E, torch.zeros(2, 7, 4) if h is None else h)
        torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)
    # gradients (parameters and the node embeddings) equal the dense formula's
    E = E.clone().requires_grad_()
    cell(X, E, H).square().sum().backward()
    ours = [p.grad.clone() for p in cell.parameters()] + [E.grad.clone()]
    cell.zero_grad()
    E.grad = None
    dense_agcrn(cell, X, E, H).square().sum().backward()
    for a, b in zip(ours, [p.grad for p in cell.parameters()] + [E.grad]):
        torch.testing.assert_close(a, b.float(), atol=1e-5, rtol=1e-4)


def test_batch_equals_loop():
    torch.manual_seed(4)
    cell = AGCRN(6, 2, 3, 3, 2)
    _perturb(cell)
    X, E, H = torch.randn(4, 6, 2), torch.randn(6, 2), torch.randn(4, 6, 3)
    loop = torch.cat([cell(X[b:b + 1], E, H[b:b + 1]) for b in range(4)])
    torch.testing.assert_close(cell(X, E, H), loop, atol=1e-6, rtol=1e-5)


def test_state_dict_and_repr():
    cell = AGCRN(6, 2, 3, 3, 5)
    assert list(cell.state_dict()) == ["_gate.weights_pool", "_gate.bias_pool",
                                       "_update.weights_pool", "_update.bias_pool"]
    assert cell._gate.weights_pool.shape == (5, 3, 5, 6) and cell._update.bias_pool.shape == (5, 3)
    assert (cell._gate.bias_pool == 0).all()
    other = AGCRN(6, 2, 3, 3, 5)
    other.load_state_dict(cell.state_dict(), strict=True)
    X, E = torch.randn(1, 6, 2), torch.randn(6, 5)
    torch.testing.assert_close(cell(X, E), other(X, E))
    assert "embedding_dimensions=5" in repr(cell)


@pytest.mark.parametrize("X, E, H, match", [
    (torch.randn(6, 2), torch.randn(6, 3), None, r"shape \(B, N, 2\)"),
    (torch.randn(1, 6, 4), torch.randn(6, 3), None, "in_channels = 2"),
    (torch.randn(1, 6, 2), torch.randn(5, 3), None, r"E of shape \(N, embedding_dimensions\) = \(6, 3\)"),
    (torch.randn(1, 6, 2), torch.randn(6, 2), None, r"= \(6, 3\)"),
    (torch.randn(1, 6, 2), torch.randn(6, 3).double(), None, "same dtype and device"),
    (torch.randn(2, 6, 2), torch.randn(6, 3), torch.randn(1, 6, 4), r"H must have shape \(2, 6, 4\)"),
])
def test_bad_input(X, E, H, match):
    with pytest.raises(ValueError, match=match):
        AGCRN(6, 2, 4, 2, 3)(X, E, H)


@pytest.mark.parametrize("K", [0, 2.5])
def test_bad_K(K):
    with pytest.raises(ValueError, match="K must be an int >= 1"):
        AGCRN(6, 2, 4, K, 3)


@pytest.mark.parametrize("name", fixture_names("AGCRN"))
def test_equals_upstream_fixture(name):
    fixture = load_fixture(name)
    check_signature(AGCRN, fixture)
    check_against_fixture(AGCRN, fixture)
