import hashlib
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from torch_geometric_temporal.dataset import _files
from torch_geometric_temporal.dataset._finite import check_finite_sensors
from torch_geometric_temporal.dataset._files import (
    RestrictedUnpickler,
    check_array,
    default_data_dir,
    extract_members,
    fetch,
    load_adjacency_pickle,
    resolve_data_dir,
    sha256sum,
    verify_sha256,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PGT_DATA_DIR", str(tmp_path))
    assert default_data_dir("metr_la") == tmp_path / "metr_la"
    monkeypatch.delenv("PGT_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir("pems") == tmp_path / "cache" / "torch_geometric_temporal" / "pems"
    monkeypatch.chdir(tmp_path)
    assert resolve_data_dir("rel", "x") == tmp_path / "rel"


def test_real_adjacency_pickles_load():
    ids, index, adj = load_adjacency_pickle(DATA / "metr_la" / "adj_mx.pkl", num_nodes=207)
    assert len(ids) == 207 and index[ids[5]] == 5 and adj.dtype == np.float32
    assert np.count_nonzero(adj) == 1722
    ids, _, adj = load_adjacency_pickle(DATA / "pems_bay" / "adj_mx_bay.pkl")
    assert adj.shape == (325, 325) and ids[0] == "400001"
    with pytest.raises(ValueError, match=r"\(207, 207\)"):
        load_adjacency_pickle(DATA / "pems_bay" / "adj_mx_bay.pkl", num_nodes=207)


@pytest.mark.parametrize("payload, name", [
    ([["1"], {"1": 0}, OrderedDict()], "collections.OrderedDict"),
    ([["1"], {"1": 0}, Path("x")], "pathlib"),
])
def test_foreign_classes_rejected(tmp_path, payload, name):
    path = tmp_path / "adj.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(ValueError, match=f"refusing to unpickle global {name}"):
        load_adjacency_pickle(path)


def test_os_system_never_runs(tmp_path):
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "adj.pkl"
    path.write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(ValueError, match="refusing"):
        load_adjacency_pickle(path)
    assert not marker.exists()
    with open(path, "rb") as handle:
        with pytest.raises(pickle.UnpicklingError):
            RestrictedUnpickler(handle).load()


def test_bad_pickles(tmp_path):
    path = tmp_path / "adj.pkl"
    good = pickle.dumps([["a", "b"], {"a": 0, "b": 1}, np.eye(2, dtype=np.float32)], protocol=2)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="truncated"):
        load_adjacency_pickle(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_adjacency_pickle(path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="does not start like a pickle"):
        load_adjacency_pickle(path)
    path.write_bytes(pickle.dumps({"adj": np.eye(2)}))
    with pytest.raises(ValueError, match="DCRNN layout"):
        load_adjacency_pickle(path)
    path.write_bytes(pickle.dumps([["a", "b"], {"a": 1, "b": 0}, np.eye(2)]))
    with pytest.raises(ValueError, match="id_to_index"):
        load_adjacency_pickle(path)
    path.write_bytes(good)
    assert load_adjacency_pickle(path, sha256=hashlib.sha256(good).hexdigest())[0] == ["a", "b"]
    with pytest.raises(ValueError, match="SHA-256"):
        load_adjacency_pickle(path, sha256="0" * 64)


def test_sha256(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256sum(path) == hashlib.sha256(b"abc").hexdigest()
    verify_sha256(path, None)
    with pytest.raises(ValueError, match="download it again"):
        verify_sha256(path, "ab" * 32)


def _zip(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_extract_members(tmp_path):
    path = tmp_path / "a.zip"
    _zip(path, {"nested/x.npy": b"x" * 1000, "y.npy": b"y", "other": b"z"})
    out = extract_members(path, ["x.npy", "y.npy"], tmp_path / "out")
    assert [p.read_bytes() for p in out] == [b"x" * 1000, b"y"]
    assert not (tmp_path / "out" / "other").exists()
    with pytest.raises(ValueError, match="no member 'z.npy'"):
        extract_members(path, ["z.npy"], tmp_path / "out")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="truncated"):
        extract_members(path, ["x.npy"], tmp_path / "out2")


def test_check_array():
    check_array(np.zeros((3, 4, 2), np.float32), "a", (None, 4, 2))
    with pytest.raises(ValueError, match=r"shape \(3, 4\), expected \(\*, 4, 2\)"):
        check_array(np.zeros((3, 4)), "a", (None, 4, 2))
    with pytest.raises(ValueError, match="dtype"):
        check_array(np.zeros((3, 4, 2), np.int32), "a", (None, 4, 2))


def test_check_finite_sensors_chunks():
    values = np.ones((10, 3, 1), np.float32)
    check_finite_sensors(values, "v", chunk=3)
    values[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 sensor.*\['s1'\]"):
        check_finite_sensors(values, "v", chunk=3, sensor_ids=["s0", "s1", "s2"])


def test_fetch_offline_and_download(tmp_path, monkeypatch):
    target = tmp_path / "d" / "file.bin"
    with pytest.raises(FileNotFoundError, match="downloads are disabled"):
        fetch(target, "https://example.invalid/file.bin", None)

    def fake_download(url, folder, log=True, filename=None):
        path = Path(folder) / filename
        path.write_bytes(b"payload")
        return str(path)

    monkeypatch.setattr(_files, "_pyg_download_url", lambda: fake_download)
    sha = hashlib.sha256(b"payload").hexdigest()
    assert fetch(target, "https://example.invalid/file.bin", True, sha256=sha).read_bytes() \
        == b"payload"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]
    other = tmp_path / "d" / "other.bin"
    with pytest.raises(ValueError, match="SHA-256"):
        fetch(other, "https://example.invalid/o", True, sha256="0" * 64)
    assert not other.exists() and sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]

    def failing(url, folder, log=True, filename=None):
        raise OSError("no network")

    monkeypatch.setattr(_files, "_pyg_download_url", lambda: failing)
    with pytest.raises(FileNotFoundError, match="download failed: no network"):
        fetch(other, "https://example.invalid/o", True)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -0.5])
def test_edge_weights_must_be_finite_and_non_negative(bad):
    adj = np.eye(4, dtype=np.float32)
    _files.check_edge_weights(adj, "ok.npy")
    adj[1, 2] = bad
    with pytest.raises(ValueError, match=r"adj\.npy: 1 edge weight\(s\) are NaN, infinite or "
                                         r"negative \(first at \(1, 2\)"):
        _files.check_edge_weights(adj, "adj.npy")


def test_adjacency_pickle_with_nan_weights_refused(tmp_path):
    from torch_geometric_temporal.dataset import synthetic

    adj = np.eye(3, dtype=np.float32)
    adj[0, 1] = np.nan
    path = synthetic.write_adjacency_pickle(tmp_path / "adj_mx.pkl", adj, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"adj_mx\.pkl adjacency: 1 edge weight"):
        load_adjacency_pickle(path)


def test_directory_where_a_file_is_expected_is_not_downloaded(tmp_path, monkeypatch):
    folder = tmp_path / "adj_mx.pkl"
    folder.mkdir()
    monkeypatch.setattr(_files, "_pyg_download_url",
                        lambda: pytest.fail("must not try to download over a directory"))
    with pytest.raises(IsADirectoryError, match=r"adj_mx\.pkl is a directory, expected a "
                                                r"dataset file"):
        fetch(folder, "https://example.invalid/adj_mx.pkl", download=True)
    assert _files.is_present(tmp_path / "missing.pkl") is False


def test_fresh_follows_content_not_mtime(tmp_path):
    import os

    source, derived = tmp_path / "a.zip", tmp_path / "a.npy"
    source.write_bytes(b"first")
    assert not _files.is_fresh(derived, [source])  # nothing derived yet
    prints = _files.fingerprints([source])
    derived.write_bytes(b"derived")
    _files.record_sources(derived, prints)
    assert _files.is_fresh(derived, [source])
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same content
    assert _files.is_fresh(derived, [source])
    source.write_bytes(b"other")  # same size, older mtime: still noticed
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    assert not _files.is_fresh(derived, [source])
    assert not _files.is_fresh(derived, [source, tmp_path / "b.h5"])  # another source set
    _files.record_sources(derived, _files.fingerprints([source]))
    derived.write_bytes(b"edited by hand")
    assert not _files.is_fresh(derived, [source])


def test_derived_path_falls_back_to_the_cache_for_read_only_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    assert _files.derived_path(data, "metr_la", "x.npy") == data / "x.npy"
    monkeypatch.setattr(_files, "_writable", lambda directory: False)
    cached = _files.derived_path(data, "metr_la", "x.npy")
    assert cached.parent.parent == tmp_path / "cache" / "torch_geometric_temporal" / "derived"
    assert cached.parent.name.startswith("metr_la-") and cached.name == "x.npy"


def _lookup_env(monkeypatch, tmp_path, data_dir_env: bool):
    """cwd, $PGT_DATA_DIR and the cache in separate folders under tmp_path."""
    cwd, env, cache = tmp_path / "cwd", tmp_path / "env", tmp_path / "xdg"
    for folder in (cwd, env, cache):
        folder.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    if data_dir_env:
        monkeypatch.setenv("PGT_DATA_DIR", str(env))
    else:
        monkeypatch.delenv("PGT_DATA_DIR", raising=False)
    return (env / "ds", cwd / "data", cache / "torch_geometric_temporal" / "ds")


def _put(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


@pytest.mark.parametrize("data_dir_env", [True, False])
def test_resolve_data_dir_lookup_order(monkeypatch, tmp_path, data_dir_env):
    env, cwd_data, cache = _lookup_env(monkeypatch, tmp_path, data_dir_env)
    files = ["a.zip", ("b.pkl", "b.h5")]
    download_to = env if data_dir_env else cache
    assert resolve_data_dir(None, "ds", files) == download_to  # nothing anywhere
    _put(cache, "a.zip")
    assert resolve_data_dir(None, "ds", files) == cache
    _put(cwd_data, "b.pkl")  # half a pair does not count
    assert resolve_data_dir(None, "ds", files) == cache
    _put(cwd_data, "b.h5")  # upstream's ./data before the cache
    assert resolve_data_dir(None, "ds", files) == cwd_data
    _put(env, "a.zip")  # $PGT_DATA_DIR/<name> first, when set
    assert resolve_data_dir(None, "ds", files) == (env if data_dir_env else cwd_data)
    assert resolve_data_dir("elsewhere", "ds", files) == tmp_path / "cwd" / "elsewhere"
    assert resolve_data_dir(None, "ds") == download_to  # no files named: where downloads go
    expected = ([env] if data_dir_env else []) + [cwd_data, cache]
    assert _files.searched_dirs(None, "ds") == expected


def test_missing_file_error_lists_every_folder(monkeypatch, tmp_path):
    env, cwd_data, cache = _lookup_env(monkeypatch, tmp_path, True)
    url = "https://example.org/a.zip"
    folder = resolve_data_dir(None, "ds", ["a.zip"])
    with pytest.raises(FileNotFoundError) as info:
        fetch(folder / "a.zip", url, download=False, searched=_files.searched_dirs(None, "ds"))
    message = str(info.value)
    for place in (env, cwd_data, cache):
        assert str(place) in message
    assert url in message and "'a.zip'" in message
