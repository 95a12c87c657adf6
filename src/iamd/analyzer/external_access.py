"""External access in a resource policy: which principals outside the zone of trust an Allow
statement reaches, summarised as IAM Access Analyzer summarises it (one grant per principal and
trusted condition values, with the actions, and whether the access is public).

Pure: a policy document and the account ids in the zone come in, grants come out.

Facts (shared/spec/access_analyzer_api.md §2.2, §2.5, §6.3; sources there):
- an external principal is another account, a federated user or an anonymous one; AWS service
  principals are never reported ("does not currently report findings from AWS service principals",
  access-analyzer-concepts);
- only condition keys external users cannot influence narrow a finding (access-analyzer-concepts);
  ``sts:ExternalId`` is supplied by the caller, so it does not;
- federated web identity pinned by its audience key is not public (AWS CLI get-finding-v2 example:
  ``cognito-identity.amazonaws.com:aud`` -> ``isPublic: false``); unpinned, it is (S3 Block Public
  Access's definition);
- when in doubt, report (Access Analyzer "errs on the side of declaring a false positive").
Deny statements are not subtracted (a deny narrowing a grant can only remove findings AWS would
not report with its solver either; iamd keeps the grant: a false positive, never a miss).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.ast import ConditionClause, Effect, Statement

__all__ = ["ExternalGrant", "external_grants", "principal_account"]

#: Keys whose fixed values pin who may act (the §2.5 list that applies to trust policies), mapped
#: to how a value names an account: "account" (the value is one), "arn" (an ARN holding one) or
#: None (the value narrows the grant but names no account: it stays a condition of the finding).
TRUSTED_KEYS: Final[Mapping[str, str | None]] = {
    "aws:principalaccount": "account",
    "aws:sourceaccount": "account",
    "aws:principalarn": "arn",
    "aws:sourcearn": "arn",
    "aws:principalorgid": None,
    "aws:principalorgpaths": None,
    "aws:userid": None,
    "aws:sourceip": None,
    "aws:sourcevpc": None,
    "aws:sourcevpce": None,
}
#: Federated web identity providers and the key that pins the application (§2.5, filter keys).
WEB_IDENTITY_AUDIENCE: Final[Mapping[str, str]] = {
    "cognito-identity.amazonaws.com": "cognito-identity.amazonaws.com:aud",
    "accounts.google.com": "accounts.google.com:aud",
    "graph.facebook.com": "graph.facebook.com:app_id",
    "www.amazon.com": "www.amazon.com:app_id",
}
_FIXED_OPERATORS: Final = frozenset({"StringEquals", "StringEqualsIgnoreCase", "ArnEquals", "IpAddress"})
_LIKE_OPERATORS: Final = frozenset({"StringLike", "ArnLike"})
_ACCOUNT: Final = re.compile(r"\d{12}")
_MAX_COMBINATIONS: Final = 64


@dataclass(frozen=True, slots=True)
class ExternalGrant:
    """One instance of sharing: what AWS reports as one external access finding."""

    principal: tuple[tuple[str, str], ...]
    """("AWS", "444455556666"), ("Federated", "accounts.google.com") …, as one entry."""
    actions: tuple[str, ...]
    condition: tuple[tuple[str, str], ...]
    is_public: bool

    @property
    def principal_map(self) -> dict[str, str]:
        return dict(self.principal)

    @property
    def condition_map(self) -> dict[str, str]:
        return dict(self.condition)

    def fingerprint(self) -> str:
        """What identifies this sharing: a change to any part is a new finding (AWS resolves the
        old one and opens another, access-analyzer-findings-remediate)."""
        return repr((self.principal, self.actions, self.condition, self.is_public))


def principal_account(value: str) -> str | None:
    """The account an AWS principal value names (``444455556666``, ``arn:aws:iam::4444…:root``,
    a user, role or assumed-role ARN), or None (``*``, a malformed value)."""
    if _ACCOUNT.fullmatch(value):
        return value
    parts = value.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and _ACCOUNT.fullmatch(parts[4]):
        return parts[4]
    return None


def _fixed(clause: ConditionClause) -> tuple[str, ...] | None:
    """The values a clause pins its key to, if it pins it (no IfExists, no negation, no wildcard
    under a Like operator, no policy variable), else None."""
    if clause.if_exists or clause.qualifier == "ForAllValues":
        return None
    if clause.base in _LIKE_OPERATORS:
        if any("*" in v or "?" in v for v in clause.values):
            return None
    elif clause.base not in _FIXED_OPERATORS:
        return None
    if any("${" in v for v in clause.values):
        return None
    return clause.values


def _pins(statement: Statement) -> dict[str, tuple[str, ...]]:
    """Trusted or audience keys this statement pins, lower-cased key -> (key as written, values…)."""
    pins: dict[str, tuple[str, ...]] = {}
    for clause in statement.conditions:
        key = clause.key.lower()
        if key not in TRUSTED_KEYS and not (key.endswith(":aud") or key.endswith(":app_id")):
            continue
        values = _fixed(clause)
        if values is None:
            continue
        pins[key] = (clause.key, *values)
    return pins


def _conditions(
    pins: Mapping[str, tuple[str, ...]], keys: Iterable[str]
) -> list[tuple[tuple[str, str], ...]]:
    """One condition map per combination of the pinned values of ``keys`` (AWS reports one finding
    per distinct sharing; CAV 2020's cubes), at most ``_MAX_COMBINATIONS``."""
    chosen = [k for k in sorted(keys) if k in pins]
    if not chosen:
        return [()]
    value_lists = [[(pins[k][0], v) for v in pins[k][1:]] for k in chosen]
    return [tuple(combo) for combo in itertools.islice(itertools.product(*value_lists), _MAX_COMBINATIONS)]


def _aws_grants(
    value: str, pins: Mapping[str, tuple[str, ...]], zone: frozenset[str]
) -> list[tuple[tuple[str, str], tuple[tuple[str, str], ...], bool]]:
    """(principal, condition, public) for one AWS principal value."""
    account = principal_account(value)
    narrowing = [k for k, how in TRUSTED_KEYS.items() if how is None and k in pins]
    if account is not None:
        if account in zone:
            return []
        return [(("AWS", value), c, False) for c in _conditions(pins, narrowing)]
    if value != "*":
        return [(("AWS", value), c, True) for c in _conditions(pins, narrowing)]
    # Everyone, unless a key pins the caller's account.
    for key, how in TRUSTED_KEYS.items():
        if how is None or key not in pins:
            continue
        accounts = [a for a in (v if how == "account" else principal_account(v) for v in pins[key][1:]) if a]
        if len(accounts) != len(pins[key]) - 1:
            continue  # a value names no account: this key does not pin one
        outside = sorted({a for a in accounts if a not in zone})
        grants: list[tuple[tuple[str, str], tuple[tuple[str, str], ...], bool]] = []
        for other in outside:
            grants.extend((("AWS", other), c, False) for c in _conditions(pins, narrowing))
        return grants
    conditions = _conditions(pins, narrowing)
    public = conditions == [()]
    return [(("AWS", "*"), c, public) for c in conditions]


def _federated_grants(
    value: str, pins: Mapping[str, tuple[str, ...]]
) -> list[tuple[tuple[str, str], tuple[tuple[str, str], ...], bool]]:
    """Federated principals are outside every zone: always a finding; public unless the audience
    (or, for an OIDC provider ARN, ``<host>:aud``; for SAML, ``SAML:aud``) is pinned."""
    audience = WEB_IDENTITY_AUDIENCE.get(value.lower())
    if audience is None:
        host = value.split("oidc-provider/", 1)[1] if "oidc-provider/" in value else None
        audience = f"{host}:aud" if host else "saml:aud" if ":saml-provider/" in value else None
    keys = [audience.lower()] if audience and audience.lower() in pins else []
    conditions = _conditions(pins, keys)
    public = not keys and ":saml-provider/" not in value
    return [(("Federated", value), c, public) for c in conditions]


def external_grants(document: str, zone: frozenset[str]) -> list[ExternalGrant]:
    """The external access a resource policy (a role's trust policy first) grants to principals
    outside ``zone`` (the account ids trusted: the analyzer's account, or its organization's).
    An unparsable policy grants nothing iamd could name (IAM refused to store one anyway)."""
    try:
        policy = parse_policy(document, PolicyKind.TRUST, strict=False)
    except PolicyError:
        return []
    merged: dict[tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], bool], set[str]] = {}
    for statement in policy.statements:
        if statement.effect is not Effect.ALLOW or statement.not_action:
            continue
        pins = _pins(statement)
        found: list[tuple[tuple[str, str], tuple[tuple[str, str], ...], bool]] = []
        if statement.not_principal is not None:
            found.extend(_aws_grants("*", pins, zone))  # everyone but a few: everyone
        spec = statement.principal
        if spec is not None:
            if spec.wildcard:
                found.extend(_aws_grants("*", pins, zone))
            for value in spec.aws:
                found.extend(_aws_grants(value, pins, zone))
            for value in spec.federated:
                found.extend(_federated_grants(value, pins))
            for value in spec.canonical_user:
                found.extend((("CanonicalUser", value), c, False) for c in _conditions(pins, []))
        for principal, condition, public in found:
            merged.setdefault(((principal,), condition, public), set()).update(statement.actions)
    return [
        ExternalGrant(principal, tuple(sorted(actions)), condition, public)
        for (principal, condition, public), actions in sorted(merged.items())
    ]
