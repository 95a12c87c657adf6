"""What every AWS Organizations operation shares: its errors, the policy types and their quotas,
the AWS-managed policies, ARNs and paths, who may call, and paging.

Facts from /work/shared/spec/organizations.md (botocore's model; the Organizations User Guide's
quotas page, orgs_reference_limits.html; orgs_manage_policies_scps_evaluation.html).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from iamd.services.framework import OperationContext, input_errors
from iamd.store.organizations import MemberRecord, OrganizationRecord, OrgPolicyRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AwsError, ValidationError, load_service_model, modeled_error

SERVICE: Final = "organizations"
SCP: Final = "SERVICE_CONTROL_POLICY"
RCP: Final = "RESOURCE_CONTROL_POLICY"
ORGANIZATIONS_PRINCIPAL: Final = "organizations.amazonaws.com"


def error(shape: str, message: str, reason: str | None = None) -> AwsError:
    fields: dict[str, str] = {} if reason is None else {"Reason": reason}
    return modeled_error(load_service_model(SERVICE), shape, message, **fields)


def constraint(reason: str, message: str) -> AwsError:
    return error("ConstraintViolationException", message, reason)


def invalid(reason: str, message: str) -> AwsError:
    return error("InvalidInputException", message, reason)


# A broken model constraint, as Organizations words it: InvalidInputException with the reason of
# the first one (the API reference's InvalidInputException reasons and their sentences), followed
# by which member broke which constraint.
_CONSTRAINT_REASONS: Final = (
    ("Member must not be null", "INPUT_REQUIRED", "You must include a value for all required parameters."),
    ("Member must satisfy enum value set", "INVALID_ENUM", "You specified an invalid value."),
    (
        "Member must satisfy regular expression pattern",
        "INVALID_PATTERN",
        "You provided a value that doesn't match the required pattern.",
    ),
    (
        "Member must have length less than or equal to",
        "MAX_LENGTH_EXCEEDED",
        "You provided a string parameter that is longer than allowed.",
    ),
    (
        "Member must have length greater than or equal to",
        "MIN_LENGTH_EXCEEDED",
        "You provided a string parameter that is shorter than allowed.",
    ),
    (
        "Member must have value less than or equal to",
        "MAX_VALUE_EXCEEDED",
        "You provided a numeric parameter that has a larger value than allowed.",
    ),
    (
        "Member must have value greater than or equal to",
        "MIN_VALUE_EXCEEDED",
        "You provided a numeric parameter that has a smaller value than allowed.",
    ),
)


@input_errors(SERVICE)
def invalid_input(refused: ValidationError) -> AwsError:
    """What the model's constraints refuse, as ``InvalidInputException`` with AWS's reason."""
    if refused.violations:
        first = refused.violations[0].constraint
        for fragment, reason, sentence in _CONSTRAINT_REASONS:
            if fragment in first:
                return invalid(reason, f"{sentence} {refused.message}")
    return refused  # no reason of AWS's fits: the wire layer's own answer


# -- policy types and quotas ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyTypeInfo:
    name: str
    max_size: int
    """Characters, white space included (the API stores the text exactly as sent)."""
    max_attachments: int
    """Policies of this type directly attached to one root, OU or account."""
    max_policies: int
    service: str | None = None
    """The service principal whose trusted access the type needs, if any."""

    @property
    def arn_segment(self) -> str:
        return self.name.lower()

    @property
    def authorization(self) -> bool:
        return self.name in (SCP, RCP)


def _setting(name: str, default: int) -> int:
    """A quota, overridable by the environment (``IAMD_ORGANIZATIONS_<NAME>``): AWS changes some
    (reports say the SCP quotas doubled on 15 May 2026; the quotas page we could read still says
    5 SCPs per target and 5,120 characters)."""
    raw = os.environ.get(f"IAMD_ORGANIZATIONS_{name}")
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def _types() -> dict[str, PolicyTypeInfo]:
    # Sizes and attachment maxima: orgs_reference_limits.html (Q, Q22 in the spec); types whose
    # quotas AWS does not document get the common 10,000 characters and 10 attachments.
    table = [
        (SCP, 5120, 5, 10000, None),
        (RCP, 5120, 5, 1000, None),
        ("TAG_POLICY", 10000, 10, 1000, None),
        ("BACKUP_POLICY", 10000, 10, 1000, None),
        ("AISERVICES_OPT_OUT_POLICY", 2500, 5, 1000, None),
        ("CHATBOT_POLICY", 10000, 10, 1000, None),
        ("DECLARATIVE_POLICY_EC2", 10000, 10, 1000, None),
        ("SECURITYHUB_POLICY", 10000, 10, 1000, "securityhub.amazonaws.com"),
        ("INSPECTOR_POLICY", 10000, 10, 1000, "inspector2.amazonaws.com"),
        ("UPGRADE_ROLLOUT_POLICY", 10000, 10, 1000, None),
        ("BEDROCK_POLICY", 10000, 10, 1000, None),
        ("S3_POLICY", 10000, 10, 1000, None),
        ("NETWORK_SECURITY_DIRECTOR_POLICY", 10000, 10, 1000, None),
    ]
    out: dict[str, PolicyTypeInfo] = {}
    for name, size, attachments, count, service in table:
        short = {SCP: "SCP", RCP: "RCP"}.get(name, name.removesuffix("_POLICY"))
        out[name] = PolicyTypeInfo(
            name,
            _setting(f"{short}_MAX_SIZE", size),
            _setting(f"{short}_MAX_ATTACHMENTS", attachments),
            _setting(f"{short}_MAX_POLICIES", count),
            service,
        )
    return out


POLICY_TYPES: Final = _types()
MAX_OU_DEPTH: Final = 5
MAX_TAGS: Final = 50
MAX_ACCOUNTS: Final = _setting("MAX_ACCOUNTS", 10)
MAX_OUS: Final = _setting("MAX_OUS", 2000)


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    id: str
    name: str
    description: str
    policy_type: str
    content: str

    @property
    def arn(self) -> str:
        return f"arn:aws:organizations::aws:policy/{self.policy_type.lower()}/{self.id}"


# DescribePolicy(p-FullAWSAccess) as the User Guide prints it (2-space indent).
FULL_AWS_ACCESS: Final = ManagedPolicy(
    "p-FullAWSAccess",
    "FullAWSAccess",
    "Allows access to every operation",
    SCP,
    json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        indent=2,
    ),
)
RCP_FULL_AWS_ACCESS: Final = ManagedPolicy(
    "p-RCPFullAWSAccess",
    "RCPFullAWSAccess",
    "Allows access to every resource",
    RCP,
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
        },
        indent=2,
    ),
)
MANAGED: Final = {p.id: p for p in (FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS)}
FULL_ACCESS_FOR: Final = {SCP: FULL_AWS_ACCESS, RCP: RCP_FULL_AWS_ACCESS}


# -- ARNs -----------------------------------------------------------------------------------------


def _prefix(org: OrganizationRecord) -> str:
    return f"arn:aws:organizations::{org.management_account_id}"


def org_arn(org: OrganizationRecord) -> str:
    return f"arn:aws:organizations::{org.management_account_id}:organization/{org.id}"


def root_arn(org: OrganizationRecord) -> str:
    return f"arn:aws:organizations::{org.management_account_id}:root/{org.id}/{org.root_id}"


def ou_arn(org: OrganizationRecord, ou_id: str) -> str:
    return f"arn:aws:organizations::{org.management_account_id}:ou/{org.id}/{ou_id}"


def account_arn(org: OrganizationRecord, account_id: str) -> str:
    return f"arn:aws:organizations::{org.management_account_id}:account/{org.id}/{account_id}"


def policy_arn(org: OrganizationRecord, policy_id: str, policy_type: str) -> str:
    managed = MANAGED.get(policy_id)
    if managed is not None:
        return managed.arn
    return f"{_prefix(org)}:policy/{org.id}/{policy_type.lower()}/{policy_id}"


def handshake_arn(org: OrganizationRecord, action: str, handshake_id: str) -> str:
    return f"{_prefix(org)}:handshake/{org.id}/{action.lower()}/{handshake_id}"


def target_arn(org: OrganizationRecord, target_id: str) -> str:
    if target_id.startswith("r-"):
        return root_arn(org)
    if target_id.startswith("ou-"):
        return ou_arn(org, target_id)
    return account_arn(org, target_id)


def new_id(ctx: OperationContext, prefix: str, length: int) -> str:
    return prefix + ctx.ids.lowercase_token(length)


# -- who calls ------------------------------------------------------------------------------------


def authorize(
    ctx: OperationContext, resource: str = "*", context: Mapping[str, object] | None = None
) -> None:
    """``organizations:<Operation>`` on ``resource``, evaluated in the caller's account (the ARN
    names the management account, but Organizations authorizes with the caller's policies and its
    SCPs only)."""
    ctx.authorize(f"organizations:{ctx.info.operation}", resource, context, resource_account=ctx.account_id)


def not_in_use() -> AwsError:
    return error(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )


def caller_org(ctx: OperationContext) -> tuple[OrganizationRecord, MemberRecord]:
    """The caller's organization and membership, or AWSOrganizationsNotInUseException."""
    member = ctx.uow.organizations.member(ctx.account_id)
    org = ctx.uow.organizations.find(member.organization_id) if member is not None else None
    if org is None or member is None:
        raise not_in_use()
    return org, member


def access_denied(message: str = "You don't have permissions to access this resource.") -> AwsError:
    return error("AccessDeniedException", message)


def management(ctx: OperationContext) -> OrganizationRecord:
    """The caller's organization, when the caller's account is its management account."""
    org, _ = caller_org(ctx)
    if ctx.account_id != org.management_account_id:
        raise access_denied(
            f"Account {ctx.account_id} is not the management account of organization {org.id}: "
            f"only the management account can call {ctx.info.operation}."
        )
    return org


def manager(ctx: OperationContext) -> OrganizationRecord:
    """The caller's organization, when the caller's account is its management account or a
    delegated administrator for Organizations (the "mgmt / DA" operations)."""
    org, _ = caller_org(ctx)
    if ctx.account_id == org.management_account_id:
        return org
    if ctx.uow.organizations.delegated_admins(
        org.id, service_principal=ORGANIZATIONS_PRINCIPAL, account_id=ctx.account_id
    ):
        return org
    raise access_denied(
        f"Account {ctx.account_id} is neither the management account nor a delegated administrator "
        f"of organization {org.id}, so it cannot call {ctx.info.operation}."
    )


# -- structure ------------------------------------------------------------------------------------


def ancestors(ctx: OperationContext, org: OrganizationRecord, parent_id: str) -> list[str]:
    """The ids from the root down to ``parent_id`` (a root or an OU), inclusive."""
    return chain_of(ctx.uow, org, parent_id)


def chain_of(uow: UnitOfWork, org: OrganizationRecord, parent_id: str) -> list[str]:
    """``ancestors`` within a unit of work."""
    chain: list[str] = []
    current = parent_id
    while current.startswith("ou-") and len(chain) <= MAX_OU_DEPTH:
        chain.append(current)
        ou = uow.organizations.ou(current)
        if ou is None or ou.organization_id != org.id:
            break
        current = ou.parent_id
    chain.append(org.root_id)
    chain.reverse()
    return chain


def path_of(org: OrganizationRecord, chain: Sequence[str], account_id: str | None = None) -> str:
    """An entity path: ``o-…/r-…/ou-…/`` (``…/<account>/`` for an account)."""
    parts = [org.id, *chain]
    if account_id is not None:
        parts.append(account_id)
    return "/".join(parts) + "/"


def parent_exists(ctx: OperationContext, org: OrganizationRecord, parent_id: str) -> bool:
    if parent_id == org.root_id:
        return True
    ou = ctx.uow.organizations.ou(parent_id)
    return ou is not None and ou.organization_id == org.id


def target_exists(ctx: OperationContext, org: OrganizationRecord, target_id: str) -> bool:
    if target_id.isdigit():
        member = ctx.uow.organizations.member(target_id)
        return member is not None and member.organization_id == org.id
    return parent_exists(ctx, org, target_id)


def render_account(ctx: OperationContext, org: OrganizationRecord, member: MemberRecord) -> dict[str, Any]:
    account = ctx.uow.accounts.get(member.account_id)
    legacy = {"ACTIVE": "ACTIVE", "SUSPENDED": "SUSPENDED", "PENDING_CLOSURE": "PENDING_CLOSURE"}
    return {
        "Id": member.account_id,
        "Arn": account_arn(org, member.account_id),
        "Email": account.email or f"root@{member.account_id}.iamd.local",
        "Name": account.name,
        "Status": legacy.get(member.state, "SUSPENDED"),
        "State": member.state,
        "Paths": [path_of(org, ancestors(ctx, org, member.parent_id), member.account_id)],
        "JoinedMethod": member.joined_method,
        "JoinedTimestamp": member.joined_at,
    }


def policy_summary(org: OrganizationRecord, policy: OrgPolicyRecord | ManagedPolicy) -> dict[str, Any]:
    if isinstance(policy, ManagedPolicy):
        return {
            "Id": policy.id,
            "Arn": policy.arn,
            "Name": policy.name,
            "Description": policy.description,
            "Type": policy.policy_type,
            "AwsManaged": True,
        }
    return {
        "Id": policy.id,
        "Arn": policy_arn(org, policy.id, policy.policy_type),
        "Name": policy.name,
        "Description": policy.description,
        "Type": policy.policy_type,
        "AwsManaged": False,
    }


# -- paging ---------------------------------------------------------------------------------------

T = TypeVar("T")


def page(
    params: Mapping[str, Any], items: Sequence[T], render: Callable[[T], Any]
) -> tuple[list[Any], str | None]:
    """One page of ``items`` (MaxResults 1–20, default 20) and the NextToken of the next one."""
    size = int(params.get("MaxResults") or 20)
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(str(token).encode("ascii")).decode("ascii"))
        except (ValueError, binascii.Error, UnicodeError):
            raise invalid("INVALID_NEXT_TOKEN", "The NextToken value is not valid.") from None
        if start < 0 or start > len(items):
            raise invalid("INVALID_NEXT_TOKEN", "The NextToken value is not valid.")
    chunk = items[start : start + size]
    following = start + size
    next_token = (
        base64.urlsafe_b64encode(str(following).encode("ascii")).decode("ascii")
        if following < len(items)
        else None
    )
    return [render(item) for item in chunk], next_token


def paged(
    key: str, params: Mapping[str, Any], items: Sequence[T], render: Callable[[T], Any]
) -> dict[str, Any]:
    rendered, token = page(params, items, render)
    out: dict[str, Any] = {key: rendered}
    if token is not None:
        out["NextToken"] = token
    return out


def enabled_types(ctx: OperationContext, org: OrganizationRecord) -> dict[str, str]:
    return ctx.uow.organizations.policy_types(org.id)


def attach_defaults(ctx: OperationContext, org: OrganizationRecord, target_id: str) -> None:
    """A new OU or account gets FullAWSAccess (and RCPFullAWSAccess) while SCPs (RCPs) are
    enabled: orgs_manage_policies_scps_evaluation.html, …_rcps_evaluation.html."""
    types = enabled_types(ctx, org)
    for policy_type, managed in FULL_ACCESS_FOR.items():
        if types.get(policy_type) == "ENABLED":
            ctx.uow.organizations.attach(org.id, managed.id, target_id, policy_type)


def render_root(ctx: OperationContext, org: OrganizationRecord) -> dict[str, Any]:
    types = enabled_types(ctx, org)
    return {
        "Id": org.root_id,
        "Arn": root_arn(org),
        "Name": org.root_name,
        "PolicyTypes": [{"Type": t, "Status": s} for t, s in sorted(types.items())],
    }
