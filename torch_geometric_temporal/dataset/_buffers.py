r"""Recycled batch buffers of the index-batching gather, and the copy of a
batch to its training device.

A fresh multi-MiB buffer per batch costs a page fault per 4 KiB page, as much
CPU time as the gather's copy itself, so each CPU source keeps a few buffers
(:class:`BufferPool`) and hands one out again once no tensor uses it any more.

When the batches go on to a CUDA device (:func:`batch_to`, what the training
step calls), pageable buffers would make ``non_blocking=True`` a blocking
staged copy. The pool then allocates its buffers in pinned (page-locked)
memory, so the host-to-device copy runs asynchronously, and it records a CUDA
event after each copy: a buffer is not handed out again before the copies
reading it have completed, even when the batch tensors were dropped long
before.
"""
from __future__ import annotations

import sys
import threading
import weakref
from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch

__all__ = ["BufferPool", "batch_to"]

#: Batch buffers recycled per source (CPU), see :class:`BufferPool`.
POOL_SIZE = 4


def _refcount_of_pool_slot(pool: list, i: int) -> int:
    return sys.getrefcount(pool[i])


#: What :func:`_refcount_of_pool_slot` returns for an object held only by the list:
#: the list slot plus getrefcount's own argument (2 on CPython <= 3.13); measured,
#: since newer interpreters may borrow the temporary reference and report 1.
_SOLE_POOL_REFCOUNT = _refcount_of_pool_slot([object()], 0)


def _unused(pool: list, i: int) -> bool:
    r"""Whether ``pool[i]`` is referenced by nothing but the pool (no live batch)."""
    return _refcount_of_pool_slot(pool, i) <= _SOLE_POOL_REFCOUNT


def _aligned_empty(n: int, dtype, align: int = 64) -> np.ndarray:
    r"""An uninitialized 1-D array of ``n`` elements starting on an ``align``-byte
    boundary. numpy's large buffers start 16 bytes into a page, and copies into
    destinations that are not cache-line aligned were measured 1.3 x slower."""
    dtype = np.dtype(dtype)
    raw = np.empty(n * dtype.itemsize + align, dtype=np.uint8)
    off = -raw.ctypes.data % align
    return raw[off:off + n * dtype.itemsize].view(dtype)


def _pinned_empty(n: int, dtype) -> np.ndarray:
    r"""An uninitialized 1-D array of ``n`` elements in pinned host memory (page
    aligned); the array keeps the pinned tensor alive."""
    return torch.empty(n, dtype=torch.from_numpy(np.empty(0, dtype)).dtype, pin_memory=True).numpy()


def _copy_event(device: torch.device) -> Optional[Any]:
    r"""A CUDA event recorded on ``device``'s current stream after a copy was
    enqueued there, or ``None`` for devices whose copies are synchronous."""
    if device.type != "cuda":
        return None
    event = torch.cuda.Event()
    event.record(torch.cuda.current_stream(device))
    return event


#: Every live pool, to find the one holding a batch in :func:`batch_to`.
_POOLS: "weakref.WeakSet[BufferPool]" = weakref.WeakSet()


class BufferPool:
    r"""Up to :data:`POOL_SIZE` recycled 1-D CPU buffers of one dtype.

    Each buffer is a numpy array handed out wrapped with
    :func:`torch.from_numpy`, whose storage keeps a reference to the array, so
    the array's reference count tells whether a batch (or any view of it) is
    still alive. A buffer is handed out again only when no batch uses it and
    every copy recorded by :meth:`copied` has completed (its event's
    ``query()`` is true); otherwise a new buffer is allocated (and kept if
    there is room).

    Args:
        dtype (numpy.dtype): element type of the buffers.
    """

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.arrays: List[np.ndarray] = []
        self.pinned: List[bool] = []
        self.events: List[List[Any]] = []  # per buffer: copies that may still read it
        #: Whether batches are copied to a CUDA device (set by :meth:`copied`):
        #: new buffers are then pinned.
        self.pin = False
        self.lock = threading.Lock()
        _POOLS.add(self)

    def _want_pinned(self) -> bool:
        return self.pin and torch.cuda.is_available()

    def _alloc(self, n: int) -> Tuple[np.ndarray, bool]:
        if self._want_pinned():
            return _pinned_empty(n, self.dtype), True
        return _aligned_empty(n, self.dtype), False

    def _ready(self, i: int) -> bool:
        return all(e.query() for e in self.events[i])

    def _drop(self, i: int) -> None:
        for lst in (self.arrays, self.pinned, self.events):
            del lst[i]

    def get(self, n: int) -> torch.Tensor:
        r"""A 1-D buffer of ``n`` elements (contents undefined)."""
        with self.lock:
            pinned = self._want_pinned()
            free = [i for i in range(len(self.arrays)) if _unused(self.arrays, i) and self._ready(i)]
            for i in free:
                if self.arrays[i].size == n and self.pinned[i] == pinned:
                    self.events[i] = []
                    return torch.from_numpy(self.arrays[i])
            arr, is_pinned = self._alloc(n)
            if len(self.arrays) >= POOL_SIZE and free:  # forget an unused buffer of another kind
                self._drop(free[0])
            if len(self.arrays) < POOL_SIZE:
                self.arrays.append(arr)
                self.pinned.append(is_pinned)
                self.events.append([])
            return torch.from_numpy(arr)

    def _slot_of(self, t: torch.Tensor) -> Optional[int]:
        ptr = t.data_ptr()
        for i, arr in enumerate(self.arrays):
            start = arr.ctypes.data
            if start <= ptr < start + max(arr.nbytes, 1):
                return i
        return None

    def copied(self, t: torch.Tensor, device: torch.device) -> bool:
        r"""Note that ``t`` (a view of one of the buffers) was just copied to
        ``device``: record the copy's event so the buffer waits for it, and
        pin new buffers when ``device`` is a CUDA device. Returns whether
        ``t`` lies in one of this pool's buffers."""
        with self.lock:
            i = self._slot_of(t)
            if i is None:
                return False
            if device.type == "cuda":
                self.pin = True
            event = _copy_event(device)
            if event is not None:
                self.events[i] = [e for e in self.events[i] if not e.query()] + [event]
            return True


def batch_to(tensor: torch.Tensor, device: Union[str, torch.device]) -> torch.Tensor:
    r"""``tensor.to(device, non_blocking=True)``, safe with recycled batch buffers.

    When ``tensor`` lies in a recycled buffer of an index-batching dataset
    (:class:`BufferPool`) and goes to another device, the pool records the
    copy (a CUDA event), so the buffer is not refilled before the copy has
    read it, and from then on allocates pinned buffers, so that the copy of
    the next batches overlaps the computation. Other tensors are just moved.

    Args:
        tensor (torch.Tensor): a batch tensor.
        device (str or torch.device): its destination.
    """
    out = tensor.to(device, non_blocking=True)
    if out is tensor or tensor.device.type != "cpu":
        return out
    for pool in list(_POOLS):
        if pool.copied(tensor, out.device):
            break
    return out
