"""What every ``sso-admin`` operation shares: its errors, ARNs and ids, who may use an instance,
authorization, and paging.

Facts from /work/shared/spec/identity_center.md (§1 instances and identifier formats, §3 permission
sets and assignments, §4 provisioning) and botocore's ``sso-admin`` model.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from iamd.services.framework import OperationContext
from iamd.store.errors import InvalidMarker
from iamd.store.identity_center import InstanceRecord, PermissionSetRecord
from iamd.wire import AwsError, load_service_model, modeled_error

SERVICE: Final = "sso-admin"
SSO_PRINCIPAL: Final = "sso.amazonaws.com"
DEFAULT_PAGE: Final = 100
MAX_TAGS: Final = 75
"""Tags per instance or permission set (the model's TagList maximum)."""
LIST_INSTANCES_PAGE: Final = 10
"""ListInstances returns at most 10 instances per page (the model's MaxResults)."""


def error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model(SERVICE), shape, message)


def validation(message: str) -> AwsError:
    return error("ValidationException", message)


def not_found(message: str) -> AwsError:
    return error("ResourceNotFoundException", message)


def conflict(message: str) -> AwsError:
    return error("ConflictException", message)


def access_denied(message: str) -> AwsError:
    return error("AccessDeniedException", message)


def quota(message: str) -> AwsError:
    return error("ServiceQuotaExceededException", message)


# -- ids and ARNs --------------------------------------------------------------------------------


def hex_id(ctx: OperationContext, length: int) -> str:
    """``length`` lower-case hex characters from the request's id source (random in service,
    repeatable in tests)."""
    return hashlib.sha256(ctx.ids.lowercase_token(32).encode("ascii")).hexdigest()[:length]


def request_id(ctx: OperationContext) -> str:
    """A version-4 UUID for an asynchronous request record."""
    return str(uuid.UUID(hex=hex_id(ctx, 32), version=4))


def instance_arn(instance_id: str) -> str:
    return f"arn:aws:sso:::instance/{instance_id}"


def permission_set_arn(instance: InstanceRecord, ps_id: str) -> str:
    return f"arn:aws:sso:::permissionSet/{instance.id}/{ps_id}"


def account_arn(account_id: str) -> str:
    return f"arn:aws:sso:::account/{account_id}"


def identity_store_arn(instance: InstanceRecord) -> str:
    return f"arn:aws:identitystore::{instance.owner_account_id}:identitystore/{instance.identity_store_id}"


# -- who may use an instance ---------------------------------------------------------------------


def authorize(
    ctx: OperationContext, resource: str = "*", context: Mapping[str, object] | None = None
) -> None:
    """``sso:<Operation>`` on ``resource`` (one of the Service Authorization Reference's resource
    types of the action: instance, permission set, account), evaluated in the caller's account
    (the ARNs carry no account)."""
    ctx.authorize(f"sso:{ctx.info.operation}", resource, context, resource_account=ctx.account_id)


def request_tags(tags: Mapping[str, str]) -> dict[str, object]:
    """aws:RequestTag/<key> and aws:TagKeys for an operation that sets tags."""
    context: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        context["aws:TagKeys"] = list(tags)
    return context


def resource_tags(tags: Mapping[str, str]) -> dict[str, object]:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def tag_map(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    """A request's ``Tags`` list as a map; a key given twice is a ValidationException."""
    out: dict[str, str] = {}
    for tag in tags or ():
        if tag["Key"] in out:
            raise validation(f"Duplicate tag key {tag['Key']}: each key may appear once.")
        out[tag["Key"]] = tag["Value"]
    if len(out) > MAX_TAGS:
        raise quota(f"A resource can have at most {MAX_TAGS} tags.")
    return out


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _organization_of(ctx: OperationContext, account_id: str) -> str | None:
    member = ctx.uow.organizations.member(account_id)
    return member.organization_id if member is not None else None


def is_delegated_admin(ctx: OperationContext, instance: InstanceRecord) -> bool:
    """Whether the caller's account is a delegated administrator of Identity Center in the
    organization of ``instance`` (an organization instance)."""
    if instance.organization_id is None:
        return False
    if _organization_of(ctx, ctx.account_id) != instance.organization_id:
        return False
    return bool(
        ctx.uow.organizations.delegated_admins(
            instance.organization_id, service_principal=SSO_PRINCIPAL, account_id=ctx.account_id
        )
    )


def visible(ctx: OperationContext, instance: InstanceRecord) -> bool:
    """The caller's account owns ``instance`` or administers it as a delegated administrator."""
    return instance.owner_account_id == ctx.account_id or is_delegated_admin(ctx, instance)


def instance_for(
    ctx: OperationContext, arn: str, context: Mapping[str, object] | None = None
) -> InstanceRecord:
    """Authorize the operation on the instance (with its aws:ResourceTag keys and ``context``),
    then return it. An instance that does not exist, or that the caller's account neither owns
    nor administers, is AccessDeniedException (as DescribeInstance answers for a deleted one)."""
    instance = ctx.uow.identity_center.find_instance(arn)
    tags = resource_tags(instance.tags) if instance is not None else {}
    authorize(ctx, arn, {**tags, **(context or {})})
    if instance is None or not visible(ctx, instance):
        raise access_denied(
            f"The instance {arn} does not exist or is not managed by account {ctx.account_id}."
        )
    return instance


def account_resource(ctx: OperationContext, account_id: str) -> None:
    """Authorize the operation on the AWS account resource ``arn:aws:sso:::account/<id>``."""
    authorize(ctx, account_arn(account_id))


def multi_account(instance: InstanceRecord) -> None:
    """Permission sets and account assignments exist only in organization instances."""
    if not instance.is_organization_instance:
        raise validation(
            f"The operation is not supported for the account instance {instance.arn}: account instances "
            "of IAM Identity Center do not support permission sets or AWS account assignments; "
            "enable an organization instance from the organization's management account."
        )


def permission_set_for(
    ctx: OperationContext,
    instance: InstanceRecord,
    arn: str,
    context: Mapping[str, object] | None = None,
) -> PermissionSetRecord:
    """Authorize the operation on the instance's permission set ``arn`` (with its tags), then
    return it; ResourceNotFoundException when the instance has no such set."""
    check_permission_set_arn(instance, arn)
    permission_set = ctx.uow.identity_center.find_permission_set(arn)
    tags = resource_tags(permission_set.tags) if permission_set is not None else {}
    authorize(ctx, arn, {**tags, **(context or {})})
    if permission_set is None or permission_set.instance_arn != instance.arn:
        raise not_found(f"Could not find PermissionSet with PermissionSetArn {arn}.")
    return permission_set


def check_permission_set_arn(instance: InstanceRecord, arn: str) -> None:
    """A permission set ARN of another instance is a ValidationException (AWS checks the instance
    segment before looking the set up)."""
    prefix = f"arn:aws:sso:::permissionSet/{instance.id}/"
    if not arn.startswith(prefix):
        raise validation(f"The PermissionSetArn {arn} does not belong to the instance {instance.arn}.")


def organization_accounts(ctx: OperationContext, instance: InstanceRecord) -> set[str]:
    """The accounts of the instance's organization (ACTIVE members)."""
    if instance.organization_id is None:
        return {instance.owner_account_id}
    return {
        m.account_id for m in ctx.uow.organizations.members(instance.organization_id) if m.state == "ACTIVE"
    }


def management_account(ctx: OperationContext, instance: InstanceRecord) -> str | None:
    if instance.organization_id is None:
        return None
    org = ctx.uow.organizations.find(instance.organization_id)
    return org.management_account_id if org is not None else None


def target_account(ctx: OperationContext, instance: InstanceRecord, target_id: str) -> None:
    """``target_id`` must be an account of the instance's organization; a delegated administrator
    may not manage access to the management account (User Guide, troubleshooting)."""
    if target_id not in organization_accounts(ctx, instance):
        raise validation(
            f"TargetId {target_id} is not an AWS account in the organization of instance {instance.arn}."
        )
    if ctx.account_id != instance.owner_account_id and target_id == management_account(ctx, instance):
        raise access_denied(
            f"Account {ctx.account_id} is a delegated administrator: it cannot manage access to the "
            f"management account {target_id}."
        )


# -- paging --------------------------------------------------------------------------------------

T = TypeVar("T")


def max_results(params: dict[str, Any], default: int = DEFAULT_PAGE) -> int:
    return int(params.get("MaxResults") or default)


def bad_token() -> AwsError:
    return validation("The NextToken is not valid: pass the NextToken of the previous response unchanged.")


def page(
    params: dict[str, Any],
    key: str,
    fetch: Callable[[str | None, int], tuple[Sequence[T], str | None]],
    render: Callable[[T], Any],
    default: int = DEFAULT_PAGE,
) -> dict[str, Any]:
    """One page from a store listing (``fetch(marker, max_items)``) as ``{key: [...], NextToken}``."""
    try:
        items, marker = fetch(params.get("NextToken") or None, max_results(params, default))
    except InvalidMarker:
        raise bad_token() from None
    out: dict[str, Any] = {key: [render(i) for i in items]}
    if marker is not None:
        out["NextToken"] = marker
    return out


def page_list(
    params: dict[str, Any],
    key: str,
    items: Sequence[T],
    render: Callable[[T], Any],
    default: int = DEFAULT_PAGE,
) -> dict[str, Any]:
    """One page of an in-memory list (short lists: a set's policies, an account's sets)."""
    size = max_results(params, default)
    token = params.get("NextToken")
    start = 0
    if token:
        if not token.startswith("p") or not token[1:].isdigit():
            raise bad_token()
        start = int(token[1:])
        if start > len(items):
            raise bad_token()
    chunk = items[start : start + size]
    out: dict[str, Any] = {key: [render(i) for i in chunk]}
    if start + size < len(items):
        out["NextToken"] = f"p{start + size}"
    return out


# -- session duration ------------------------------------------------------------------------------

_DURATION = re.compile(r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?")
MIN_SESSION: Final = 3600
MAX_SESSION: Final = 43200


def session_seconds(duration: str) -> int | None:
    """The length of an ISO-8601 duration in seconds (days, hours, minutes, seconds), or None for
    a form with years, months or weeks, a negative one, or garbage. The access portal issues a
    permission set's credentials for this long."""
    match = _DURATION.fullmatch(duration)
    if match is None or duration in ("P", "PT") or duration.endswith("T"):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return int(parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"])


def check_session_duration(duration: str) -> None:
    """A permission set's SessionDuration: 1 to 12 hours (the console's and the API's bounds)."""
    seconds = session_seconds(duration)
    if seconds is None:
        raise validation(
            f"SessionDuration {duration} is not a supported ISO-8601 duration: use hours and minutes, "
            "such as PT1H or PT4H30M."
        )
    if not MIN_SESSION <= seconds <= MAX_SESSION:
        raise validation(
            f"SessionDuration {duration} is out of range: it must be between 1 hour (PT1H) "
            "and 12 hours (PT12H)."
        )
