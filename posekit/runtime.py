"""Process-wide settings that make CPU training and inference faster.

glibc's malloc hands every block over its mmap threshold (at most 32 MB) straight to
the kernel when it is freed, so each batch's large activations are mapped, page-faulted
and zeroed anew: evaluating a CPN at 192x192 in batches of 32 on one thread, beside a
training run, spent more time in the kernel than in PyTorch (docs/BENCHMARKS.md,
"Faster top-down inference").
:func:`keep_freed_memory` makes malloc keep freed memory for reuse instead; the
``posekit`` command calls it first, Python API users may call it themselves.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_MAX = -4
_applied = False


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and never trim it (glibc ``mallopt``).

    The process's memory then stays at its peak rather than returning to the kernel
    between batches. Returns whether it applied: True on Linux with glibc (also when
    called again), False elsewhere, where it does nothing.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # the trim threshold is an int: 2**31 - 1 bytes of free heap top is never reached by one batch's buffers
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _applied
