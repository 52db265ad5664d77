"""HeteroGCLSTM: a dense reference of its equations, the documented
differences from upstream, bad input, and equality with upstream's fixture."""
import inspect

import pytest
import torch

from _upstream import check_against_fixture, check_signature, fixture_names, load_fixture

from torch_geometric_temporal.nn.hetero import HeteroGCLSTM

METADATA = (["author", "paper"],
            [("author", "writes", "paper"), ("paper", "rev_writes", "author"), ("paper", "cites", "paper")])
IN_CHANNELS = {"author": 3, "paper": 2}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _snapshot(seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = {"author": torch.randn(5, 3, generator=g, dtype=dtype), "paper": torch.randn(4, 2, generator=g, dtype=dtype)}
    edges = {
        ("author", "writes", "paper"): torch.tensor([[0, 1, 4, 2, 2], [0, 3, 2, 1, 3]]),
        ("paper", "rev_writes", "author"): torch.tensor([[0, 3, 2, 1, 3], [0, 1, 4, 2, 2]]),
        ("paper", "cites", "paper"): torch.tensor([[0, 1, 3], [1, 2, 2]]),
    }
    return x, edges


def dense_sage(conv, h_src, h_dst, edge_index):
    src, dst = edge_index
    total = torch.zeros(h_dst.size(0), h_src.size(1), dtype=h_src.dtype).index_add(0, dst, h_src[src])
    count = torch.zeros(h_dst.size(0), dtype=h_src.dtype).index_add(0, dst, torch.ones_like(dst, dtype=h_src.dtype))
    mean = total / count.clamp(min=1)[:, None]
    out = mean @ conv.lin_l.weight.T + h_dst @ conv.lin_r.weight.T
    return out if conv.lin_l.bias is None else out + conv.lin_l.bias


def reference(model, x, edges, h, c):
    pre = {}
    for gate in "ifco":
        convs = getattr(model, f"conv_{gate}").convs
        for t, X in x.items():
            z = X @ getattr(model, f"W_{gate}")[t] + getattr(model, f"b_{gate}")[t]
            for edge_type, edge_index in edges.items():
                if edge_type[2] == t:
                    z = z + dense_sage(convs[edge_type], h[edge_type[0]], h[t], edge_index)
            pre[gate, t] = z
    c_new = {t: torch.sigmoid(pre["f", t]) * c[t] + torch.sigmoid(pre["i", t]) * torch.tanh(pre["c", t]) for t in x}
    h_new = {t: torch.sigmoid(pre["o", t]) * torch.tanh(c_new[t]) for t in x}
    return h_new, c_new


@pytest.mark.parametrize("bias", [True, False])
def test_matches_reference_over_steps(bias):
    torch.manual_seed(0)
    model = HeteroGCLSTM(IN_CHANNELS, 4, METADATA, bias).double()
    h_ref = c_ref = {t: torch.zeros(n, 4, dtype=torch.float64) for t, n in (("author", 5), ("paper", 4))}
    h = c = None
    for step in range(3):
        x, edges = _snapshot(step)
        h, c = model(x, edges, h, c)
        h_ref, c_ref = reference(model, x, edges, h_ref, c_ref)
        for t in x:
            assert h[t].shape == c[t].shape == (x[t].size(0), 4)
            torch.testing.assert_close(h[t], h_ref[t])
            torch.testing.assert_close(c[t], c_ref[t])


def test_parameters_exist_before_the_first_call_and_get_gradients():
    """Documented difference: upstream's SAGE convolutions are lazy (-1)."""
    model = HeteroGCLSTM(IN_CHANNELS, 4, METADATA)
    assert not any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in model.parameters())
    x, edges = _snapshot(dtype=torch.float32)
    h, c = model(x, edges)
    sum(v.pow(2).sum() for v in [*h.values(), *c.values()]).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_state_dict_keys_and_signature():
    model = HeteroGCLSTM(IN_CHANNELS, 4, METADATA)
    keys = set(model.state_dict())
    for gate in "ifco":
        for t in IN_CHANNELS:
            assert {f"W_{gate}.{t}", f"b_{gate}.{t}"} <= keys
        assert f"conv_{gate}.convs.<author___writes___paper>.lin_l.weight" in keys
        assert f"conv_{gate}.convs.<paper___cites___paper>.lin_r.weight" in keys
    assert len(keys) == 4 * (2 * 2 + 3 * 3)
    assert list(inspect.signature(HeteroGCLSTM).parameters) == [
        "in_channels_dict", "out_channels", "metadata", "bias"]
    assert list(inspect.signature(HeteroGCLSTM.forward).parameters) == [
        "self", "x_dict", "edge_index_dict", "h_dict", "c_dict"]


def test_node_type_without_incoming_edges_gets_no_convolution_term():
    """Documented difference: upstream raises a KeyError here."""
    torch.manual_seed(0)
    metadata = (["author", "paper"], [("author", "writes", "paper")])
    with pytest.warns(UserWarning, match="do not get updated"):  # PyG's HeteroConv says so
        model = HeteroGCLSTM(IN_CHANNELS, 4, metadata).double()
    x, edges = _snapshot()
    edges = {k: v for k, v in edges.items() if k in metadata[1]}
    h, c = model(x, edges)
    zeros = {t: torch.zeros(v.size(0), 4, dtype=torch.float64) for t, v in x.items()}
    h_ref, c_ref = reference(model, x, edges, zeros, zeros)
    torch.testing.assert_close(h["author"], h_ref["author"])
    torch.testing.assert_close(c["paper"], c_ref["paper"])


def test_states_follow_the_features_dtype():
    model = HeteroGCLSTM(IN_CHANNELS, 4, METADATA).double()
    h, c = model(*_snapshot())
    assert all(v.dtype == torch.float64 for v in [*h.values(), *c.values()])


def _bad(kind):
    x, edges = _snapshot(dtype=torch.float32)
    h = {t: torch.zeros(v.size(0), 4) for t, v in x.items()}
    if kind == "features":
        x["paper"] = torch.randn(4, 3)
    elif kind == "node type":
        x["venue"] = torch.randn(2, 1)
    elif kind == "range":
        edges[("author", "writes", "paper")] = torch.tensor([[0, 4], [0, 4]])
    elif kind == "shape":
        edges[("paper", "cites", "paper")] = torch.tensor([[0, 1, 2]])
    elif kind == "state":
        h["author"] = torch.zeros(4, 4)
    elif kind == "missing state":
        del h["paper"]
    elif kind == "missing features":
        del x["author"]
    return x, edges, h


@pytest.mark.parametrize("kind, match", [
    ("features", "in_channels = 2"),
    ("node type", "in_channels_dict"),
    ("range", r"'paper' ids up to 4 but x_dict\['paper'\] has N = 4"),
    ("shape", r"shape \(2, E\)"),
    ("state", r"h_dict\['author'\] must have shape \(5, 4\)"),
    ("missing state", "lacks 'paper'"),
    ("missing features", "no features for node type 'author'"),
])
def test_bad_input_names_the_fix(kind, match):
    model = HeteroGCLSTM(IN_CHANNELS, 4, METADATA)
    x, edges, h = _bad(kind)
    with pytest.raises(ValueError, match=match):
        model(x, edges, h, {t: torch.zeros_like(v) for t, v in h.items()})


def test_bad_metadata():
    with pytest.raises(ValueError, match="node_types, edge_types"):
        HeteroGCLSTM(IN_CHANNELS, 4, ["author"])


@pytest.mark.parametrize("name", fixture_names("HeteroGCLSTM"))
def test_equals_upstream(name):
    """Upstream's outputs and gradients (PGT 0.56.2 golden fixture; its edge
    types come back as tuples)."""
    fixture = load_fixture(name)
    check_signature(HeteroGCLSTM, fixture)
    check_against_fixture(HeteroGCLSTM, fixture)
