r"""``run_script``: which exceptions become one line and exit 2, and which
keep their traceback."""
import pytest

from torch_geometric_temporal._optional import MissingExtraError
from torch_geometric_temporal.distributed.ddp import DDPRunError
from torch_geometric_temporal.train import script
from torch_geometric_temporal.train.script import ScriptArgumentParser, cuda_problem, run_script


def raising(error):
    def main(argv):
        raise error

    return main


@pytest.mark.parametrize("error", [
    ValueError("speeds.h5 holds an object column; save numbers only"),
    FileNotFoundError("Dataset file '/d/METR-LA.zip' is missing"),
    IsADirectoryError("/d/chickenpox.json is a directory; pass the file"),
    MissingExtraError("needs the 'distributed' package; install the extra: pip install '...[dask]'"),
])
def test_user_error_is_one_line(capsys, error):
    assert run_script(raising(error), [], prog="x.py") == 2
    captured = capsys.readouterr()
    assert captured.err == f"x.py: error: {error}\n" and captured.out == ""


def test_failed_ddp_run_keeps_its_first_line(capsys):
    error = DDPRunError("DDP rank 1 on worker tcp://127.0.0.1:1 failed: RuntimeError: rank 1 raised "
                        "ValueError: bad\nTraceback (most recent call last):\n  File \"x\", line 1\nValueError: bad")
    assert run_script(raising(error), ["-np", "2"], prog="pems_ddp.py") == 2
    err = capsys.readouterr().err
    assert err == ("pems_ddp.py: error: DDP rank 1 on worker tcp://127.0.0.1:1 failed: RuntimeError: rank 1 "
                   "raised ValueError: bad\n")


@pytest.mark.parametrize("argv, shown", [(["-d"], True), (["--debug", "yes"], True), (["-d", "false"], False),
                                         (["--data-dir", "d"], False)])
def test_debug_flag_adds_the_traceback(capsys, argv, shown):
    assert run_script(raising(ValueError("bad value")), argv, prog="x.py") == 2
    err = capsys.readouterr().err
    assert ("Traceback" in err) == shown
    assert err.splitlines()[-1] == "x.py: error: bad value"


def test_bug_keeps_its_traceback():
    with pytest.raises(TypeError, match="a bug"):
        run_script(raising(TypeError("a bug")), [], prog="x.py")


def test_ctrl_c(capsys):
    assert run_script(raising(KeyboardInterrupt()), [], prog="x.py") == 130
    assert capsys.readouterr().err == "x.py: interrupted\n"


def test_success_returns_0():
    seen = []
    assert run_script(seen.append, ["-e", "1"], prog="x.py") == 0
    assert seen == [["-e", "1"]]


def test_parser_error_is_one_line(capsys):
    parser = ScriptArgumentParser(prog="x.py")
    parser.add_argument("--mode", choices=("base", "index"))
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--mode", "fast"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("x.py: error: argument --mode: invalid choice: 'fast'")


def test_cuda_problem(monkeypatch):
    monkeypatch.setattr(script.torch.cuda, "is_available", lambda: False)
    assert "no CUDA device" in cuda_problem()
    monkeypatch.setattr(script.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(script.torch.cuda, "device_count", lambda: 2)
    assert cuda_problem(2) is None
    assert "needs 4 CUDA devices" in cuda_problem(4) and "lower -np to 2" in cuda_problem(4)
