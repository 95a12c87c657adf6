"""Encoded authorization messages: why a request was denied, sealed into the AccessDenied message
so that only a caller allowed ``sts:DecodeAuthorizationMessage`` in the same account reads it.

The decoded form follows AWS's (``allowed``, ``explicitDeny``, ``matchedStatements``,
``failures``, ``context`` with principal, action, resource and conditions; the example decoded
message in the IAM User Guide, "Use DecodeAuthorizationMessage with a CLI",
https://docs.aws.amazon.com/IAM/latest/UserGuide/sts_example_sts_DecodeAuthorizationMessage_section.html),
plus iamd's explanation of the decision under ``iamd``: per policy layer, and for a denial the
statements that nearly allowed (``nearMisses``: statement, the element that failed, and for a
condition its operator, key, the request's values or their absence, the policy's values) or the
Denies that applied (``deniedBy``). AWS's own fields keep AWS's meaning: an implicit deny matched
no statement, so its near misses are not ``matchedStatements``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any, Final

from iamd.authz import Decision, Reason
from iamd.policy.variables import ContextValue
from iamd.secrets.kek import Kek, KekError

__all__ = [
    "PURPOSE",
    "InvalidAuthorizationMessage",
    "decode_authorization_message",
    "encode_authorization_message",
]

PURPOSE: Final = "sts-authorization-message"


class InvalidAuthorizationMessage(Exception):
    pass


def encode_authorization_message(
    kek: Kek,
    *,
    account: str | None,
    principal_arn: str,
    principal_id: str | None,
    action: str,
    resource: str,
    decision: Decision | None,
    context: Mapping[str, ContextValue],
) -> str:
    """The opaque text that follows "Encoded authorization failure message:"."""
    matched: list[dict[str, object]] = []
    if decision is not None:
        for layer in decision.layers:
            for ref in (*layer.denies, *layer.allows):
                matched.append(
                    {
                        "statementId": ref.sid or f"Statement[{ref.index}]",
                        "effect": ref.effect.upper(),
                        "policy": ref.policy,
                        "layer": layer.layer.key,
                    }
                )
    conditions = [
        {
            "key": key,
            "values": {"items": [{"value": v} for v in (value if isinstance(value, tuple) else (value,))]},
        }
        for key, value in sorted(context.items())
    ]
    body: dict[str, object] = {
        "allowed": bool(decision and decision.allowed),
        "explicitDeny": bool(decision and decision.reason is Reason.EXPLICIT_DENY),
        "matchedStatements": {"items": matched},
        "failures": {"items": []},
        "context": {
            "principal": {"id": principal_id, "arn": principal_arn},
            "action": action,
            "resource": resource,
            "conditions": {"items": conditions},
        },
    }
    if decision is not None:
        body["iamd"] = decision.to_json()
    sealed = {"a": account, "m": body}
    payload = zlib.compress(json.dumps(sealed, separators=(",", ":")).encode("utf-8"), 9)
    return kek.seal(payload, purpose=PURPOSE)


def decode_authorization_message(kek: Kek, encoded: str) -> tuple[str | None, dict[str, Any]]:
    """(the account whose principal was denied, the decoded message); InvalidAuthorizationMessage
    when the text is not a message this iamd made."""
    try:
        sealed = json.loads(zlib.decompress(kek.unseal(encoded.strip(), purpose=PURPOSE)))
    except (KekError, zlib.error, ValueError) as exc:
        raise InvalidAuthorizationMessage("The encoded authorization message is not valid.") from exc
    if not isinstance(sealed, dict) or not isinstance(sealed.get("m"), dict):
        raise InvalidAuthorizationMessage("The encoded authorization message is not valid.")
    account = sealed.get("a")
    return (account if isinstance(account, str) else None), sealed["m"]
