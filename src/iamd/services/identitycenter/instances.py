"""Instances: Create/Describe/List/Update/DeleteInstance, their Regions, their attributes for access
control (ABAC), and tags on instances and permission sets.

``CreateInstance`` called by an organization's management account enables the organization
instance (AWS does that from its console; its API makes account instances only); from any other
account it makes an account instance, as AWS does. An account holds one instance at most.
"""

from __future__ import annotations

import re
from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.services.identitycenter.common import (
    LIST_INSTANCES_PAGE,
    MAX_TAGS,
    access_denied,
    authorize,
    conflict,
    hex_id,
    identity_store_arn,
    instance_arn,
    instance_for,
    not_found,
    page_list,
    permission_set_for,
    quota,
    request_tags,
    tag_list,
    tag_map,
    validation,
    visible,
)
from iamd.services.identitycenter.provisioning import deprovision
from iamd.store.errors import AlreadyExists
from iamd.store.identity_center import InstanceRecord

SERVICE: Final = "sso-admin"
_SOURCE = re.compile(r"\$\{path:[A-Za-z0-9_.\[\]\" =:-]{1,240}\}")
"""An attribute source: an identity-store path (``${path:enterprise.department}``,
``${path:emails[primary eq true].value}``, ``${path:addresses[type eq "work"].locality}``)."""


def _render(instance: InstanceRecord) -> dict[str, Any]:
    return {
        "InstanceArn": instance.arn,
        "IdentityStoreId": instance.identity_store_id,
        "IdentityStoreArn": identity_store_arn(instance),
        "OwnerAccountId": instance.owner_account_id,
        **({"Name": instance.name} if instance.name else {}),
        "CreatedDate": instance.created_at,
        "Status": instance.status,
        "PrimaryRegion": instance.region,
    }


def _region(instance: InstanceRecord) -> dict[str, Any]:
    return {
        "RegionName": instance.region,
        "Status": "ACTIVE",
        "AddedDate": instance.created_at,
        "IsPrimaryRegion": True,
    }


@operation(SERVICE, "CreateInstance")
def create_instance(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = tag_map(params.get("Tags"))
    name = params.get("Name")
    token = params.get("ClientToken")
    ic = ctx.uow.identity_center
    existing = ic.instance_of_account(ctx.account_id)
    request = {"Name": name, "Tags": tags}
    new_arn = instance_arn(f"ssoins-{hex_id(ctx, 16)}")
    authorize(ctx, existing.arn if existing is not None else new_arn, request_tags(tags))
    if existing is not None:
        if token and existing.client_token == token:
            if existing.request != request:
                raise conflict(
                    f"IdempotentParameterMismatch: ClientToken {token} was used for a request with "
                    "other parameters."
                )
            return {"InstanceArn": existing.arn}
        raise conflict(
            f"Account {ctx.account_id} already has an IAM Identity Center instance ({existing.arn}): "
            "an account can hold only one instance."
        )
    member = ctx.uow.organizations.member(ctx.account_id)
    organization_id: str | None = None
    if member is not None:
        org = ctx.uow.organizations.find(member.organization_id)
        if org is not None and org.management_account_id == ctx.account_id:
            organization_id = org.id
    try:
        instance = ic.create_instance(
            arn=new_arn,
            owner_account_id=ctx.account_id,
            organization_id=organization_id,
            identity_store_id=f"d-{hex_id(ctx, 10)}",
            name=name,
            region=ctx.info.region,
            provider_suffix=hex_id(ctx, 16),
            client_token=token,
            request=request,
            tags=tags,
            now=ctx.now,
        )
    except AlreadyExists:
        raise conflict(f"Account {ctx.account_id} already has an IAM Identity Center instance.") from None
    ctx.uow.identity_store.create_store(
        instance.identity_store_id, account_id=ctx.account_id, created_at=ctx.now, instance_arn=instance.arn
    )
    return {"InstanceArn": instance.arn}


@operation(SERVICE, "DescribeInstance", readonly=True)
def describe_instance(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    return {
        **_render(instance),
        "Regions": [_region(instance)],
        "EncryptionConfigurationDetails": {"KeyType": "AWS_OWNED_KMS_KEY", "EncryptionStatus": "ENABLED"},
        "PermissionSetsEnabled": instance.is_organization_instance,
    }


@operation(SERVICE, "ListInstances", readonly=True)
def list_instances(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    authorize(ctx)
    instances = [i for i in ctx.uow.identity_center.list_instances() if visible(ctx, i)]
    if params.get("RegionScope") != "ALL_REGIONS":
        instances = [i for i in instances if i.region == ctx.info.region]
    return page_list(params, "Instances", instances, _render, LIST_INSTANCES_PAGE)


@operation(SERVICE, "UpdateInstance")
def update_instance(ctx: OperationContext, params: dict[str, Any]) -> None:
    instance = instance_for(ctx, params["InstanceArn"])
    if instance.owner_account_id != ctx.account_id:
        raise access_denied(f"Only the owner account {instance.owner_account_id} can update {instance.arn}.")
    encryption = params.get("EncryptionConfiguration")
    if encryption is not None and encryption.get("KeyType") == "CUSTOMER_MANAGED_KEY":
        raise validation(
            "iamd has no AWS KMS: an instance's data is encrypted under iamd's own key (AWS_OWNED_KMS_KEY)."
        )
    if params.get("NetworkConfiguration") is not None:
        raise validation("iamd has no VPC endpoints: NetworkConfiguration cannot be set.")
    if params.get("PermissionSetsEnabled") is False and instance.is_organization_instance:
        raise validation("Permission sets cannot be disabled on an organization instance.")
    if params.get("PermissionSetsEnabled") is True and not instance.is_organization_instance:
        raise validation(
            "Account instances do not support permission sets: enable the organization instance from the "
            "management account."
        )
    if "Name" in params:
        ctx.uow.identity_center.update_instance(instance.arn, name=params["Name"])


@operation(SERVICE, "DeleteInstance")
def delete_instance(ctx: OperationContext, params: dict[str, Any]) -> None:
    instance = instance_for(ctx, params["InstanceArn"])
    if instance.owner_account_id != ctx.account_id:
        raise access_denied(
            f"Only the account that owns {instance.arn} ({instance.owner_account_id}) can delete it."
        )
    ic = ctx.uow.identity_center
    for provisioned in ic.provisioned_for_instance(instance.arn):
        deprovision(ctx, instance, provisioned.permission_set_arn, provisioned.target_id)
    ctx.uow.identity_store.delete_store(instance.identity_store_id)  # its users, groups, tokens…
    ic.delete_instance(instance.arn)


# -- Regions ---------------------------------------------------------------------------------------


@operation(SERVICE, "DescribeRegion", readonly=True)
def describe_region(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    if params["RegionName"] != instance.region:
        raise not_found(f"Region {params['RegionName']} is not enabled for instance {instance.arn}.")
    return _region(instance)


@operation(SERVICE, "ListRegions", readonly=True)
def list_regions(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    return page_list(params, "Regions", [instance], _region)


def _one_region(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    if params["RegionName"] == instance.region:
        raise validation(f"{params['RegionName']} is the primary Region of {instance.arn}.")
    raise validation(
        "iamd serves every Region from one place: an instance has its primary Region only, so there is "
        "no Region to add or remove."
    )


@operation(SERVICE, "AddRegion")
def add_region(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _one_region(ctx, params)


@operation(SERVICE, "RemoveRegion")
def remove_region(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    return _one_region(ctx, params)


# -- attributes for access control (ABAC) ----------------------------------------------------------


def _attributes(params: dict[str, Any]) -> list[dict[str, Any]]:
    attributes = params["InstanceAccessControlAttributeConfiguration"]["AccessControlAttributes"]
    seen: set[str] = set()
    out = []
    for attribute in attributes:
        key = attribute["Key"]
        source = attribute["Value"]["Source"][0]
        if key in seen:
            raise validation(f"Duplicate attribute key {key}: each key may appear once.")
        seen.add(key)
        if not _SOURCE.fullmatch(source):
            raise validation(
                f"Attribute {key}: source {source} is not an identity store path; write it as "
                "${path:<attribute>}, e.g. ${path:enterprise.department}."
            )
        out.append({"Key": key, "Value": {"Source": [source]}})
    return out


@operation(SERVICE, "CreateInstanceAccessControlAttributeConfiguration")
def create_abac(ctx: OperationContext, params: dict[str, Any]) -> None:
    instance = instance_for(ctx, params["InstanceArn"])
    attributes = _attributes(params)
    if instance.abac is not None:
        raise conflict(f"Attributes for access control are already enabled for {instance.arn}: update them.")
    ctx.uow.identity_center.set_access_control_attributes(instance.arn, attributes)


@operation(SERVICE, "UpdateInstanceAccessControlAttributeConfiguration")
def update_abac(ctx: OperationContext, params: dict[str, Any]) -> None:
    instance = instance_for(ctx, params["InstanceArn"])
    attributes = _attributes(params)
    if instance.abac is None:
        raise not_found(f"Attributes for access control are not enabled for {instance.arn}.")
    ctx.uow.identity_center.set_access_control_attributes(instance.arn, attributes)


@operation(SERVICE, "DeleteInstanceAccessControlAttributeConfiguration")
def delete_abac(ctx: OperationContext, params: dict[str, Any]) -> None:
    instance = instance_for(ctx, params["InstanceArn"])
    if instance.abac is None:
        raise not_found(f"Attributes for access control are not enabled for {instance.arn}.")
    ctx.uow.identity_center.set_access_control_attributes(instance.arn, None)


@operation(SERVICE, "DescribeInstanceAccessControlAttributeConfiguration", readonly=True)
def describe_abac(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    instance = instance_for(ctx, params["InstanceArn"])
    if instance.abac is None:
        raise not_found(f"Attributes for access control are not enabled for {instance.arn}.")
    return {
        "Status": "ENABLED",
        "InstanceAccessControlAttributeConfiguration": {"AccessControlAttributes": instance.abac},
    }


# -- tags ------------------------------------------------------------------------------------------

_TAGGABLE = re.compile(
    r"arn:aws:sso:::(?:instance/(?P<instance>(?:sso)?ins-[a-zA-Z0-9-.]{16})"
    r"|permissionSet/(?P<ps_instance>(?:sso)?ins-[a-zA-Z0-9-.]{16})/ps-[a-zA-Z0-9-./]{16})"
)


def _tagged(
    ctx: OperationContext, params: dict[str, Any], context: dict[str, object] | None = None
) -> tuple[str, dict[str, str]]:
    """(kind, current tags) of the resource, authorized; kind is "instance" or "permissionSet"."""
    arn = params["ResourceArn"]
    match = _TAGGABLE.fullmatch(arn)
    if match is None:
        authorize(ctx, arn, context)
        raise not_found(
            f"Resource {arn} not found: iamd keeps tags on instances and permission sets only "
            "(it has no applications or trusted token issuers)."
        )
    if match["instance"]:
        return "instance", dict(instance_for(ctx, arn, context).tags)
    owner = f"arn:aws:sso:::instance/{match['ps_instance']}"
    given = params.get("InstanceArn")
    if given is not None and given != owner:
        raise validation(f"The resource {arn} does not belong to the instance {given}.")
    owning = ctx.uow.identity_center.find_instance(owner)
    if owning is None or not visible(ctx, owning):
        authorize(ctx, arn, context)
        raise access_denied(
            f"The instance {owner} does not exist or is not managed by account {ctx.account_id}."
        )
    permission_set = permission_set_for(ctx, owning, arn, context)
    return "permissionSet", dict(permission_set.tags)


def _store_tags(ctx: OperationContext, kind: str, arn: str, tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise quota(f"A resource can have at most {MAX_TAGS} tags.")
    if kind == "instance":
        ctx.uow.identity_center.update_instance(arn, tags=tags)
    else:
        ctx.uow.identity_center.set_permission_set_tags(arn, tags)


@operation(SERVICE, "TagResource")
def tag_resource(ctx: OperationContext, params: dict[str, Any]) -> None:
    new = tag_map(params["Tags"])
    kind, tags = _tagged(ctx, params, request_tags(new))
    _store_tags(ctx, kind, params["ResourceArn"], {**tags, **new})


@operation(SERVICE, "UntagResource")
def untag_resource(ctx: OperationContext, params: dict[str, Any]) -> None:
    keys = list(params["TagKeys"])
    kind, tags = _tagged(ctx, params, {"aws:TagKeys": keys})
    _store_tags(ctx, kind, params["ResourceArn"], {k: v for k, v in tags.items() if k not in keys})


@operation(SERVICE, "ListTagsForResource", readonly=True)
def list_tags_for_resource(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _, tags = _tagged(ctx, params)
    return page_list(params, "Tags", tag_list(tags), lambda t: t)
