"""From a JSON path in the policy text to a located finding's path elements and span."""

from __future__ import annotations

from iamd.analyzer.model import Location, PathElement, Span, Spot
from iamd.policy.ast import Path
from iamd.policy.jsonpos import JsonNode, Position

__all__ = ["Locator"]


def _spot(pos: Position) -> Spot:
    return Spot(pos.line, max(pos.column - 1, 0), max(pos.offset, 0))


class Locator:
    """Locates paths in one policy text (``root`` is its positioned tree, None if not JSON)."""

    def __init__(self, text: str, root: JsonNode | None) -> None:
        self.text = text
        self.root = root

    def node(self, path: Path) -> JsonNode | None:
        node = self.root
        for part in path:
            if node is None:
                return None
            node = self._child(node, part)
        return node

    @staticmethod
    def _child(node: JsonNode, part: str | int) -> JsonNode | None:
        if isinstance(part, int):
            return node.elements[part] if node.kind == "array" and part < len(node.elements) else None
        if node.kind == "object":
            for key, _, value in node.items:
                if key == part:
                    return value
        return None

    def locate(self, path: Path, fallback: Position | None = None, key: bool = False) -> Location:
        """The location of ``path``: the span of the value there, or of its member name when
        ``key`` (a finding about the name itself). Where the path does not resolve, the
        deepest node that does, or ``fallback``."""
        elements: list[PathElement] = []
        node = self.root
        span: Span | None = None
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(part, int):
                elements.append(("index", part))
            else:
                elements.append(("key" if key and last else "value", part))
            if node is None:
                continue
            if key and last and isinstance(part, str) and node.kind == "object":
                for name, kpos, _ in node.items:
                    if name == part:
                        span = Span(_spot(kpos), self._after_string(kpos))
                        break
                node = None
                continue
            node = self._child(node, part)
        if span is None:
            if node is not None and node.pos.offset >= 0:
                end = node.end if node.end is not None else node.pos
                span = Span(_spot(node.pos), _spot(end))
            elif fallback is not None and fallback.offset >= 0:
                span = Span(_spot(fallback), _spot(fallback))
            else:
                span = self._deepest(path)
        return Location(tuple(elements), span)

    def _deepest(self, path: Path) -> Span:
        node = self.root
        best = node
        for part in path:
            if node is None:
                break
            node = self._child(node, part)
            if node is not None:
                best = node
        if best is None or best.pos.offset < 0:
            zero = Spot(1, 0, 0)
            return Span(zero, zero)
        end = best.end if best.end is not None else best.pos
        return Span(_spot(best.pos), _spot(end))

    def _after_string(self, pos: Position) -> Spot:
        """Just past the JSON string token starting at ``pos`` (a member name)."""
        text, i = self.text, pos.offset + 1
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        i += 1
        return Spot(pos.line, pos.column - 1 + (i - pos.offset), i)
