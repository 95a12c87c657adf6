"""The pool of random bytes behind ids, nonces and request ids: every byte handed out once, a
thread's and a forked child's bytes their own."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from iamd.secrets import entropy


def test_bytes_are_handed_out_once_across_refills() -> None:
    """Draws of every size over several pools' worth: no 16-byte draw repeats (a repeat of a
    pool's bytes would show at once), sizes are as asked, and large draws come straight from
    the system."""
    seen: set[bytes] = set()
    for _ in range(3 * entropy.CHUNK // 16):
        drawn = entropy.random_bytes(16)
        assert len(drawn) == 16 and drawn not in seen
        seen.add(drawn)
    for size in (0, 1, 12, 40, entropy.CHUNK // 4, entropy.CHUNK // 4 + 1, 3 * entropy.CHUNK):
        assert len(entropy.random_bytes(size)) == size


def test_uuids_are_version_4() -> None:
    ids = {entropy.uuid4() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_threads_draw_different_bytes() -> None:
    drawn: list[bytes] = []

    def draw() -> None:
        drawn.append(entropy.random_bytes(32))

    entropy.random_bytes(1)  # this thread's pool filled
    workers = [threading.Thread(target=draw) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    drawn.append(entropy.random_bytes(32))
    assert len(set(drawn)) == 9


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_does_not_hand_out_its_parents_bytes() -> None:
    entropy.random_bytes(1)  # the parent's pool filled: the child would inherit it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next bytes, to the parent
        try:
            os.write(write, entropy.random_bytes(32))
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != entropy.random_bytes(32)
