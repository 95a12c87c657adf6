"""Scalars on the wire: timestamps in their three formats, numbers, booleans and blobs as text.

Shared by the three protocols. Parsing failures raise :class:`ValueError`; each protocol turns that
into its own error (a ``ValidationError`` for the query protocol, a ``SerializationException``
for JSON).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

__all__ = [
    "decode_blob",
    "encode_blob",
    "format_epoch",
    "format_iso8601",
    "format_rfc822",
    "format_timestamp",
    "parse_boolean",
    "parse_float",
    "parse_integer",
    "parse_scalar",
    "parse_timestamp",
    "to_datetime",
]

_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
# Digits, then optionally a point and more digits: one way to read each number (``\d+\.?\d*`` had
# as many ways as digits, and a long run of digits then a letter took seconds to refuse).
_FLOAT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def to_datetime(value: Any) -> datetime:
    """Any accepted timestamp value (aware or naive ``datetime``, epoch seconds, ISO 8601 or
    RFC 822 text) as an aware UTC ``datetime``. Naive datetimes are taken to be UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("timestamp must be finite")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        return parse_timestamp(value)
    raise ValueError(f"not a timestamp: {value!r}")


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 (``2026-11-28T12:00:00Z``, fractions and offsets allowed), epoch seconds or an
    RFC 822 / HTTP date, whichever the text is."""
    text = text.strip()
    match = _ISO_RE.fullmatch(text)
    if match:
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        fraction = match.group(7) or ""
        micro = int((fraction + "000000")[:6]) if fraction else 0
        zone: tzinfo = UTC
        if match.group(9):
            sign = 1 if match.group(9) == "+" else -1
            zone = timezone(sign * timedelta(hours=int(match.group(10)), minutes=int(match.group(11))))
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone).astimezone(UTC)
    if _EPOCH_RE.fullmatch(text):
        return to_datetime(float(text))
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"not a timestamp: {text!r}") from exc
    return to_datetime(parsed)


def format_iso8601(value: Any, *, fractional: bool = False) -> str:
    """``2026-11-28T12:00:00Z``; with ``fractional``, milliseconds when there are any."""
    when = to_datetime(value)
    if when.year >= 1000:  # (what strftime writes, without its cost: a listing has hundreds)
        text = (
            f"{when.year}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
        )
    else:
        text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if fractional and when.microsecond:
        text += f".{when.microsecond // 1000:03d}"
    return text + "Z"


def format_epoch(value: Any) -> int | float:
    """Seconds since the epoch: an int when whole, else rounded to milliseconds."""
    when = to_datetime(value)
    seconds = int(when.replace(microsecond=0).timestamp())
    if when.microsecond // 1000 == 0:
        return seconds
    return seconds + (when.microsecond // 1000) / 1000


def format_rfc822(value: Any) -> str:
    """``Sat, 28 Nov 2026 12:00:00 GMT``."""
    return format_datetime(to_datetime(value).replace(microsecond=0), usegmt=True)


def format_timestamp(value: Any, fmt: str, *, fractional: bool = False) -> str | int | float:
    """Format by a model's ``timestampFormat`` (``iso8601``, ``unixTimestamp``, ``rfc822``)."""
    fmt = fmt.lower()
    if fmt == "unixtimestamp":
        return format_epoch(value)
    if fmt == "rfc822":
        return format_rfc822(value)
    return format_iso8601(value, fractional=fractional)


def parse_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_integer(text: str) -> int:
    stripped = text.strip()
    if not re.fullmatch(r"[+-]?\d+", stripped):
        raise ValueError(f"not an integer: {text!r}")
    return int(stripped)


def parse_float(text: str) -> float:
    stripped = text.strip()
    specials = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    if stripped in specials:
        return specials[stripped]
    if not _FLOAT_RE.fullmatch(stripped):
        raise ValueError(f"not a number: {text!r}")
    return float(stripped)


def decode_blob(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not valid base64") from exc


def encode_blob(value: bytes | bytearray | str) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode("ascii")


def parse_scalar(kind: str, text: str) -> Any:
    """Text (a query parameter, a header, a URI label) as a value of shape type ``kind``;
    strings and unknown kinds stay text."""
    if kind in ("integer", "long"):
        return parse_integer(text)
    if kind in ("float", "double"):
        return parse_float(text)
    if kind == "boolean":
        return parse_boolean(text)
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "blob":
        return decode_blob(text)
    return text


TYPE_DESCRIPTIONS = {
    "integer": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "boolean": "a boolean",
    "timestamp": "a timestamp",
    "blob": "base64-encoded",
}
