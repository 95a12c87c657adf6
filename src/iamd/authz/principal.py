"""Who is asking: the request principal, read from its ARN (or the anonymous marker)."""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache
from typing import NamedTuple

__all__ = ["Principal", "PrincipalKind"]

_ACCOUNT = re.compile(r"\d{12}")


class PrincipalKind(Enum):
    USER = "IAMUser"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"
    ROOT = "Root"
    SERVICE = "AWSService"
    WEB_IDENTITY = "WebIdentityUser"
    SAML_USER = "SAMLUser"
    ANONYMOUS = "Anonymous"


class Principal(NamedTuple):
    """The caller. ``arn`` is the caller's own ARN (the session ARN for a role session);
    ``role_arn`` the role behind a session (with its path, when known); ``source_user_arn`` the IAM
    user that created a federated-user session, when known."""

    kind: PrincipalKind
    arn: str
    account: str | None
    role_name: str | None = None
    role_arn: str | None = None
    source_user_arn: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.kind is PrincipalKind.ANONYMOUS

    @property
    def is_service(self) -> bool:
        return self.kind is PrincipalKind.SERVICE

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalKind.ANONYMOUS, "*", None)

    @classmethod
    def parse(cls, text: str) -> Principal:
        """The caller ``text`` names (see ``_read``), remembered per text for Principal itself: a
        Principal is immutable, and requests repeat their callers. A refused text raises each time."""
        if cls is Principal and type(text) is str:
            return _parse_cached(text)
        return cls._read(text)

    @classmethod
    def _read(cls, text: str) -> Principal:
        """Read ``arn:aws:iam::A:user/…``, ``arn:aws:sts::A:assumed-role/R/S``,
        ``arn:aws:sts::A:federated-user/N``, ``arn:aws:iam::A:root`` or ``svc.amazonaws.com``."""
        if not text.startswith("arn:"):
            if text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn"):
                return cls(PrincipalKind.SERVICE, text, None)
            raise ValueError(f"{text!r} is not a principal ARN or a service principal")
        parts = text.split(":", 5)
        if len(parts) != 6 or not _ACCOUNT.fullmatch(parts[4]):
            raise ValueError(f"{text!r} is not a principal ARN (arn:partition:service::account:resource)")
        _, partition, service, _, account, resource = parts
        if service == "iam" and resource == "root":
            return cls(PrincipalKind.ROOT, text, account)
        if service == "iam" and resource.startswith("user/") and len(resource) > 5:
            return cls(PrincipalKind.USER, text, account)
        if service == "sts" and resource.startswith("assumed-role/"):
            pieces = resource.split("/")
            if len(pieces) >= 3 and pieces[1] and pieces[-1]:
                role = pieces[1]
                return cls(
                    PrincipalKind.ASSUMED_ROLE,
                    text,
                    account,
                    role_name=role,
                    role_arn=f"arn:{partition}:iam::{account}:role/{role}",
                )
        if service == "sts" and resource.startswith("federated-user/") and len(resource) > 15:
            return cls(PrincipalKind.FEDERATED_USER, text, account)
        if service == "iam" and resource.startswith("role/"):
            raise ValueError(
                f"{text!r} is a role, not a caller; a role acts through its sessions "
                "(arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)"
            )
        raise ValueError(f"{text!r} is not a user, role session, federated user or root principal")


@lru_cache(maxsize=1024)
def _parse_cached(text: str) -> Principal:
    return Principal._read(text)
