"""Pure parts of the account-wide features: which Allow statements grant a service
(ListPoliciesGrantingServiceAccess), account property keys, and the issuer's public keys."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from iamd.policy import parse_policy
from iamd.services.iam.account import check_property_keys, property_namespaces
from iamd.services.iam.service_access import policy_grants_service
from iamd.services.oidc_issuer import _public_jwk
from iamd.wire import InvalidInput

S3 = {"getobject", "putobject", "listbucket", "deleteobject"}


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(key: str, actions: object) -> dict[str, object]:
    return {"Effect": "Allow", key: actions, "Resource": "*"}


@pytest.mark.parametrize(
    ("statement", "names", "expected"),
    [
        (allow("Action", "s3:GetObject"), S3, True),
        (allow("Action", "S3:get*"), S3, True),
        (allow("Action", "s3:Get*Acl"), S3, False),  # matches no action of the catalog given
        (allow("Action", "s?:*"), S3, True),
        (allow("Action", "*"), S3, True),
        (allow("Action", ["ec2:*", "iam:ListUsers"]), S3, False),
        ({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, S3, False),
        (allow("NotAction", "iam:*"), S3, True),
        (allow("NotAction", "s3:*"), S3, False),
        (allow("NotAction", ["s3:Get*", "s3:Put*", "s3:List*"]), S3, True),  # DeleteObject is left
        (allow("NotAction", ["s3:Get*", "s3:Put*", "s3:List*", "s3:Delete*"]), S3, False),
        (allow("NotAction", "*"), S3, False),
        (allow("Action", "s3:Anything"), set(), True),  # a service the catalog does not know
        (allow("NotAction", "s3:Get*"), set(), True),
        (allow("NotAction", "s3:*"), set(), False),
    ],
)
def test_policy_grants_service(statement: dict[str, object], names: set[str], expected: bool) -> None:
    assert policy_grants_service(parse_policy(policy(statement)), "s3", names) is expected


def test_property_keys() -> None:
    assert check_property_keys(["RoleManager/A", "RoleManager/B"]) == "RoleManager"
    assert property_namespaces(["A/x", "B/y", "A/z"]) == ["A", "B"]
    for bad in (["A/x", "B/y"], ["A/x/y"], ["Ax"], ["A/"], []):
        with pytest.raises(InvalidInput):
            check_property_keys(bad)


def _thumbprint(members: dict[str, str]) -> str:
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def test_public_jwks_are_usable_and_named_by_their_thumbprint() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP384R1())
    for private_key, algorithm, required in (
        (rsa_key, "RS256", ("e", "kty", "n")),
        (ec_key, "ES384", ("crv", "kty", "x", "y")),
    ):
        jwk = _public_jwk(private_key, algorithm)
        assert "d" not in jwk
        assert jwk["kid"] == _thumbprint({k: jwk[k] for k in required})
        token = jwt.encode({"sub": "x"}, private_key, algorithm=algorithm)
        public = jwt.PyJWK.from_dict(jwk).key
        assert jwt.decode(token, public, algorithms=[algorithm]) == {"sub": "x"}
