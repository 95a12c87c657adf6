"""Outbound web identity federation: iamd as an account's OpenID Connect issuer.

When an account enables the feature (IAM EnableOutboundWebIdentityFederation), it gets an issuer
URL served by iamd itself, ``{base}/oidc/{account_id}``, and two signing keys: RSA 2048 (RS256)
and ECDSA P-384 (ES384). The private keys are kept in ``account_settings`` encrypted under the KEK;
the public keys are published, without authentication, at ``{issuer}/.well-known/jwks.json`` and
named by ``{issuer}/.well-known/openid-configuration``. STS GetWebIdentityToken signs the caller's
JWTs with them. Disabling the feature keeps the keys and the issuer (tokens issued before stay
verifiable, as AWS documents); enabling it again reuses them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from iamd.store.account_settings import SECRET_PREFIX
from iamd.store.unit import UnitOfWork

__all__ = [
    "ALGORITHMS",
    "Issuer",
    "disable",
    "discovery_document",
    "enable",
    "find_issuer",
    "issuer_path",
    "sign",
]

ALGORITHMS: Final = ("RS256", "ES384")
ENABLED: Final = "outbound-federation:enabled"
ISSUER: Final = "outbound-federation:issuer"
JWKS: Final = "outbound-federation:jwks"
_KEY_SETTING: Final = {alg: f"{SECRET_PREFIX}outbound-federation:{alg}" for alg in ALGORITHMS}


def issuer_path(account_id: str) -> str:
    """The issuer's path on iamd's own HTTP server (where the discovery documents are served)."""
    return f"/oidc/{account_id}"


@dataclass(frozen=True, slots=True)
class Issuer:
    account_id: str
    url: str
    enabled: bool
    jwks: dict[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_jwk(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, algorithm: str
) -> dict[str, str]:
    """The public JWK, its ``kid`` the RFC 7638 thumbprint (SHA-256 of the required members)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.public_key().public_numbers()
        required = {
            "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "kty": "RSA",
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        }
    else:
        point = private_key.public_key().public_numbers()
        size = (private_key.curve.key_size + 7) // 8
        required = {
            "crv": "P-384",
            "kty": "EC",
            "x": _b64url(point.x.to_bytes(size, "big")),
            "y": _b64url(point.y.to_bytes(size, "big")),
        }
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return {**required, "kid": _b64url(hashlib.sha256(canonical).digest()), "use": "sig", "alg": algorithm}


def _new_key(algorithm: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP384R1())


def find_issuer(uow: UnitOfWork, account_id: str) -> Issuer | None:
    """The account's issuer, if outbound federation was ever enabled."""
    settings = uow.account_settings.list(account_id, "outbound-federation:")
    url = settings.get(ISSUER)
    if url is None:
        return None
    jwks = json.loads(settings.get(JWKS, '{"keys": []}'))
    return Issuer(account_id, url, settings.get(ENABLED) == "true", jwks)


def enable(uow: UnitOfWork, account_id: str, base_url: str, now: datetime) -> Issuer:
    """Turn the feature on: the issuer URL and the signing keys are made the first time, kept after."""
    issuer = find_issuer(uow, account_id)
    settings = uow.account_settings
    if issuer is None:
        url = base_url.rstrip("/") + issuer_path(account_id)
        keys = []
        for algorithm in ALGORITHMS:
            private_key = _new_key(algorithm)
            pem = private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            settings.put_secret(account_id, _KEY_SETTING[algorithm], pem, now=now)
            keys.append(_public_jwk(private_key, algorithm))
        settings.put(account_id, ISSUER, url, now=now)
        settings.put(account_id, JWKS, json.dumps({"keys": keys}, separators=(",", ":")), now=now)
        issuer = Issuer(account_id, url, False, {"keys": keys})
    settings.put(account_id, ENABLED, "true", now=now)
    return Issuer(account_id, issuer.url, True, issuer.jwks)


def disable(uow: UnitOfWork, account_id: str, now: datetime) -> None:
    uow.account_settings.put(account_id, ENABLED, "false", now=now)


def sign(uow: UnitOfWork, issuer: Issuer, algorithm: str, claims: dict[str, Any]) -> str:
    """``claims`` as a compact JWS signed with the issuer's ``algorithm`` key."""
    pem = uow.account_settings.get_secret(issuer.account_id, _KEY_SETTING[algorithm])
    if pem is None:
        raise LookupError(f"account {issuer.account_id} has no {algorithm} signing key")
    private_key = serialization.load_pem_private_key(pem, password=None)
    kid = next(k["kid"] for k in issuer.jwks["keys"] if k.get("alg") == algorithm)
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid, "typ": "JWT"})  # type: ignore[arg-type]


def discovery_document(issuer: Issuer) -> dict[str, Any]:
    """``/.well-known/openid-configuration`` for the issuer."""
    return {
        "issuer": issuer.url,
        "jwks_uri": issuer.url + "/.well-known/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "scopes_supported": ["openid"],
        "claims_supported": ["aud", "exp", "iat", "iss", "jti", "sub", "https://sts.amazonaws.com/"],
    }
