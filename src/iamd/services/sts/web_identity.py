"""AssumeRoleWithWebIdentity: a role session for the holder of an OpenID Connect ID token.

The token (a JWT) must come from an OIDC provider registered in the role's account (issuer = the
provider's URL), be meant for one of its client ids (``aud``), be signed by a key of the
provider's JWKS, and be current (``exp``, ``nbf``, ``iat``). The role's trust policy then decides,
with the principal ``{"Federated": "arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH"}`` and the
condition keys ``HOST/PATH:sub``, ``:aud``, ``:azp``, ``:oaud`` and ``:amr``. Session tags and
the source identity may come from the token (claims ``https://aws.amazon.com/tags`` and
``https://aws.amazon.com/source_identity``).
"""

from __future__ import annotations

import re
from typing import Any, Final

import jwt

from iamd.authz import Principal, PrincipalKind, PrincipalPolicies
from iamd.services import oidc_issuer
from iamd.services.framework import OperationContext, operation
from iamd.services.sts.assume_role import tag_context
from iamd.services.sts.common import (
    assumed_role_output,
    check_session_name,
    find_role,
    issue,
    parse_role_arn,
    role_arn,
    role_duration,
    session_policies,
    session_tags,
    sts_error,
)
from iamd.services.sts.evaluation import Trust, deny, request_context
from iamd.services.sts.oidc import ProviderError, jwks_cache
from iamd.services.sts.tokens import ROLE
from iamd.store.records import OidcProviderRecord
from iamd.wire import AwsError, UnsupportedOperation

ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
TAGS_CLAIM: Final = "https://aws.amazon.com/tags"
SOURCE_IDENTITY_CLAIM: Final = "https://aws.amazon.com/source_identity"
LEEWAY: Final = 60


_IAMD_ISSUER: Final = re.compile(r"/oidc/(\d{12})$")


def _invalid(message: str) -> AwsError:
    return sts_error("InvalidIdentityTokenException", message)


def url_key(issuer: str) -> str:
    """The issuer without its scheme and trailing slash: how IAM names the provider."""
    for scheme in ("https://", "http://"):
        if issuer.lower().startswith(scheme):
            issuer = issuer[len(scheme) :]
    host, _, path = issuer.partition("/")
    return (host.lower() + ("/" + path if path else "")).rstrip("/")


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def verify_token(
    ctx: OperationContext, token: str, provider: OidcProviderRecord, issuer: str
) -> dict[str, Any]:
    """The token's claims, once its signature, issuer, audience and times check out."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _invalid("The web identity token is not a well-formed JWT.") from exc
    kid = header.get("kid")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise _invalid(f"The web identity token's signing algorithm {algorithm!r} is not supported.")
    try:
        key_set = jwt.PyJWKSet.from_dict(jwks_cache.key_set(issuer, provider.thumbprints, kid=kid))
    except ProviderError as exc:
        raise sts_error(
            "IDPCommunicationErrorException",
            f"Couldn't retrieve verification key from your identity provider: {exc}",
        ) from exc
    except jwt.PyJWTError as exc:
        raise sts_error(
            "IDPCommunicationErrorException", f"The identity provider's key set is not usable: {exc}"
        ) from exc
    candidates = [k for k in key_set.keys if kid is None or k.key_id == kid]
    if not candidates:
        raise _invalid("No key of the identity provider's key set matches the token's key id.")
    now = int(ctx.now.timestamp())
    last_error: Exception | None = None
    for candidate in candidates:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                candidate.key,
                algorithms=[str(algorithm)],
                options={
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "sub"],
                },
            )
        except jwt.InvalidSignatureError as exc:
            last_error = exc
            continue
        except jwt.PyJWTError as exc:
            raise _invalid(f"The web identity token is not valid: {exc}") from exc
        break
    else:
        raise _invalid("The web identity token's signature does not verify.") from last_error
    if claims.get("iss") != issuer:
        raise _invalid("The web identity token's issuer does not match.")
    expires = claims["exp"]
    if not isinstance(expires, int | float):
        raise _invalid("The web identity token's exp claim is not a number.")
    if now >= expires:
        raise sts_error(
            "ExpiredTokenException",
            f"Token expired: current date/time {now} must be before the expiration date/time {int(expires)}",
        )
    for claim in ("nbf", "iat"):
        value = claims.get(claim)
        if isinstance(value, int | float) and value > now + LEEWAY:
            raise _invalid(f"The web identity token is not valid yet ({claim} is in the future).")
    if not set(_audiences(claims)) & set(provider.client_ids):
        raise _invalid("Incorrect token audience")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _invalid("The web identity token has no subject.")
    return claims


def _token_tags(claims: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    raw = claims.get(TAGS_CLAIM)
    if not isinstance(raw, dict):
        return [], []
    tags: list[dict[str, str]] = []
    principal_tags = raw.get("principal_tags")
    if isinstance(principal_tags, dict):
        for key, value in principal_tags.items():
            first = value[0] if isinstance(value, list) and value else value
            tags.append({"Key": str(key), "Value": str(first)})
    keys = raw.get("transitive_tag_keys")
    transitive = [str(k) for k in keys] if isinstance(keys, list) else []
    return tags, transitive


def _issued_by_iamd(ctx: OperationContext, issuer: str) -> bool:
    """Whether ``issuer`` is an account's outbound-federation issuer: AWS documents that its
    tokens are for services outside AWS, not for federation into AWS."""
    found = _IAMD_ISSUER.search(issuer.rstrip("/"))
    if found is None:
        return False
    own = oidc_issuer.find_issuer(ctx.uow, found.group(1))
    return own is not None and own.url.rstrip("/") == issuer.rstrip("/")


@operation("sts", "AssumeRoleWithWebIdentity", readonly=True, waits=True)
def assume_role_with_web_identity(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    arn, name, token = params["RoleArn"], params["RoleSessionName"], params["WebIdentityToken"]
    check_session_name(name)
    account, _, _ = parse_role_arn(arn)
    if params.get("ProviderId"):
        ctx.authorized = True
        raise UnsupportedOperation(
            "ProviderId (OAuth 2.0 access tokens from Login with Amazon or Facebook) is not supported by "
            "iamd; use an OpenID Connect ID token."
        )
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid("The web identity token is not a well-formed JWT.") from exc
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _invalid("The web identity token has no issuer (iss).")
    key = url_key(issuer)
    provider = ctx.uow.oidc_providers.find(account, key)
    if provider is None:
        raise _invalid(f"No OpenIDConnect provider found in your account for {issuer}")
    claims = verify_token(ctx, token, provider, issuer)
    if _issued_by_iamd(ctx, issuer):
        raise _invalid(
            "Tokens from GetWebIdentityToken (outbound identity federation) cannot be used with "
            "AssumeRoleWithWebIdentity."
        )
    provider_arn = f"arn:aws:iam::{account}:oidc-provider/{key}"
    principal = Principal(PrincipalKind.WEB_IDENTITY, provider_arn, account)

    token_tags, token_transitive = _token_tags(claims)
    tags, transitive = session_tags(token_tags, token_transitive, {})
    source_identity = claims.get(SOURCE_IDENTITY_CLAIM)
    source_identity = str(source_identity) if source_identity is not None else None

    audiences = _audiences(claims)
    audience = (
        str(claims["azp"]) if isinstance(claims.get("azp"), str) else (audiences[0] if audiences else "")
    )
    context: dict[str, object] = dict(request_context(ctx.info, ctx.now))
    context.update(
        {
            "aws:FederatedProvider": provider_arn,
            "sts:RoleSessionName": name,
            f"{key}:sub": claims["sub"],
            f"{key}:aud": audience,
        }
    )
    if isinstance(claims.get("azp"), str):
        context[f"{key}:azp"] = claims["azp"]
        context[f"{key}:oaud"] = audiences
    amr = claims.get("amr")
    if isinstance(amr, list):
        context[f"{key}:amr"] = [str(a) for a in amr]
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    context.update(tag_context(tags, transitive))

    role = find_role(ctx, arn)
    if role is None:
        ctx.authorized = True
        raise deny(ctx, principal, "sts:AssumeRoleWithWebIdentity", arn, None, {}, account)
    target = role_arn(role)
    trust = Trust(principal, PrincipalPolicies(), target, role.account_id, role.trust_policy, context)
    trust.check(ctx, "sts:AssumeRoleWithWebIdentity")
    if tags:
        trust.check(ctx, "sts:TagSession")
    if source_identity is not None:
        trust.check(ctx, "sts:SetSourceIdentity")

    duration = role_duration(params.get("DurationSeconds"), role, chained=False)
    chosen = session_policies(ctx, params, role.account_id)
    issued = issue(
        ctx,
        kind=ROLE,
        account_id=role.account_id,
        duration=duration,
        params=params,
        policies=chosen,
        tags=tags,
        role_id=role.id,
        role_name=role.name,
        role_path=role.path,
        session_name=name,
        transitive_tag_keys=transitive,
        source_identity=source_identity,
        source_arn=provider_arn,
        federated_provider=provider_arn,
    )
    out = assumed_role_output(issued)
    out["SubjectFromWebIdentityToken"] = claims["sub"]
    out["Provider"] = issuer
    out["Audience"] = audience
    return out
