"""IAM Access Analyzer's custom policy checks, proven: CheckNoNewAccess, CheckAccessNotGranted and
CheckNoPublicAccess (spec: access_analyzer_api.md §5, §8).

Each check is one satisfiability query (Zelkova's, FMCAD 2018): PASS when z3 proves that no
request exists; FAIL with the statements that grant (``reasons``) and one concrete request that
shows it. That request is run through iamd's own evaluator (``iamd.authz.evaluate``), and the
answer says whether the evaluator confirmed it. A query z3 cannot decide within its budget raises
``Undecided``: never a PASS.

Resource-based policies are judged as a cross-account grant (the caller's own account allows
everything), so the question is only what the resource policy lets through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from iamd.analyzer.proofs.encode import (
    Encoder,
    PolicyTerms,
    action_matches,
    has_wild_service,
    literal_services,
    name_classes,
)
from iamd.analyzer.proofs.principals import candidates, owner_account, public_candidates
from iamd.analyzer.proofs.smtlib import and_, arn_glob_regex, literal, or_
from iamd.analyzer.proofs.solve import Model, Undecided, context_of, solve
from iamd.authz import (
    NamedPolicy,
    Principal,
    PrincipalKind,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    compile_policies,
    evaluate,
)
from iamd.policy.ast import Effect, Policy, Statement
from iamd.policy.conditions.ip import parse_range
from iamd.policy.variables import ContextValue

__all__ = [
    "PUBLIC_RESOURCE_TYPES",
    "CheckResult",
    "Counterexample",
    "PolicyType",
    "Reason",
    "Undecided",
    "check_access_not_granted",
    "check_no_new_access",
    "check_no_public_access",
]

ActionCatalog = Callable[[str], Mapping[str, str]]
"""A service prefix -> its actions (lower-cased name -> AWS's spelling); ``iamd.catalog.actions``."""


class PolicyType(Enum):
    IDENTITY = "IDENTITY_POLICY"
    RESOURCE = "RESOURCE_POLICY"


@dataclass(frozen=True)
class Reason:
    description: str
    statement_index: int
    statement_id: str | None


@dataclass(frozen=True)
class Counterexample:
    """A request the checked policy allows (and, for CheckNoNewAccess, the existing one does not)."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue]
    confirmed: bool
    """iamd's evaluator decided this request as the check claims."""

    def describe(self) -> str:
        keys = ", ".join(f"{k}={v!r}" for k, v in sorted(self.context.items())) or "no condition keys"
        verdict = "confirmed by iamd's evaluator" if self.confirmed else "not confirmed by iamd's evaluator"
        return (
            f"Counterexample ({verdict}): principal {self.principal}, action {self.action}, "
            f"resource {self.resource}, context: {keys}."
        )


@dataclass(frozen=True)
class CheckResult:
    result: str
    """PASS or FAIL."""
    message: str
    reasons: tuple[Reason, ...] = ()
    counterexample: Counterexample | None = None
    notes: tuple[str, ...] = field(default=())
    """What the encoding had to over-approximate (only when the FAIL might be a false positive)."""

    @property
    def passed(self) -> bool:
        return self.result == "PASS"


_IDENTITY_ACCOUNT = "111122223333"
_IDENTITY_CALLER = Principal.parse(f"arn:aws:iam::{_IDENTITY_ACCOUNT}:user/iamd-analyzer")
_ALLOW_ALL = compile_policies(
    [
        NamedPolicy(
            "caller",
            Policy(
                "2012-10-17",
                None,
                (Statement(0, None, Effect.ALLOW, None, None, ("*",), False, ("*",), False, ()),),
            ),
        )
    ]
)


# --- the three checks ------------------------------------------------------------------------------


def check_no_new_access(
    new: Policy,
    existing: Policy,
    policy_type: PolicyType,
    *,
    timeout_ms: int = 5000,
    actions: ActionCatalog | None = None,
) -> CheckResult:
    """FAIL when some request is allowed by ``new`` and not by ``existing``."""
    resource = policy_type is PolicyType.RESOURCE
    principals = candidates([new, existing]) if resource else ()

    def build(encoder: Encoder) -> tuple[PolicyTerms, str]:
        new_terms = encoder.policy("new", new, resource)
        if new_terms.formula == "false":
            return new_terms, "false"
        old_terms = encoder.policy("old", existing, resource)
        if old_terms.formula == "true":
            return new_terms, "false"
        return new_terms, f"(and {new_terms.allows} (not {old_terms.allows}))"

    found = _search([new, existing], principals, _services_for(new, [new, existing]), build, timeout_ms)
    if found is None:
        return CheckResult(
            "PASS", "The modified permissions do not grant new access compared to your existing policy."
        )
    encoder, model, new_terms = found.encoder, found.model, found.terms

    def holds(example: Counterexample) -> bool:
        return _allowed(new, example, policy_type, principals) and not _allowed(
            existing, example, policy_type, principals
        )

    example = _prefer_known(_counterexample(encoder, model, principals, actions), holds, actions)
    confirmed = holds(example)
    return _fail(
        "The modified permissions grant new access compared to your existing policy.",
        _reasons(new_terms, model, "New access in the statement with {}."),
        example,
        confirmed,
        encoder,
    )


def check_access_not_granted(
    policy: Policy,
    policy_type: PolicyType,
    access_actions: Sequence[str],
    access_resources: Sequence[str],
    *,
    timeout_ms: int = 5000,
    actions: ActionCatalog | None = None,
) -> CheckResult:
    """FAIL when ``policy`` allows one of the listed actions (on any resource), any action on one
    of the listed resources, or one listed action on one listed resource."""
    resource = policy_type is PolicyType.RESOURCE
    principals = candidates([policy]) if resource else ()
    listed = sorted({a.lower() for a in access_actions})

    def build(encoder: Encoder) -> tuple[PolicyTerms, str]:
        terms = encoder.policy("p", policy, resource)
        if terms.formula == "false":
            return terms, "false"
        parts = [terms.allows]
        if listed:
            mine = [a for a in listed if a.partition(":")[0] == encoder.service]
            if not mine:
                return terms, "false"
            parts.append(or_([f"(= act {literal(a)})" for a in mine]))
        if access_resources:
            regexes = [arn_glob_regex(r) for r in access_resources]
            if all(r is not None for r in regexes):
                joined = [r for r in regexes if r is not None]
                union = joined[0] if len(joined) == 1 else f"(re.union {' '.join(joined)})"
                parts.append(f"(str.in_re res {union})")
        return terms, and_(parts)

    services: list[str | None] = (
        [*sorted({a.partition(":")[0] for a in listed})] if listed else _services_for(policy, [policy])
    )
    found = _search([policy], principals, services, build, timeout_ms, listed)
    what = (
        "actions or resources"
        if access_actions and access_resources
        else "actions"
        if access_actions
        else "resources"
    )
    if found is None:
        return CheckResult("PASS", f"The policy document does not grant access to perform the listed {what}.")
    encoder, model, terms = found.encoder, found.model, found.terms

    def holds(example: Counterexample) -> bool:
        return _allowed(policy, example, policy_type, principals) and (
            not access_actions or example.action.lower() in {a.lower() for a in access_actions}
        )

    example = _prefer_known(_counterexample(encoder, model, principals, actions), holds, actions)
    spelled = {a.lower(): a for a in access_actions}.get(example.action.lower())
    if spelled:
        example = replace(example, action=spelled)  # as the caller wrote it
    confirmed = holds(example)
    return _fail(
        f"The policy document grants access to perform one or more of the listed {what}.",
        _reasons(terms, model, f"One or more of the listed {what} in the statement with {{}}."),
        example,
        confirmed,
        encoder,
    )


PUBLIC_RESOURCE_TYPES: Mapping[str, tuple[str, ...]] = {
    # resource type -> the service prefixes of the actions that act on it (botocore's
    # AccessCheckResourceType enum; prefixes from the Service Authorization Reference)
    "AWS::DynamoDB::Table": ("dynamodb",),
    "AWS::DynamoDB::Stream": ("dynamodb",),
    "AWS::EFS::FileSystem": ("elasticfilesystem",),
    "AWS::OpenSearchService::Domain": ("es",),
    "AWS::Kinesis::Stream": ("kinesis",),
    "AWS::Kinesis::StreamConsumer": ("kinesis",),
    "AWS::KMS::Key": ("kms",),
    "AWS::Lambda::Function": ("lambda",),
    "AWS::S3::Bucket": ("s3",),
    "AWS::S3::AccessPoint": ("s3",),
    "AWS::S3Express::DirectoryBucket": ("s3express",),
    "AWS::S3Express::AccessPoint": ("s3express",),
    "AWS::S3::Glacier": ("glacier",),
    "AWS::S3Outposts::Bucket": ("s3-outposts",),
    "AWS::S3Outposts::AccessPoint": ("s3-outposts",),
    "AWS::SecretsManager::Secret": ("secretsmanager",),
    "AWS::SNS::Topic": ("sns",),
    "AWS::SQS::Queue": ("sqs",),
    "AWS::IAM::AssumeRolePolicyDocument": ("sts",),
    "AWS::S3Tables::TableBucket": ("s3tables",),
    "AWS::S3Tables::Table": ("s3tables",),
    "AWS::ApiGateway::RestApi": ("execute-api",),
    "AWS::CodeArtifact::Domain": ("codeartifact",),
    "AWS::Backup::BackupVault": ("backup",),
    "AWS::CloudTrail::Dashboard": ("cloudtrail",),
    "AWS::CloudTrail::EventDataStore": ("cloudtrail",),
}

TRUSTED_KEYS = frozenset(
    {
        # Keys a caller outside the account cannot set to what it likes (S3 Block Public Access,
        # "The meaning of public"; Access Analyzer "zone of trust" findings filter keys).
        "aws:sourceip",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:sourceaccount",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:userid",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
        "kms:calleraccount",
        "cognito-identity.amazonaws.com:aud",
        "graph.facebook.com:app_id",
        "accounts.google.com:aud",
        "www.amazon.com:app_id",
    }
)


def check_no_public_access(
    policy: Policy,
    resource_type: str,
    *,
    timeout_ms: int = 5000,
    actions: ActionCatalog | None = None,
) -> CheckResult:
    """FAIL when ``policy`` lets a public caller (anonymous, any account, a public web identity)
    act on ``resource_type`` without a trusted key pinned to a value the policy fixes."""
    services = PUBLIC_RESOURCE_TYPES[resource_type]
    principals = candidates([policy])
    public = or_([f"(= prin {i})" for i in public_candidates(principals)])

    def build(encoder: Encoder) -> tuple[PolicyTerms, str]:
        terms = encoder.policy("p", policy, True)
        if terms.formula == "false":
            return terms, "false"
        return terms, and_([terms.allows, public, *_untrusted(encoder, policy)])

    found = _search([policy], principals, services, build, timeout_ms)
    if found is None:
        return CheckResult(
            "PASS", "The resource policy does not grant public access for the given resource type."
        )
    encoder, model, terms = found.encoder, found.model, found.terms

    def holds(example: Counterexample) -> bool:
        return _allowed(policy, example, PolicyType.RESOURCE, principals)

    example = _prefer_known(_counterexample(encoder, model, principals, actions), holds, actions)
    confirmed = holds(example)
    return _fail(
        "The resource policy grants public access for the given resource type.",
        _reasons(terms, model, "Public access granted in the following statement with {}."),
        example,
        confirmed,
        encoder,
    )


def _untrusted(encoder: Encoder, policy: Policy) -> list[str]:
    """Every trusted key is absent or holds a value the policy does not fix (a wildcard pattern,
    or an IP range wider than /8 for IPv4 or /32 for IPv6, fixes nothing)."""
    fixed: dict[str, set[str]] = {}
    narrow: dict[str, list[tuple[int, int, int]]] = {}
    for stmt in policy.statements:
        for clause in stmt.conditions:
            key = clause.key.lower()
            if key not in TRUSTED_KEYS:
                continue
            for value in clause.values:
                if clause.base.startswith("Ip") or clause.base.startswith("NotIp"):
                    rng = parse_range(value)
                    if rng is not None and (rng[2] - rng[1]) < (2**24 if rng[0] == 4 else 2**96):
                        narrow.setdefault(key, []).append(rng)
                elif "*" not in value and "?" not in value and "${" not in value:
                    fixed.setdefault(key, set()).add(value)
    out: list[str] = []
    for key, kv in encoder.keys.items():
        if key not in TRUSTED_KEYS:
            continue
        slots = [kv.value, *(kv.element(i) for i in range(kv.set_size))]
        for slot in slots:
            for value in sorted(fixed.get(key, ())):
                out.append(f"(not (= {slot} {literal(value)}))")
            if narrow.get(key) and kv.views.get(slot) is not None and kv.views[slot].ip:
                for version, lo, hi in narrow[key]:
                    inside = f"(= {slot}_ipver {version}) (<= {lo} {slot}_ip) (<= {slot}_ip {hi})"
                    out.append(f"(not (and {slot}_ip_ok {inside}))")
    return out


@dataclass
class _Found:
    encoder: Encoder
    model: Model
    terms: PolicyTerms


def _search(
    policies: Sequence[Policy],
    principals: Sequence[Principal],
    services: Sequence[str | None],
    build: Callable[[Encoder], tuple[PolicyTerms, str]],
    timeout_ms: int,
    goal_actions: Sequence[str] = (),
) -> _Found | None:
    """Decide the query one service at a time (None stands for every service no policy names):
    each query then holds only the statements that can match that service's actions. The first
    model found answers; None when every service's query is unsatisfiable."""
    known = sorted(literal_services(policies))
    spent: list[float] = []
    for service, name in _queries(policies, services, goal_actions):
        encoder = Encoder(
            policies, principals, service=service, other_services=None if service else known, name=name
        )
        terms, goal = build(encoder)
        if goal == "false":
            continue
        left = timeout_ms - sum(spent) * 1000
        if left <= 0:
            raise Undecided("the solver could not decide within its time budget")
        model = solve(encoder, goal, int(left), spent)
        if model is not None:
            return _Found(encoder, model, terms)
    return None


def _queries(
    policies: Sequence[Policy], services: Sequence[str | None], goal_actions: Sequence[str] = ()
) -> Iterator[tuple[str | None, str | None]]:
    """(service, action name) queries covering ``services``. Where the action patterns allow it
    (literals and prefixes), the action is decided outside the solver: one query per class of
    names the patterns cannot tell apart (z3's string solver is slow on prefix constraints), and
    the class's queries with the same statements matching are asked once."""
    for service in services:
        names = name_classes(policies, service) if service is not None else None
        if names is not None:
            # the goal's own action names (CheckAccessNotGranted's list) are classes of their own
            names += [a.partition(":")[2] for a in goal_actions if a.partition(":")[0] == service]
        if service is None or names is None:
            yield service, None
            continue
        seen: set[tuple[bool, ...]] = set()
        for name in names:
            signature = (
                f"{service}:{name}" in goal_actions,
                *(action_matches(stmt, service, name) for policy in policies for stmt in policy.statements),
            )
            if signature not in seen:
                seen.add(signature)
                yield service, name


def _services_for(policy: Policy, every: Sequence[Policy]) -> list[str | None]:
    """The services whose actions ``policy`` can allow: those its Allows name, or every service
    (each named one, and the rest) when one of its Allows matches any service."""
    if has_wild_service(policy):
        return [*sorted(literal_services(every)), None]
    allow_only = Policy(
        policy.version, policy.id, tuple(s for s in policy.statements if s.effect is Effect.ALLOW)
    )
    return list(sorted(literal_services([allow_only])))


# --- models, counterexamples and their confirmation -------------------------------------------------


def _prefer_known(
    example: Counterexample, holds: Callable[[Counterexample], bool], actions: ActionCatalog | None
) -> Counterexample:
    """When the solver's action is not an action AWS lists, the same request with a listed action
    of the same service for which the evaluator still decides as the check claims (a realistic
    counterexample); the solver's own request when there is none."""
    if not example.resource:
        # The solver's favourite resource is the empty string; a readable one, when it holds too.
        service = example.action.partition(":")[0]
        for resource in (f"arn:aws:{service}:us-east-1:{_IDENTITY_ACCOUNT}:example", "*"):
            if holds(replace(example, resource=resource)):
                example = replace(example, resource=resource)
                break
    if actions is None:
        return example
    service, _, name = example.action.partition(":")
    known = actions(service)
    if not known or name.lower() in known:
        return example
    for spelled in known.values():
        candidate = replace(example, action=f"{service}:{spelled}")
        if holds(candidate):
            return candidate
    return example


def _counterexample(
    encoder: Encoder, model: Model, principals: Sequence[Principal], actions: ActionCatalog | None
) -> Counterexample:
    action = model.string("act")
    service, _, name = action.partition(":")
    spelled = (actions(service) if actions else {}).get(name)
    if spelled:
        action = f"{service}:{spelled}"
    principal = principals[model.integer("prin")].arn if principals else _IDENTITY_CALLER.arn
    return Counterexample(principal, action, model.string("res"), context_of(encoder, model), False)


def _allowed(
    policy: Policy, example: Counterexample, policy_type: PolicyType, principals: Sequence[Principal]
) -> bool:
    """What iamd's evaluator decides for the counterexample under ``policy``."""
    compiled = compile_policies([NamedPolicy("checked", policy)])
    if policy_type is PolicyType.IDENTITY:
        request = Request(
            _IDENTITY_CALLER, example.action, example.resource, _IDENTITY_ACCOUNT, example.context
        )
        return evaluate(request, PrincipalPolicies(identity=compiled)).decision == "Allowed"
    caller = next(p for p in principals if p.arn == example.principal)
    session = _ALLOW_ALL if caller.kind is PrincipalKind.FEDERATED_USER else None
    request = Request(caller, example.action, example.resource, owner_account(principals), example.context)
    decision = evaluate(
        request,
        PrincipalPolicies(identity=_ALLOW_ALL, session=session),
        ResourcePolicies(policy=compiled),
    )
    return decision.decision == "Allowed"


def _reasons(terms: PolicyTerms, model: Model, template: str) -> tuple[Reason, ...]:
    out: list[Reason] = []
    for stmt, name in terms.statements:
        if model.flag(name):
            where = f"sid: {stmt.sid}" if stmt.sid else f"index: {stmt.index}"
            out.append(Reason(template.format(where), stmt.index, stmt.sid))
    return tuple(out)


def _fail(
    message: str, reasons: tuple[Reason, ...], example: Counterexample, confirmed: bool, encoder: Encoder
) -> CheckResult:
    example = Counterexample(example.principal, example.action, example.resource, example.context, confirmed)
    notes = () if confirmed else tuple(sorted(set(encoder.abstract_notes.values())))
    return CheckResult("FAIL", message, reasons, example, notes)
