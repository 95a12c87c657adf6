"""``sso``: the access portal's API (ListAccounts, ListAccountRoles, GetRoleCredentials, Logout),
called with the bearer token from ``sso-oidc`` CreateToken in ``x-amz-sso_bearer_token`` (spec
identity_center.md §5), and what the portal's web pages share with it: what a signed-in person
may use, and the role session GetRoleCredentials issues.

A role session from the portal is an ordinary session of the provisioned role
``AWSReservedSSO_<set>_<suffix>`` in the member account (so every SCP of the account applies):
the session name is the person's user name, the session tags are the person's attributes for
access control (the instance's ABAC configuration; values the person lacks are left out), and it
lasts the permission set's session duration, sealed exactly as STS seals AssumeRoleWithSAML's
(:func:`iamd.services.sts.common.issue`), with the instance's ``AWSSSO_…`` SAML provider as the
federated provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from iamd.authz import Principal
from iamd.secrets.ids import IdSource
from iamd.services.bearer import register_bearer
from iamd.services.framework import Caller, OperationContext, RequestInfo, operation
from iamd.services.identitycenter.common import session_seconds
from iamd.services.identitycenter.oidc import bearer_digest
from iamd.services.sts.common import Issued, issue
from iamd.services.sts.tokens import ROLE
from iamd.store.identity_center import UserAccess
from iamd.store.identity_store import abac_value
from iamd.store.sso_portal import PortalSessionRecord
from iamd.store.unit import UnitOfWork
from iamd.wire import AwsError, OperationRef, load_service_model, modeled_error

__all__ = [
    "PortalCaller",
    "issue_role_session",
    "person_access",
    "portal_error",
    "session_name_of",
    "session_tags",
]

SERVICE: Final = "sso"
DEFAULT_PAGE: Final = 20
MAX_PAGE: Final = 100
_SESSION_NAME_BAD: Final = re.compile(r"[^\w+=,.@-]")


def portal_error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model(SERVICE), shape, message)


def _unauthorized() -> AwsError:
    return portal_error("UnauthorizedException", "Session token not found or invalid")


def _no_access() -> AwsError:
    # Not in the model: what AWS answers for an account or role not assigned (spec §5).
    return AwsError("No access", code="ForbiddenException", status=403, sender_fault=True)


@dataclass(frozen=True, slots=True)
class PortalCaller(Caller):
    """A person of an identity store, by a portal bearer token (or the portal's own pages)."""

    portal_session: PortalSessionRecord | None = None


def _caller(uow: UnitOfWork, session: PortalSessionRecord) -> PortalCaller:
    instance = uow.identity_center.find_instance(session.instance_arn)
    if instance is None:
        raise _unauthorized()
    return PortalCaller(
        principal=Principal.anonymous(),
        account_id=instance.owner_account_id,
        principal_type="IdentityCenterUser",
        unique_id=session.user_id,
        arn=f"arn:aws:identitystore::{instance.owner_account_id}:user/{session.user_id}",
        user_id=session.user_id,
        user_name=session.user_name,
        mfa_authenticated=session.mfa,
        portal_session=session,
    )


def open_bearer(uow: UnitOfWork, token: str, ref: OperationRef, now: datetime) -> Caller:
    """The person behind an access token: UnauthorizedException when it is unknown, expired,
    revoked, or its portal session has ended."""
    if not token or len(token) > 4096:
        raise _unauthorized()
    found = uow.sso_portal.token_by_access(bearer_digest(token))
    if found is None or found.revoked_at is not None or found.expires_at <= now:
        raise _unauthorized()
    session = uow.sso_portal.find_session(found.portal_session_id)
    if session is None or not session.live(now):
        raise _unauthorized()
    return _caller(uow, session)


register_bearer(SERVICE, open_bearer)


def _session_of(ctx: OperationContext) -> PortalSessionRecord:
    caller = ctx.caller
    if not isinstance(caller, PortalCaller) or caller.portal_session is None:
        raise _unauthorized()
    ctx.authorized = True  # the token is the person's; the assignments say what they may use
    return caller.portal_session


def person_access(uow: UnitOfWork, session: PortalSessionRecord) -> tuple[UserAccess, ...]:
    """Every (account, permission set) assigned to the person, directly or through a group."""
    groups = [g.id for g in uow.identity_store.groups_of_user(session.store_id, session.user_id)]
    return uow.identity_center.access_for(session.instance_arn, session.user_id, groups)


def session_name_of(user_name: str) -> str:
    """The role session name for a user name: STS's characters, at most 64 (a character STS does
    not take becomes ``-``)."""
    name = _SESSION_NAME_BAD.sub("-", user_name)[:64]
    return name if len(name) >= 2 else (name + "--")[:2]


def session_tags(uow: UnitOfWork, session: PortalSessionRecord) -> dict[str, str]:
    """The person's attributes for access control, as the instance's ABAC configuration maps them."""
    attributes = uow.identity_center.access_control_attributes(session.instance_arn)
    if not attributes:
        return {}
    user = uow.identity_store.find_user(session.store_id, session.user_id)
    if user is None:
        return {}
    tags: dict[str, str] = {}
    for attribute in attributes:
        value = abac_value(user, attribute.source)
        if value and len(value) <= 256 and len(tags) < 50:
            tags[attribute.key] = value
    return tags


def issue_role_session(
    uow: UnitOfWork,
    *,
    session: PortalSessionRecord,
    account_id: str,
    role_name: str,
    ids: IdSource,
    info: RequestInfo,
    now: datetime,
) -> Issued:
    """The role session for permission set ``role_name`` in ``account_id``, when assigned to the
    person and provisioned; the unmodeled ForbiddenException ``No access`` otherwise."""
    access = next(
        (
            a
            for a in person_access(uow, session)
            if a.account_id == account_id and a.permission_set_name == role_name
        ),
        None,
    )
    if access is None:
        raise _no_access()
    role = uow.roles.find(account_id, access.role_name)
    instance = uow.identity_center.find_instance(session.instance_arn)
    if role is None or instance is None:
        raise _no_access()
    duration = session_seconds(access.session_duration) or 3600
    provider = f"arn:aws:iam::{account_id}:saml-provider/AWSSSO_{instance.provider_suffix}_DO_NOT_DELETE"

    def refuse(
        action: str, resource: str, context: Any = None, *, resource_account: str | None = None
    ) -> Any:
        raise RuntimeError("a portal role session is authorized by its assignment")

    ctx = OperationContext(
        uow=uow,
        caller=_caller(uow, session),
        info=info,
        ids=ids,
        now=now,
        authorize_with=refuse,
    )
    return issue(
        ctx,
        kind=ROLE,
        account_id=account_id,
        duration=duration,
        params={},
        tags=session_tags(uow, session),
        role_id=role.id,
        role_name=role.name,
        role_path=role.path,
        session_name=session_name_of(session.user_name),
        source_arn=provider,
        federated_provider=provider,
    )


def _page(params: dict[str, Any]) -> tuple[int, int]:
    size = params.get("maxResults") or DEFAULT_PAGE
    if not 1 <= int(size) <= MAX_PAGE:
        raise portal_error("InvalidRequestException", f"max_result must be between 1 and {MAX_PAGE}.")
    token = params.get("nextToken")
    start = 0
    if token:
        if not str(token).isdigit() or len(str(token)) > 9:
            raise portal_error("InvalidRequestException", "The next_token is invalid.")
        start = int(str(token))
    return start, int(size)


def _paged(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    start, size = _page(params)
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


@operation(SERVICE, "ListAccounts", readonly=True)
def list_accounts(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    session = _session_of(ctx)
    accounts: list[dict[str, Any]] = []
    for account_id in dict.fromkeys(a.account_id for a in person_access(ctx.uow, session)):
        record = ctx.uow.accounts.find(account_id)
        item: dict[str, Any] = {"accountId": account_id, "accountName": record.name if record else account_id}
        if record is not None and record.email:
            item["emailAddress"] = record.email
        accounts.append(item)
    return _paged(accounts, params, "accountList")


@operation(SERVICE, "ListAccountRoles", readonly=True)
def list_account_roles(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    session = _session_of(ctx)
    account_id = str(params.get("accountId") or "")
    roles = [
        {"roleName": a.permission_set_name, "accountId": a.account_id}
        for a in person_access(ctx.uow, session)
        if a.account_id == account_id
    ]
    if not roles:
        raise _no_access()
    return _paged(roles, params, "roleList")


@operation(SERVICE, "GetRoleCredentials", readonly=True)
def get_role_credentials(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    session = _session_of(ctx)
    issued = issue_role_session(
        ctx.uow,
        session=session,
        account_id=str(params.get("accountId") or ""),
        role_name=str(params.get("roleName") or ""),
        ids=ctx.ids,
        info=ctx.info,
        now=ctx.now,
    )
    return {
        "roleCredentials": {
            "accessKeyId": issued.session.access_key_id,
            "secretAccessKey": issued.session.secret_access_key,
            "sessionToken": issued.token,
            "expiration": issued.session.expires_at * 1000,
        }
    }


@operation(SERVICE, "Logout")
def logout(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """End the portal session of the token, and every token issued for it. Role sessions already
    issued live until their own expiry, as AWS's."""
    session = _session_of(ctx)
    ctx.uow.sso_portal.revoke_session(session.id, ctx.now)
    return {}
