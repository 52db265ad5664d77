r"""Model configurations used by the training scripts (``--model``).

Every model maps an index batch ``X (B, T_in, N, F)`` on one shared graph to
``(B, T_out, N, C)`` (the trainer reads the target channel, see
:mod:`torch_geometric_temporal.train.step`).

* ``"batched"`` (default): PGT-I's per-step configuration, ``BatchedDCRNN(F,
  F, K=3)`` applied to the ``(B, T, N, F)`` input; the hidden state after
  input step :math:`t` is the forecast for target step :math:`t` (each output
  is a :math:`T_{in}`-step-ahead forecast), read on the target channel. With
  ``hidden_channels`` set, the recurrent layer has that many units and a
  :class:`~torch.nn.Linear` head maps them to the target.
* ``"seq2seq"``: the encoder-decoder :class:`DCRNNSeq2Seq` of
  `DCRNN <https://arxiv.org/abs/1707.01926>`_ (64 units, 2 layers, K=3 by
  default: the reference ``max_diffusion_step`` 2, as ``K`` here counts the
  terms per direction, ``max_diffusion_step = K - 1``) forecasting the
  target channel ``T_out`` steps ahead.
* ``"a3tgcn"``: PGT-I's METR-LA configuration: one
  :class:`~torch_geometric_temporal.nn.recurrent.A3TGCN2` (32 channels by
  default, ``periods`` = :math:`T_{in}`) then ReLU and
  ``Linear(hidden, T_out)`` (:class:`A3TGCNForecaster`). Two differences
  from PGT-I's run: PGT-I called it without edge weights, here it gets the
  run's weighted graph as every model does; and this package's ``A3TGCN2``
  carries the hidden state over the periods (the paper) where upstream's
  fed the initial state to every period (``model.tgnn.carry_state = False``
  reproduces upstream). ``layers`` and ``K`` do not apply.
* The recurrent cells of :data:`RECURRENT_CELLS` (``"dcrnn"``,
  ``"gconv_gru"``, ``"gconv_lstm"``, ``"gc_lstm"``, ``"tgcn"``,
  ``"agcrn"``, ``"lrgcn"``, ``"dygrae"``): ``layers`` stacked cells of ``hidden_channels`` units (32 by
  default), each run over the whole input sequence by
  :class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`
  (one propagation per step for the whole batch), and a linear read-out of
  the last hidden state to the horizon (:class:`RecurrentForecaster`), as
  upstream's examples read out A3TGCN/TGCN. ``K`` is the Chebyshev filter
  size (``gconv_gru``, ``gconv_lstm``, ``gc_lstm``, ``agcrn``: default 2)
  or the diffusion steps (``dcrnn``: default 3, as PGT-I); ``tgcn``,
  ``lrgcn`` and ``dygrae`` have no ``K``. ``agcrn`` learns its graph from
  node embeddings of :data:`AGCRN_EMBEDDING_DIMENSIONS` dimensions (the
  run's graph is not used) and needs ``num_nodes``. ``lrgcn`` sees the
  graph as one relation without edge weights (R-GCN has relations, not
  weights); ``dygrae`` is DyGrEncoder (gated graph convolution with
  ``max(F, hidden)`` channels, then an LSTM).
* The attention and spatio-temporal convolution models of
  :data:`ATTENTION_MODELS` (``"stgcn"``, ``"astgcn"``, ``"mstgcn"``,
  ``"gman"``, ``"mtgnn"``): forecasters in
  :mod:`torch_geometric_temporal.train.attention_models`, which says what
  ``hidden_channels``, ``layers`` and ``K`` mean for each.

Activation recomputation (``recompute=True``, ``--recompute``): the models of
:data:`RECOMPUTE_MODELS` keep only each step's hidden state per layer for
backward and recompute the rest
(:func:`torch_geometric_temporal.nn.recurrent.recompute.set_recompute`);
losses and gradients are unchanged.
"""
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor

from torch_geometric_temporal.nn.recurrent import BatchedDCRNN, DCRNNSeq2Seq

__all__ = ["PerStepDCRNN", "RecurrentForecaster", "A3TGCNForecaster", "build_model", "MODEL_NAMES",
           "RECURRENT_CELLS", "ATTENTION_MODELS", "AGCRN_EMBEDDING_DIMENSIONS",
           "RECOMPUTE_MODELS", "SEQ2SEQ_K"]

#: ``--model`` names of stacked per-step cells with a linear read-out, and
#: each one's default ``K`` (``None``: the cell has no ``K``).
RECURRENT_CELLS: Dict[str, Optional[int]] = {
    "dcrnn": 3, "gconv_gru": 2, "gconv_lstm": 2, "gc_lstm": 2, "tgcn": None, "agcrn": 2, "lrgcn": None,
    "dygrae": None,
}

#: ``--model`` names of the attention / spatio-temporal convolution models
#: (:mod:`torch_geometric_temporal.train.attention_models`) and each one's
#: default ``(hidden, K)`` (see that module for what the flags mean there).
ATTENTION_MODELS: Dict[str, tuple] = {
    "stgcn": (64, 3), "astgcn": (64, 3), "mstgcn": (64, 3), "gman": (64, 8), "mtgnn": (32, 2),
}

MODEL_NAMES = ("batched", "seq2seq", "a3tgcn", *RECURRENT_CELLS, *ATTENTION_MODELS)

#: ``--model`` names whose recurrent layers can recompute their activations.
RECOMPUTE_MODELS = ("batched", "seq2seq", *RECURRENT_CELLS)

#: Default ``K`` of ``seq2seq``: DCRNN's ``max_diffusion_step`` 2.
SEQ2SEQ_K = 3

#: Node embedding size of ``agcrn`` (the AGCRN paper's value on PeMSD4).
AGCRN_EMBEDDING_DIMENSIONS = 10

_DEFAULT_HIDDEN = 32  # PGT-I's A3TGCN2 channels; also the other cells' default


class PerStepDCRNN(torch.nn.Module):
    r"""``BatchedDCRNN`` with a linear read-out per time step.

    Args:
        in_channels (int): input features :math:`F`.
        hidden_channels (int): recurrent units.
        out_channels (int): output features. (default: ``1``)
        K (int): diffusion steps. (default: ``3``, as PGT-I)
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int = 1, K: int = 3):
        super().__init__()
        self.recurrent = BatchedDCRNN(in_channels, hidden_channels, K=K)
        self.head = torch.nn.Linear(hidden_channels, out_channels)

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T, N, F) -> (B, T, N, out_channels)``."""
        return self.head(torch.relu(self.recurrent(X, edge_index, edge_weight)))


def _horizon(h: Tensor, head: torch.nn.Linear, num_timesteps_out: int) -> Tensor:
    r"""``relu(h) (B, N, C) -> head -> (B, T_out, N, out)``."""
    out = head(torch.relu(h))
    B, N = out.shape[:2]
    return out.view(B, N, num_timesteps_out, -1).permute(0, 2, 1, 3)


class RecurrentForecaster(torch.nn.Module):
    r"""Stacked sequence-level recurrent layers and a linear read-out of the
    last hidden state to the whole horizon (single-shot forecast, as
    upstream's A3TGCN/TGCN examples).

    .. math::
        \hat{\mathbf{Y}} = \mathbf{W}\,\mathrm{ReLU}(\mathbf{H}^{(L)}_{T_{in}})
        + \mathbf{b}, \quad \mathbf{W} \in
        \mathbb{R}^{T_{out} C_{out} \times C}

    Args:
        layers (list of torch.nn.Module): each maps ``(B, T, N, F_l)`` (and
            the graph) to every hidden state ``(B, T, N, C_l)``, e.g.
            :class:`~torch_geometric_temporal.nn.recurrent.batched.BatchedRecurrent`;
            the next layer reads the previous one's sequence.
        hidden_channels (int): :math:`C`, the last layer's units.
        num_timesteps_out (int): forecast horizon :math:`T_{out}`.
        out_channels (int): forecast features :math:`C_{out}`. (default: ``1``)
        edge_weighted (bool): pass ``edge_weight`` to the layers; ``False``
            runs them on the unweighted graph (LRGCN, which takes relations,
            not weights). (default: ``True``)

    Shapes:
        - **input:** ``X`` :math:`(B, T_{in}, N, F)`, ``edge_index``
          :math:`(2, E)`, optional ``edge_weight`` :math:`(E,)`
        - **output:** :math:`(B, T_{out}, N, C_{out})`
    """

    def __init__(self, layers: List[torch.nn.Module], hidden_channels: int, num_timesteps_out: int,
                 out_channels: int = 1, edge_weighted: bool = True):
        super().__init__()
        if not layers:
            raise ValueError("RecurrentForecaster needs at least one recurrent layer; pass layers >= 1.")
        self.layers = torch.nn.ModuleList(layers)
        self.num_timesteps_out = num_timesteps_out
        self.edge_weighted = edge_weighted
        self.head = torch.nn.Linear(hidden_channels, num_timesteps_out * out_channels)

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T_in, N, F) -> (B, T_out, N, out_channels)``."""
        if not self.edge_weighted:
            edge_weight = None
        H = X
        for layer in self.layers:
            H = layer(H, edge_index, edge_weight)
        return _horizon(H[:, -1], self.head, self.num_timesteps_out)


class A3TGCNForecaster(torch.nn.Module):
    r"""PGT-I's METR-LA model: :class:`~torch_geometric_temporal.nn.recurrent.A3TGCN2`
    over the :math:`T_{in}` input steps (`A3T-GCN
    <https://arxiv.org/abs/2006.11583>`_), ReLU, and a linear map of the
    attention-pooled state to the horizon, on the harness's ``(B, T, N, F)``
    layout (permuted to A3TGCN2's ``(B, N, F, T)``).

    Args:
        in_channels (int): input features :math:`F`.
        hidden_channels (int): A3TGCN2 channels (PGT-I: ``32``).
        num_timesteps_in (int): :math:`T_{in}` (A3TGCN2's ``periods``).
        num_timesteps_out (int): forecast horizon :math:`T_{out}`.
        batch_size (int): A3TGCN2's ``batch_size`` (kept by upstream's API;
            the batch size is read from ``X``). (default: ``1``)
        out_channels (int): forecast features. (default: ``1``)

    Shapes:
        - **input:** ``X`` :math:`(B, T_{in}, N, F)`, ``edge_index``
          :math:`(2, E)`, optional ``edge_weight`` :math:`(E,)`
        - **output:** :math:`(B, T_{out}, N, \text{out\_channels})`
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_timesteps_in: int, num_timesteps_out: int,
                 batch_size: int = 1, out_channels: int = 1):
        super().__init__()
        from torch_geometric_temporal.nn.recurrent.attentiontemporalgcn import A3TGCN2

        self.tgnn = A3TGCN2(in_channels, hidden_channels, periods=num_timesteps_in, batch_size=batch_size)
        self.num_timesteps_out = num_timesteps_out
        self.linear = torch.nn.Linear(hidden_channels, num_timesteps_out * out_channels)

    def forward(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        r"""``X (B, T_in, N, F) -> (B, T_out, N, out_channels)``."""
        if X.dim() != 4:
            raise ValueError(f"A3TGCNForecaster expects X of shape (B, T_in, N, F), got {tuple(X.shape)}.")
        h = self.tgnn(X.permute(0, 2, 3, 1), edge_index, edge_weight)  # (B, N, F, T) -> (B, N, C)
        return _horizon(h, self.linear, self.num_timesteps_out)


def _cell_kwargs(name: str, K: Optional[int], num_nodes: Optional[int]) -> Dict[str, Any]:
    default_K = RECURRENT_CELLS[name]
    if default_K is None:
        if K is not None:
            raise ValueError(f"--model {name} has no K (filter size / diffusion steps); drop -K.")
        kwargs: Dict[str, Any] = {}
    else:
        kwargs = {"K": default_K if K is None else K}
    if name == "agcrn":
        if num_nodes is None:
            raise ValueError("--model agcrn learns one embedding per node: pass num_nodes.")
        kwargs.update(number_of_nodes=num_nodes, embedding_dimensions=AGCRN_EMBEDDING_DIMENSIONS)
    return kwargs


def build_model(name: str, num_features: int, num_timesteps_out: int, *, hidden_channels: Optional[int] = None,
                num_layers: int = 2, K: Optional[int] = None, use_curriculum_learning: bool = False,
                cl_decay_steps: int = 2000, num_timesteps_in: Optional[int] = None,
                num_nodes: Optional[int] = None, batch_size: int = 1, scaler: Any = None,
                recompute: bool = False) -> torch.nn.Module:
    r"""Build a model by name (see the module docstring).

    Args:
        name (str): one of :data:`MODEL_NAMES`.
        num_features (int): input features :math:`F` of ``X``.
        num_timesteps_out (int): forecast horizon (the per-step
            ``batched`` model's horizon equals its input length).
        hidden_channels (int, optional): ``batched``: ``None`` for PGT-I's
            ``BatchedDCRNN(F, F)``, else units of a :class:`PerStepDCRNN`;
            ``seq2seq``: units (default ``64``); the others: units (default
            ``32``).
        num_layers (int): recurrent layers of ``seq2seq`` and of the
            :data:`RECURRENT_CELLS` models. (default: ``2``)
        K (int, optional): diffusion steps or Chebyshev filter size (default
            ``3`` for ``batched`` as PGT-I, :data:`SEQ2SEQ_K` for ``seq2seq``
            (DCRNN's ``max_diffusion_step`` 2),
            :data:`RECURRENT_CELLS` for the cells).
        use_curriculum_learning (bool): ``seq2seq`` scheduled sampling.
        cl_decay_steps (int): curriculum decay constant in batches.
        num_timesteps_in (int, optional): input length :math:`T_{in}`
            (``a3tgcn``'s periods; default: ``num_timesteps_out``).
        num_nodes (int, optional): :math:`N` (``agcrn``'s node embeddings).
        batch_size (int): the run's batch size (``a3tgcn``'s constructor
            argument, unused by the computation). (default: ``1``)
        scaler (Scaler, optional): the loader's scaler (``gman`` maps the
            time-of-day feature back to a fraction of the day with it).
        recompute (bool): recompute the recurrent layers' activations in
            backward (models of :data:`RECOMPUTE_MODELS`; raises for the
            others). (default: ``False``)

    Raises:
        ValueError: an unknown name, ``K`` for a model without one,
            ``agcrn`` without ``num_nodes``, or ``recompute`` for a model
            outside :data:`RECOMPUTE_MODELS`.
    """
    if recompute:
        if name not in RECOMPUTE_MODELS:
            raise ValueError(f"--model {name} cannot recompute its activations (models that can: "
                             f"{', '.join(RECOMPUTE_MODELS)}); drop --recompute.")
        from torch_geometric_temporal.nn.recurrent.recompute import set_recompute

        model = build_model(name, num_features, num_timesteps_out, hidden_channels=hidden_channels,
                            num_layers=num_layers, K=K, use_curriculum_learning=use_curriculum_learning,
                            cl_decay_steps=cl_decay_steps, num_timesteps_in=num_timesteps_in, num_nodes=num_nodes,
                            batch_size=batch_size, scaler=scaler)
        set_recompute(model, True)
        return model
    if name == "batched":
        K = 3 if K is None else K
        if hidden_channels is None:
            return BatchedDCRNN(num_features, num_features, K=K)
        return PerStepDCRNN(num_features, hidden_channels, 1, K=K)
    if name == "seq2seq":
        return DCRNNSeq2Seq(
            num_features, 1, hidden_channels=64 if hidden_channels is None else hidden_channels,
            num_layers=num_layers, K=SEQ2SEQ_K if K is None else K, num_timesteps_out=num_timesteps_out,
            use_curriculum_learning=use_curriculum_learning, cl_decay_steps=cl_decay_steps,
        )
    hidden = _DEFAULT_HIDDEN if hidden_channels is None else hidden_channels
    if name == "a3tgcn":
        if K is not None:
            raise ValueError("--model a3tgcn has no K (filter size / diffusion steps); drop -K.")
        return A3TGCNForecaster(num_features, hidden, num_timesteps_out if num_timesteps_in is None
                                else num_timesteps_in, num_timesteps_out, batch_size=batch_size)
    if name in RECURRENT_CELLS:
        if num_layers < 1:
            raise ValueError(f"--model {name} needs --layers >= 1, got {num_layers}.")
        from torch_geometric_temporal.nn.recurrent.batched import batched_cell

        kwargs = _cell_kwargs(name, K, num_nodes)
        layers = [batched_cell(name, num_features if i == 0 else hidden, hidden, **kwargs)
                  for i in range(num_layers)]
        return RecurrentForecaster(layers, hidden, num_timesteps_out, edge_weighted=name != "lrgcn")
    if name in ATTENTION_MODELS:
        from torch_geometric_temporal.train.attention_models import build_attention_model

        return build_attention_model(name, num_features, num_timesteps_out if num_timesteps_in is None
                                     else num_timesteps_in, num_timesteps_out, num_nodes, hidden_channels,
                                     num_layers, K, scaler=scaler)
    raise ValueError(f"Unknown model {name!r}; choose one of {MODEL_NAMES}.")
