"""STConv, ASTGCN (both ChebConvAttention paths, both formulas) and MSTGCN on
CUDA: forward and backward match the CPU (same weights and inputs; float32,
so to a tolerance). Skipped without a CUDA device."""
import copy

import pytest
import torch

from torch_geometric_temporal.nn.attention import astgcn
from torch_geometric_temporal.nn.attention.astgcn import ASTGCN
from torch_geometric_temporal.nn.attention.mstgcn import MSTGCN
from torch_geometric_temporal.nn.attention.stgcn import STConv

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
pytestmark = [pytest.mark.gpu, cuda]

N = 12


def ring():
    src = torch.arange(N)
    return torch.stack([torch.cat([src, src]), torch.cat([(src + 1) % N, (src + 3) % N])])


def forward_backward(model, device, X, edge_index):
    model = copy.deepcopy(model).to(device)
    out = model(X.to(device), edge_index.to(device))
    (out ** 2).sum().backward()
    return out.detach().cpu(), {k: p.grad.cpu() for k, p in model.named_parameters()}


def assert_same_on_cuda(model, X, edge_index):
    out, grads = forward_backward(model, "cpu", X, edge_index)
    out_c, grads_c = forward_backward(model, "cuda", X, edge_index)
    torch.testing.assert_close(out_c, out, atol=1e-4, rtol=1e-4)
    for key, grad in grads.items():
        torch.testing.assert_close(grads_c[key], grad, atol=1e-3, rtol=1e-3, msg=key)


def test_stconv_cuda_equals_cpu():
    torch.manual_seed(0)
    assert_same_on_cuda(STConv(N, 2, 8, 4, kernel_size=3, K=3), torch.randn(4, 8, N, 2), ring())


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("upstream", [False, True])
@pytest.mark.parametrize("normalization", ["sym", None])
def test_astgcn_cuda_equals_cpu(dense, upstream, normalization, monkeypatch):
    monkeypatch.setattr(astgcn, "dense_is_smaller", lambda *args: dense)
    torch.manual_seed(0)
    model = ASTGCN(2, 2, 3, 8, 8, 2, 3, 6, N, normalization)
    model.upstream_formula = upstream
    assert_same_on_cuda(model, torch.randn(4, N, 2, 6), ring())


@pytest.mark.parametrize("upstream", [False, True])
def test_mstgcn_cuda_equals_cpu(upstream):
    torch.manual_seed(0)
    model = MSTGCN(2, 2, 3, 8, 8, 2, 3, 6)
    model.upstream_formula = upstream
    assert_same_on_cuda(model, torch.randn(4, N, 2, 6), ring())
