r"""Optional dependencies: one way to import them.

Importing the package needs torch and numpy only; everything else is an
extra (``[dask]``, ``[gpu]``, ``[hdf5]``, ``[monitor]``, ``[test]``) imported
where it is used, through :func:`require`, which names the extra to install
when the package is missing.
"""
import importlib
from types import ModuleType
from typing import Optional

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    r"""An optional dependency is not installed; the message names the
    extra that provides it."""


def require(module: str, extra: Optional[str], purpose: Optional[str] = None) -> ModuleType:
    r"""Import and return :obj:`module`, or raise :class:`MissingExtraError`
    saying which extra to install.

    Args:
        module (str): dotted module name, e.g. ``"distributed"`` or
            ``"pandas"``.
        extra (str or None): the extra of ``torch-geometric-temporal`` that
            installs it, e.g. ``"dask"``; ``None`` for a package in no extra
            (the message then names the package itself, e.g. ``zarr``).
        purpose (str, optional): what needs it, for the message (e.g.
            ``"Dask-launched DDP"``).

    Example:
        >>> pd = require("pandas", "hdf5", "reading .h5 speed files")
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        top = module.split(".", 1)[0]
        if error.name is not None and error.name.split(".", 1)[0] != top:
            raise  # the package is there but one of its own imports failed: show that
        what = f"{purpose} needs" if purpose else "This needs"
        how = f"the extra: pip install 'torch-geometric-temporal[{extra}]'" if extra else f"it: pip install {top}"
        raise MissingExtraError(
            f"{what} the '{top}' package, which is not installed; install {how}."
        ) from error
