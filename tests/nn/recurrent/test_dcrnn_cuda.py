"""DCRNN layers on CUDA: forward and backward match the CPU (same weights, same
inputs; float32, so to a tolerance). Skipped without a CUDA device."""
import copy

import pytest
import torch

from torch_geometric_temporal.nn.recurrent import DCRNN, BatchedDCRNN, DCRNNSeq2Seq, clear_support_cache

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
pytestmark = [pytest.mark.gpu, cuda]


def random_graph(n=40, e=200, seed=0):
    """Asymmetric, weighted, duplicate-free, with a self loop and nodes with no in- or out-edges."""
    g = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, n - 2, (2, e), generator=g)  # nodes n-2 and n-1: no edges but added below
    pairs = torch.unique(torch.cat([pairs, torch.tensor([[0, n - 1], [0, 3]])], dim=1), dim=1)
    weight = torch.rand(pairs.size(1), generator=g) + 0.1
    return pairs, weight, n


def forward_backward(model, device, inputs, edge_index, edge_weight, **kwargs):
    model = copy.deepcopy(model).to(device)
    args = [t.to(device) if t is not None else None for t in (inputs, edge_index, edge_weight)]
    out = model(*args, **kwargs)
    if isinstance(out, tuple):
        out = out[0]
    loss = (out.float() ** 2).mean() + out.float().abs().sum() * 1e-3
    loss.backward()
    grads = {name: p.grad.detach().cpu() for name, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    return out.detach().cpu(), grads


def assert_cuda_matches_cpu(model, inputs, edge_index, edge_weight, **kwargs):
    clear_support_cache()
    out_cpu, grads_cpu = forward_backward(model, "cpu", inputs, edge_index, edge_weight, **kwargs)
    out_gpu, grads_gpu = forward_backward(model, "cuda", inputs, edge_index, edge_weight, **kwargs)
    torch.testing.assert_close(out_gpu, out_cpu, atol=1e-5, rtol=1e-4)
    assert grads_gpu.keys() == grads_cpu.keys() and grads_cpu
    for name in grads_cpu:
        torch.testing.assert_close(grads_gpu[name], grads_cpu[name], atol=1e-4, rtol=1e-3, msg=name)


@pytest.mark.parametrize("weighted", [True, False])
def test_batched_dcrnn_backward_on_cuda_matches_cpu(weighted):
    edge_index, edge_weight, n = random_graph()
    torch.manual_seed(0)
    model = BatchedDCRNN(2, 8, K=3)
    X = torch.randn(4, 5, n, 2)
    assert_cuda_matches_cpu(model, X, edge_index, edge_weight if weighted else None)


def test_dcrnn_cell_backward_on_cuda_matches_cpu():
    edge_index, edge_weight, n = random_graph(seed=1)
    torch.manual_seed(1)
    assert_cuda_matches_cpu(DCRNN(3, 6, K=2), torch.randn(n, 3), edge_index, edge_weight)


def test_seq2seq_backward_on_cuda_matches_cpu():
    edge_index, edge_weight, n = random_graph(seed=2)
    torch.manual_seed(2)
    model = DCRNNSeq2Seq(2, 1, hidden_channels=8, num_layers=2, K=2, num_timesteps_out=4)
    X = torch.randn(3, 6, n, 2)
    assert_cuda_matches_cpu(model.train(), X, edge_index, edge_weight)


def test_supports_follow_the_device():
    """One graph used on the CPU and then on CUDA (cached supports must not be reused across devices)."""
    edge_index, edge_weight, n = random_graph(seed=3)
    torch.manual_seed(3)
    model = BatchedDCRNN(2, 4, K=2)
    X = torch.randn(2, 3, n, 2)
    cpu = model(X, edge_index, edge_weight)
    gpu = copy.deepcopy(model).cuda()(X.cuda(), edge_index.cuda(), edge_weight.cuda())
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-4)
