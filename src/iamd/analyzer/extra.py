"""Checks that pair a condition key with something else in the statement or policy: actions a
key needs, keys that mean nothing in a resource type's policy, KMS key values, and wildcards or
variables too early in sensitive keys."""

from __future__ import annotations

import re

from iamd.analyzer.context import Context, allows
from iamd.policy.ast import ConditionClause, Statement

__all__ = ["check_extra"]

_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)")
_S3_POLICIES = ("AWS::S3::Bucket", "AWS::S3::AccessPoint", "AWS::S3::MultiRegionAccessPoint")
# Keys whose values are set only when a companion action is allowed (IAM User Guide: a role
# trust policy must allow sts:SetSourceIdentity to accept a source identity, and sts:TagSession
# to accept session tags).
_COMPANION = (
    (("sts:sourceidentity",), "sts:SetSourceIdentity"),
    (("aws:requesttag/", "aws:tagkeys", "sts:transitivetagkeys"), "sts:TagSession"),
)
_ASSUME = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")
_MIN_LITERAL = 6


def check_extra(ctx: Context) -> None:
    for stmt in ctx.policy.statements:
        for clause in stmt.conditions:
            _companion(ctx, stmt, clause)
            _irrelevant(ctx, clause)
            _kms(ctx, clause)
            _too_permissive(ctx, clause)


def _companion(ctx: Context, stmt: Statement, clause: ConditionClause) -> None:
    lowered = clause.key.lower()
    if not any(allows(stmt, a) for a in _ASSUME):
        return
    for keys, action in _COMPANION:
        named = any(lowered == k or (k.endswith("/") and lowered.startswith(k)) for k in keys)
        if named and not allows(stmt, action):
            ctx.add(
                "MISSING_ACTION_FOR_CONDITION_KEY",
                f"{clause.key} is only set when {action} is allowed; add {action} to this "
                "statement's Action.",
                clause.path,
            )


def _irrelevant(ctx: Context, clause: ConditionClause) -> None:
    if ctx.resource_type in _S3_POLICIES and clause.key.lower() == "s3:resourceaccount":
        ctx.add(
            "IRRELEVANT_CONDITION_KEY_IN_POLICY",
            f"{clause.key} means nothing in a {ctx.resource_type} policy; use it in an identity-based "
            "policy to govern access to this resource.",
            clause.path,
        )


def _kms(ctx: Context, clause: ConditionClause) -> None:
    lowered = clause.key.lower()
    if not ("kms-key-id" in lowered or lowered.endswith(("kmskeyid", "kmskeyarn"))):
        return
    if not (clause.base.startswith("Arn") or "Equals" in clause.base):
        return
    for value in clause.values:
        if "*" in value or "?" in value or "${" in value:
            continue
        if not _KMS_KEY_ARN.fullmatch(value):
            ctx.add(
                "INVALID_KMS_KEY_VALUE",
                f"{value!r} is not a KMS key ARN; write arn:aws:kms:REGION:ACCOUNT:key/KEY-ID.",
                clause.path,
            )
            return


def _sensitive(key: str) -> bool:
    """OIDC subject claims and aws:userid: a loose pattern there trusts strangers."""
    lowered = key.lower()
    prefix = lowered.split(":", 1)[0]
    return lowered == "aws:userid" or (lowered.endswith(":sub") and ("." in prefix or "/" in prefix))


def _short_literal(value: str, marker: str) -> bool:
    """Whether a wildcard (or variable) comes with fewer than six literal characters since the
    last ':' (or the start)."""
    index = value.find(marker)
    while index >= 0:
        run = value[:index].rsplit(":", 1)[-1]
        run = re.split(r"[*?]|\$\{[^}]*\}", run)[-1]
        if len(run) < _MIN_LITERAL:
            return True
        index = value.find(marker, index + 1)
    return False


def _too_permissive(ctx: Context, clause: ConditionClause) -> None:
    if not _sensitive(clause.key) or "Like" not in clause.base or clause.base.startswith("StringNot"):
        return
    for value in clause.values:
        userid = clause.key.lower() == "aws:userid"
        if userid:
            wild = "*" in value.split(":", 1)[0] and ":" in value
            var = "${" in value.split(":", 1)[0] and ":" in value
        else:
            wild = any(_short_literal(value, m) for m in "*?")
            var = _short_literal(value, "${")
        if wild:
            ctx.add(
                "WILDCARD_USAGE_TOO_PERMISSIVE",
                f"The wildcard in {value!r} for {clause.key} matches far more than you likely mean; put at "
                "least six literal characters before it (e.g. repo:OWNER/REPO:ref:refs/heads/*).",
                clause.path,
            )
            return
        if var:
            ctx.add(
                "VARIABLE_USAGE_TOO_PERMISSIVE",
                f"The policy variable in {value!r} for {clause.key} can stand for anything there; put at "
                "least six literal characters before it.",
                clause.path,
            )
            return
