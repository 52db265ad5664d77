"""Where the JSON loaders look for their file without raw_data_dir:
$PGT_DATA_DIR/<name>, upstream's ./data, the cache; the error lists each."""
import pytest

from torch_geometric_temporal.dataset import (
    MTMDatasetLoader,
    WikiMathsDatasetLoader,
    WindmillOutputLargeDatasetLoader,
    WindmillOutputMediumDatasetLoader,
    WindmillOutputSmallDatasetLoader,
    synthetic,
)

CASES = [(WikiMathsDatasetLoader, "wikimath", lambda p: synthetic.write_wikimath(p, 4, 12)),
         (MTMDatasetLoader, "mtm", lambda p: synthetic.write_mtm(p, 20)),
         (WindmillOutputSmallDatasetLoader, "windmill_small",
          lambda p: synthetic.write_windmill_small(p, 3, 12)),
         (WindmillOutputMediumDatasetLoader, "windmill_medium",
          lambda p: synthetic.write_windmill_medium(p, 3, 12)),
         (WindmillOutputLargeDatasetLoader, "windmill_large",
          lambda p: synthetic.write_windmill(p, 3, 12))]


@pytest.mark.parametrize("cls, name, write", CASES)
def test_upstream_data_folder_then_pgt_data_dir(cls, name, write, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    in_cwd = write(tmp_path / "data")  # upstream's default folder: ./data, flat
    assert cls().path == in_cwd.resolve()
    root = tmp_path / "root"
    monkeypatch.setenv("PGT_DATA_DIR", str(root))
    (root / name).mkdir(parents=True)
    in_root = write(root / name)
    assert cls().path == in_root.resolve()  # $PGT_DATA_DIR/<name> comes first


@pytest.mark.parametrize("cls, name, write", CASES[:1])
def test_missing_file_error_lists_every_folder(cls, name, write, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        cls()
    message = str(info.value)
    assert str(tmp_path / "data") in message and name in message and "cache" in message
