"""GetCallerIdentity, GetAccessKeyInfo, DecodeAuthorizationMessage, and the STS operations iamd
does not offer (answered with UnsupportedOperation naming them)."""

from __future__ import annotations

import json
from typing import Any

from iamd.services.framework import OperationContext, operation, unsupported
from iamd.services.sts.assume_role import refuse_session_kinds
from iamd.services.sts.common import sts_error
from iamd.services.sts.messages import InvalidAuthorizationMessage, decode_authorization_message
from iamd.services.sts.tokens import FEDERATED, ROOT, USER, account_of_key_id
from iamd.wire import ValidationError


@operation("sts", "GetCallerIdentity", readonly=True)
def get_caller_identity(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """Always allowed, even under an explicit deny (AWS: no permission is needed, none can deny it)."""
    ctx.authorized = True
    caller = ctx.caller
    return {"UserId": caller.unique_id, "Account": caller.account_id, "Arn": caller.principal.arn}


@operation("sts", "GetAccessKeyInfo", readonly=True)
def get_access_key_info(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """The account an access key id belongs to: from the store for iamd's long-term keys, else from
    the account bits of the id (how AWS answers, for any AKIA/ASIA id)."""
    refuse_session_kinds(ctx, "GetAccessKeyInfo", FEDERATED, USER, ROOT)
    ctx.authorize("sts:GetAccessKeyInfo", "*")
    key_id = params["AccessKeyId"]
    stored = ctx.uow.access_keys.find(key_id) if key_id.startswith("AKIA") else None
    account = stored.account_id if stored is not None else account_of_key_id(key_id)
    if account is None:
        raise ValidationError(f"The access key id {key_id} is not valid.")
    return {"Account": account}


@operation("sts", "DecodeAuthorizationMessage", readonly=True)
def decode_message(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    """The reasons behind an AccessDenied, for a caller allowed sts:DecodeAuthorizationMessage in the
    account of the principal that was denied."""
    refuse_session_kinds(ctx, "DecodeAuthorizationMessage", FEDERATED, USER, ROOT)
    ctx.authorize("sts:DecodeAuthorizationMessage", "*")
    invalid = "The encoded authorization message is not valid or was not issued for this account."
    try:
        account, message = decode_authorization_message(ctx.uow.kek, params["EncodedMessage"])
    except InvalidAuthorizationMessage as exc:
        raise sts_error("InvalidAuthorizationMessageException", invalid) from exc
    if account is not None and account != ctx.account_id:
        raise sts_error("InvalidAuthorizationMessageException", invalid)
    return {"DecodedMessage": json.dumps(message, separators=(",", ":"))}


_UNSUPPORTED = {
    "AssumeRoot": "privileged root sessions for member accounts need centralized root access in "
    "AWS Organizations, which iamd does not offer",
    "GetDelegatedAccessToken": "iamd issues no trade-in tokens",
    "GetScopedCredentials": "iamd sessions carry one session-policy layer, "
    "so they cannot be scoped down again",
    # botocore 1.44.18: the STS side of IAM workload identity (X509-SVIDs, trust bundles, contexts).
    "GetCertificate": "iamd issues no workload identities (IAM workload identity providers are not "
    "implemented yet), so no session has one to certify",
    "GetTrustBundles": "iamd has no workload identity providers (not implemented yet), so it publishes "
    "no trust bundles",
    "IssueWorkloadIdentityContext": "iamd has no workload identity templates (not implemented yet) to "
    "issue a context from",
}


for _name, _reason in _UNSUPPORTED.items():
    unsupported("sts", _name, _reason)
