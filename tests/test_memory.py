"""_memory.return_freed_memory: freed tensor memory leaves the resident set
(glibc's mmap threshold fixed) in an allocation pattern where glibc's default
keeps it (a large free first, then interleaved frees)."""
import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, sys
import torch
from torch_geometric_temporal._memory import return_freed_memory, rss_mb
fixed = return_freed_memory() if sys.argv[1] == "fixed" else None
# glibc raises its threshold after a large free: what a training step does
big = torch.ones(4 * 2 ** 20 // 4); del big
chunks = [torch.ones(2 ** 20 // 4) for _ in range(200)]   # 200 x 1 MiB
before = rss_mb()
del chunks[::2]                                              # free every other one
print(json.dumps({"fixed": fixed, "freed_mb": before - rss_mb()}))
"""


def _run(mode, env=None):
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_tensors_leave_the_resident_set():
    pytest.importorskip("psutil")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    default, fixed = _run("default", env), _run("fixed", env)
    assert fixed["fixed"] is True
    # fixed: the ~100 MiB freed are given back at once. glibc's default keeps
    # the fragmented heap resident when run alone (freed ~0 MiB), but whether it
    # does depends on the environment the suite leaves (it gave memory back in a
    # full CI run), so it is reported, not asserted.
    assert fixed["freed_mb"] > 80, (default, fixed)


def test_users_setting_wins(monkeypatch):
    from torch_geometric_temporal._memory import return_freed_memory

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert return_freed_memory() is False
