"""Give large buffers back to the operating system when they are freed.

glibc's malloc serves blocks of 128 KiB and more with ``mmap`` and unmaps them when freed, but it
raises that threshold to the size of any such block that is freed (up to 32 MiB): after a few
large request bodies, later ones come from the heap, and a heap rarely shrinks. Under a stream of
bodies of a few MiB each the server's resident size then climbed by hundreds of MiB and stayed
there. Fixing the threshold with
``mallopt(M_MMAP_THRESHOLD)`` keeps large blocks in ``mmap`` and returns them on ``free``; limiting
the number of arenas keeps worker threads from each holding freed memory of their own.

The threshold is 512 KiB, above asyncio's receive buffer: its socket transports read with
``recv(256 KiB)``, a new 256 KiB block shrunk to what arrived, once per request on a keep-alive
connection. At a threshold of 128 KiB, whenever the heap's top had no 256 KiB free (the trim
threshold was 256 KiB) each was an ``mmap``, an ``mremap``, a ``munmap`` and a page fault: in one
strace of TagUser at 4 clients, 2.25 system calls per request on the event loop's thread. From
the heap it costs none: the heap keeps the space for the next one (trimmed beyond 1 MiB free).

Measured with 400 POSTs of 1-9 MiB signed with an existing key id and a wrong signature: before
the pipeline dropped the tracebacks its trail kept (``pipeline._forget_frames``), 1,221 MiB
resident without this and 530 MiB with it; since, 160 MiB without and 125 MiB (flat from the
start) with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["return_large_buffers"]

log = logging.getLogger("iamd.server")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 512 * 1024
ARENA_MAX = 2


def return_large_buffers() -> bool:
    """Set glibc's malloc as the module docstring says; False where there is no glibc (nothing
    changes there)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    done = bool(mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)) and done
    done = bool(mallopt(_M_ARENA_MAX, ARENA_MAX)) and done
    if not done:
        log.debug("mallopt refused a setting; large buffers may stay in the heap")
    return done
