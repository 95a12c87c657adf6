"""Which kinds of policy exist, and the size quota of each (AWS's defaults).

Sizes count characters without white space, as IAM and Organizations do.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["PolicyKind", "policy_size"]


class PolicyKind(Enum):
    """A kind of policy: what it may contain and how large it may be."""

    MANAGED = ("managed", 6144, "POLICY_SIZE_EXCEEDS_MANAGED_QUOTA")
    INLINE_USER = ("inline-user", 2048, "POLICY_SIZE_EXCEEDS_INLINE_QUOTA")
    INLINE_GROUP = ("inline-group", 5120, "POLICY_SIZE_EXCEEDS_INLINE_QUOTA")
    INLINE_ROLE = ("inline-role", 10240, "POLICY_SIZE_EXCEEDS_INLINE_QUOTA")
    IDENTITY = ("identity", 6144, "POLICY_SIZE_EXCEEDS_MANAGED_QUOTA")
    SESSION = ("session", 2048, "POLICY_SIZE_EXCEEDS_SESSION_QUOTA")
    TRUST = ("trust", 2048, "POLICY_SIZE_EXCEEDS_TRUST_QUOTA")
    RESOURCE = ("resource", 20480, "POLICY_SIZE_EXCEEDS_RESOURCE_QUOTA")
    SCP = ("scp", 5120, "POLICY_SIZE_EXCEEDS_SCP_QUOTA")
    RCP = ("rcp", 5120, "POLICY_SIZE_EXCEEDS_RCP_QUOTA")

    def __init__(self, label: str, max_size: int, size_code: str) -> None:
        self.label = label
        self.max_size = max_size
        self.size_code = size_code

    @property
    def takes_principal(self) -> bool:
        """Resource-based, trust and RCP statements name a Principal; the others must not."""
        return self in (PolicyKind.RESOURCE, PolicyKind.TRUST, PolicyKind.RCP)

    @property
    def requires_resource(self) -> bool:
        return self is not PolicyKind.TRUST

    @classmethod
    def from_label(cls, label: str) -> PolicyKind:
        for kind in cls:
            if kind.label == label:
                return kind
        raise ValueError(f"unknown policy kind {label!r}; one of {', '.join(k.label for k in cls)}")


def policy_size(text: str) -> int:
    """Characters of a policy document, not counting white space."""
    # str.split() with no argument splits on exactly the characters str.isspace() accepts.
    return len("".join(text.split()))
