"""Organization policies of every type: Create/Update/Delete/DescribePolicy, Attach/DetachPolicy,
ListPolicies, ListPoliciesForTarget, ListTargetsForPolicy, DescribeEffectivePolicy.

SCPs and RCPs are checked with the policy module's SCP and RCP grammars (no Principal in SCPs;
RCPs deny only, with Principal "*", on actions of the services RCPs cover); management policies
must be one JSON object. Sizes count every character, white space included, as the API stores the
text exactly as sent (orgs_reference_limits.html).
"""

from __future__ import annotations

import json
from typing import Any

from iamd.catalog import rcp_services
from iamd.policy import PolicyKind
from iamd.policy.ast import Effect
from iamd.policy.parse import check_policy
from iamd.services.framework import OperationContext, operation
from iamd.services.organizations.common import (
    FULL_ACCESS_FOR,
    MANAGED,
    POLICY_TYPES,
    RCP,
    SCP,
    SERVICE,
    ManagedPolicy,
    ancestors,
    authorize,
    caller_org,
    constraint,
    enabled_types,
    error,
    invalid,
    manager,
    new_id,
    paged,
    policy_arn,
    policy_summary,
    target_arn,
    target_exists,
)
from iamd.services.organizations.tags import apply_tags
from iamd.store.errors import AlreadyExists
from iamd.store.organizations import OrganizationRecord, OrgPolicyRecord


def _malformed(message: str) -> Exception:
    return error("MalformedPolicyDocumentException", message)


def validate_content(policy_type: str, content: str) -> None:
    """Raise ConstraintViolation (too large) or MalformedPolicyDocument (bad for the type)."""
    info = POLICY_TYPES[policy_type]
    if len(content) > info.max_size:
        raise constraint(
            "POLICY_CONTENT_LIMIT_EXCEEDED",
            f"The policy is {len(content)} characters; a {policy_type} may have at most {info.max_size}.",
        )
    if not info.authorization:
        try:
            doc = json.loads(content)
        except ValueError as exc:
            raise _malformed(f"The policy is not valid JSON: {exc}.") from None
        if not isinstance(doc, dict):
            raise _malformed("A policy must be exactly one JSON object.")
        return
    kind = PolicyKind.SCP if policy_type == SCP else PolicyKind.RCP
    result = check_policy(content, kind)
    problems = [f for f in result.errors if f.code != kind.size_code]
    if problems or result.policy is None:
        first = problems[0] if problems else None
        detail = f"{first.message} at {first.location}" if first else "the document has no single meaning"
        raise _malformed(f"The {kind.label.upper()} is not valid: {detail}.")
    if kind is PolicyKind.RCP:
        covered = rcp_services()
        for statement in result.policy.statements:
            if statement.effect is not Effect.DENY:
                continue
            for action in statement.actions:
                prefix = action.split(":", 1)[0].lower()
                if "*" not in prefix and "?" not in prefix and prefix not in covered:
                    raise _malformed(
                        f"RCPs do not apply to {prefix}: {action} (statement {statement.label}) names a "
                        "service that resource control policies do not cover."
                    )


def find_policy(
    ctx: OperationContext, org: OrganizationRecord, policy_id: str
) -> OrgPolicyRecord | ManagedPolicy:
    managed = MANAGED.get(policy_id)
    if managed is not None:
        return managed
    policy = ctx.uow.organizations.policy(policy_id)
    if policy is None or policy.organization_id != org.id:
        raise error("PolicyNotFoundException", f"Policy {policy_id} does not exist.")
    return policy


def _type(policy: OrgPolicyRecord | ManagedPolicy) -> str:
    return policy.policy_type


def _content(policy: OrgPolicyRecord | ManagedPolicy) -> str:
    return policy.content


def _policy_call(
    ctx: OperationContext, policy_id: str
) -> tuple[OrganizationRecord, OrgPolicyRecord | ManagedPolicy]:
    """Authorize the operation on policy ``policy_id`` (with organizations:PolicyType), for the
    management account or a delegated administrator: the organization and the policy."""
    org, _ = caller_org(ctx)
    policy = find_policy(ctx, org, policy_id)
    authorize(ctx, policy_arn(org, policy.id, _type(policy)), {"organizations:PolicyType": _type(policy)})
    return manager(ctx), policy


def render_policy(org: OrganizationRecord, policy: OrgPolicyRecord | ManagedPolicy) -> dict[str, Any]:
    return {"PolicySummary": policy_summary(org, policy), "Content": _content(policy)}


@operation(SERVICE, "CreatePolicy")
def create_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = params.get("Tags") or []
    context: dict[str, object] = {"organizations:PolicyType": params["Type"]}
    if tags:
        context["aws:TagKeys"] = [t["Key"] for t in tags]
    authorize(ctx, "*", context)
    org = manager(ctx)
    policy_type = params["Type"]
    if org.feature_set != "ALL":
        raise error(
            "PolicyTypeNotAvailableForOrganizationException",
            "Policies are available only in an organization with all features enabled.",
        )
    info = POLICY_TYPES[policy_type]
    validate_content(policy_type, params["Content"])
    if ctx.uow.organizations.count_policies(org.id, policy_type) >= info.max_policies:
        raise constraint(
            "POLICY_NUMBER_LIMIT_EXCEEDED",
            f"An organization can have at most {info.max_policies} {policy_type}s.",
        )
    record = OrgPolicyRecord(
        id=new_id(ctx, "p-", 10),
        organization_id=org.id,
        policy_type=policy_type,
        name=params["Name"],
        description=params.get("Description") or "",
        content=params["Content"],
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    try:
        ctx.uow.organizations.create_policy(record)
    except AlreadyExists:
        raise error("DuplicatePolicyException", f"A policy named {record.name} already exists.") from None
    apply_tags(ctx, org, record.id, tags)
    return {"Policy": render_policy(org, record)}


@operation(SERVICE, "DescribePolicy", readonly=True)
def describe_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, policy = _policy_call(ctx, params["PolicyId"])
    return {"Policy": render_policy(org, policy)}


def _customer(policy: OrgPolicyRecord | ManagedPolicy) -> OrgPolicyRecord:
    if isinstance(policy, ManagedPolicy):
        raise invalid("IMMUTABLE_POLICY", f"The AWS managed policy {policy.id} cannot be changed or deleted.")
    return policy


@operation(SERVICE, "UpdatePolicy")
def update_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, policy = _policy_call(ctx, params["PolicyId"])
    record = _customer(policy)
    if params.get("Content") is not None:
        validate_content(record.policy_type, params["Content"])
    try:
        record = ctx.uow.organizations.update_policy(
            record.id,
            name=params.get("Name"),
            description=params.get("Description"),
            content=params.get("Content"),
            updated_at=ctx.now,
        )
    except AlreadyExists:
        raise error("DuplicatePolicyException", f"A policy named {params['Name']} already exists.") from None
    if params.get("Content") is not None:
        ctx.uow.organizations.changed(org.id)
    return {"Policy": render_policy(org, record)}


@operation(SERVICE, "DeletePolicy")
def delete_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    org, policy = _policy_call(ctx, params["PolicyId"])
    record = _customer(policy)
    if ctx.uow.organizations.targets(org.id, record.id):
        raise error("PolicyInUseException", f"Policy {record.id} is still attached; detach it first.")
    ctx.uow.organizations.delete_policy(record.id)
    return None


def _target(ctx: OperationContext, org: OrganizationRecord, target_id: str) -> None:
    if not target_exists(ctx, org, target_id):
        raise error("TargetNotFoundException", f"Target {target_id} does not exist in organization {org.id}.")


@operation(SERVICE, "AttachPolicy")
def attach_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    org, policy = _policy_call(ctx, params["PolicyId"])
    target = params["TargetId"]
    _target(ctx, org, target)
    policy_type = _type(policy)
    if enabled_types(ctx, org).get(policy_type) != "ENABLED":
        raise error(
            "PolicyTypeNotEnabledException", f"The policy type {policy_type} is not enabled in {org.root_id}."
        )
    repo = ctx.uow.organizations
    attached = repo.attached(org.id, [target], policy_type)
    if any(p == policy.id for _, p in attached):
        raise error(
            "DuplicatePolicyAttachmentException", f"Policy {policy.id} is already attached to {target}."
        )
    limit = POLICY_TYPES[policy_type].max_attachments
    if len(attached) >= limit:
        raise constraint(
            "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
            f"{target} already has {len(attached)} {policy_type}s attached directly; the quota is {limit}.",
        )
    repo.attach(org.id, policy.id, target, policy_type)
    repo.changed(org.id)
    return None


@operation(SERVICE, "DetachPolicy")
def detach_policy(ctx: OperationContext, params: dict[str, Any]) -> None:
    org, policy = _policy_call(ctx, params["PolicyId"])
    target = params["TargetId"]
    _target(ctx, org, target)
    policy_type = _type(policy)
    repo = ctx.uow.organizations
    attached = repo.attached(org.id, [target], policy_type)
    if not any(p == policy.id for _, p in attached):
        raise error("PolicyNotAttachedException", f"Policy {policy.id} is not attached to {target}.")
    if policy.id == FULL_ACCESS_FOR[RCP].id:
        raise invalid("NON_DETACHABLE_POLICY", "RCPFullAWSAccess cannot be detached.")
    if policy_type == SCP and len(attached) <= 1:
        # Every root, OU and account keeps at least one SCP (DetachPolicy's documentation).
        raise constraint(
            "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
            f"{policy.id} is the last SCP attached to {target}; attach another SCP before detaching it.",
        )
    repo.detach(org.id, policy.id, target)
    repo.changed(org.id)
    return None


def _filter(params: dict[str, Any]) -> str:
    return str(params["Filter"])


@operation(SERVICE, "ListPolicies", readonly=True)
def list_policies(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx, "*", {"organizations:PolicyType": _filter(params)})
    org = manager(ctx)
    policy_type = _filter(params)
    found: list[OrgPolicyRecord | ManagedPolicy] = [
        m for m in MANAGED.values() if m.policy_type == policy_type
    ]
    found.extend(ctx.uow.organizations.policies(org.id, policy_type))
    return paged("Policies", params, found, lambda p: policy_summary(org, p))


@operation(SERVICE, "ListPoliciesForTarget", readonly=True)
def list_policies_for_target(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, _ = caller_org(ctx)
    authorize(ctx, target_arn(org, params["TargetId"]), {"organizations:PolicyType": _filter(params)})
    org = manager(ctx)
    _target(ctx, org, params["TargetId"])
    ids = [p for _, p in ctx.uow.organizations.attached(org.id, [params["TargetId"]], _filter(params))]
    policies = [find_policy(ctx, org, p) for p in ids]
    return paged("Policies", params, policies, lambda p: policy_summary(org, p))


@operation(SERVICE, "ListTargetsForPolicy", readonly=True)
def list_targets_for_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    org, policy = _policy_call(ctx, params["PolicyId"])

    def render(target: str) -> dict[str, Any]:
        if target.startswith("r-"):
            name, kind = org.root_name, "ROOT"
        elif target.startswith("ou-"):
            ou = ctx.uow.organizations.ou(target)
            name, kind = (ou.name if ou else target), "ORGANIZATIONAL_UNIT"
        else:
            account = ctx.uow.accounts.find(target)
            name, kind = (account.name if account else target), "ACCOUNT"
        return {"TargetId": target, "Arn": target_arn(org, target), "Name": name, "Type": kind}

    return paged("Targets", params, ctx.uow.organizations.targets(org.id, policy.id), render)


def _merge(into: dict[str, Any], doc: dict[str, Any]) -> None:
    """Management-policy inheritance, simplified: child values replace parent values key by key;
    ``@@assign`` replaces, ``@@append`` adds to a list, ``@@remove`` drops the key."""
    for key, value in doc.items():
        if isinstance(value, dict) and "@@remove" in value:
            into.pop(key, None)
        elif isinstance(value, dict) and "@@assign" in value:
            into[key] = value["@@assign"]
        elif isinstance(value, dict) and "@@append" in value:
            current = into.get(key)
            into[key] = (current if isinstance(current, list) else []) + list(value["@@append"])
        elif isinstance(value, dict):
            if not isinstance(into.get(key), dict):
                into[key] = {}
            _merge(into[key], value)
        elif not (isinstance(key, str) and key.startswith("@@")):
            into[key] = value


@operation(SERVICE, "DescribeEffectivePolicy", readonly=True)
def describe_effective_policy(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx, "*", {"organizations:PolicyType": params["PolicyType"]})
    org, _ = caller_org(ctx)
    policy_type = params["PolicyType"]
    target = params.get("TargetId") or ctx.account_id
    if target != ctx.account_id and ctx.account_id != org.management_account_id:
        manager(ctx)
    member = ctx.uow.organizations.member(target) if target.isdigit() else None
    if member is None or member.organization_id != org.id:
        raise error("TargetNotFoundException", f"Account {target} is not in organization {org.id}.")
    if enabled_types(ctx, org).get(policy_type) != "ENABLED":
        raise error("EffectivePolicyNotFoundException", f"No effective {policy_type} applies to {target}.")
    chain = [*ancestors(ctx, org, member.parent_id), target]
    attached = ctx.uow.organizations.attached(org.id, chain, policy_type)
    by_target: dict[str, list[str]] = {}
    for t, p in attached:
        by_target.setdefault(t, []).append(p)
    effective: dict[str, Any] = {}
    last = None
    for level in chain:
        for policy_id in by_target.get(level, []):
            policy = find_policy(ctx, org, policy_id)
            try:
                doc = json.loads(_content(policy))
            except ValueError:
                continue
            if isinstance(doc, dict):
                _merge(effective, doc)
            if isinstance(policy, OrgPolicyRecord) and (last is None or policy.updated_at > last):
                last = policy.updated_at
    if not attached:
        raise error("EffectivePolicyNotFoundException", f"No effective {policy_type} applies to {target}.")
    return {
        "EffectivePolicy": {
            "PolicyContent": json.dumps(effective),
            "LastUpdatedTimestamp": last or org.created_at,
            "TargetId": target,
            "PolicyType": policy_type,
        }
    }


@operation(SERVICE, "ListAccountsWithInvalidEffectivePolicy", readonly=True)
def list_accounts_with_invalid_effective_policy(
    ctx: OperationContext, params: dict[str, Any]
) -> dict[str, Any]:
    authorize(ctx, "*", {"organizations:PolicyType": params["PolicyType"]})
    manager(ctx)
    # iamd merges management policies without service-side validation: none is ever invalid.
    return {"Accounts": [], "PolicyType": params["PolicyType"]}


@operation(SERVICE, "ListEffectivePolicyValidationErrors", readonly=True)
def list_effective_policy_validation_errors(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx, "*", {"organizations:PolicyType": params["PolicyType"]})
    org = manager(ctx)
    member = ctx.uow.organizations.member(params["AccountId"])
    if member is None or member.organization_id != org.id:
        raise error(
            "AccountNotFoundException", f"Account {params['AccountId']} is not in organization {org.id}."
        )
    return {
        "AccountId": params["AccountId"],
        "PolicyType": params["PolicyType"],
        "EffectivePolicyValidationErrors": [],
    }
