r"""Progress bars of the scripts: on for a terminal, off when not a TTY or with ``-q``."""
import io

from torch_geometric_temporal.train import experiment


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_bars_only_on_a_terminal_without_quiet(monkeypatch):
    monkeypatch.setattr(experiment.sys, "stderr", _Stream(False))
    assert experiment._progress(quiet=False) is None  # not a TTY: no bars
    monkeypatch.setattr(experiment.sys, "stderr", _Stream(True))
    assert experiment._progress(quiet=True) is None  # -q: no bars
    bar = experiment._progress(quiet=False)
    assert bar is not None
    out = bar(range(3), desc="epochs", total=3)
    assert list(out) == [0, 1, 2]
    out.close()
