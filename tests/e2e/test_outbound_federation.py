"""Outbound web identity federation end to end: an account enables it, its principals get JWTs
from STS GetWebIdentityToken, and relying parties verify them through iamd's own discovery
documents (PyJWT with PyJWKClient). As AWS documents, the tokens are for services outside: iamd's
own AssumeRoleWithWebIdentity verifies them (bad ones get their own errors) and then refuses them,
even in another account that registered the issuer as an OpenID Connect provider.

The tests run in file order on one server: first with the feature off, then on.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, add_account, new_user_client, open_data_store
from tests.e2e.policy_helpers import error_of
from tests.e2e.policy_helpers import policy as doc

from iamd.services import oidc_issuer

OTHER_ACCOUNT = "222222222222"
AUDIENCE = "https://relying.example.com"
CLIENT_ID = "iamd-relying-party"
NS = "https://sts.amazonaws.com/"


def session_client(server: Server, service: str, answer: dict[str, Any]) -> Any:
    creds = answer["Credentials"]
    return server.client(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def issuer_url(server: Server) -> str:
    return f"{server.endpoint}/oidc/{ACCOUNT_ID}"


@pytest.fixture(scope="module")
def token_role(iam: Any) -> dict[str, Any]:
    """Role ``token-role`` (tagged team=blue), which the bootstrap admin may assume and whose sessions
    may call GetWebIdentityToken."""
    me = iam.get_user()["User"]["Arn"]
    role = iam.create_role(
        RoleName="token-role",
        AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"AWS": me}, "Action": "sts:AssumeRole"}
        ),
        Tags=[{"Key": "team", "Value": "blue"}],
    )["Role"]
    iam.put_role_policy(
        RoleName="token-role",
        PolicyName="tokens",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}),
    )
    return dict(role)


def role_session(server: Server, token_role: dict[str, Any], duration: int = 3600) -> Any:
    answer = server.client("sts").assume_role(
        RoleArn=token_role["Arn"], RoleSessionName="tokens", DurationSeconds=duration
    )
    return session_client(server, "sts", answer)


# -- the feature off ----------------------------------------------------------------------------------


def test_everything_refuses_while_the_feature_is_off(server: Server, iam: Any) -> None:
    with pytest.raises(ClientError) as info:
        iam.get_outbound_web_identity_federation_info()
    status, code, message = error_of(info)
    assert (status, code) == (404, "FeatureDisabled")
    assert ACCOUNT_ID in message
    with pytest.raises(ClientError) as disable:
        iam.disable_outbound_web_identity_federation()
    assert error_of(disable)[:2] == (404, "FeatureDisabled")
    with pytest.raises(ClientError) as token:
        server.client("sts").get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256")
    status, code, message = error_of(token)
    assert (status, code) == (403, "OutboundWebIdentityFederationDisabledException")
    assert "not enabled" in message
    assert get_json(issuer_url(server) + "/.well-known/openid-configuration")[0] == 404
    assert get_json(issuer_url(server) + "/.well-known/jwks.json")[0] == 404


@pytest.mark.parametrize(
    ("action", "method", "kwargs"),
    [
        ("iam:EnableOutboundWebIdentityFederation", "enable_outbound_web_identity_federation", {}),
        ("iam:DisableOutboundWebIdentityFederation", "disable_outbound_web_identity_federation", {}),
        ("iam:GetOutboundWebIdentityFederationInfo", "get_outbound_web_identity_federation_info", {}),
    ],
)
def test_iam_operations_are_denied_without_permission(
    server: Server, iam: Any, action: str, method: str, kwargs: dict[str, Any]
) -> None:
    name = "ob-nobody-" + method.split("_")[0]
    client = new_user_client(server, iam, name)
    with pytest.raises(ClientError) as denied:
        getattr(client, method)(**kwargs)
    status, code, message = error_of(denied)
    assert (status, code) == (403, "AccessDenied")
    assert action in message


# -- enabling -------------------------------------------------------------------------------------------


def test_enable_gives_an_issuer_served_by_iamd(server: Server, iam: Any) -> None:
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer == issuer_url(server)
    with pytest.raises(ClientError) as again:
        iam.enable_outbound_web_identity_federation()
    status, code, message = error_of(again)
    assert (status, code) == (409, "FeatureEnabled")
    assert issuer in message
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, True)
    status, configuration = get_json(issuer + "/.well-known/openid-configuration")
    assert status == 200
    assert configuration["issuer"] == issuer
    assert configuration["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert set(configuration["id_token_signing_alg_values_supported"]) == {"RS256", "ES384"}
    status, keys = get_json(configuration["jwks_uri"])
    assert status == 200
    assert sorted((k["kty"], k["alg"]) for k in keys["keys"]) == [("EC", "ES384"), ("RSA", "RS256")]
    assert all("d" not in k for k in keys["keys"])  # public keys only


@pytest.mark.parametrize("algorithm", ["RS256", "ES384"])
def test_a_relying_party_verifies_the_token_with_the_published_keys(
    server: Server, token_role: dict[str, Any], algorithm: str
) -> None:
    sts = role_session(server, token_role)
    answer = sts.get_web_identity_token(
        Audience=[AUDIENCE],
        SigningAlgorithm=algorithm,
        DurationSeconds=120,
        Tags=[{"Key": "job", "Value": "nightly"}],
    )
    token = answer["WebIdentityToken"]
    issuer = issuer_url(server)
    keys = jwt.PyJWKClient(issuer + "/.well-known/jwks.json")
    claims = jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=[algorithm],
        audience=AUDIENCE,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub", "jti"]},
    )
    assert claims["sub"] == token_role["Arn"]
    assert claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 120
    assert abs(claims["iat"] - time.time()) < 60
    uuid.UUID(claims["jti"])
    assert claims[NS] == {
        "aws_account": ACCOUNT_ID,
        "source_region": "us-east-1",
        "principal_id": token_role["Arn"],
        "principal_tags": {"team": "blue"},
        "request_tags": {"job": "nightly"},
    }
    assert answer["Expiration"] == datetime.fromtimestamp(claims["exp"], UTC)
    # Another audience, or a token past its time, is refused by the relying party.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, keys.get_signing_key_from_jwt(token).key, algorithms=[algorithm], audience="other")


def test_several_audiences_and_the_default_duration(server: Server, token_role: dict[str, Any]) -> None:
    token = role_session(server, token_role).get_web_identity_token(
        Audience=[AUDIENCE, "second"], SigningAlgorithm="RS256"
    )["WebIdentityToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == [AUDIENCE, "second"]
    assert claims["exp"] - claims["iat"] == 300


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "text"),
    [
        ({"SigningAlgorithm": "HS256"}, 400, "ValidationError", "RS256, ES384"),
        ({"SigningAlgorithm": "RS256", "DurationSeconds": 3601}, 400, "ValidationError", "durationSeconds"),
        (
            {"SigningAlgorithm": "RS256", "SubjectMode": "OriginIdentity"},
            400,
            "ValidationError",
            "OriginIdentity",
        ),
        ({"SigningAlgorithm": "RS256", "Scope": "read"}, 400, "ValidationError", "Scope"),
        (
            {"SigningAlgorithm": "RS256", "Tags": [{"Key": "aws:x", "Value": "1"}]},
            400,
            "InvalidParameterValue",
            "aws:",
        ),
    ],
)
def test_bad_token_requests_are_refused(
    server: Server, kwargs: dict[str, Any], status: int, code: str, text: str
) -> None:
    with pytest.raises(ClientError) as refused:
        server.client("sts").get_web_identity_token(Audience=[AUDIENCE], **kwargs)
    got_status, got_code, message = error_of(refused)
    assert (got_status, got_code) == (status, code)
    assert text in message


def test_a_token_cannot_outlive_the_session(server: Server, token_role: dict[str, Any]) -> None:
    sts = role_session(server, token_role, duration=900)
    sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256", DurationSeconds=600)
    with pytest.raises(ClientError) as refused:
        sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256", DurationSeconds=3600)
    status, code, message = error_of(refused)
    assert (status, code) == (403, "SessionDurationEscalationException")
    assert "3600" in message


def test_token_condition_keys(server: Server, iam: Any) -> None:
    new_user_client(
        server,
        iam,
        "ob-limited",
        doc(
            {
                "Effect": "Allow",
                "Action": "sts:GetWebIdentityToken",
                "Resource": "*",
                "Condition": {
                    "ForAllValues:StringEquals": {"sts:IdentityTokenAudience": AUDIENCE},
                    "NumericLessThanEquals": {"sts:DurationSeconds": "300"},
                    "StringEquals": {"sts:SigningAlgorithm": "ES384"},
                },
            }
        ),
    )
    key = iam.create_access_key(UserName="ob-limited")["AccessKey"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="ES384")
    for kwargs in (
        {"Audience": [AUDIENCE, "elsewhere"], "SigningAlgorithm": "ES384"},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "ES384", "DurationSeconds": 900},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "RS256"},
    ):
        with pytest.raises(ClientError) as denied:
            sts.get_web_identity_token(**kwargs)
        status, code, message = error_of(denied)
        assert (status, code) == (403, "AccessDenied")
        assert "sts:GetWebIdentityToken" in message


def test_denied_without_permission(server: Server, iam: Any) -> None:
    iam.create_user(UserName="ob-no-tokens")
    key = iam.create_access_key(UserName="ob-no-tokens")["AccessKey"]
    with pytest.raises(ClientError) as denied:
        server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_web_identity_token(
            Audience=[AUDIENCE], SigningAlgorithm="RS256"
        )
    status, code, message = error_of(denied)
    assert (status, code) == (403, "AccessDenied")
    assert "sts:GetWebIdentityToken" in message


# -- iamd as the relying party: AssumeRoleWithWebIdentity in another account ----------------------


@pytest.fixture(scope="module")
def other_account(server: Server) -> Any:
    """Account 222222222222 with an administrator (made through the store): its IAM client."""
    key_id, secret = add_account(server, OTHER_ACCOUNT, "relying")
    return server.client("iam", key_id, secret)


@pytest.fixture(scope="module")
def relying_role(server: Server, other_account: Any, token_role: dict[str, Any]) -> str:
    """In account B: the issuer of account A as an OIDC provider, and a role that trusts tokens
    for ``CLIENT_ID`` whose subject is A's ``token-role``."""
    host_key = issuer_url(server).removeprefix("http://")
    provider = other_account.create_open_id_connect_provider(
        Url="https://" + host_key, ClientIDList=[CLIENT_ID]
    )["OpenIDConnectProviderArn"]
    assert provider == f"arn:aws:iam::{OTHER_ACCOUNT}:oidc-provider/{host_key}"
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{host_key}:aud": CLIENT_ID, f"{host_key}:sub": token_role["Arn"]}
            },
        }
    )
    role = other_account.create_role(RoleName="from-account-a", AssumeRolePolicyDocument=trust)["Role"]
    other_account.put_role_policy(
        RoleName="from-account-a",
        PolicyName="list",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}),
    )
    return str(role["Arn"])


def test_tokens_are_not_for_federation_into_iamd(
    server: Server, token_role: dict[str, Any], relying_role: str
) -> None:
    """AWS documents that GetWebIdentityToken's tokens cannot be used with
    AssumeRoleWithWebIdentity: a valid token, trusted by the role's policy, is still refused."""
    token = role_session(server, token_role).get_web_identity_token(
        Audience=[CLIENT_ID], SigningAlgorithm="RS256"
    )["WebIdentityToken"]
    with pytest.raises(ClientError) as refused:
        server.client("sts").assume_role_with_web_identity(
            RoleArn=relying_role, RoleSessionName="from-a", WebIdentityToken=token
        )
    status, code, message = error_of(refused)
    assert (status, code) == (400, "InvalidIdentityToken")
    assert "cannot be used with AssumeRoleWithWebIdentity" in message


def _forged(server: Server, **claims: Any) -> str:
    """A token signed with account A's real key (read from the store), with chosen claims."""
    store = open_data_store(server)
    try:
        with store.transaction(readonly=True) as uow:
            issuer = oidc_issuer.find_issuer(uow, ACCOUNT_ID)
            assert issuer is not None
            return oidc_issuer.sign(uow, issuer, "ES384", claims)
    finally:
        store.close()


def test_the_relying_account_refuses_bad_tokens(
    server: Server, iam: Any, token_role: dict[str, Any], relying_role: str
) -> None:
    sts = role_session(server, token_role)
    now = int(time.time())
    base = {"iss": issuer_url(server), "sub": token_role["Arn"], "aud": CLIENT_ID, "jti": str(uuid.uuid4())}
    cases = {
        "other-audience": (
            sts.get_web_identity_token(Audience=["someone-else"], SigningAlgorithm="ES384")[
                "WebIdentityToken"
            ],
            "InvalidIdentityToken",
            "Incorrect token audience",
        ),
        "expired": (
            _forged(server, **base, iat=now - 900, exp=now - 600),
            "ExpiredTokenException",
            "Token expired",
        ),
        "tampered": (
            _forged(server, **base, iat=now, exp=now + 300)[:-8] + "AAAAAAAA",
            "InvalidIdentityToken",
            "signature",
        ),
    }
    for name, (token, code, text) in cases.items():
        with pytest.raises(ClientError) as refused:
            server.client("sts").assume_role_with_web_identity(
                RoleArn=relying_role, RoleSessionName=name, WebIdentityToken=token
            )
        got_status, got_code, message = error_of(refused)
        assert (got_status, got_code) == (400, code), name
        assert text in message, name


# -- disabling -----------------------------------------------------------------------------------------


def test_disable_stops_new_tokens_and_keeps_the_keys(
    server: Server, iam: Any, token_role: dict[str, Any], relying_role: str
) -> None:
    sts = role_session(server, token_role)
    earlier = sts.get_web_identity_token(Audience=[CLIENT_ID], SigningAlgorithm="RS256")["WebIdentityToken"]
    iam.disable_outbound_web_identity_federation()
    with pytest.raises(ClientError) as refused:
        sts.get_web_identity_token(Audience=[CLIENT_ID], SigningAlgorithm="RS256")
    assert error_of(refused)[:2] == (403, "OutboundWebIdentityFederationDisabledException")
    with pytest.raises(ClientError) as info:
        iam.get_outbound_web_identity_federation_info()
    assert error_of(info)[:2] == (404, "FeatureDisabled")
    # Tokens issued before still verify (the keys stay published), as AWS documents.
    keys = jwt.PyJWKClient(issuer_url(server) + "/.well-known/jwks.json")
    claims = jwt.decode(
        earlier, keys.get_signing_key_from_jwt(earlier).key, algorithms=["RS256"], audience=CLIENT_ID
    )
    assert claims["sub"] == token_role["Arn"]
    # Enabling again keeps the issuer.
    assert iam.enable_outbound_web_identity_federation()["IssuerIdentifier"] == issuer_url(server)
