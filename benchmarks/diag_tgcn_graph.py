r"""Diagnosis of TGCN / A3TGCN2 on the 7-day METR-LA bench (docs/benchmarks.md):
run ``bench_baselines.py`` with the T-GCN cell patched in this process only
(the package's cells are not changed), to see whether the GCN-only input is
what keeps them behind last value.

``--variant base``: the cell as shipped (upstream-equal).
``--variant identity``: the normalized graph replaced by self-loops of
weight 1, i.e. a GRU per node on its own input (no graph).
``--variant self``: the GCN gate inputs plus a bias-free ``Linear(F, 3 C)``
of the node's own input (a root term, as ChebConv's ``T_0`` / R-GCN's root).

``--stats`` prints how far the GCN-smoothed speed
:math:`\hat{D}^{-1/2}\hat{A}\hat{D}^{-1/2}x_t` is from the node's own speed.

Example::

    python benchmarks/diag_tgcn_graph.py --variant identity --dataset metr_la_7d --models tgcn --epochs 4
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_geometric_temporal.nn.recurrent import temporalgcn as tg  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def patch(variant):
    if variant == "identity":
        def _graph(self, edge_index, edge_weight, N, dtype):
            i = torch.arange(N, device=edge_index.device)
            return torch.stack([i, i]), torch.ones(N, dtype=dtype, device=edge_index.device)
        tg._TGCNCell._graph = _graph
    elif variant == "self":
        init0, parts0 = tg._TGCNCell.__init__, tg._TGCNCell._input_parts

        def init(self, in_channels, out_channels, *a, **k):
            init0(self, in_channels, out_channels, *a, **k)
            self.self_lin = torch.nn.Linear(in_channels, 3 * out_channels, bias=False)

        def parts(self, X, graph):  # X (..., N, F, T) -> (..., N, T, 3 C)
            return parts0(self, X, graph) + self.self_lin(X.transpose(-1, -2))
        tg._TGCNCell.__init__, tg._TGCNCell._input_parts = init, parts


def stats():
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric_temporal.dataset import synthetic
    ids, _, adj = synthetic.load_adjacency_pickle(ROOT / "tests/data/metr_la/adj_mx.pkl")
    header, v = synthetic.read_los_speed(ROOT / "tests/data/los_loop/los_speed.csv")
    v = np.asarray(v, dtype=np.float64)[:, [header.index(s) for s in ids]]
    adj = np.asarray(adj)
    src, dst = np.nonzero(adj)
    ei = torch.tensor(np.stack([src, dst]))
    e, w = gcn_norm(ei, torch.tensor(adj[src, dst], dtype=torch.float64), adj.shape[0], False, True,
                    "source_to_target", torch.float64)
    A = torch.zeros(adj.shape, dtype=torch.float64)
    A[e[1], e[0]] = w  # out_i = sum_j A[i, j] x_j (GCNConv's flow)
    smoothed = v @ A.numpy().T
    m = v > 0
    off = src != dst
    i, j = np.random.default_rng(0).integers(0, v.shape[1], (2, 5000))
    print(f"self-loop weight after gcn_norm: median {np.median(np.diag(A.numpy())):.3f}")
    print(f"masked MAE(A_hat x_t, x_t): {np.abs(smoothed - v)[m].mean():.2f} mph")
    print(f"mean |x_i - x_j|: graph neighbours {np.abs(v[:, src[off]] - v[:, dst[off]]).mean():.2f}, "
          f"random pairs {np.abs(v[:, i] - v[:, j]).mean():.2f} mph")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", choices=("base", "identity", "self"), default="base")
    p.add_argument("--stats", action="store_true", help="only print the smoothing statistics")
    args, rest = p.parse_known_args(argv)
    if args.stats:
        return stats()
    patch(args.variant)
    import bench_baselines
    bench_baselines.main(rest)


if __name__ == "__main__":
    sys.exit(main())
