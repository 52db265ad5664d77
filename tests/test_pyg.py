r"""The ``torch.jit.script`` deprecation warning of ``import torch_geometric``
is silenced by its message, whatever its category: a ``DeprecationWarning``
on torch 2.13, a ``FutureWarning`` from torch 2.14 on."""
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from torch_geometric_temporal import _pyg

ROOT = Path(__file__).resolve().parents[1]
MESSAGE = "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`."
CATEGORIES = [DeprecationWarning, FutureWarning, UserWarning]


@pytest.mark.parametrize("category", CATEGORIES)
def test_pyg_silences_the_jit_warning_of_any_category(monkeypatch, category):
    def import_module(name):  # stands in for torch_geometric's import on any torch
        warnings.warn(MESSAGE, category)
        warnings.warn("an unrelated warning", category)
        return sys

    monkeypatch.setattr(_pyg.importlib, "import_module", import_module)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _pyg.pyg("data") is sys
    assert [str(w.message) for w in caught] == ["an unrelated warning"]


def test_pytest_ini_filters_the_jit_warning_of_any_category(tmp_path):
    test = tmp_path / "test_jit_warning.py"
    test.write_text(textwrap.dedent(f"""
        import warnings

        import pytest


        @pytest.mark.parametrize("category", [{", ".join(c.__name__ for c in CATEGORIES)}])
        def test_warns(category):
            warnings.warn({MESSAGE!r}, category)
            warnings.warn("`torch.jit.script_method` is deprecated.", category)
    """))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ROOT / "pytest.ini"),
         "--rootdir", str(tmp_path), str(test)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout, proc.stdout
    assert "warning" not in proc.stdout.lower(), proc.stdout
