"""Compiled policy documents, one entry per document: a change to one of a principal's hundred
policies recompiles that one, not the hundred.

An entry is keyed by the document's label (its name, or ``group/name``, which the compiled
statements carry) and a digest of its text, so it can never answer for another text: a new
version read from the database (written by this node or another sharing it) has a new key. The
cache is bounded by the total length of the texts it holds (compiled statements take about five
bytes per character of text), least recently used first out.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from iamd.authz import CompiledStatement, NamedPolicy, compile_policies
from iamd.policy import PolicyError, PolicyKind, parse_policy

__all__ = ["MAX_TEXT", "CompiledDocument", "DocumentCache"]

MAX_TEXT = 32 * 1024 * 1024
"""Characters of policy text whose compiled form is kept: an account of 20,000 customer managed
policies of 500 characters and the 1,582 AWS managed policies (5.8 million characters) fit, in
about 160 MB at the most."""

CompiledDocument = tuple[tuple[CompiledStatement, ...], bool] | None
"""A document's compiled statements and whether one has NotPrincipal; None for a document that
no longer parses (it grants nothing)."""

_Key = tuple[str, PolicyKind, bytes]


def _compile(label: str, text: str, kind: PolicyKind) -> CompiledDocument:
    try:
        policy = parse_policy(text, kind, strict=False)
    except PolicyError:
        return None
    compiled = compile_policies([NamedPolicy(label, policy)])
    return compiled.statements, compiled.has_not_principal


class DocumentCache:
    """Thread-safe; bounded by ``max_text`` characters of policy text."""

    def __init__(self, max_text: int = MAX_TEXT) -> None:
        self._entries: OrderedDict[_Key, tuple[CompiledDocument, int]] = OrderedDict()
        self._held = 0
        self._max_text = max_text
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0

    def compiled(self, label: str, text: str, kind: PolicyKind = PolicyKind.MANAGED) -> CompiledDocument:
        """``text`` parsed (leniently, as stored documents are) and compiled under ``label``."""
        key = (label, kind, hashlib.blake2b(text.encode(), digest_size=20).digest())
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[0]
        compiled = _compile(label, text, kind)
        weight = len(text)
        if weight > self._max_text:
            return compiled
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (compiled, weight)
                self._held += weight
                while self._held > self._max_text:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._held -= dropped
        return compiled
