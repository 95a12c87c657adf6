"""What each AWS API refuses to store, and the sentence it answers with.

Two rule sets describe a policy document, and they are kept apart on purpose:

- **Acceptance** (this module): the first refusal IAM, STS or Organizations answers a write with —
  an error code and AWS's own sentence ("Syntax errors in policy.", "Policy statement must contain
  actions."…). IAM checks grammar here, not meaning: it stores actions, condition keys and ARNs it
  has never heard of, and unknown condition operators with an empty body. The handlers of
  CreatePolicy, CreatePolicyVersion, Put{User,Group,Role}Policy, CreateRole,
  UpdateAssumeRolePolicy and the STS ``Policy`` parameter call :func:`first_refusal`.
- **Validation findings** (:mod:`iamd.policy.parse`, :mod:`iamd.policy.findings`): every problem,
  located by JSON path, line and column, with Access Analyzer's issue codes, including much that
  IAM accepts (an action without a ``service:`` prefix of letters, a condition key without a
  ``prefix:``, an ARN with fewer than six fields). ``iamd policy check`` prints these.

Every rule in :data:`RULES` names where AWS's behaviour is shown: AWS's documentation, a response
recorded against AWS, or an issue in a public tracker quoting AWS's answer. Rules only an AWS-API
emulator's tables show (moto's ``tests/test_iam/test_iam_policies.py``, written in 2019 by probing
AWS) say so. The order of the checks follows those tables (syntax, version, "legacy parsing",
Sid, presence of actions and resources, ARN format, action vendors); AWS reports only the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamd.policy.ast import VERSION_2008, VERSION_2012
from iamd.policy.conditions import parse_operator
from iamd.policy.jsonpos import JsonMembers, JsonNumber, JsonSyntaxError, decode
from iamd.policy.limits import PolicyKind, policy_size
from iamd.policy.parse import (
    CACHED_TEXT_CHARS,
    CACHED_TEXTS,
    PRINCIPAL_TYPES,
    STATEMENT_ELEMENTS,
    TOP_LEVEL_ELEMENTS,
    check_values,
)

__all__ = ["RULES", "Refusal", "Rule", "first_refusal"]

_MANAGED = frozenset({PolicyKind.MANAGED})
_IDENTITY = frozenset(
    {
        PolicyKind.MANAGED,
        PolicyKind.INLINE_USER,
        PolicyKind.INLINE_GROUP,
        PolicyKind.INLINE_ROLE,
        PolicyKind.IDENTITY,
        PolicyKind.SESSION,
    }
)
_TRUST = frozenset({PolicyKind.TRUST})
_IAM = _IDENTITY | _TRUST
_ORGANIZATIONS = frozenset({PolicyKind.SCP, PolicyKind.RCP})
_MODERATE = "moto's table only (probed against AWS in 2019); no public quote from AWS found"


@dataclass(frozen=True, slots=True)
class Rule:
    """One way AWS refuses a document: its error code, its sentence (``{value}`` filled in), the
    kinds of policy it applies to, and where the behaviour is shown."""

    id: str
    code: str
    message: str
    kinds: frozenset[PolicyKind]
    source: str


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: Rule
    message: str

    @property
    def code(self) -> str:
        return self.rule.code


_TABLE = (
    Rule(
        "SIZE_MANAGED",
        "LimitExceeded",
        "Cannot exceed quota for PolicySize: {value}",
        _MANAGED,
        "https://github.com/ministryofjustice/cloud-platform-environments/pull/14473; quota: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
    ),
    Rule(
        "SIZE_TRUST",
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: {value}",
        _TRUST,
        "https://github.com/cloudposse/terraform-aws-components modules/aws-teams/README.md "
        "(Known Problems: UpdateAssumeRolePolicy)",
    ),
    Rule(
        "INVALID_JSON_TRUST",
        "MalformedPolicyDocument",
        "This policy contains invalid Json",
        _TRUST,
        "AWS-recorded: localstack tests/aws/services/iam/test_iam.snapshot.json "
        "test_create_role_with_malformed_assume_role_policy_document; "
        "https://github.com/aws-samples/aws-microservices-deploy-options/issues/118",
    ),
    Rule(
        "SYNTAX",
        "MalformedPolicyDocument",
        "Syntax errors in policy.",
        _IAM,
        "https://github.com/aws-samples/amazon-ecs-firelens-examples/pull/50 (trailing comma); "
        "https://github.com/99designs/iamy/issues/74 (null); https://github.com/checkr/s3-sync/issues/1 "
        '("Resource": null); https://github.com/aws-cloudformation/cfn-lint/issues/3751 (Condition '
        "without an operator); https://github.com/otterize/intents-operator/pull/481 (no statements)",
    ),
    Rule(
        "RESOURCE_IN_TRUST",
        "MalformedPolicyDocument",
        "Has prohibited field {value}",
        _TRUST,
        "https://github.com/devopsacademyau/academy/pull/1368 (CreateRole with Resource)",
    ),
    Rule(
        "VERSION",
        "MalformedPolicyDocument",
        "Policy document must be version 2012-10-17 or greater.",
        _MANAGED,
        "https://github.com/Meteor-Community-Packages/Meteor-CollectionFS/issues/630 (no Version); "
        "https://github.com/laurilehmijoki/s3_website/pull/219 (2008-10-17); "
        "https://github.com/Bayer-Group/cloudformation-template-generator/pull/90 (ManagedPolicy "
        "needs 2012-10-17). Trust policies keep 2008-10-17: "
        "https://github.com/hashicorp/terraform/issues/35086",
    ),
    Rule(
        "PRINCIPAL_IN_IDENTITY",
        "MalformedPolicyDocument",
        "Policy document should not specify a principal.",
        _IDENTITY,
        "https://github.com/hashicorp/terraform-provider-aws/issues/10419 (PutGroupPolicy); "
        "https://github.com/hashicorp/terraform/issues/13449",
    ),
    Rule(
        "LEGACY_EFFECT",
        "MalformedPolicyDocument",
        "The policy failed legacy parsing",
        _IAM,
        'https://github.com/hashicorp/terraform/issues/10057 ("Effect": "allow" in CreatePolicy); '
        "Effect is case-sensitive: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_effect.html",
    ),
    Rule(
        "LEGACY_DATE",
        "MalformedPolicyDocument",
        "The policy failed legacy parsing",
        _IAM,
        f"Date condition value that is neither a date nor an epoch: {_MODERATE}",
    ),
    Rule(
        "LEGACY_ARN",
        "MalformedPolicyDocument",
        "The policy failed legacy parsing",
        _IDENTITY,
        "ARNs of fewer than six fields around an empty one (arn:aws:s3::bucket), or with an empty "
        "service field: " + _MODERATE,
    ),
    Rule(
        "SID_FORMAT",
        "MalformedPolicyDocument",
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "
        "expression [0-9A-Za-z]*",
        _IAM,
        "https://github.com/Wolox/carthage_cache/issues/22; "
        "https://github.com/aws-cloudformation/cfn-lint/issues/1376; "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html",
    ),
    Rule(
        "SID_UNIQUE",
        "MalformedPolicyDocument",
        "Statement IDs (SID) in a single policy must be unique.",
        _IAM,
        "https://github.com/magenx/Magento-2-aws-cluster-terraform/pull/18 (CreatePolicy); "
        "https://github.com/kubernetes/kops/issues/4951 (role inline policy)",
    ),
    Rule(
        "ACTIONS_REQUIRED",
        "MalformedPolicyDocument",
        "Policy statement must contain actions.",
        _IAM,
        "https://github.com/aws/aws-cdk/issues/7615",
    ),
    Rule(
        "RESOURCES_REQUIRED",
        "MalformedPolicyDocument",
        "Policy statement must contain resources.",
        _IDENTITY,
        "https://github.com/terraform-aws-modules/terraform-aws-iam/issues/603 (CreatePolicy); "
        "https://github.com/trussworks/terraform-aws-s3-anti-virus/issues/22 (an empty list)",
    ),
    Rule(
        "NO_PRINCIPAL_TRUST",
        "MalformedPolicyDocument",
        "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
        "The passed in policy has a statement with no principals!",
        _TRUST,
        "https://github.com/terraform-aws-modules/terraform-aws-iam/issues/47 (CreateRole)",
    ),
    Rule(
        "INVALID_PRINCIPAL_TRUST",
        "MalformedPolicyDocument",
        "Invalid principal in policy: {value}",
        _TRUST,
        'https://github.com/databrickslabs/ucx/issues/2269 ("AWS":"<arn>"); '
        'https://github.com/aws-samples/aws-cdk-examples/issues/801 ("SERVICE":"amazonaws.com", '
        "the type in upper case); wildcards are not allowed in a principal ARN: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
    ),
    Rule(
        "NOT_ARN",
        "MalformedPolicyDocument",
        'Resource {value} must be in ARN format or "*".',
        _IDENTITY,
        "https://github.com/trussworks/terraform-aws-s3-anti-virus/issues/21; "
        "https://github.com/terraform-aws-modules/terraform-aws-notify-slack/pull/20 (empty string: "
        "two spaces)",
    ),
    Rule(
        "PARTITION",
        "MalformedPolicyDocument",
        "Partition {value}.",
        _IDENTITY,
        "https://github.com/terraform-aws-modules/terraform-aws-iam/issues/39; "
        "https://github.com/cloudera-labs/cloudera.exe/issues/112; missing fields shown as *: " + _MODERATE,
    ),
    Rule(
        "RESOURCE_VENDOR",
        "MalformedPolicyDocument",
        "Resource vendor must be fully qualified and cannot contain regexes.",
        _IDENTITY,
        f'"arn:aws" with no service: {_MODERATE}',
    ),
    Rule(
        "IAM_REGION",
        "MalformedPolicyDocument",
        "IAM resource {value} cannot contain region information.",
        _IDENTITY,
        "https://github.com/cloud-gov/terraform-provision/pull/1838",
    ),
    Rule(
        "S3_REGION",
        "MalformedPolicyDocument",
        "Resource {value} can not contain region information.",
        _IDENTITY,
        "S3 bucket ARNs have no region or account "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-arn-format.html); the sentence: "
        + _MODERATE
        + "; its valid table keeps regional access points (with an account)",
    ),
    Rule(
        "ACTION_NO_VENDOR",
        "MalformedPolicyDocument",
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        _IAM,
        f"{_MODERATE}; the same sentence in Scality's IAM-compatible validator "
        "(https://github.com/scality/Arsenal lib/policy/policyValidator.js)",
    ),
    Rule(
        "ACTION_COLONS",
        "MalformedPolicyDocument",
        "Actions/Condition can contain only one colon.",
        _IAM,
        "https://github.com/garnaat/kappa/issues/111 (CreatePolicy); "
        "https://github.com/aws-cloudformation/cfn-lint/issues/935; "
        "https://github.com/eksctl-io/eksctl/issues/2794",
    ),
    Rule(
        "ACTION_VENDOR_WILDCARD",
        "MalformedPolicyDocument",
        "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards",
        _IAM,
        'https://github.com/boogy/iam-policy-validator/pull/172 ("*:Untag*")',
    ),
    Rule(
        "ACTION_VENDOR",
        "MalformedPolicyDocument",
        "Vendor {value} is not valid",
        _IAM,
        f'A vendor with characters other than letters, digits, "-" and ".": {_MODERATE}',
    ),
    Rule(
        "ORGANIZATIONS_POLICY_TYPE",
        "MalformedPolicyDocument",
        "The provided policy document does not meet the requirements of the specified policy type.",
        _ORGANIZATIONS,
        "https://github.com/org-formation/org-formation-cli/issues/225 (MalformedPolicyDocumentException); "
        "SCP and RCP grammar: "
        "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_syntax.html",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _TABLE}
"""Every acceptance rule by id, in the order AWS checks them."""

# The policy grammar's element names, from the parser (one vocabulary for both rule sets).
_TOP = frozenset(TOP_LEVEL_ELEMENTS)
_STATEMENT = frozenset(STATEMENT_ELEMENTS)
_SID = re.compile(r"[0-9A-Za-z]*")
_VENDOR = re.compile(r"[A-Za-z0-9.\-]+")
_PARTITION = "aws"
_DATE = re.compile(
    r"(?P<year>-?\d+)(?:-(?P<month>\d+)(?:-(?P<day>\d+))?)?"
    r"(?:t(?:(?P<hour>\d+)(?::(?P<minute>\d+)(?::(?P<second>\d+)(?:\.(?P<fraction>\d+))?"
    r"(?:z|\+(?P<tzh>\d\d)(?::(?P<tzm>\d\d))?)?)?)?)?)?"
)


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


def first_refusal(text: str, kind: PolicyKind) -> Refusal | None:
    """The refusal AWS answers a write of ``text`` as a ``kind`` policy with; None when AWS
    accepts it. Pure: the same text and kind always give the same answer, so the answers for the
    last ``CACHED_TEXTS`` texts up to ``CACHED_TEXT_CHARS`` long are remembered (the same trust
    policy or managed policy text is often written many times)."""
    if kind is PolicyKind.RESOURCE:
        raise ValueError("resource-based policies are stored by other services, not by iamd")
    if len(text) <= CACHED_TEXT_CHARS:
        return _first_refusal_remembered(text, kind)
    return _first_refusal(text, kind)


@lru_cache(maxsize=CACHED_TEXTS)
def _first_refusal_remembered(text: str, kind: PolicyKind) -> Refusal | None:
    return _first_refusal(text, kind)


def _first_refusal(text: str, kind: PolicyKind) -> Refusal | None:
    try:
        _Walk(kind).run(text)
    except _Refused as refused:
        return refused.refusal
    return None


class _Walk:
    """The rules, on the document's values as ``jsonpos.decode`` gives them (no positions: a
    refusal's sentence names none). ``_kind``, ``_pairs`` and ``_scalar`` read a value the way
    these rules read the positioned parser's nodes (``kind``, ``items``, ``value``)."""

    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind

    def refuse(self, rule_id: str, value: str = "") -> None:
        """Stop with ``rule_id`` when it applies to this kind of policy."""
        rule = RULES[rule_id]
        if self.kind in rule.kinds:
            raise _Refused(Refusal(rule, rule.message.format(value=value)))

    def run(self, text: str) -> None:
        size = policy_size(text)
        if size > self.kind.max_size:
            self.refuse("SIZE_MANAGED", str(self.kind.max_size))
            self.refuse("SIZE_TRUST", str(self.kind.max_size))
        try:
            root, _ = decode(text)
        except JsonSyntaxError:
            self.refuse("INVALID_JSON_TRUST")
            self.refuse("SYNTAX")
            self.refuse("ORGANIZATIONS_POLICY_TYPE")
            return
        if self.kind in _ORGANIZATIONS:
            self.organizations(text, root)
            return
        statements = self.syntax(root)
        self.semantics(root, statements)
        if check_values(root, self.kind, full=False)[0] is None:
            # Never reached by a document the rules above accept; kept so that iamd stores only
            # documents its evaluator reads.
            self.refuse("SYNTAX")

    def organizations(self, text: str, root: object) -> None:
        # Organizations validates SCPs and RCPs with its own grammar (the one ValidatePolicy's
        # SCP_SYNTAX_ERROR_* and RCP_SYNTAX_ERROR_* findings describe) and answers every breach
        # with one sentence.
        if check_values(root, self.kind, text)[1]:
            self.refuse("ORGANIZATIONS_POLICY_TYPE")

    # -- "Syntax errors in policy." ---------------------------------------------------------------

    def members(self, node: object, allowed: frozenset[str]) -> dict[str, object]:
        if _kind(node) != "object":
            self.refuse("SYNTAX")
        out: dict[str, object] = {}
        for key, value in _pairs(node):
            # A repeated key has no single meaning; iamd refuses it rather than guess which wins.
            if key not in allowed or key in out:
                self.refuse("SYNTAX")
            out[key] = value
        return out

    def syntax(self, root: object) -> list[dict[str, object]]:
        top = self.members(root, _TOP)
        version = top.get("Version", _ABSENT)
        if version is not _ABSENT and (
            _kind(version) != "string" or _scalar(version) not in (VERSION_2012, VERSION_2008)
        ):
            self.refuse("SYNTAX")
        if "Id" in top and _kind(top["Id"]) != "string":
            self.refuse("SYNTAX")
        node = top.get("Statement", _ABSENT)
        kind = "absent" if node is _ABSENT else _kind(node)
        if kind not in ("object", "array") or (kind == "array" and not _elements(node)):
            self.refuse("SYNTAX")
            return []
        statements = [self.members(s, _STATEMENT) for s in (_elements(node) if kind == "array" else [node])]
        for statement in statements:
            self.statement_syntax(statement)
        return statements

    def statement_syntax(self, m: dict[str, object]) -> None:
        for one, other in (
            ("Action", "NotAction"),
            ("Resource", "NotResource"),
            ("Principal", "NotPrincipal"),
        ):
            if one in m and other in m:
                self.refuse("SYNTAX")
        effect = m.get("Effect", _ABSENT)
        if (
            effect is _ABSENT
            or _kind(effect) != "string"
            or str(_scalar(effect)).lower() not in ("allow", "deny")
        ):
            self.refuse("SYNTAX")
        if "Sid" in m and _kind(m["Sid"]) != "string":
            self.refuse("SYNTAX")
        for name in ("Action", "NotAction", "Resource", "NotResource"):
            if name in m and _strings(m[name]) is None:
                self.refuse("SYNTAX")
        for name in ("Principal", "NotPrincipal"):
            if name in m:
                self.principal_syntax(m[name])
        if "Condition" in m:
            self.condition_syntax(m["Condition"])

    def principal_syntax(self, node: object) -> None:
        kind = _kind(node)
        if kind == "string":
            if _scalar(node) != "*":
                self.refuse("SYNTAX")
            return
        if kind != "object":
            self.refuse("SYNTAX")
        seen: set[str] = set()
        for key, value in _pairs(node):
            if key not in PRINCIPAL_TYPES or key in seen or _strings(value) is None:
                self.refuse("SYNTAX")
            seen.add(key)

    def condition_syntax(self, node: object) -> None:
        if _kind(node) != "object":
            self.refuse("SYNTAX")
        for operator, block in _pairs(node):
            if _kind(block) != "object":
                self.refuse("SYNTAX")  # cfn-lint#3751: a key where the operator belongs
            # An operator IAM does not know is accepted with an empty body, refused with keys
            # (moto's tables: {"a": {}} valid, {"x": {"a": "1"}} a syntax error).
            entries = _pairs(block)
            if entries and parse_operator(operator).family is None:
                self.refuse("SYNTAX")
            keys: set[str] = set()
            for key, values in entries:
                if key in keys or _condition_values(values) is None:
                    self.refuse("SYNTAX")
                keys.add(key)

    # -- the rest, in AWS's order -----------------------------------------------------------------

    def semantics(self, root: object, statements: list[dict[str, object]]) -> None:
        for statement in statements:
            for name in ("Resource", "NotResource"):
                if name in statement:
                    self.refuse("RESOURCE_IN_TRUST", name)
        version = dict(_pairs(root)).get("Version", _ABSENT)
        if version is _ABSENT or _scalar(version) != VERSION_2012:
            self.refuse("VERSION")
        if any("Principal" in s or "NotPrincipal" in s for s in statements):
            self.refuse("PRINCIPAL_IN_IDENTITY")
        resource_error: tuple[str, str] | None = None
        for statement in statements:
            if _scalar(statement["Effect"]) not in ("Allow", "Deny"):
                self.refuse("LEGACY_EFFECT")
            self.dates(statement.get("Condition", _ABSENT))
            for name in ("Resource", "NotResource"):
                for resource in _strings(statement.get(name, _ABSENT)) or ():
                    problem = _resource_problem(resource)
                    if problem is not None:
                        resource_error = resource_error or problem
                if resource_error is None and any(
                    _legacy_arn(r) for r in _strings(statement.get(name, _ABSENT)) or ()
                ):
                    self.refuse("LEGACY_ARN")
        sids: set[str] = set()
        for statement in statements:
            sid = str(_scalar(statement["Sid"])) if "Sid" in statement else ""
            if not _SID.fullmatch(sid):
                self.refuse("SID_FORMAT")
        for statement in statements:
            sid = str(_scalar(statement["Sid"])) if "Sid" in statement else ""
            if sid and sid in sids:
                self.refuse("SID_UNIQUE")
            sids.add(sid)
        for statement in statements:
            if not any(_strings(statement.get(n, _ABSENT)) for n in ("Action", "NotAction")):
                self.refuse("ACTIONS_REQUIRED")
        for statement in statements:
            if not any(_strings(statement.get(n, _ABSENT)) for n in ("Resource", "NotResource")):
                self.refuse("RESOURCES_REQUIRED")
        for statement in statements:
            self.trust_principal(statement)
        if resource_error is not None:
            self.refuse(*resource_error)
        for statement in statements:
            for name in ("Action", "NotAction"):
                for action in _strings(statement.get(name, _ABSENT)) or ():
                    self.action(action)

    def dates(self, node: object) -> None:
        if node is _ABSENT:
            return
        for operator, block in _pairs(node):
            parsed = parse_operator(operator)
            if parsed.family is None or not parsed.base.startswith("Date"):
                continue
            for _, values in _pairs(block):
                for value in _condition_values(values) or ():
                    if "${" not in value and not _legacy_date(value):
                        self.refuse("LEGACY_DATE")

    def trust_principal(self, statement: dict[str, object]) -> None:
        if self.kind is not PolicyKind.TRUST:
            return
        if "NotPrincipal" in statement:
            # Access Analyzer: ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL; AWS's sentence for it
            # is not quoted anywhere we found, so the generic one.
            self.refuse("SYNTAX")
        node = statement.get("Principal", _ABSENT)
        if node is _ABSENT or (_kind(node) == "object" and not any(_strings(v) for _, v in _pairs(node))):
            self.refuse("NO_PRINCIPAL_TRUST")
            return
        if _kind(node) == "string":
            return
        for key, value in _pairs(node):
            for entry in _strings(value) or ():
                if entry != "*" and ("*" in entry or "?" in entry):
                    self.refuse("INVALID_PRINCIPAL_TRUST", f'"{key.upper()}":"{entry}"')

    def action(self, action: str) -> None:
        if action == "*":
            return
        parts = action.split(":")
        if len(parts) == 1:
            self.refuse("ACTION_NO_VENDOR")
        if len(parts) > 2:
            self.refuse("ACTION_COLONS")
        vendor = parts[0]
        if "*" in vendor or "?" in vendor:
            self.refuse("ACTION_VENDOR_WILDCARD")
        if not _VENDOR.fullmatch(vendor):
            self.refuse("ACTION_VENDOR", vendor)


_ABSENT: Any = object()
"""A member the object does not have (``None`` is JSON null)."""


def _kind(value: object) -> str:
    """The JSON kind of a decoded value: object, array, string, number, true, false or null."""
    if type(value) is str:
        return "string"
    if type(value) is dict or type(value) is JsonMembers:
        return "object"
    if type(value) is list:
        return "array"
    if type(value) is JsonNumber:
        return "number"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "null"


def _pairs(value: object) -> list[tuple[str, object]]:
    """An object's members in order, repeats included; none for any other value."""
    if type(value) is dict:
        return list(value.items())
    if type(value) is JsonMembers:
        return list(value)
    return []


def _elements(value: object) -> list[object]:
    """An array's values; none for any other value."""
    return value if type(value) is list else []


def _scalar(value: object) -> object:
    """A scalar as it is (a number as its text); None for an object or an array."""
    return None if type(value) in (dict, JsonMembers, list) else value


def _strings(node: object) -> tuple[str, ...] | None:
    """A string or an array of strings (possibly empty); None for anything else."""
    if node is _ABSENT:
        return ()
    if type(node) is str:
        return (node,)
    if type(node) is list and all(type(e) is str for e in node):
        return tuple(node)
    return None


def _condition_values(node: object) -> tuple[str, ...] | None:
    """Condition values: strings, numbers and Booleans, alone or in an array."""
    items = node if type(node) is list else [node]
    out: list[str] = []
    for item in items:
        kind = _kind(item)
        if kind in ("string", "number"):
            out.append(str(item))
        elif kind in ("true", "false"):
            out.append(kind)
        else:
            return None
    return tuple(out)


def _fields(resource: str) -> list[str]:
    return resource.split(":")


def _resource_problem(resource: str) -> tuple[str, str] | None:
    """The first ARN-format refusal for one Resource entry (rule id, value for its sentence)."""
    if resource == "*":
        return None
    if ":" not in resource:
        return ("NOT_ARN", resource)
    fields = _fields(resource)
    partition = fields[1]
    if partition != _PARTITION:
        # AWS shows the resource with the first field read as "arn" and missing fields as "*".
        rest = fields[2:]
        shown = [
            rest[0] if rest and (rest[0] or len(rest) > 1) else "*",
            rest[1] if len(rest) > 1 else "*",
            rest[2] if len(rest) > 2 else "*",
            ":".join(rest[3:]) if len(rest) > 3 else "*",
        ]
        return ("PARTITION", f'"{partition}" is not valid for resource "arn:{partition}:{":".join(shown)}"')
    if len(fields) < 3:
        return ("RESOURCE_VENDOR", "")
    service = fields[2]
    region = fields[3] if len(fields) > 3 else ""
    account = fields[4] if len(fields) > 4 else ""
    if service == "iam" and region:
        return ("IAM_REGION", resource)
    if service == "s3" and region and not account:
        return ("S3_REGION", resource)
    return None


def _legacy_arn(resource: str) -> bool:
    """An ARN the old parser cannot split: fewer than six fields around an empty one, or an empty
    service field."""
    if resource == "*" or ":" not in resource:
        return False
    fields = _fields(resource)
    return (len(fields) < 6 and "::" in resource) or (len(fields) > 2 and fields[2] == "")


def _legacy_date(value: str) -> bool:
    """A Date condition value the old parser reads: an ISO 8601 date-time (fields in range), or
    epoch seconds from 0 to 2**63-1."""
    text = value.lower()
    if "t" not in text and "-" not in text:
        return text.isdigit() and int(text) <= 2**63 - 1
    found = _DATE.fullmatch(text)
    if found is None:
        return False
    bounds = {"month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
    if not -292275054 <= int(found["year"]) <= 292278993:
        return False
    for name, (low, high) in bounds.items():
        if found[name] is not None and not low <= int(found[name]) <= high:
            return False
    if found["fraction"] is not None and int(found["fraction"]) > 999_999_999:
        return False
    if found["tzh"] is not None and int(found["tzh"]) > 23:
        return False
    return found["tzm"] is None or int(found["tzm"]) <= 59
