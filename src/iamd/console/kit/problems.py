"""Error presentation: what the person can do next, not AWS's sentence alone.

:func:`explain` turns an :class:`~iamd.wire.AwsError` into a :class:`Problem`: a sentence saying
what happened in the console's words and what to do about it, AWS's own message kept after it
(it names the field or the value), and the per-layer reasons of a denial for a principal allowed
to read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from iamd.wire import AwsError

__all__ = ["Problem", "explain"]

NEXT: Final = {
    "AccessDenied": "You don't have permission to do this. Ask an administrator to grant it, or "
    "switch to a role that has it.",
    "AccessDeniedException": "You don't have permission to do this. Ask an administrator to grant "
    "it, or switch to a role that has it.",
    "NoSuchEntity": "It no longer exists: someone may have deleted it. Reload the list and try again.",
    "EntityAlreadyExists": "That name is taken. Choose another name.",
    "LimitExceeded": "A quota is reached. Delete one you no longer need, then try again.",
    "DeleteConflict": "It is still in use. Remove what is attached to it first (listed on its "
    "page), then delete it.",
    "ValidationError": "Some of what you entered is not accepted. Correct the field named below and "
    "try again.",
    "InvalidInput": "Some of what you entered is not accepted. Correct it and try again.",
    "MalformedPolicyDocument": "The policy document is not valid. Correct it in the editor: the "
    "problem is named below.",
    "PasswordPolicyViolation": "The password does not meet the account's password policy. Choose "
    "another one.",
    "EntityTemporarilyUnmodifiable": "It is being changed right now. Wait a moment and try again.",
    "InvalidAuthenticationCode": "The MFA codes were not accepted. Wait for two new consecutive codes "
    "and enter them again.",
    "ConcurrentModification": "Someone changed it at the same time. Reload the page and try again.",
    "UnmodifiableEntity": "It is managed by AWS or by another service and cannot be changed here.",
    "Throttling": "Too many requests at once. Wait a moment and try again.",
}


@dataclass(frozen=True)
class Problem:
    text: str
    """What happened and what to do next, then AWS's message."""
    code: str
    status: int
    why: list[str] = field(default_factory=list)


def explain(error: AwsError, why: list[str]) -> Problem:
    advice = NEXT.get(error.code)
    message = error.message.strip()
    text = f"{advice} ({message})" if advice and message else advice or message or error.code
    return Problem(text=text, code=error.code, status=error.status, why=list(why))
