"""The HTTP request and response as the wire layer sees them, independent of any web framework.

A server builds an :class:`HttpRequest` from what arrived (the path still percent-encoded, as
Signature V4 needs it) and sends back the :class:`HttpResponse` a protocol encoder made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar, overload
from urllib.parse import parse_qsl

__all__ = ["Headers", "HttpRequest", "HttpResponse"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

T = TypeVar("T")


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued HTTP headers. ``headers[name]`` is the first value;
    :meth:`get_all` gives every value in arrival order."""

    __slots__ = ("_items",)

    def __init__(self, raw: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = raw.items() if isinstance(raw, Mapping) else raw
        self._items: list[tuple[str, str]] = [(k.lower(), v) for k, v in pairs]

    def __getitem__(self, name: str) -> str:
        lname = name.lower()
        for key, value in self._items:
            if key == lname:
                return value
        raise KeyError(name)

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | T) -> str | T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """The first value of ``name``, or ``default`` (without raising and catching KeyError, as
        ``Mapping.get`` would for every header a request does not carry)."""
        lname = name.lower()
        for key, value in self._items:
            if key == lname:
                return value
        return default

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        lname = name.lower()
        return any(key == lname for key, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._items:
            if key not in seen:
                seen.add(key)
                yield key

    def __len__(self) -> int:
        return len({key for key, _ in self._items})

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self._items if key == lname]

    def raw_items(self) -> list[tuple[str, str]]:
        """Every (lower-cased name, value) pair, duplicates included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class HttpRequest:
    """One incoming request. ``path`` is the raw, percent-encoded path without the query;
    ``query_string`` is the raw text after ``?``."""

    method: str
    path: str
    query_string: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @staticmethod
    def build(
        method: str,
        path: str,
        query_string: str = "",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HttpRequest:
        """Convenience constructor taking headers as a mapping or as (name, value) pairs."""
        return HttpRequest(method.upper(), path, query_string, Headers(headers), body)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``application/json``)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @cached_property
    def query_params(self) -> list[tuple[str, str]]:
        """The query string decoded as ``application/x-www-form-urlencoded`` pairs."""
        return parse_qsl(self.query_string, keep_blank_values=True, errors="replace")

    @cached_property
    def form_params(self) -> dict[str, str]:
        """Query-protocol parameters: the query string and, for a form-encoded body, the body
        (the body wins when both name a parameter)."""
        params = dict(self.query_params)
        if self.body and self.content_type == FORM_CONTENT_TYPE:
            text = self.body.decode("utf-8", errors="replace")
            params.update(parse_qsl(text, keep_blank_values=True, errors="replace"))
        return params


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None
