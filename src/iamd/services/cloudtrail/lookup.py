"""CloudTrail's LookupEvents (JSON 1.1): the caller's account's events, newest first, filtered by
one lookup attribute and a time range, 50 at most per page."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.store.audit import StoredEvent
from iamd.wire import AwsError, load_service_model, modeled_error

__all__ = ["lookup_events"]

DEFAULT_WINDOW: Final = timedelta(days=90)
MAX_RESULTS: Final = 50


def _error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model("cloudtrail"), shape, message)


def _fingerprint(
    account: str, attribute: tuple[str, str] | None, start: datetime | None, end: datetime | None
) -> str:
    """What a NextToken belongs to: the account, the attribute and the time range as given."""
    text = json.dumps([account, attribute, start and start.isoformat(), end and end.isoformat()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _token(event: StoredEvent, fingerprint: str) -> str:
    raw = json.dumps({"t": event.event_time.isoformat(), "i": event.id, "q": fingerprint})
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def _untoken(token: str, fingerprint: str) -> tuple[datetime, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        at = datetime.fromisoformat(data["t"])
        row_id = int(data["i"])
        same = data["q"] == fingerprint
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        raise _error("InvalidNextTokenException", "Invalid NextToken.") from None
    if not same:
        raise _error(
            "InvalidNextTokenException", "The NextToken does not match the lookup attributes and time range."
        )
    return at, row_id


def render_event(event: StoredEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EventId": event.event_id,
        "EventName": event.event_name,
        "ReadOnly": "true" if event.read_only else "false",
    }
    if event.access_key_id:
        out["AccessKeyId"] = event.access_key_id
    out["EventTime"] = event.event_time
    out["EventSource"] = event.event_source
    if event.username:
        out["Username"] = event.username
    out["Resources"] = [{"ResourceType": kind, "ResourceName": name} for kind, name in event.resources]
    out["CloudTrailEvent"] = event.record
    return out


@operation("cloudtrail", "LookupEvents", readonly=True, heavy=True)
def lookup_events(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("cloudtrail:LookupEvents", "*")
    if params.get("EventCategory") is not None:
        if params["EventCategory"] != "insight":
            raise _error("InvalidEventCategoryException", "The event category is not valid.")
        return {"Events": []}  # iamd has no Insights events
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise _error("InvalidLookupAttributesException", "You can specify only one lookup attribute.")
    attribute: tuple[str, str] | None = None
    if attributes:
        key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
        if not key or value is None:
            raise _error(
                "InvalidLookupAttributesException",
                "A lookup attribute needs an AttributeKey and an AttributeValue.",
            )
        attribute = (str(key), str(value))
    end = params.get("EndTime") or ctx.now
    start = params.get("StartTime") or end - DEFAULT_WINDOW
    end, start = end.astimezone(UTC), start.astimezone(UTC)
    if start > end:
        raise _error("InvalidTimeRangeException", "Start time must be earlier than end time.")
    max_results = int(params.get("MaxResults") or MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        raise _error("InvalidMaxResultsException", f"MaxResults must be between 1 and {MAX_RESULTS}.")
    fingerprint = _fingerprint(ctx.account_id, attribute, params.get("StartTime"), params.get("EndTime"))
    before = _untoken(params["NextToken"], fingerprint) if params.get("NextToken") else None
    rows = ctx.uow.audit.lookup(
        ctx.account_id, start=start, end=end, attribute=attribute, before=before, limit=max_results + 1
    )
    out: dict[str, Any] = {"Events": [render_event(e) for e in rows[:max_results]]}
    if len(rows) > max_results:
        out["NextToken"] = _token(rows[max_results - 1], fingerprint)
    return out
