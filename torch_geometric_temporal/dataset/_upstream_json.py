r"""Locating and reading the upstream JSON files of the small loaders
(PedalMe, England Covid, Montevideo Bus, WikiMaths, MTM, Windmill
small and medium): the package data when shipped, else
``<raw_data_dir>/<file>`` (or the ``.json`` path itself), downloaded from
upstream's URL only when missing and downloads are allowed."""
from pathlib import Path
from typing import Optional

from torch_geometric_temporal.dataset._files import (
    PathLike,
    fetch,
    missing_file_error,
    resolve_data_dir,
    searched_dirs,
    verify_sha256,
)
from torch_geometric_temporal.dataset._json import read_json_dataset

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
UPSTREAM_URL = ("https://raw.githubusercontent.com/benedekrozemberczki/pytorch_geometric_temporal/"
                "master/dataset/")


def locate_json(filename: str, name: str, sha256: Optional[str],
                raw_data_dir: Optional[PathLike], download: Optional[bool],
                packaged: bool, url: Optional[str] = None) -> Path:
    r"""The path of :obj:`filename`: package data when :obj:`packaged` and no
    :obj:`raw_data_dir` is given, else the file in :obj:`raw_data_dir` (or,
    without it, in the first of ``$PGT_DATA_DIR/<name>``, ``./data`` and the
    cache folder holding it: :func:`resolve_data_dir`), fetched when missing from
    :obj:`url` (default: upstream's GitHub ``dataset/`` folder)."""
    url = UPSTREAM_URL + filename if url is None else url
    if raw_data_dir is None and packaged:
        path = PACKAGE_DATA / filename
        if not path.is_file():  # pragma: no cover - broken install
            raise missing_file_error(path, url, "package data not installed")
        verify_sha256(path, sha256)
        return path
    path = resolve_data_dir(raw_data_dir, name, [filename])
    if path.suffix != ".json":
        path = path / filename
    return fetch(path, url, download, sha256=sha256, searched=searched_dirs(raw_data_dir, name))


def load_json(path: Path) -> dict:
    r"""Parse :obj:`path`; a top level that is not an object is a ValueError."""
    data = read_json_dataset(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level, found "
                         f"{type(data).__name__}.")
    return data
