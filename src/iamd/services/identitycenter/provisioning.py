"""Provisioning a permission set into an account (spec §4): the IAM role
``AWSReservedSSO_<set>_<16 hex>`` under ``/aws-reserved/sso.amazonaws.com/[<region>/]`` with the
set's policies and boundary, trusting the SAML provider ``AWSSSO_<16 hex>_DO_NOT_DELETE`` that
provisioning creates in the account; and removing them when nothing needs them any more.

Identity Center writes these through the store, as its service-linked role does in AWS: the roles
are protected from every IAM caller (``iamd.services.iam.lookups.refuse_protected``).

Everything a provisioning needs is resolved before anything is written, so a failure (a customer
managed policy missing in the account) leaves the account as it was and becomes the request's
``FailureReason``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from iamd.services.accessanalyzer.findings import role_trust_changed
from iamd.services.framework import OperationContext
from iamd.services.iam.roles import MAX_ROLES
from iamd.services.identitycenter.common import hex_id
from iamd.store.identity_center import InstanceRecord, PermissionSetRecord, ProvisionedRecord
from iamd.store.records import ManagedPolicyRecord
from iamd.store.schema import AWS_ACCOUNT
from iamd.wire import AccessDenied

__all__ = [
    "INLINE_POLICY_NAME",
    "MAX_SESSION_DURATION",
    "RESERVED_PATH",
    "check_provisionable",
    "deprovision",
    "provider_name",
    "provision",
    "role_path",
    "trust_policy",
]

RESERVED_PATH: Final = "/aws-reserved/sso.amazonaws.com/"
INLINE_POLICY_NAME: Final = "AwsSSOInlinePolicy"
"""The name of the permission set's inline policy on the role (seen in every public export)."""
MAX_SESSION_DURATION: Final = 43200
"""Provisioned roles always allow 12 hours; the set's SessionDuration is enforced at federation."""
SAML_AUDIENCE: Final = "https://signin.aws.amazon.com/saml"
PROVIDER_VALIDITY: Final = timedelta(days=365 * 100)


def role_path(instance: InstanceRecord) -> str:
    """The roles' path: no Region segment for an instance homed in us-east-1 (spec §4.1)."""
    return RESERVED_PATH if instance.region == "us-east-1" else f"{RESERVED_PATH}{instance.region}/"


def provider_name(instance: InstanceRecord) -> str:
    return f"AWSSSO_{instance.provider_suffix}_DO_NOT_DELETE"


def trust_policy(account_id: str, instance: InstanceRecord) -> str:
    """The role's trust policy, exactly as AWS writes it (spec §4.2: no Sid)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "Federated": f"arn:aws:iam::{account_id}:saml-provider/{provider_name(instance)}"
                    },
                    "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                    "Condition": {"StringEquals": {"SAML:aud": SAML_AUDIENCE}},
                }
            ],
        },
        separators=(",", ":"),
    )


def _provider_metadata(ctx: OperationContext, instance: InstanceRecord) -> str:
    """SAML metadata of the instance as an identity provider (valid for 100 years, as AWS's)."""
    valid_until = (ctx.now + PROVIDER_VALIDITY).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = ctx.info.base_url.rstrip("/") or "https://portal.sso.amazonaws.com"
    entity = f"{base}/start/saml/{instance.id}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{entity}" validUntil="{valid_until}">'
        '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{base}/start"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


class ProvisioningFailed(Exception):
    """Why a permission set cannot be provisioned to an account (the request's FailureReason)."""


@dataclass(frozen=True, slots=True)
class _Resolved:
    managed: tuple[ManagedPolicyRecord, ...]
    boundary: ManagedPolicyRecord | None


def _aws_managed(ctx: OperationContext, arn: str) -> ManagedPolicyRecord | None:
    """The AWS managed policy named by ``arn`` (``arn:aws:iam::aws:policy[/path/]Name``)."""
    prefix = "arn:aws:iam::aws:policy"
    if not arn.startswith(prefix + "/"):
        return None
    path_name = arn[len(prefix) :]
    path, _, name = path_name.rpartition("/")
    policy = ctx.uow.policies.find(AWS_ACCOUNT, name)
    if policy is None or policy.path != f"{path}/":
        return None
    return policy


def aws_managed_policy(ctx: OperationContext, arn: str) -> ManagedPolicyRecord | None:
    return _aws_managed(ctx, arn)


def _customer_managed(ctx: OperationContext, account_id: str, name: str, path: str) -> ManagedPolicyRecord:
    policy = ctx.uow.policies.find(account_id, name)
    if policy is None or policy.path != path:
        raise ProvisioningFailed(
            f"Received a 404 status error: The customer managed policy {path}{name} referenced by the "
            f"permission set does not exist in AWS account {account_id}."
        )
    return policy


def _resolve(ctx: OperationContext, permission_set: PermissionSetRecord, account_id: str) -> _Resolved:
    managed: list[ManagedPolicyRecord] = []
    for arn in permission_set.managed_policies:
        policy = _aws_managed(ctx, arn)
        if policy is None:
            raise ProvisioningFailed(
                f"Received a 404 status error: The AWS managed policy {arn} does not exist."
            )
        managed.append(policy)
    for name, path in permission_set.customer_policies:
        managed.append(_customer_managed(ctx, account_id, name, path))
    boundary: ManagedPolicyRecord | None = None
    spec = permission_set.boundary
    if spec is not None:
        if "ManagedPolicyArn" in spec:
            boundary = _aws_managed(ctx, str(spec["ManagedPolicyArn"]))
            if boundary is None:
                raise ProvisioningFailed(
                    f"Received a 404 status error: The AWS managed policy {spec['ManagedPolicyArn']} "
                    "used as permissions boundary does not exist."
                )
        else:
            ref = spec["CustomerManagedPolicyReference"]
            boundary = _customer_managed(ctx, account_id, str(ref["Name"]), str(ref.get("Path") or "/"))
    return _Resolved(tuple(managed), boundary)


def _caller_may(ctx: OperationContext, account_id: str, action: str, resource: str) -> None:
    try:
        ctx.authorize(action, resource, resource_account=account_id)
    except AccessDenied as exc:
        raise ProvisioningFailed(
            "Received a 403 status error: Access denied by IAM. Please check your policy, or wait for role "
            f"propagation to complete. IAM Error: {exc.message}"
        ) from None


def _check_quota(ctx: OperationContext, permission_set: PermissionSetRecord, account_id: str) -> None:
    """A new role counts against the account's IAM roles quota (spec §4.1)."""
    if ctx.uow.identity_center.find_provisioned(permission_set.arn, account_id) is not None:
        return
    if ctx.uow.accounts.summary(account_id).roles >= MAX_ROLES:
        raise ProvisioningFailed(
            f"Received a 409 status error: Cannot exceed quota for RolesPerAccount: {MAX_ROLES} "
            f"(AWS account {account_id})."
        )


def _check_caller(
    ctx: OperationContext,
    instance: InstanceRecord,
    permission_set: PermissionSetRecord,
    account_id: str,
    resolved: _Resolved,
) -> None:
    """In the management account Identity Center provisions with the caller's own credentials (its
    service-linked role may not create roles there; spec §4.3): the caller needs the IAM actions."""
    if account_id != instance.owner_account_id:
        return
    existing = ctx.uow.identity_center.find_provisioned(permission_set.arn, account_id)
    name = existing.role_name if existing is not None else f"AWSReservedSSO_{permission_set.name}_*"
    role = f"arn:aws:iam::{account_id}:role{role_path(instance)}{name}"
    if ctx.uow.saml_providers.find(account_id, provider_name(instance)) is None:
        _caller_may(
            ctx,
            account_id,
            "iam:CreateSAMLProvider",
            f"arn:aws:iam::{account_id}:saml-provider/{provider_name(instance)}",
        )
    _caller_may(ctx, account_id, "iam:UpdateRole" if existing is not None else "iam:CreateRole", role)
    if resolved.managed:
        _caller_may(ctx, account_id, "iam:AttachRolePolicy", role)
    if permission_set.inline_policy is not None:
        _caller_may(ctx, account_id, "iam:PutRolePolicy", role)
    if resolved.boundary is not None:
        _caller_may(ctx, account_id, "iam:PutRolePermissionsBoundary", role)


def _ensure_provider(ctx: OperationContext, instance: InstanceRecord, account_id: str) -> None:
    name = provider_name(instance)
    if ctx.uow.saml_providers.find(account_id, name) is None:
        ctx.uow.saml_providers.create(
            account_id,
            name=name,
            metadata_document=_provider_metadata(ctx, instance),
            created_at=ctx.now,
            valid_until=ctx.now + PROVIDER_VALIDITY,
        )


def provision(
    ctx: OperationContext, instance: InstanceRecord, permission_set: PermissionSetRecord, account_id: str
) -> ProvisionedRecord:
    """Create or bring up to date the set's role in ``account_id`` (and the account's SAML
    provider). Raises :class:`ProvisioningFailed`, having written nothing, when a policy the set
    names is missing."""
    resolved = _resolve(ctx, permission_set, account_id)
    _check_quota(ctx, permission_set, account_id)
    _check_caller(ctx, instance, permission_set, account_id, resolved)
    ic = ctx.uow.identity_center
    existing = ic.find_provisioned(permission_set.arn, account_id)
    role = ctx.uow.roles.find(account_id, existing.role_name) if existing is not None else None
    _ensure_provider(ctx, instance, account_id)
    path = role_path(instance)
    if role is None:
        name = f"AWSReservedSSO_{permission_set.name}_{hex_id(ctx, 16)}"
        role = ctx.uow.roles.create(
            account_id,
            role_id=ctx.ids.role_id(),
            name=name,
            path=path,
            trust_policy=trust_policy(account_id, instance),
            created_at=ctx.now,
            description=permission_set.description,
            max_session_duration=MAX_SESSION_DURATION,
        )
        role_trust_changed(ctx, account_id, _arn(account_id, role.path, role.name), role.trust_policy)
    else:
        role = ctx.uow.roles.update(
            role.id,
            description=permission_set.description or "",
            max_session_duration=MAX_SESSION_DURATION,
            trust_policy=trust_policy(account_id, instance),
        )
    wanted = {p.id for p in resolved.managed}
    attached = {p.id for p in ctx.uow.policies.attached("role", role.id, max_items=1000).items}
    for policy_id in attached - wanted:
        ctx.uow.policies.detach(policy_id, "role", role.id)
    for policy in resolved.managed:
        if policy.id not in attached:
            ctx.uow.policies.attach(policy.id, "role", role.id, account_id=account_id)
    if permission_set.inline_policy is not None:
        ctx.uow.inline_policies.put(
            account_id, "role", role.id, INLINE_POLICY_NAME, permission_set.inline_policy
        )
    elif ctx.uow.inline_policies.find("role", role.id, INLINE_POLICY_NAME) is not None:
        ctx.uow.inline_policies.delete("role", role.id, INLINE_POLICY_NAME)
    ctx.uow.roles.set_permissions_boundary(role.id, resolved.boundary.id if resolved.boundary else None)
    return ic.set_provisioned(
        permission_set_arn=permission_set.arn,
        target_id=account_id,
        instance_arn=instance.arn,
        role_name=role.name,
        role_path=path,
        revision=permission_set.revision,
        now=ctx.now,
    )


def _delete_role(ctx: OperationContext, account_id: str, role_name: str) -> None:
    role = ctx.uow.roles.find(account_id, role_name)
    if role is None:
        return
    for policy in ctx.uow.policies.attached("role", role.id, max_items=1000).items:
        ctx.uow.policies.detach(policy.id, "role", role.id)
    while True:
        names = ctx.uow.inline_policies.list_names("role", role.id, max_items=1000).items
        if not names:
            break
        for name in names:
            ctx.uow.inline_policies.delete("role", role.id, name)
    ctx.uow.roles.set_permissions_boundary(role.id, None)
    ctx.uow.roles.delete(role.id)
    role_trust_changed(ctx, account_id, _arn(account_id, role.path, role.name), None)


def _arn(account_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role{path}{name}"


def deprovision(
    ctx: OperationContext, instance: InstanceRecord, permission_set_arn: str, account_id: str
) -> None:
    """Remove the set's role from ``account_id``, and the account's SAML provider when no other
    permission set of the instance is provisioned there."""
    ic = ctx.uow.identity_center
    provisioned = ic.find_provisioned(permission_set_arn, account_id)
    if provisioned is None:
        return
    _delete_role(ctx, account_id, provisioned.role_name)
    ic.remove_provisioned(permission_set_arn, account_id)
    if not ic.provisioned_in_account(instance.arn, account_id):
        provider = ctx.uow.saml_providers.find(account_id, provider_name(instance))
        if provider is not None:
            ctx.uow.saml_providers.delete(provider.id)


def check_provisionable(
    ctx: OperationContext, instance: InstanceRecord, permission_set: PermissionSetRecord, account_id: str
) -> None:
    """Raise :class:`ProvisioningFailed` when the set cannot be provisioned to ``account_id``."""
    resolved = _resolve(ctx, permission_set, account_id)
    _check_quota(ctx, permission_set, account_id)
    _check_caller(ctx, instance, permission_set, account_id, resolved)
