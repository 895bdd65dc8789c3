import ctypes
import ctypes.util
import sys

import numpy as np
import pytest

from posekit.runtime import keep_freed_memory


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _mmapped_bytes() -> int:
    """glibc's count of bytes malloc holds in mmap'ed blocks (which go back to the kernel when freed)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc without mallinfo2")
    libc.mallinfo2.restype = MallInfo2
    return libc.mallinfo2().hblkhd


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_large_buffers_come_from_the_heap_after_keep_freed_memory():
    assert keep_freed_memory() and keep_freed_memory()  # applies, and again is a no-op that says so
    before = _mmapped_bytes()
    buffer = np.ones(2**23)  # 64 MB: over glibc's largest mmap threshold (32 MB), so mmap'ed by default
    assert _mmapped_bytes() - before < 2**20, "a 64 MB buffer was mmap'ed: freeing it would return it to the kernel"
    assert buffer.sum() == 2**23
