"""dataset/windows.py: WindowSpec, window starts and their chronological split."""
import dataclasses

import numpy as np
import pytest
import torch

from torch_geometric_temporal.dataset.index_batching import IndexDataset, materialize_windows
from torch_geometric_temporal.dataset.windows import WindowSpec, chronological_split, split_starts, window_starts



# --------------------------------------------------------------------------- windows
def test_window_starts():
    s = window_starts(10, 3, 2)
    assert s.dtype == np.int64
    np.testing.assert_array_equal(s, np.arange(6))
    np.testing.assert_array_equal(window_starts(10, 3, 2, stride=2), [0, 2, 4])
    np.testing.assert_array_equal(window_starts(5, 3, 2), [0])
    assert (window_starts(101, 7, 4, stride=3) + 11 <= 101).all()


@pytest.mark.parametrize("args, match", [
    ((10, 8, 3), "longer than the series"),
    ((10, 0, 3), "num_timesteps_in"),
    ((10, 3, -1), "num_timesteps_out"),
    ((10, 3, 3, 0), "stride"),
    ((10.0, 3, 3), "integer"),
])
def test_window_starts_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        window_starts(*args)


def test_chronological_split():
    s = window_starts(112, 6, 6)  # 101 windows
    tr, va, te = chronological_split(s)
    assert (len(tr), len(va), len(te)) == (71, 10, 20)
    np.testing.assert_array_equal(np.concatenate([tr, va, te]), s)
    assert tr.max() < va.min() and va.max() < te.min()
    tr, va, te = chronological_split(s, (0.6, 0.0, 0.4))
    assert len(va) == 0 and (len(tr), len(te)) == (61, 40)
    # PGT-I rounding: train and test rounded, validation takes the rest
    assert [len(p) for p in chronological_split(np.arange(15))] == [10, 2, 3]


@pytest.mark.parametrize("ratios, match", [
    ((0.7, 0.2, 0.2), "sum to 1"),
    ((0.7, 0.3), "3 entries"),
    ((1.2, -0.1, -0.1), "non-negative"),
])
def test_chronological_split_bad_ratios(ratios, match):
    with pytest.raises(ValueError, match=match):
        chronological_split(np.arange(100), ratios)


def test_chronological_split_empty():
    with pytest.raises(ValueError, match="validation split is empty"):
        chronological_split(np.arange(4))
    with pytest.raises(ValueError, match="1-D"):
        chronological_split(np.zeros((3, 3), dtype=np.int64))

# --------------------------------------------------------------------------- WindowSpec
def test_window_spec_arithmetic():
    spec = WindowSpec(4, 3, stride=2, target_features=[0, 2])
    assert spec.span == 7 and spec.target_features == (0, 2)  # a tuple: frozen and hashable
    assert hash(spec) == hash(WindowSpec(4, 3, 2, (0, 2)))
    np.testing.assert_array_equal(spec.starts(20), window_starts(20, 4, 3, stride=2))
    tr, va, te = spec.split(40, (0.7, 0.1, 0.2))
    for got, want in zip((tr, va, te), chronological_split(window_starts(40, 4, 3, stride=2))):
        np.testing.assert_array_equal(got, want)
    assert spec.num_targets(3) == 2 and WindowSpec(4, 3).num_targets(3) == 3
    assert spec.target_index(3).tolist() == [0, 2]
    assert WindowSpec(4, 3, target_features=slice(1, 3)).num_targets(3) == 2
    assert WindowSpec.of(spec) is spec and WindowSpec.of(4, 3, [0]) == WindowSpec(4, 3, 1, (0,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.stride = 1


def test_window_spec_check():
    spec = WindowSpec(3, 3)
    out = spec.check(torch.tensor([0, 4], dtype=torch.int32), 10)
    assert out.dtype == np.int64 and out.tolist() == [0, 4]
    assert spec.check([], 10, allow_empty=True).size == 0
    assert spec.check([100], None).tolist() == [100]  # series length unknown: lower bound only
    for starts, T, match in [([0, 5], 10, r"s \+ 3 \+ 3 <= T = 10"), ([-1], 10, "0 <= s"),
                             ([], 10, "starts is empty"), ([0.0], 10, "integers"),
                             ([[0]], 10, "1-D"), ([0], 5, "longer than the series")]:
        with pytest.raises(ValueError, match=match):
            spec.check(starts, T)


@pytest.mark.parametrize("args, match", [
    ((0, 3), "num_timesteps_in"), ((3, -1), "num_timesteps_out"), ((3, 3, 0), "stride"),
    ((3.0, 3), "integer"), ((3, 3, 1, [5]), "out of range"),
])
def test_window_spec_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        WindowSpec(*args).num_targets(2)


def test_window_spec_of_rejects_both_forms():
    with pytest.raises(ValueError, match="not both"):
        WindowSpec.of(WindowSpec(3, 3), 3)
    with pytest.raises(ValueError, match="num_timesteps_out is required"):
        WindowSpec.of(3)


def test_datasets_take_a_spec_or_integers():
    raw = np.random.default_rng(0).standard_normal((30, 2, 3)).astype(np.float32)
    spec = WindowSpec(4, 2, target_features=[1])
    starts = spec.starts(30)
    by_spec, by_ints = IndexDataset(raw, starts, spec), IndexDataset(raw, starts, 4, 2, target_features=[1])
    assert by_spec.spec == by_ints.spec == spec
    for a, b in zip(by_spec[[0, 5, 7]], by_ints[[0, 5, 7]]):
        assert torch.equal(a, b)
    X, Y = materialize_windows(raw, starts, spec)
    assert torch.equal(X, by_ints[:][0]) and torch.equal(Y, by_ints[:][1])


def test_split_starts_is_the_spec_split():
    for got, want in zip(split_starts(50, 4, 3, (0.6, 0.2, 0.2)), WindowSpec(4, 3).split(50, (0.6, 0.2, 0.2))):
        np.testing.assert_array_equal(got, want)
