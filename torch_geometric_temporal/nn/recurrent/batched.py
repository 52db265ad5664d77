r"""Any single-graph recurrent cell over an index batch ``(B, T, N, F)`` on one
shared graph, returning every hidden state ``(B, T, N, C)``.

:class:`BatchedRecurrent` wraps a cell (same parameters, same ``state_dict``
under the prefix ``cell.``) and runs it over the ``T`` steps of ``B``
sequences at once; :func:`batched_cell` builds one from a lower-case name.
Its result equals a loop over the batch items and the steps calling the
cell (tests/nn/recurrent/test_batched.py). How each upstream model is
batched:

================  ==========================================================
cell              batching
================  ==========================================================
``GConvGRU``,     node-major: the input filters of many steps and all items
``GConvLSTM``,    are one propagation of ``(N, T B F)`` (the cells'
``GCLSTM``        ``_input_part``), the states are kept as ``(N, B, C)`` and
                  each Chebyshev term of a state is one sparse product over
                  the ``(N, B C)`` view (the cells' ``_step`` on
                  :func:`~torch_geometric_temporal.nn.recurrent._cheb.cheb_basis`);
                  the edge list is never replicated.
``TGCN``,         one propagation for the input gates of all ``T`` steps and
``TGCN2``         ``B`` items (``_TGCNCell._input_parts``, node axis shared);
                  the GRU part needs no graph.
``DCRNN``,        the sequence code of :class:`~torch_geometric_temporal.nn.
``BatchedDCRNN``  recurrent.dcrnn.BatchedDCRNN` (node-major diffusion).
``AGCRN``         already takes ``(B, N, F)``: one call per step on the learned
                  graph of its node embeddings (``edge_index`` is not used).
``LRGCN``,        PyG-style disjoint union: the edge list (and edge types) is
``DyGrEncoder``   replicated with node offsets ``b N`` once per forward and
                  each step runs on ``(B N, F)`` (R-GCN's per-relation
                  message weights and the gated graph convolution's GRU are
                  applied per message or node, so there is no cheaper
                  shared form). ``LRGCN``'s featureless mode (integer
                  node ids instead of ``X``) is not batched: pass features.
================  ==========================================================

Not wrapped, and why:

- ``A3TGCN``, ``A3TGCN2``: sequence models that pool the states of all
  periods into one ``(N, C)`` / ``(B, N, C)`` output with attention, not
  per-step cells; ``A3TGCN2`` already takes a batch ``(B, N, F, T)`` on one
  shared graph (upstream's API, kept), ``TGCN2`` likewise takes ``(B, N, F)``.
- ``MPNNLSTM``: a sequence model over a window stacked in the node axis
  (rows ``window N``, graph replicated per step), already batched PyG-style.
- ``EvolveGCNH``, ``EvolveGCNO``: the recurrent state is the GCN weight
  matrix, held by the module and advanced on every call; in ``EvolveGCNH``
  it is computed from each sequence's node features, so ``B`` sequences on
  one graph are ``B`` different weight evolutions (``B`` models), and a loop
  over batch items would advance one shared weight ``B T`` times: there is
  no per-item state to batch.
- ``HeteroGCLSTM``: dictionaries of node and edge types, not one graph with
  one node type.
- ``DCRNNSeq2Seq``: already a batched encoder-decoder over ``(B, T, N, F)``.
"""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from torch_geometric_temporal.nn.recurrent._cheb import scaled_laplacian
from torch_geometric_temporal.nn.recurrent._checks import (
    check_edge_type,
    check_features,
    check_graph,
    check_state,
)
from torch_geometric_temporal.nn.recurrent.agcrn import AGCRN
from torch_geometric_temporal.nn.recurrent.dcrnn import DCRNN, _DCGRUCell
from torch_geometric_temporal.nn.recurrent.dygrae import DyGrEncoder
from torch_geometric_temporal.nn.recurrent.gc_lstm import GCLSTM
from torch_geometric_temporal.nn.recurrent.gconv_gru import GConvGRU
from torch_geometric_temporal.nn.recurrent.gconv_lstm import GConvLSTM
from torch_geometric_temporal.nn.recurrent.lrgcn import LRGCN
from torch_geometric_temporal.nn.recurrent.recompute import checkpoint_step, recompute_active
from torch_geometric_temporal.nn.recurrent.temporalgcn import TGCN, _TGCNCell

__all__ = ["BatchedRecurrent", "batched_cell", "CELL_NAMES"]

#: Largest Chebyshev basis of the input built for several steps at once
#: (elements); bounds the temporary memory (as ``dcrnn._CHUNK_ELEMENTS``).
_CHUNK_ELEMENTS = 1 << 24

#: Chebyshev cells -> the ``ChebConv`` whose normalization builds the Laplacian.
_CHEB_CONV = {GConvGRU: "conv_x_z", GConvLSTM: "conv_x_i", GCLSTM: "conv_i"}

_NOT_WRAPPED = {
    "A3TGCN": "a sequence model (attention over all periods, one output); use A3TGCN2 with "
              "X.permute(0, 2, 3, 1) for a batch (B, N, F, T)",
    "A3TGCN2": "already batched: call it with X.permute(0, 2, 3, 1) of shape (B, N, F, T)",
    "MPNNLSTM": "a sequence model over a window stacked in the node axis, already batched",
    "EvolveGCNH": "its recurrent state is the module's GCN weight, evolved from each sequence's "
                  "node features (one weight sequence per item): loop over the items",
    "EvolveGCNO": "its recurrent state is the module's GCN weight, advanced on every call, not a "
                  "per-item state: loop over the items",
    "HeteroGCLSTM": "it takes dictionaries of node and edge types, not one shared graph",
    "DCRNNSeq2Seq": "already a batched sequence model over (B, T, N, F)",
}


def _kind(cell: torch.nn.Module) -> str:
    if isinstance(cell, GConvGRU):
        return "cheb_gru"
    if isinstance(cell, (GConvLSTM, GCLSTM)):
        return "cheb_lstm"
    if isinstance(cell, _TGCNCell):
        return "tgcn"
    if isinstance(cell, _DCGRUCell):
        return "dcrnn"
    if isinstance(cell, AGCRN):
        return "agcrn"
    if isinstance(cell, LRGCN):
        return "lrgcn"
    if isinstance(cell, DyGrEncoder):
        return "dygrae"
    name = type(cell).__name__
    why = _NOT_WRAPPED.get(name, "it is not one of this package's per-step recurrent cells")
    raise ValueError(f"BatchedRecurrent cannot wrap {name}: {why}. Wrappable cells: GConvGRU, "
                     "GConvLSTM, GCLSTM, TGCN, TGCN2, DCRNN, BatchedDCRNN, AGCRN, LRGCN, "
                     "DyGrEncoder.")


def _disjoint_union(edge_index: Tensor, B: int, N: int) -> Tensor:
    r"""``edge_index (2, E)`` of one graph replicated for ``B`` copies with
    node offsets ``b N``: ``(2, B E)``, copy ``b`` in columns ``b E .. (b+1) E``."""
    offsets = torch.arange(B, device=edge_index.device, dtype=edge_index.dtype) * N
    return (edge_index.unsqueeze(1) + offsets.view(1, B, 1)).reshape(2, -1)


class BatchedRecurrent(torch.nn.Module):
    r"""Run a single-graph recurrent cell over an index batch: ``B``
    sequences of ``T`` snapshots of node features on one shared graph.

    See the module documentation for the wrappable cells and how each is
    batched. The result equals calling ``cell`` on every batch item and step
    in turn (same parameters); LSTM cells return their hidden states (the
    last cell state with ``return_cell=True``).

    Args:
        cell (torch.nn.Module): A ``GConvGRU``, ``GConvLSTM``, ``GCLSTM``,
            ``TGCN``, ``TGCN2``, ``DCRNN``, ``BatchedDCRNN``, ``AGCRN``,
            ``LRGCN`` or ``DyGrEncoder``; its parameters are this module's
            (``cell.*``).
        node_embeddings (torch.Tensor, optional): For ``AGCRN`` only: the
            node embeddings :math:`(N, d)` used when :meth:`forward` gets no
            ``E``. If omitted, a learnable :math:`(N, d)` parameter
            ``node_embeddings`` (Xavier-uniform) is created, with
            :math:`N` = ``cell.number_of_nodes``.
        recompute (bool, optional): Activation recomputation (keyword only):
            keep only each step's states for backward and recompute the
            step (its input filters included) there, one checkpoint per step
            (training with gradients only; same result, see
            :mod:`~torch_geometric_temporal.nn.recurrent.recompute`). A
            settable attribute (default :obj:`False`).

    Shapes:
        - **input:** ``X`` :math:`(B, T, N, F)`, ``edge_index``
          :math:`(2, E)` of the one graph (ids in :math:`[0, N)`), optional
          ``edge_weight`` :math:`(E,)`, optional initial ``H`` (and ``C`` for
          LSTM cells) :math:`(B, N, C)`
        - **output:** hidden states of every step :math:`(B, T, N, C)`
          (and, with ``return_cell=True``, the last cell state
          :math:`(B, N, C)`)
    """

    def __init__(self, cell: torch.nn.Module, node_embeddings: Optional[Tensor] = None, *,
                 recompute: bool = False):
        super().__init__()
        self.recompute = bool(recompute)
        self.kind = _kind(cell)
        self.cell = cell
        if self.kind == "agcrn" and node_embeddings is None:
            node_embeddings = torch.nn.Parameter(
                torch.empty(cell.number_of_nodes, cell.embedding_dimensions))
            torch.nn.init.xavier_uniform_(node_embeddings)
        elif node_embeddings is not None and self.kind != "agcrn":
            raise ValueError("node_embeddings are only used by AGCRN; drop the argument.")
        self.node_embeddings = node_embeddings

    @property
    def out_channels(self) -> int:
        r"""The hidden state size :math:`C`."""
        if self.kind == "dygrae":
            return self.cell.lstm_out_channels
        return self.cell.out_channels

    @property
    def has_cell_state(self) -> bool:
        r"""Whether the cell is an LSTM (has a cell state ``C``)."""
        return self.kind in ("cheb_lstm", "lrgcn", "dygrae")

    def forward(self, X: Tensor, edge_index: Optional[Tensor] = None,
                edge_weight: Optional[Tensor] = None, H: Optional[Tensor] = None,
                C: Optional[Tensor] = None, *, edge_type: Optional[Tensor] = None,
                lambda_max: Optional[Tensor] = None, E: Optional[Tensor] = None,
                return_cell: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        r"""Run the cell over every step of every sequence.

        Args:
            X (torch.Tensor): Node features :math:`(B, T, N, F)`.
            edge_index (torch.Tensor, optional): Edge indices :math:`(2, E)`
                of the shared graph (not used by ``AGCRN``, required
                otherwise).
            edge_weight (torch.Tensor, optional): Edge weights :math:`(E,)`;
                an unweighted graph if omitted (``LRGCN`` takes none).
            H (torch.Tensor, optional): Initial hidden state
                :math:`(B, N, C)`; zeros if omitted.
            C (torch.Tensor, optional): Initial cell state :math:`(B, N, C)`
                of an LSTM cell; zeros if omitted.
            edge_type (torch.Tensor, optional): ``LRGCN`` only: relation id
                of each edge :math:`(E,)`; all zeros if omitted and the cell
                has one relation.
            lambda_max (torch.Tensor, optional): Chebyshev cells only: the
                largest Laplacian eigenvalue (as the cell's ``forward``).
            E (torch.Tensor, optional): ``AGCRN`` only: node embeddings
                :math:`(N, d)`; ``self.node_embeddings`` if omitted.
            return_cell (bool, optional): LSTM cells only: also return the
                last cell state. (default: :obj:`False`)

        Returns:
            torch.Tensor: The hidden states :math:`(B, T, N, C)`, or a tuple
            with the last cell state :math:`(B, N, C)` if ``return_cell``.
        """
        cell, kind = self.cell, self.kind
        owner = f"BatchedRecurrent({type(cell).__name__})"
        in_channels = getattr(cell, "in_channels", "F")  # DyGrEncoder: any F <= conv_out_channels
        if kind == "dygrae" and isinstance(X, Tensor) and X.dim() == 4:
            in_channels = X.size(-1)
        N = check_features(owner, X, in_channels, layout=("B", "T", "N"))
        B, T = X.shape[:2]
        if T == 0:
            raise ValueError(f"{owner} got X with T = 0 steps (shape {tuple(X.shape)}); pass at "
                             "least one snapshot per sequence.")
        if kind != "agcrn":
            if edge_index is None:
                raise ValueError(f"{owner} needs edge_index (2, E) of the shared graph.")
            if kind == "lrgcn" and edge_weight is not None:
                raise ValueError("LRGCN takes no edge weights (relations are edge_type); pass "
                                 "edge_weight=None.")
            check_graph(edge_index, edge_weight, N, X.device)
        if kind == "dygrae" and cell.lstm_num_layers > 1 and (H is not None or C is not None):
            raise ValueError(f"{owner} with lstm_num_layers = {cell.lstm_num_layers} starts from "
                             "zero states; pass H=None and C=None (or loop over the cell).")
        if self.has_cell_state:
            H = check_state("H", H, X, (B, N, self.out_channels))
            C = check_state("C", C, X, (B, N, self.out_channels))
        else:
            if C is not None or return_cell:
                raise ValueError(f"{type(cell).__name__} is a GRU cell without a cell state; "
                                 "drop C / return_cell.")
            if H is not None:
                H = check_state("H", H, X, (B, N, self.out_channels))
        if lambda_max is not None and kind not in ("cheb_gru", "cheb_lstm"):
            raise ValueError(f"lambda_max is only used by the Chebyshev cells, not by "
                             f"{type(cell).__name__}; drop it.")
        if edge_type is not None and kind != "lrgcn":
            raise ValueError(f"edge_type is only used by LRGCN, not by {type(cell).__name__}.")
        if E is not None and kind != "agcrn":
            raise ValueError(f"E (node embeddings) is only used by AGCRN, not by "
                             f"{type(cell).__name__}.")

        recompute = recompute_active(self)
        if kind in ("cheb_gru", "cheb_lstm"):
            out, C = self._chebyshev(X, edge_index, edge_weight, H, C, lambda_max, recompute)
        elif kind == "tgcn":
            out = self._tgcn(X, edge_index, edge_weight, H, recompute)
        elif kind == "dcrnn":
            out = cell._run_batched(X, edge_index, edge_weight, H, recompute)
        elif kind == "agcrn":
            E = self.node_embeddings if E is None else E
            h, outputs = H, []
            for t in range(T):
                h = checkpoint_step(cell, X[:, t], E, h, enabled=recompute)
                outputs.append(h)
            out = torch.stack(outputs, 1)
        else:
            out, C = self._disjoint(X, edge_index, edge_weight, H, C, edge_type, recompute)
        return (out, C) if return_cell else out

    def _chebyshev(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
                   H: Optional[Tensor], C: Optional[Tensor],
                   lambda_max: Optional[Tensor],
                   recompute: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        r"""Chebyshev cells, node-major: the input filters of several steps at
        once (``(N, L, B, F)``, at most ``_CHUNK_ELEMENTS`` basis elements),
        then per step the state's, one propagation of the ``(N, B C)`` view per
        Chebyshev term; states ``(N, B, C)``. With ``recompute`` each step
        (input filters included) is one checkpoint."""
        cell = self.cell
        B, T, N, F = X.shape
        conv = getattr(cell, next(v for k, v in _CHEB_CONV.items() if isinstance(cell, k)))
        laplacian = scaled_laplacian(conv, edge_index, edge_weight, N, lambda_max, X.dtype)
        xs = X.permute(2, 1, 0, 3)  # (N, T, B, F)
        chunk = max(1, min(T, _CHUNK_ELEMENTS // max(N * B * F * cell.K, 1)))
        h = X.new_zeros(N, B, cell.out_channels) if H is None else H.transpose(0, 1)
        c = None if C is None else C.transpose(0, 1)
        outputs = []
        if recompute:
            for x in xs.unbind(1):
                h, c = checkpoint_step(self._cheb_step, x, h, c, laplacian)
                outputs.append(h)
        else:
            for t0 in range(0, T, chunk):
                parts = cell._input_part(xs[:, t0:t0 + chunk], laplacian)  # (N, L, B, gates out)
                for part in parts.unbind(1):  # not parts[:, t]: one gradient of parts
                    if c is None:
                        h = cell._step(part, h, laplacian)
                    else:
                        h, c = cell._step(part, h, c, laplacian)
                    outputs.append(h)
        out = torch.stack(outputs, 0).permute(2, 0, 1, 3)  # (B, T, N, C)
        return out, (None if c is None else c.transpose(0, 1))

    def _cheb_step(self, x: Tensor, h: Tensor, c: Optional[Tensor],
                   laplacian: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        r"""One step of a Chebyshev cell from the step's input ``x (N, B, F)``
        (the unit that recomputation replays); ``c`` is ``None`` for a GRU."""
        part = self.cell._input_part(x, laplacian)
        if c is None:
            return self.cell._step(part, h, laplacian), None
        return self.cell._step(part, h, c, laplacian)

    def _tgcn(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
              H: Optional[Tensor], recompute: bool = False) -> Tensor:
        r"""T-GCN cells: the input gates of all steps in one propagation (with
        ``recompute``: one checkpoint per step, its propagation included)."""
        cell = self.cell
        B, T, N, _ = X.shape
        graph = cell._graph(edge_index, edge_weight, N, X.dtype)
        if recompute:
            h = X.new_zeros(B, N, cell.out_channels) if H is None else H
            outputs = []
            for x in X.unbind(1):
                h = checkpoint_step(self._tgcn_step, x, h, graph)
                outputs.append(h)
            return torch.stack(outputs, 1)
        G = cell._input_parts(X.permute(0, 2, 3, 1), graph)  # (B, N, T, 3 out)
        h = X.new_zeros(B, N, cell.out_channels) if H is None else H
        outputs = []
        for G_t in G.unbind(2):  # not G[:, :, t]: one gradient of G, not a full-size one per step
            h = cell._recur(G_t, h)
            outputs.append(h)
        return torch.stack(outputs, 1)

    def _tgcn_step(self, x: Tensor, h: Tensor, graph: Tuple[Tensor, Tensor]) -> Tensor:
        r"""One T-GCN step from the step's input ``x (B, N, F)``."""
        return self.cell._recur(self.cell._input_part(x, graph), h)

    def _disjoint(self, X: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor],
                  H: Tensor, C: Tensor,
                  edge_type: Optional[Tensor], recompute: bool = False) -> Tuple[Tensor, Tensor]:
        r"""LRGCN and DyGrEncoder on the disjoint union of ``B`` copies of
        the graph (nodes ``b N + i``)."""
        cell = self.cell
        B, T, N, F = X.shape
        union = _disjoint_union(edge_index, B, N)
        h, c = H.reshape(B * N, -1), C.reshape(B * N, -1)
        outputs = []
        if self.kind == "lrgcn":
            if edge_type is None:
                if cell.num_relations != 1:
                    raise ValueError(f"LRGCN was built with num_relations = {cell.num_relations}; "
                                     "pass edge_type (E,), the relation of each edge.")
                edge_type = edge_index.new_zeros(edge_index.size(1))
            check_edge_type(edge_type, edge_index, cell.num_relations)
            types = edge_type.repeat(B)
            for t in range(T):
                h, c = checkpoint_step(cell, X[:, t].reshape(B * N, F), union, types, h, c,
                                       enabled=recompute)
                outputs.append(h)
        else:
            weights = None if edge_weight is None else edge_weight.repeat(B)
            state = (h, c) if cell.lstm_num_layers == 1 else (None, None)
            for t in range(T):
                out, *state = checkpoint_step(cell, X[:, t].reshape(B * N, F), union, weights,
                                              *state, enabled=recompute)
                outputs.append(out)
            h, c = state if cell.lstm_num_layers == 1 else (state[0][-1], state[1][-1])
        out = torch.stack(outputs, 0).view(T, B, N, -1).transpose(0, 1)
        return out, c.reshape(B, N, -1)


#: The names :func:`batched_cell` accepts.
CELL_NAMES = ("gconv_gru", "gconv_lstm", "gc_lstm", "tgcn", "dcrnn", "agcrn", "lrgcn", "dygrae")


def batched_cell(name: str, in_channels: int, out_channels: int, recompute: bool = False,
                 **kw) -> BatchedRecurrent:
    r"""Build a :class:`BatchedRecurrent` around a new cell chosen by name.

    Args:
        name (str): One of :data:`CELL_NAMES` (upstream's module names):
            ``"gconv_gru"`` (:class:`GConvGRU`), ``"gconv_lstm"``
            (:class:`GConvLSTM`), ``"gc_lstm"`` (:class:`GCLSTM`), ``"tgcn"``
            (:class:`TGCN`), ``"dcrnn"`` (:class:`DCRNN`), ``"agcrn"``
            (:class:`AGCRN`, needs ``number_of_nodes``), ``"lrgcn"``
            (:class:`LRGCN`), ``"dygrae"`` (:class:`DyGrEncoder`).
        in_channels (int): Number of input features :math:`F`.
        out_channels (int): Hidden state size :math:`C`.
        recompute (bool, optional): Activation recomputation, see
            :class:`BatchedRecurrent` (default :obj:`False`).
        **kw: The cell's other constructor arguments; defaults: ``K=2``
            (Chebyshev cells, DCRNN, AGCRN), ``embedding_dimensions=8``
            (AGCRN), ``num_relations=1, num_bases=None`` (LRGCN),
            ``conv_out_channels=max(in_channels, out_channels),
            conv_num_layers=1, conv_aggr="add", lstm_num_layers=1``
            (DyGrEncoder, whose ``lstm_out_channels`` is ``out_channels``).

    Returns:
        BatchedRecurrent: the wrapped cell (``forward(X (B, T, N, F),
        edge_index, edge_weight=None) -> (B, T, N, out_channels)``).
    """
    key = name.lower()
    if key in ("gconv_gru", "gconv_lstm", "gc_lstm"):
        cls = {"gconv_gru": GConvGRU, "gconv_lstm": GConvLSTM, "gc_lstm": GCLSTM}[key]
        cell = cls(in_channels, out_channels, K=kw.pop("K", 2), **kw)
    elif key == "tgcn":
        cell = TGCN(in_channels, out_channels, **kw)
    elif key == "dcrnn":
        cell = DCRNN(in_channels, out_channels, K=kw.pop("K", 2), **kw)
    elif key == "agcrn":
        if "number_of_nodes" not in kw:
            raise ValueError("batched_cell('agcrn', ...) needs number_of_nodes=N (AGCRN learns "
                             "one embedding per node).")
        cell = AGCRN(kw.pop("number_of_nodes"), in_channels, out_channels, K=kw.pop("K", 2),
                     embedding_dimensions=kw.pop("embedding_dimensions", 8), **kw)
    elif key == "lrgcn":
        cell = LRGCN(in_channels, out_channels, num_relations=kw.pop("num_relations", 1),
                     num_bases=kw.pop("num_bases", None), **kw)
    elif key == "dygrae":
        conv_out = kw.pop("conv_out_channels", max(in_channels, out_channels))
        if conv_out < in_channels:
            raise ValueError(f"DyGrEncoder needs conv_out_channels >= in_channels = {in_channels}, "
                             f"got {conv_out}.")
        cell = DyGrEncoder(conv_out_channels=conv_out, conv_num_layers=kw.pop("conv_num_layers", 1),
                           conv_aggr=kw.pop("conv_aggr", "add"), lstm_out_channels=out_channels,
                           lstm_num_layers=kw.pop("lstm_num_layers", 1), **kw)
    else:
        raise ValueError(f"unknown recurrent cell {name!r}; choose one of {', '.join(CELL_NAMES)} "
                         "(A3TGCN: use A3TGCN2, see nn.recurrent.batched).")
    return BatchedRecurrent(cell, recompute=recompute)
