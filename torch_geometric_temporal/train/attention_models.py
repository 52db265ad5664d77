r"""The attention and spatio-temporal convolution models of ``--model``
(``stgcn``, ``astgcn``, ``mstgcn``, ``gman``, ``mtgnn``) on index batches.

Each forecaster maps the gathered batch ``X (B, T_in, N, F)`` and the run's
graph to ``(B, T_out, N, 1)`` (the target channel), as the models of
:mod:`torch_geometric_temporal.train.models` do, around the upstream-API
class of :mod:`torch_geometric_temporal.nn.attention`. The layout each class
expects is a view of ``X`` (a permute or a channel slice); where the class
itself copies it, the forecaster's docstring says so.

How the script flags map to each model (paper values as defaults):

========== ============================ ============================== =========================
model      ``--hidden`` (default)        ``--layers`` (default 2)       ``-K`` (default)
========== ============================ ============================== =========================
stgcn      temporal channels (64);       ST-Conv blocks                 Chebyshev size (3)
           spatial channels hidden // 4
astgcn     Chebyshev and time filters    ASTGCN blocks                  Chebyshev size (3)
           (64)
mstgcn     as astgcn (64)                MSTGCN blocks                  Chebyshev size (3)
gman       :math:`D = K d` (64)          ST-Attention blocks per side   attention heads (8, or
                                                                        ``gcd(8, hidden)``)
mtgnn      conv/residual channels (32);  MTGNN layers                   mix-hop depth (2)
           skip 2x, end 4x
========== ============================ ============================== =========================

Models that build an :math:`N \times N` matrix (memory measured by
``benchmarks/bench_models.py``, see ``docs/benchmarks.md``): ASTGCN (spatial
attention ``(B, N, N)`` per block), GMAN (spatial attention
``(B K, T, N, N)`` per ST-Attention block), MTGNN (the learned adjacency
``(N, N)``, independent of ``B``).
"""
import math
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from torch_geometric_temporal.train.models import ATTENTION_MODELS, _horizon

__all__ = ["STGCNForecaster", "ASTGCNForecaster", "MSTGCNForecaster", "GMANForecaster", "MTGNNForecaster",
           "build_attention_model", "STEPS_PER_DAY"]

#: Time-of-day slots of the traffic datasets (5-minute readings), GMAN's
#: ``steps_per_day`` when the input has a time-of-day feature.
STEPS_PER_DAY = 288


def _check_input(model: str, X: Tensor, num_timesteps_in: int, num_nodes: Optional[int],
                 num_features: int) -> None:
    r"""One ``ValueError`` naming the expected ``(B, T_in, N, F)`` and what differs."""
    if X.dim() != 4:
        raise ValueError(f"{model} expects an index batch X of shape (B, T_in, N, F), got {tuple(X.shape)}; "
                         "pass the loaders' X unchanged.")
    want = (num_timesteps_in, X.size(2) if num_nodes is None else num_nodes, num_features)
    if tuple(X.shape[1:]) != want:
        raise ValueError(f"{model} was built for X (B, T_in={want[0]}, N={want[1]}, F={want[2]}), got "
                         f"{tuple(X.shape)}; build it with this dataset's window length, node and feature count.")


def _stgcn_kernel(num_timesteps_in: int, blocks: int, kernel_size: int = 3) -> int:
    r"""The largest temporal kernel ``<= kernel_size`` leaving at least one step
    after ``blocks`` ST-Conv blocks (each shortens the sequence by
    ``2 (k - 1)``)."""
    k = min(kernel_size, (num_timesteps_in - 1) // (2 * blocks) + 1)
    if k < 2:
        raise ValueError(f"--model stgcn: {blocks} ST-Conv block(s) need T_in >= {4 * blocks + 1} for a "
                         f"temporal kernel of 2, got T_in = {num_timesteps_in}; pass fewer --layers.")
    return k


class STGCNForecaster(torch.nn.Module):
    r"""`STGCN <https://arxiv.org/abs/1709.04875>`_: stacked
    :class:`~torch_geometric_temporal.nn.attention.STConv` blocks (gated
    temporal convolution, Chebyshev graph convolution, gated temporal
    convolution) and the paper's output layer: a gated temporal convolution
    over all remaining steps, then a linear map of its channels to the
    horizon.

    STConv takes the index batch's own layout ``(B, T, N, F)``: no permute,
    no copy. The temporal kernel is 3 (the paper's :math:`K_t`), or the
    largest one that leaves a step when ``T_in`` is short (``T_in = 4``, one
    block: 2).

    Args:
        num_nodes (int): :math:`N` (STConv's batch normalization over nodes).
        in_channels (int): input features :math:`F`.
        num_timesteps_in (int): :math:`T_{in}`.
        num_timesteps_out (int): horizon :math:`T_{out}`.
        hidden_channels (int): temporal channels of each block (paper: 64);
            the graph convolution has ``max(1, hidden_channels // 4)``
            (paper: 16). (default: ``64``)
        blocks (int): ST-Conv blocks. (default: ``2``, the paper's)
        K (int): Chebyshev filter size :math:`K_s`. (default: ``3``)

    Shapes:
        - **input:** ``X`` :math:`(B, T_{in}, N, F)`, ``edge_index``
          :math:`(2, E)`, optional ``edge_weight`` :math:`(E,)`
        - **output:** :math:`(B, T_{out}, N, 1)`
    """

    def __init__(self, num_nodes: int, in_channels: int, num_timesteps_in: int, num_timesteps_out: int,
                 hidden_channels: int = 64, blocks: int = 2, K: int = 3):
        super().__init__()
        from torch_geometric_temporal.nn.attention.stgcn import STConv, TemporalConv

        if blocks < 1:
            raise ValueError(f"--model stgcn needs --layers >= 1 ST-Conv blocks, got {blocks}.")
        k = _stgcn_kernel(num_timesteps_in, blocks)
        spatial = max(1, hidden_channels // 4)
        self.num_nodes, self.in_channels = num_nodes, in_channels
        self.num_timesteps_in, self.num_timesteps_out = num_timesteps_in, num_timesteps_out
        self.blocks = torch.nn.ModuleList(
            STConv(num_nodes, in_channels if i == 0 else hidden_channels, spatial, hidden_channels, k, K)
            for i in range(blocks))
        remaining = num_timesteps_in - 2 * blocks * (k - 1)
        self.output = TemporalConv(hidden_channels, hidden_channels, kernel_size=remaining)
        self.head = torch.nn.Linear(hidden_channels, num_timesteps_out)

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T_in, N, F) -> (B, T_out, N, 1)``."""
        _check_input("STGCN", X, self.num_timesteps_in, self.num_nodes, self.in_channels)
        H = X
        for block in self.blocks:
            H = block(H, edge_index, edge_weight)
        H = self.output(H)  # (B, 1, N, C)
        return _horizon(H[:, 0], self.head, self.num_timesteps_out)


class _ChebBlocksForecaster(torch.nn.Module):
    r"""ASTGCN and MSTGCN: upstream's ``(B, N, F, T)`` input, a permuted view
    of the index batch, and ``(B, N, T_out)`` output."""

    name = ""

    def __init__(self, model: torch.nn.Module, num_nodes: int, in_channels: int, num_timesteps_in: int):
        super().__init__()
        self.model = model
        self.num_nodes, self.in_channels, self.num_timesteps_in = num_nodes, in_channels, num_timesteps_in

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T_in, N, F) -> (B, T_out, N, 1)``; ``edge_weight`` is not
        used (upstream's ``forward`` takes none)."""
        _check_input(self.name, X, self.num_timesteps_in, self.num_nodes, self.in_channels)
        out = self.model(X.permute(0, 2, 3, 1), edge_index)  # (B, N, F, T) view -> (B, N, T_out)
        return out.permute(0, 2, 1).unsqueeze(-1)


class ASTGCNForecaster(_ChebBlocksForecaster):
    r"""`ASTGCN <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_
    (the recent component): :class:`~torch_geometric_temporal.nn.attention.ASTGCN`
    on the unweighted graph (upstream's ``forward`` takes no edge weights),
    time stride 1, symmetric Laplacian normalization (upstream's default
    ``None`` computes :math:`\lambda_{max}` by an eigensolver in every
    forward; ``"sym"`` bounds it by 2).

    Builds an :math:`N \times N` spatial attention ``(B, N, N)`` per block
    (memory in ``docs/benchmarks.md``). Layout: ``X.permute(0, 2, 3, 1)``,
    a view; ASTGCN's temporal attention reshapes it (one copy per block,
    inside the model).

    Args:
        num_nodes (int): :math:`N`.
        in_channels (int): :math:`F`.
        num_timesteps_in (int): :math:`T_{in}` (``len_input``).
        num_timesteps_out (int): :math:`T_{out}` (``num_for_predict``).
        hidden_channels (int): Chebyshev and time filters. (default: ``64``)
        blocks (int): ASTGCN blocks. (default: ``2``)
        K (int): Chebyshev filter size. (default: ``3``)

    Shapes:
        - **input:** ``X`` :math:`(B, T_{in}, N, F)`, ``edge_index`` :math:`(2, E)`
        - **output:** :math:`(B, T_{out}, N, 1)`
    """

    name = "ASTGCN"

    def __init__(self, num_nodes: int, in_channels: int, num_timesteps_in: int, num_timesteps_out: int,
                 hidden_channels: int = 64, blocks: int = 2, K: int = 3):
        from torch_geometric_temporal.nn.attention.astgcn import ASTGCN

        if blocks < 1:
            raise ValueError(f"--model astgcn needs --layers >= 1 blocks, got {blocks}.")
        super().__init__(ASTGCN(blocks, in_channels, K, hidden_channels, hidden_channels, 1, num_timesteps_out,
                                num_timesteps_in, num_nodes, normalization="sym"),
                         num_nodes, in_channels, num_timesteps_in)


class MSTGCNForecaster(_ChebBlocksForecaster):
    r"""`MSTGCN <https://ojs.aaai.org/index.php/AAAI/article/view/3881>`_
    (ASTGCN without attention, the recent component):
    :class:`~torch_geometric_temporal.nn.attention.MSTGCN` on the unweighted
    graph, time stride 1. No :math:`N \times N` matrix. Layout:
    ``X.permute(0, 2, 3, 1)``, a view (MSTGCN's blocks reshape it: a copy
    inside the model).

    Args:
        num_nodes, in_channels, num_timesteps_in, num_timesteps_out,
        hidden_channels, blocks, K: as :class:`ASTGCNForecaster`.

    Shapes:
        - **input:** ``X`` :math:`(B, T_{in}, N, F)`, ``edge_index`` :math:`(2, E)`
        - **output:** :math:`(B, T_{out}, N, 1)`
    """

    name = "MSTGCN"

    def __init__(self, num_nodes: int, in_channels: int, num_timesteps_in: int, num_timesteps_out: int,
                 hidden_channels: int = 64, blocks: int = 2, K: int = 3):
        from torch_geometric_temporal.nn.attention.mstgcn import MSTGCN

        if blocks < 1:
            raise ValueError(f"--model mstgcn needs --layers >= 1 blocks, got {blocks}.")
        super().__init__(MSTGCN(blocks, in_channels, K, hidden_channels, hidden_channels, 1, num_timesteps_out,
                                num_timesteps_in),
                         num_nodes, in_channels, num_timesteps_in)


class GMANForecaster(torch.nn.Module):
    r"""`GMAN <https://arxiv.org/abs/1911.08415>`_:
    :class:`~torch_geometric_temporal.nn.attention.GMAN` on the target
    channel ``X[..., channel]`` (a view, ``(B, T_in, N)``), with its
    spatio-temporal embedding built here:

    * **SE**: a learnable ``(N, D)`` embedding, trained with the model. A
      documented deviation: the paper pre-trains node2vec on the graph; the
      graph is not used otherwise (GMAN attends over all node pairs).
    * **TE** ``(B, T_in + T_out, 2)``: day of week 0 (not in the data) and
      the time-of-day slot. With ``time_of_day_feature`` (METR-LA, PeMS:
      feature 1, the fraction of the day, standardized by the loader's
      scaler and mapped back with ``time_of_day_stats``), the input steps'
      slots of ``steps_per_day`` and the following ``T_out`` slots;
      without one, the window position ``0 .. T_in + T_out - 1`` (and
      ``steps_per_day = T_in + T_out``).

    Builds :math:`N \times N` spatial attention ``(B K, T, N, N)`` in every
    ST-Attention block (memory in ``docs/benchmarks.md``).

    Args:
        num_nodes (int): :math:`N`.
        num_timesteps_in (int): :math:`T_{in}` (``num_his``).
        num_timesteps_out (int): :math:`T_{out}`.
        num_features (int): :math:`F` of ``X``.
        hidden_channels (int): :math:`D = K d`. (default: ``64``)
        heads (int): GMAN's :math:`K`, dividing ``hidden_channels``.
            (default: ``8``)
        blocks (int): GMAN's :math:`L`, ST-Attention blocks in the encoder
            and in the decoder. (default: ``2``)
        channel (int): the input feature forecast. (default: ``0``)
        time_of_day_feature (int, optional): the time-of-day feature.
        time_of_day_stats (tuple, optional): ``(mean, std)`` the loader
            standardized that feature with (scalars or ``(N,)``; default
            ``(0, 1)``).
        steps_per_day (int): time-of-day slots. (default: ``288``)
        bn_decay (float): batch normalization momentum. (default: ``0.1``)

    Shapes:
        - **input:** ``X`` :math:`(B, T_{in}, N, F)` (the graph is unused)
        - **output:** :math:`(B, T_{out}, N, 1)`
    """

    def __init__(self, num_nodes: int, num_timesteps_in: int, num_timesteps_out: int, num_features: int = 1,
                 hidden_channels: int = 64, heads: int = 8, blocks: int = 2, channel: int = 0,
                 time_of_day_feature: Optional[int] = None, time_of_day_stats: Optional[Tuple[Any, Any]] = None,
                 steps_per_day: int = STEPS_PER_DAY, bn_decay: float = 0.1):
        super().__init__()
        from torch_geometric_temporal.nn.attention.gman import GMAN

        if heads < 1 or hidden_channels % heads:
            raise ValueError(f"--model gman: -K (attention heads, {heads}) must divide --hidden "
                             f"({hidden_channels}); pass e.g. -K {math.gcd(8, hidden_channels)}.")
        if blocks < 1:
            raise ValueError(f"--model gman needs --layers >= 1 ST-Attention blocks, got {blocks}.")
        for name, f in (("channel", channel), ("time_of_day_feature", time_of_day_feature)):
            if f is not None and not 0 <= f < num_features:
                raise ValueError(f"GMAN {name} {f} is out of range for {num_features} features.")
        self.num_nodes, self.num_features, self.channel = num_nodes, num_features, channel
        self.num_timesteps_in, self.num_timesteps_out = num_timesteps_in, num_timesteps_out
        self.time_of_day_feature = time_of_day_feature
        self.steps_per_day = steps_per_day if time_of_day_feature is not None else \
            num_timesteps_in + num_timesteps_out
        mean, std = (0.0, 1.0) if time_of_day_stats is None else time_of_day_stats
        self.register_buffer("tod_mean", torch.as_tensor(mean, dtype=torch.float32).reshape(-1)[:1].clone(),
                             persistent=False)
        self.register_buffer("tod_std", torch.as_tensor(std, dtype=torch.float32).reshape(-1)[:1].clone(),
                             persistent=False)
        self.SE = torch.nn.Parameter(torch.empty(num_nodes, hidden_channels))
        self.gman = GMAN(blocks, heads, hidden_channels // heads, num_timesteps_in, bn_decay, self.steps_per_day,
                         True, False)
        self._checked = False
        torch.nn.init.xavier_uniform_(self.SE)

    def temporal_embedding(self, X: Tensor) -> Tensor:
        r"""GMAN's ``TE (B, T_in + T_out, 2)``: (day of week 0, time-of-day slot)."""
        B, T_in = X.shape[:2]
        steps = torch.arange(T_in + self.num_timesteps_out, device=X.device)
        if self.time_of_day_feature is None:
            slots = steps.expand(B, -1)
        else:
            tod = X[:, :, 0, self.time_of_day_feature] * self.tod_std + self.tod_mean  # (B, T_in) fraction
            if not self._checked:
                if bool(((tod < -0.01) | (tod > 1.01)).any()):
                    raise ValueError(f"GMAN: feature {self.time_of_day_feature} is not a time of day in [0, 1) "
                                     f"(values {float(tod.min()):.3g}..{float(tod.max()):.3g}); pass the "
                                     "loader's scaler statistics or time_of_day_feature=None.")
                self._checked = True
            his = torch.round(tod * self.steps_per_day).long()
            future = his[:, -1:] + steps[T_in:] - (T_in - 1)
            slots = torch.cat([his, future], dim=1) % self.steps_per_day
        return torch.stack([torch.zeros_like(slots), slots], dim=-1).float()

    def forward(self, X: Tensor, edge_index: Optional[Tensor] = None, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T_in, N, F) -> (B, T_out, N, 1)`` (the graph is not used)."""
        _check_input("GMAN", X, self.num_timesteps_in, self.num_nodes, self.num_features)
        out = self.gman(X[..., self.channel], self.SE, self.temporal_embedding(X))  # (B, T_out, N)
        return out.unsqueeze(-1)


def dense_adjacency(edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int) -> Tensor:
    r"""``A (N, N)`` with ``A[target, source]`` the (summed) edge weight, so
    that ``A @ x`` aggregates at each node what it receives (MixProp's
    convention)."""
    w = edge_index.new_ones(edge_index.size(1), dtype=torch.float32) if edge_weight is None else edge_weight
    A = torch.zeros(num_nodes, num_nodes, dtype=w.dtype, device=w.device)
    return A.index_put_((edge_index[1], edge_index[0]), w, accumulate=True)


class MTGNNForecaster(torch.nn.Module):
    r"""`MTGNN <https://arxiv.org/abs/2005.11650>`_:
    :class:`~torch_geometric_temporal.nn.attention.MTGNN` with the paper's
    traffic settings (kernels 2, 3, 6, 7; dropout 0.3; top-20 neighbours;
    40-dimensional node embeddings; ``propalpha`` 0.05, ``tanhalpha`` 3) on
    every input feature. ``learn_graph=True`` (default, the paper's setting)
    learns the graph and upstream then ignores any predefined adjacency, so
    the run's graph is unused; ``learn_graph=False`` uses the run's graph as
    MTGNN's predefined adjacency (dense ``(N, N)``, built per forward).

    Upstream builds every layer's ``_residual_conv`` but uses it only
    without graph convolution; here they stay in the ``state_dict`` (as
    upstream's) and are frozen, so DDP finds no parameter without a gradient.

    Builds the :math:`N \times N` learned adjacency (independent of ``B``;
    memory in ``docs/benchmarks.md``). Layout: ``X.permute(0, 3, 2, 1)``, a
    view; MTGNN's output ``(B, T_out, N, 1)`` is the harness layout itself.

    Args:
        num_nodes (int): :math:`N`.
        in_channels (int): :math:`F` (``in_dim``).
        num_timesteps_in (int): :math:`T_{in}` (``seq_length``).
        num_timesteps_out (int): :math:`T_{out}` (``out_dim``).
        hidden_channels (int): convolution and residual channels; skip
            channels twice, end channels four times that. (default: ``32``)
        layers (int): MTGNN layers. (default: ``2``; the paper: 3)
        gcn_depth (int): mix-hop propagation depth. (default: ``2``)
        learn_graph (bool): learn the adjacency. (default: ``True``)

    Shapes:
        - **input:** ``X`` :math:`(B, T_{in}, N, F)`, ``edge_index``
          :math:`(2, E)`, optional ``edge_weight`` :math:`(E,)` (used only
          with ``learn_graph=False``)
        - **output:** :math:`(B, T_{out}, N, 1)`
    """

    def __init__(self, num_nodes: int, in_channels: int, num_timesteps_in: int, num_timesteps_out: int,
                 hidden_channels: int = 32, layers: int = 2, gcn_depth: int = 2, learn_graph: bool = True):
        super().__init__()
        from torch_geometric_temporal.nn.attention.mtgnn import MTGNN

        if layers < 1 or gcn_depth < 1:
            raise ValueError(f"--model mtgnn needs --layers >= 1 and -K (mix-hop depth) >= 1, got {layers} "
                             f"and {gcn_depth}.")
        self.num_nodes, self.in_channels, self.num_timesteps_in = num_nodes, in_channels, num_timesteps_in
        self.learn_graph = learn_graph
        self.model = MTGNN(gcn_true=True, build_adj=learn_graph, gcn_depth=gcn_depth, num_nodes=num_nodes,
                           kernel_set=[2, 3, 6, 7], kernel_size=7, dropout=0.3,
                           subgraph_size=min(20, num_nodes), node_dim=40, dilation_exponential=1,
                           conv_channels=hidden_channels, residual_channels=hidden_channels,
                           skip_channels=2 * hidden_channels, end_channels=4 * hidden_channels,
                           seq_length=num_timesteps_in, in_dim=in_channels, out_dim=num_timesteps_out,
                           layers=layers, propalpha=0.05, tanhalpha=3.0, layer_norm_affline=True)
        for layer in self.model._mtgnn_layers:  # used only without graph convolution (gcn_true=False)
            layer._residual_conv.requires_grad_(False)

    def forward(self, X: Tensor, edge_index: Optional[Tensor] = None, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T_in, N, F) -> (B, T_out, N, 1)``."""
        _check_input("MTGNN", X, self.num_timesteps_in, self.num_nodes, self.in_channels)
        A = None
        if not self.learn_graph:
            if edge_index is None:
                raise ValueError("MTGNN with learn_graph=False needs the run's edge_index.")
            A = dense_adjacency(edge_index, edge_weight, self.num_nodes)
        return self.model(X.permute(0, 3, 2, 1), A)


def build_attention_model(name: str, num_features: int, num_timesteps_in: int, num_timesteps_out: int,
                          num_nodes: Optional[int], hidden_channels: Optional[int] = None, num_layers: int = 2,
                          K: Optional[int] = None, scaler: Any = None) -> torch.nn.Module:
    r"""The forecaster of ``--model name`` (one of
    :data:`~torch_geometric_temporal.train.models.ATTENTION_MODELS`), with the
    module docstring's defaults.

    Args:
        name (str): ``stgcn``, ``astgcn``, ``mstgcn``, ``gman`` or ``mtgnn``.
        num_features (int): :math:`F`.
        num_timesteps_in (int): :math:`T_{in}`.
        num_timesteps_out (int): :math:`T_{out}`.
        num_nodes (int): :math:`N` (every one of these models needs it).
        hidden_channels, num_layers, K: ``--hidden``, ``--layers``, ``-K``.
        scaler (Scaler, optional): the loader's scaler, which the harness
            always passes; GMAN then takes feature 1 as the time of day when
            :math:`F \ge 2` (the layout of every two-feature dataset of the
            scripts: METR-LA, PeMS-BAY, PeMS, PeMS-All-LA) and reads it back
            to a fraction of the day with the scaler (it refuses values
            outside ``[0, 1)``); without a scaler, the window position.
    """
    if num_nodes is None:
        raise ValueError(f"--model {name} needs num_nodes (N).")
    default_hidden, default_K = ATTENTION_MODELS[name]
    hidden = default_hidden if hidden_channels is None else hidden_channels
    if name == "gman":
        heads = math.gcd(default_K, hidden) if K is None else K
        tod, stats = (1, None) if num_features >= 2 and scaler is not None else (None, None)
        if tod is not None and not getattr(scaler, "identity", False):
            stats = (scaler.mean[..., tod], scaler.std[..., tod])
        return GMANForecaster(num_nodes, num_timesteps_in, num_timesteps_out, num_features, hidden, heads,
                              num_layers, time_of_day_feature=tod, time_of_day_stats=stats)
    K = default_K if K is None else K
    cls: Dict[str, Any] = {"stgcn": STGCNForecaster, "astgcn": ASTGCNForecaster, "mstgcn": MSTGCNForecaster}
    if name == "mtgnn":
        return MTGNNForecaster(num_nodes, num_features, num_timesteps_in, num_timesteps_out, hidden, num_layers, K)
    return cls[name](num_nodes, num_features, num_timesteps_in, num_timesteps_out, hidden, num_layers, K)
