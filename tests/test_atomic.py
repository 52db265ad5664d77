import os

import pytest

from torch_geometric_temporal._atomic import (
    TEMP_PREFIX,
    atomic_path,
    atomic_write,
    current_umask,
    remove_stale_temps,
)


def _temps(folder):
    return [p for p in os.listdir(folder) if p.startswith(TEMP_PREFIX)]


@pytest.mark.parametrize("opener", ["write", "path"])
def test_replaces_with_umask_permissions_and_leaves_no_temp(tmp_path, opener):
    target = tmp_path / "sub" / "out.bin"
    for payload in (b"first", b"second"):
        if opener == "write":
            with atomic_write(target, "wb") as handle:
                handle.write(payload)
        else:
            with atomic_path(target) as tmp:
                with open(tmp, "wb") as handle:
                    handle.write(payload)
        assert target.read_bytes() == payload
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~current_umask()
    assert _temps(target.parent) == []


@pytest.mark.parametrize("opener", ["write", "path"])
def test_an_error_keeps_the_old_file(tmp_path, opener):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        if opener == "write":
            with atomic_write(target, "w") as handle:
                handle.write("torn")
                raise RuntimeError("killed")
        else:
            with atomic_path(target) as tmp:
                with open(tmp, "w") as handle:
                    handle.write("torn")
                raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert _temps(tmp_path) == []


def test_read_modes_are_refused_and_stale_temps_removed(tmp_path):
    with pytest.raises(ValueError, match="writing only"):
        with atomic_write(tmp_path / "x", "r"):
            pass
    stale = tmp_path / f"{TEMP_PREFIX}checkpoint.pt.abc"
    stale.write_bytes(b"")
    (tmp_path / f"{TEMP_PREFIX}other.csv.abc").write_bytes(b"")
    assert remove_stale_temps(tmp_path, ["checkpoint.pt"]) == [stale]
    assert _temps(tmp_path) == [f"{TEMP_PREFIX}other.csv.abc"]
