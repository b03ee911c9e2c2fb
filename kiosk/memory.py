"""Between two visitors, hand what the last visit used back to the system.

A kiosk runs for weeks. A visit decodes, scales, marks up and encodes full-screen pictures
(tens of MB, some on the capture thread); once the visit is wiped that memory is free inside
the process but glibc's allocator keeps it (in the main heap and in each thread's arena) for
a next allocation that may never come in that shape. So after every reset the kiosk runs
the cyclic garbage collector (objects that hold pixels and sit in a reference cycle would
otherwise wait for it) and asks glibc to return free pages with ``malloc_trim(0)``, which
covers every arena. And from the start, big blocks (from 1 MiB: pictures, encoder buffers)
are kept out of the heap (``keep_big_blocks_apart``), so they go back to the system as soon as
they are freed, during a visit too, and so does free memory at the top of a heap beyond 1 MiB.
Elsewhere (musl, macOS, Windows) only the collector runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

# After a reset, the screens' widgets go away with deleteLater(); this leaves them the time.
SETTLE_DELAY_MS: Final = 500
# Allocations from this size up (a picture's pixels, an encoder's buffers) get pages of their own,
# returned to the system the moment they are freed. glibc's default threshold starts at 128 KiB
# but rises to the largest block freed so far (up to 32 MiB), after which full-screen pictures
# come from the heap, where a few small blocks left behind keep their pages.
MMAP_THRESHOLD_BYTES: Final = 1 << 20
# Free memory at the top of a heap beyond this goes back to the system at once, during a visit
# too. agent.encoding.keep_working_memory (which the kiosk's start calls, for faster encodes)
# raises it to 128 MiB: a visit's freed decode and layout buffers then stayed resident until the
# visit ended, on top of the next stage's own (its highest moments were ~35 MB above need).
TRIM_THRESHOLD_BYTES: Final = 1 << 20
_M_TRIM_THRESHOLD: Final = -1  # glibc's mallopt parameter numbers
_M_MMAP_THRESHOLD: Final = -3


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except (OSError, TypeError):
        return None


@functools.cache
def keep_big_blocks_apart() -> bool:
    """Give big allocations their own pages for the rest of the process (once); False off glibc."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def call(pad: int) -> int:
        return int(trim(pad))

    return call


def release_free_memory() -> bool:
    """Collect reference cycles and return free heap pages to the system. True if pages were trimmed."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    released = bool(trim(0))
    log.debug("malloc_trim after a visit: %s", "pages returned" if released else "nothing to return")
    return released
