"""GetWebIdentityToken: a JWT for the caller, signed by its account's outbound federation issuer
(:mod:`iamd.services.oidc_issuer`), for services outside iamd that trust that issuer.

Claims, as AWS documents them: ``iss`` (the account's issuer URL), ``sub`` (the caller's ARN; for a
role session, the role's), ``aud`` (one audience as a string, several as a list), ``iat``,
``exp``, ``jti``, and under ``https://sts.amazonaws.com/``: ``aws_account``, ``source_region``,
``principal_id`` (the caller's ARN), ``org_id`` (when the account is in an organization),
``principal_tags`` (the caller's tags) and ``request_tags`` (the request's Tags).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from iamd.services import oidc_issuer
from iamd.services.framework import OperationContext, operation
from iamd.services.sts.assume_role import tag_context
from iamd.services.sts.common import caller_session, session_tags, sts_error
from iamd.wire import ValidationError

DEFAULT_DURATION: Final = 300
NAMESPACE_CLAIM: Final = "https://sts.amazonaws.com/"
SUBJECT_MODES: Final = ("AWSIdentity", "OriginIdentity")


@operation("sts", "GetWebIdentityToken", readonly=True)
def get_web_identity_token(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    audiences = list(dict.fromkeys(str(a) for a in params["Audience"]))
    algorithm = str(params["SigningAlgorithm"])
    duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
    subject_mode = params.get("SubjectMode") or "AWSIdentity"
    scope = params.get("Scope")
    tags, _ = session_tags(params.get("Tags"), None, {})
    context: dict[str, object] = {
        "sts:IdentityTokenAudience": audiences,
        "sts:DurationSeconds": duration,
        "sts:SigningAlgorithm": algorithm,
        **tag_context(tags, ()),
    }
    ctx.authorize("sts:GetWebIdentityToken", "*", context)
    if algorithm not in oidc_issuer.ALGORITHMS:
        raise ValidationError(
            f"1 validation error detected: Value '{algorithm}' at 'signingAlgorithm' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(oidc_issuer.ALGORITHMS)}]"
        )
    if subject_mode == "OriginIdentity":
        raise ValidationError(
            "SubjectMode OriginIdentity needs the aws:OriginIdentity/Subject key of a trusted identity "
            "propagation context in the calling session; iamd sessions carry no such context."
        )
    if scope is not None:
        raise ValidationError("Scope can be specified only when SubjectMode is OriginIdentity.")
    issuer = oidc_issuer.find_issuer(ctx.uow, ctx.account_id)
    if issuer is None or not issuer.enabled:
        raise sts_error(
            "OutboundWebIdentityFederationDisabledException",
            f"Outbound web identity federation is not enabled for account {ctx.account_id}: enable it "
            "with IAM EnableOutboundWebIdentityFederation.",
        )
    issued_at = int(ctx.now.timestamp())
    expires_at = issued_at + duration
    session = caller_session(ctx)
    if session is not None and expires_at > session.expires_at:
        raise sts_error(
            "SessionDurationEscalationException",
            f"The requested DurationSeconds ({duration}) would make the token outlive the calling "
            f"session, which expires at {datetime.fromtimestamp(session.expires_at, UTC).isoformat()}.",
        )
    caller = ctx.caller
    aws_claims: dict[str, Any] = {
        "aws_account": ctx.account_id,
        "source_region": ctx.info.region,
        "principal_id": caller.arn,
    }
    account = ctx.uow.accounts.get(ctx.account_id)
    if account.organization_id:
        aws_claims["org_id"] = account.organization_id
    if caller.tags:
        aws_claims["principal_tags"] = dict(caller.tags)
    if tags:
        aws_claims["request_tags"] = tags
    claims: dict[str, Any] = {
        "iss": issuer.url,
        "sub": caller.arn,
        "aud": audiences[0] if len(audiences) == 1 else audiences,
        "iat": issued_at,
        "exp": expires_at,
        "jti": str(uuid.uuid4()),
        NAMESPACE_CLAIM: aws_claims,
    }
    token = oidc_issuer.sign(ctx.uow, issuer, algorithm, claims)
    return {
        "WebIdentityToken": token,
        "Expiration": datetime.fromtimestamp(issued_at, UTC) + timedelta(seconds=duration),
    }
