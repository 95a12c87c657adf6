"""Checks on Condition blocks: keys against the Service Authorization Reference (and AWS's global
keys), operator against the key's type, set qualifiers, and the values themselves."""

from __future__ import annotations

import ipaddress
import re

from iamd.analyzer.context import Context
from iamd.policy.ast import ConditionClause, Effect, Statement

__all__ = ["check_conditions", "is_federation_key"]

_FAMILY = {
    "String": "String",
    "Arn": "ARN",
    "Numeric": "Numeric",
    "Date": "Date",
    "Bool": "Bool",
    "IpAddress": "IPAddress",
    "NotIpAddress": "IPAddress",
    "Binary": "Binary",
    "Null": "Null",
}
_SUGGEST = {
    "String": "StringEquals or StringLike",
    "ARN": "ArnEquals or ArnLike",
    "Numeric": "NumericEquals, NumericLessThan…",
    "Date": "DateEquals, DateLessThan…",
    "Bool": "Bool",
    "IPAddress": "IpAddress or NotIpAddress",
}
_VPC = re.compile(r"vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_VPCE = re.compile(r"vpce-(?:[0-9a-z]{8}|[0-9a-z]{17})")
# RFC 1918 and RFC 4193 ranges: addresses a request over the internet never comes from.
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_UNTRUSTWORTHY = frozenset({"aws:useragent"})
_TAG_PREFIXES = ("aws:resourcetag", "aws:requesttag", "aws:principaltag")


def family(clause: ConditionClause) -> str:
    base = clause.base
    for prefix, name in _FAMILY.items():
        if base.startswith(prefix):
            return name
    return "String"


def is_federation_key(key: str) -> bool:
    """Keys of identity providers (saml:sub, token.actions.githubusercontent.com:sub, …): no
    service defines them."""
    prefix = key.split(":", 1)[0].lower()
    return prefix == "saml" or "." in prefix or "/" in prefix


def _value_type(key_type: str) -> str:
    return key_type[len("ArrayOf") :] if key_type.startswith("ArrayOf") else key_type


def check_conditions(ctx: Context) -> None:
    for stmt in ctx.policy.statements:
        keys = {c.key.lower() for c in stmt.conditions}
        for clause in stmt.conditions:
            _clause(ctx, stmt, clause, keys)
        _empty_block(ctx, stmt)


def _empty_block(ctx: Context, stmt: Statement) -> None:
    path = (*ctx.statement_path(stmt), "Condition")
    node = ctx.locator.node(path)
    if node is not None and node.kind == "object" and not node.items:
        ctx.add(
            "EMPTY_OBJECT_CONDITION", "The Condition element is empty; remove it or add conditions.", path
        )


def _clause(ctx: Context, stmt: Statement, clause: ConditionClause, keys: set[str]) -> None:
    key, lowered, path = clause.key, clause.key.lower(), clause.path
    if ":" not in key:
        return  # INVALID_CONDITION_KEY_FORMAT, from the grammar
    fam = family(clause)
    prefix = lowered.split(":", 1)[0]
    key_type = _key_type(ctx, clause, prefix)
    _values(ctx, stmt, clause, fam)
    if fam == "Null":
        if clause.qualifier:
            ctx.add(
                "NULL_WITH_QUALIFIER",
                f"{clause.operator} is always true or always false; drop {clause.qualifier}: and test "
                f"{key} with Null alone.",
                path,
            )
        return
    if key_type is not None:
        _types(ctx, clause, fam, key_type)
    if lowered in _UNTRUSTWORTHY:
        ctx.add(
            "UNTRUSTWORTHY_CONDITION_KEY",
            f"The caller chooses the value of {key}, so it cannot protect access; use a key AWS sets "
            "(aws:SourceIp, aws:PrincipalArn, aws:SourceVpce…).",
            path,
        )
    if lowered == "aws:vpcsourceip" and not ({"aws:sourcevpc", "aws:sourcevpce"} & keys):
        ctx.add(
            "MISSING_PAIRED_CONDITION_KEYS",
            "aws:VpcSourceIp matches addresses of any VPC; pair it with aws:SourceVpc or aws:SourceVpce "
            "in the same statement.",
            path,
        )
    if lowered == "aws:ec2instancesourceprivateipv4" and "aws:ec2instancesourcevpc" not in keys:
        ctx.add(
            "MISSING_PAIRED_CONDITION_KEYS",
            "aws:Ec2InstanceSourcePrivateIPv4 is only meaningful with aws:Ec2InstanceSourceVpc; add it to "
            "the same statement.",
            path,
        )
    if lowered == "s3:prefix" and (stmt.effect is Effect.DENY or "Not" in clause.base):
        ctx.add(
            "S3_PREFIX_IN_NEGATIVE_CONTEXT",
            "s3:prefix in a Deny or negated condition is bypassed by listing with a shorter prefix; "
            "allow the prefixes you mean instead.",
            path,
        )
    if lowered == "dynamodb:attributes" and stmt.effect is Effect.ALLOW and "dynamodb:select" not in keys:
        ctx.add(
            "DYNAMODB_ATTRIBUTES_WITHOUT_SELECT",
            "Without dynamodb:Select = SPECIFIC_ATTRIBUTES, a request that projects no attributes reads "
            "them all; add that condition to this statement.",
            path,
        )
    _action_support(ctx, stmt, clause, prefix)


def _key_type(ctx: Context, clause: ConditionClause, prefix: str) -> str | None:
    key, lowered, path = clause.key, clause.key.lower(), clause.path
    if is_federation_key(key):
        return None
    if lowered == "aws:arn":
        # The current guide answers aws:ARN with UNSUPPORTED_GLOBAL_CONDITION_KEY (ERROR); its
        # older DEPRECATED_GLOBAL_CONDITION_KEY warning named the same key.
        ctx.add(
            "UNSUPPORTED_GLOBAL_CONDITION_KEY",
            "The condition key aws:ARN is not supported; use aws:PrincipalArn (the caller) or "
            "aws:SourceArn (the source resource) instead.",
            path,
        )
        return "ARN"
    key_type = ctx.sar.condition_key_type(key)
    if key_type is not None:
        return key_type
    tagless = lowered.rstrip("/")
    if tagless in _TAG_PREFIXES or (
        (lowered.endswith("tag") or lowered.endswith("tag/"))
        and (ctx.sar.condition_key_type(tagless + "/x") is not None)
    ):
        ctx.add(
            "MISSING_TAG_KEY_IN_CONDITION",
            f"Add the tag key to {key} (for example {key.rstrip('/')}/Project).",
            path,
        )
        return None
    if prefix == "aws":
        ctx.add(
            "INVALID_GLOBAL_CONDITION_KEY",
            f"{key} is not a global condition key; check its spelling against AWS's global condition keys.",
            path,
        )
    elif prefix not in ctx.sar.services():
        ctx.add(
            "INVALID_SERVICE",
            f"No service has the prefix {prefix!r} (in {key}); correct the condition key's prefix.",
            path,
        )
    elif ctx.sar.service_has_condition_keys(prefix) or ctx.sar.actions(prefix):
        ctx.add(
            "INVALID_SERVICE_CONDITION_KEY",
            f"{prefix} has no condition key {key}; use one the service defines.",
            path,
        )
    return None


def _types(ctx: Context, clause: ConditionClause, fam: str, key_type: str) -> None:
    value_type = _value_type(key_type)
    multi = key_type.startswith("ArrayOf")
    path = clause.path
    if multi and clause.qualifier is None:
        ctx.add(
            "MISSING_QUALIFIER",
            f"{clause.key} can hold several values; write ForAllValues:{clause.operator} or "
            f"ForAnyValue:{clause.operator}.",
            path,
        )
    if not multi and clause.qualifier == "ForAllValues":
        ctx.add(
            "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
            f"{clause.key} is single-valued, and ForAllValues also matches when it is absent; remove "
            "ForAllValues: (or add a Null check).",
            path,
        )
    if value_type == "ARN" and fam == "String" and "Like" in clause.base:
        ctx.add(
            "STRING_LIKE_OPERATOR_WITH_ARN_CONDITION_KEYS",
            f"{clause.key} is an ARN; compare it with ArnLike instead of {clause.base}, which does not "
            "match ARN fields.",
            path,
        )
        return
    compatible = (
        fam == value_type
        or (value_type == "ARN" and fam == "String")
        or (value_type == "String" and fam == "ARN")  # ARNs held in String keys (kms:EncryptionContext:…)
        or (value_type == "Date" and fam == "Numeric" and clause.key.lower() == "aws:epochtime")
    )
    if not compatible:
        ctx.add(
            "TYPE_MISMATCH",
            f"{clause.key} is of type {value_type}, so {clause.base} never matches as intended; use "
            f"{_SUGGEST.get(value_type, value_type)}.",
            path,
        )


def _values(ctx: Context, stmt: Statement, clause: ConditionClause, fam: str) -> None:
    path, values, lowered = clause.path, clause.values, clause.key.lower()
    if not values:
        if clause.qualifier == "ForAllValues":
            code, say = "EMPTY_ARRAY_CONDITION_FORALLVALUES", f'use Null {{"{clause.key}": "true"}}'
        elif clause.qualifier == "ForAnyValue":
            code, say = "EMPTY_ARRAY_CONDITION_FORANYVALUE", "it never matches; add values or remove it"
        elif clause.if_exists:
            code, say = "EMPTY_ARRAY_CONDITION_IFEXISTS", f'use Null {{"{clause.key}": "true"}}'
        else:
            code, say = "EMPTY_ARRAY_CONDITION", "add values or remove the key"
        ctx.add(code, f"{clause.key} has no values under {clause.operator}: {say}.", path)
        return
    if fam == "Bool" and len({v.lower() for v in values}) > 1:
        ctx.add(
            "INVALID_CONDITION_MULTIPLE_BOOLEAN",
            f"{clause.key} is given both true and false, so the condition always matches; keep one value.",
            path,
        )
    if fam == "String" and "Like" not in clause.base:
        for v in values:
            if ("*" in v or "?" in v) and "${*}" not in v and "${?}" not in v:
                ctx.add(
                    "WILDCARD_WITHOUT_LIKE_OPERATOR",
                    f"{v!r} has a wildcard but {clause.base} compares literally; use "
                    f"{clause.base.replace('Equals', 'Like').replace('IgnoreCase', '')}.",
                    path,
                )
                break
    if fam == "String" and "Like" in clause.base and "*" in values:
        _star(ctx, clause)
    if fam == "Date":
        for v in values:
            if v.isdigit() and lowered != "aws:epochtime":
                ctx.add(
                    "INVALID_DATE_VALUE",
                    f"{v!r} is read as epoch seconds, which may not be what you mean; write the date "
                    "in ISO 8601 (2026-01-31T00:00:00Z).",
                    path,
                )
                break
    if fam == "Numeric" and len(values) > 1 and ("LessThan" in clause.base or "GreaterThan" in clause.base):
        ctx.add(
            "REDUNDANT_CONDITION_VALUE_NUM",
            f"Only the {'largest' if 'LessThan' in clause.base else 'smallest'} value of {clause.key} "
            f"counts under {clause.base}; keep that one.",
            path,
        )
    if fam == "IPAddress":
        _ip(ctx, clause)
    for v in values:
        if "*" in v or "?" in v or "${" in v:
            continue
        if lowered == "aws:sourcevpc" and not _VPC.fullmatch(v):
            ctx.add(
                "INVALID_VPC_FORMAT",
                f"{v!r} is not a VPC ID; use vpc- followed by 8 or 17 hexadecimal characters.",
                path,
            )
        elif lowered == "aws:sourcevpce" and not _VPCE.fullmatch(v):
            ctx.add(
                "INVALID_VPCE_FORMAT",
                f"{v!r} is not a VPC endpoint ID; use vpce- followed by 8 or 17 characters.",
                path,
            )
        elif lowered == "aws:requestedregion" and v not in ctx.sar.regions():
            ctx.add(
                "INVALID_REGION",
                f"{v!r} is not a Region; use a Region code such as eu-west-1.",
                path,
            )


def _star(ctx: Context, clause: ConditionClause) -> None:
    negated = "Not" in clause.base
    if clause.qualifier == "ForAnyValue" and negated:
        ctx.add(
            "REDUNDANT_STATEMENT_DUE_TO_WILDCARD_IN_CONDITION",
            f'No value of {clause.key} escapes "*", so this condition never matches and the statement '
            "has no effect; fix or remove it.",
            clause.path,
        )
    elif negated:
        ctx.add(
            "EQUIVALENT_TO_NULL_TRUE",
            f'{clause.operator} "*" only matches when {clause.key} is absent; write '
            f'Null {{"{clause.key}": "true"}}.',
            clause.path,
        )
    elif clause.if_exists:
        ctx.add(
            "REDUNDANT_KEY_DUE_TO_WILDCARD_IN_CONDITION",
            f'{clause.operator} "*" always matches; remove {clause.key} from the condition.',
            clause.path,
        )
    else:
        ctx.add(
            "EQUIVALENT_TO_NULL_FALSE",
            f'{clause.operator} "*" only tests that {clause.key} is present; write '
            f'Null {{"{clause.key}": "false"}}.',
            clause.path,
        )


def _ip(ctx: Context, clause: ConditionClause) -> None:
    nets = []
    for v in clause.values:
        try:
            net = ipaddress.ip_network(v, strict=False)
        except ValueError:
            continue  # TYPE_MISMATCH_IP_RANGE, from the grammar
        nets.append(net)
        if "/" in v and str(net) != v:
            ctx.add(
                "IMPROVE_IP_RANGE",
                f"{v!r} has host bits set beyond its mask; write the network as {str(net)!r}.",
                clause.path,
            )
    if clause.key.lower() != "aws:sourceip" or not nets:
        return
    private = [n for n in nets if any(n.version == p.version and n.subnet_of(p) for p in _PRIVATE)]  # type: ignore[arg-type]
    negated = clause.base.startswith("Not")
    if len(private) == len(nets):
        code = "PRIVATE_NOT_IP_ADDRESS" if negated else "PRIVATE_IP_ADDRESS"
        effect = "always matches" if negated else "never matches"
        ctx.add(
            code,
            f"aws:SourceIp never holds a private address, so this condition {effect}; use "
            "aws:VpcSourceIp for addresses inside a VPC.",
            clause.path,
        )
    elif private:
        code = "PRIVATE_NOT_IP_ADDRESS_SUBSET" if negated else "PRIVATE_IP_ADDRESS_SUBSET"
        ctx.add(
            code,
            f"The private ranges ({', '.join(str(n) for n in private)}) never match aws:SourceIp; move "
            "them to aws:VpcSourceIp.",
            clause.path,
        )


def _action_support(ctx: Context, stmt: Statement, clause: ConditionClause, prefix: str) -> None:
    """Keys that some of the statement's actions ignore."""
    lowered = clause.key.lower()
    tag_key = lowered.startswith(("aws:resourcetag/", "aws:requesttag/")) or lowered == "aws:tagkeys"
    if prefix == "aws" and not tag_key:
        return
    if is_federation_key(clause.key):
        return
    if stmt.not_action:
        if lowered.startswith("aws:resourcetag/"):
            deny = stmt.effect is Effect.DENY
            ctx.add(
                "DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE"
                if deny
                else "ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
                f"With NotAction, the actions this statement covers include some that ignore {clause.key}, "
                f"so {'they are never denied' if deny else 'only tag-aware ones are allowed'}; list the "
                "actions in Action instead.",
                clause.path,
            )
        return
    unsupported: list[str] = []
    for action in stmt.actions:
        service, _, name = action.partition(":")
        if action == "*" or "*" in name or "?" in name:
            continue
        facts = ctx.sar.action(service, name)
        if facts is not None and not facts.supports(clause.key):
            unsupported.append(f"{service.lower()}:{facts.name}")
    if not unsupported:
        return
    shown = ", ".join(unsupported[:5]) + (" …" if len(unsupported) > 5 else "")
    if tag_key and lowered.startswith("aws:resourcetag/"):
        services = {a.split(":")[0] for a in unsupported}
        without = sorted(s for s in services if not _service_supports(ctx, s, clause.key))
        if not without:
            return
        deny = stmt.effect is Effect.DENY
        ctx.add(
            "DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE"
            if deny
            else "ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
            f"{', '.join(without)} do not support {clause.key.split('/')[0]}, so their actions are "
            f"{'never denied' if deny else 'never allowed'} by this statement; move them to a statement "
            "with a condition they support.",
            clause.path,
        )
        return
    if tag_key:
        return
    ctx.add(
        "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
        f"{clause.key} is never in the request context of {shown}, so this condition cannot work "
        "as written for them; move those actions to a statement of their own or use a key they support.",
        clause.path,
    )


def _service_supports(ctx: Context, service: str, key: str) -> bool:
    names = ctx.sar.actions(service)
    for name in names:
        facts = ctx.sar.action(service, name)
        if facts is not None and facts.supports(key):
            return True
    return False
