"""Large freed arrays go back to the OS, so prep's peak memory does not creep with the files.

glibc serves an allocation of at least its mmap threshold with a mapping of its own and
unmaps it on free, but raises the threshold to the size of each such block freed (up
to 32 MiB). After the first file, a file's kept-row columns (10-20 MiB each) come from
the per-thread heaps instead, which fragment and keep freed pages: peak RSS of prep
then grew with the number of files (30 files 1.85x 10 files of the same size, in
bench/prep_scale_bench.py). Setting ``M_MMAP_THRESHOLD`` fixes the threshold and turns
the adjustment off (mallopt(3)). The threshold sits above a streamed block's columns
(about 2 MiB each, reused from the heap) and below a file's.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # <malloc.h>
THRESHOLD_BYTES = 4 << 20


def map_large_allocations() -> bool:
    """Fix glibc's mmap threshold at ``THRESHOLD_BYTES``; False where glibc is not in use."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
