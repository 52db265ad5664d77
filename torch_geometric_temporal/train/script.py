r"""How a ``scalability_testing`` script reports a user error: one line on
stderr, exit status 2.

A script's ``main(argv)`` raises (tests call it and check the exception);
its ``__main__`` block hands it to :func:`run_script`::

    if __name__ == "__main__":
        sys.exit(run_script(main))

A user error (bad path, missing or bad file, bad flag combination, missing
extra, failed DDP run) is printed as ``<script>: error: <message>`` and the
script exits 2; with ``-d``/``--debug`` the traceback comes first. Any other
exception is a bug and keeps Python's traceback. Flag errors found by
:class:`ScriptArgumentParser` are one line and exit 2 as well.
"""
import argparse
import os
import pickle
import sys
import traceback
import zipfile
from typing import Any, Callable, Optional, Sequence

import torch

from torch_geometric_temporal.distributed.ddp import DDPRunError

__all__ = ["USER_ERRORS", "ScriptArgumentParser", "cuda_problem", "error_line", "run_script"]

#: Exceptions that mean "the input or the environment is wrong", not "the
#: code is wrong": reported as one line. :class:`ImportError` covers
#: :class:`~torch_geometric_temporal._optional.MissingExtraError`.
USER_ERRORS = (ValueError, OSError, ImportError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile,
               DDPRunError)


class ScriptArgumentParser(argparse.ArgumentParser):
    r"""An :class:`argparse.ArgumentParser` whose errors are one line
    (``<prog>: error: <message>; see --help``) and exit status 2, without
    the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see --help\n")


def cuda_problem(devices: int = 1) -> Optional[str]:
    r"""Why ``-g/--gpu`` cannot run here (no CUDA device, or fewer than
    :obj:`devices`), or ``None`` when it can.

    Args:
        devices (int): CUDA devices the run needs (one per local rank).
    """
    if not torch.cuda.is_available():
        return "-g/--gpu needs a CUDA device, and this machine has no CUDA device; drop -g to train on the CPU"
    found = torch.cuda.device_count()
    if found < devices:
        return (f"-g/--gpu with {devices} ranks needs {devices} CUDA devices (one per rank), and this machine "
                f"has {found}; lower -np to {found} or drop -g")
    return None


def error_line(error: BaseException) -> str:
    r"""The message of :obj:`error` as one line. A failed DDP run keeps its
    first line only (the rest is the rank's traceback, shown with ``-d``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if isinstance(error, DDPRunError):
        return lines[0]
    return " ".join(lines)


def _debug_requested(argv: Sequence[str]) -> bool:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    from torch_geometric_temporal.train.cli import str2bool

    parser.add_argument("-d", "--debug", type=str2bool, nargs="?", const=True, default=False)
    try:
        return bool(parser.parse_known_args(list(argv))[0].debug)
    except (SystemExit, argparse.ArgumentError):  # a bad -d value: main reports it
        return False


def run_script(main: Callable[[Sequence[str]], Any], argv: Optional[Sequence[str]] = None,
               prog: Optional[str] = None) -> int:
    r"""Run ``main(argv)`` and return the exit status: ``0`` on success,
    ``2`` after a user error (one line on stderr, the traceback too with
    ``-d``), ``130`` on Ctrl-C.

    Args:
        main (callable): the script's ``main(argv)``.
        argv (list of str, optional): arguments (default
            ``sys.argv[1:]``).
        prog (str, optional): the name in the message (default: the
            script's file name, as :mod:`argparse` prints it).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or os.path.basename(sys.argv[0])
    try:
        main(argv)
    except USER_ERRORS as error:
        if _debug_requested(argv):
            traceback.print_exc()
        print(f"{prog}: error: {error_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if _debug_requested(argv):
            traceback.print_exc()
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 0
