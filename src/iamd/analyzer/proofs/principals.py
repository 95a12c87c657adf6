"""The finite set of callers that stands for every caller, for resource-based policies.

A Principal element tells callers apart only by what it names: an ARN (exactly), an account (its
root and everything in it), a role (its sessions), a user (its federated-user sessions), ``*``. So
for the ARNs and accounts named in the policies of one question, one representative of each kind
of caller is enough: every real caller matches exactly the statements that one of them matches
(``iamd.authz.compiled._compile_principal`` is what decides, and the encoder calls it on each).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from iamd.authz.principal import Principal, PrincipalKind
from iamd.policy.ast import Policy, PrincipalSpec

__all__ = ["WEB_IDENTITY_PROVIDERS", "candidates", "owner_account", "public_candidates"]

_ACCOUNT = re.compile(r"\d{12}")
_ARN_ACCOUNT = re.compile(r"arn:[a-z-]+:[a-z0-9-]+::(\d{12}):")
WEB_IDENTITY_PROVIDERS = (
    "cognito-identity.amazonaws.com",
    "accounts.google.com",
    "graph.facebook.com",
    "www.amazon.com",
)
_ANONYMOUS = Principal.anonymous()


def _specs(policies: Sequence[Policy]) -> list[PrincipalSpec]:
    out: list[PrincipalSpec] = []
    for policy in policies:
        for stmt in policy.statements:
            for spec in (stmt.principal, stmt.not_principal):
                if spec is not None:
                    out.append(spec)
    return out


def _accounts(specs: Sequence[PrincipalSpec]) -> set[str]:
    found: set[str] = set()
    for spec in specs:
        for entry in spec.aws:
            if _ACCOUNT.fullmatch(entry):
                found.add(entry)
            else:
                match = _ARN_ACCOUNT.match(entry)
                if match:
                    found.add(match.group(1))
    return found


def _fresh_account(taken: set[str], start: int) -> str:
    number = start
    while f"{number:012d}" in taken:
        number += 1
    taken.add(f"{number:012d}")
    return f"{number:012d}"


def candidates(policies: Sequence[Policy]) -> tuple[Principal, ...]:
    """One caller for each way the policies' Principal elements can tell callers apart. The first
    two are the public ones: anonymous, and a user of an account no policy names."""
    specs = _specs(policies)
    taken = _accounts(specs)
    stranger = _fresh_account(taken, 444455556666)
    out: list[Principal] = [_ANONYMOUS, Principal.parse(f"arn:aws:iam::{stranger}:user/stranger")]
    for provider in sorted({f for spec in specs for f in spec.federated}):
        out.append(Principal(PrincipalKind.WEB_IDENTITY, provider, None))
    for account in sorted(taken - {stranger}):
        out.append(Principal.parse(f"arn:aws:iam::{account}:root"))
        out.append(Principal.parse(f"arn:aws:iam::{account}:user/iamd-analyzer"))
        out.append(Principal.parse(f"arn:aws:sts::{account}:assumed-role/iamd-analyzer/session"))
    for spec in specs:
        for entry in spec.aws:
            if _ACCOUNT.fullmatch(entry) or entry == "*" or entry.endswith(":root"):
                continue
            parts = entry.split(":", 5)
            if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
                name = parts[5].rsplit("/", 1)[-1]
                role = Principal.parse(f"arn:{parts[1]}:sts::{parts[4]}:assumed-role/{name}/session")
                out.append(role._replace(role_arn=entry))
                continue
            try:
                caller = Principal.parse(entry)
            except ValueError:
                caller = Principal(PrincipalKind.USER, entry, parts[4] if len(parts) == 6 else None)
            out.append(caller)
            if caller.kind is PrincipalKind.USER and len(parts) == 6:
                name = parts[5].rsplit("/", 1)[-1]
                federated = Principal.parse(f"arn:{parts[1]}:sts::{parts[4]}:federated-user/{name}")
                out.append(federated._replace(source_user_arn=entry))
        for service in spec.service:
            out.append(Principal(PrincipalKind.SERVICE, service, None))
        for user in spec.canonical_user:
            out.append(Principal(PrincipalKind.USER, user, None))
    seen: set[Principal] = set()
    unique: list[Principal] = []
    for principal in out:
        if principal not in seen:
            seen.add(principal)
            unique.append(principal)
    return tuple(unique)


def public_candidates(principals: Sequence[Principal]) -> list[int]:
    """Which of ``candidates`` are the public: anonymous, a stranger's user, and a web identity
    from a public identity provider (anyone can sign in to Google, Facebook, Amazon or Cognito)."""
    out = [0, 1]
    for i, principal in enumerate(principals):
        if principal.kind is PrincipalKind.WEB_IDENTITY and (
            principal.arn in WEB_IDENTITY_PROVIDERS or ":oidc-provider/" in principal.arn
        ):
            out.append(i)
    return out


def owner_account(principals: Sequence[Principal]) -> str:
    """An account that owns the resource and that none of the callers belongs to."""
    taken = {p.account for p in principals if p.account}
    return _fresh_account({t for t in taken if t}, 777788889999)
