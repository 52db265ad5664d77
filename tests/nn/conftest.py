"""Tests under ``tests/nn`` import the golden-fixture helpers as
``from _upstream import load_fixture, check_against_fixture, check_signature``
(``tests/nn/_upstream.py``): this folder is put on ``sys.path`` here."""
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _upstream import load_fixture  # noqa: E402


@pytest.fixture
def upstream_fixture():
    """``upstream_fixture("GConvGRU__rw")`` -> the decoded golden fixture."""
    return load_fixture
