"""A user's other credentials: X.509 signing certificates (Upload/List/Update/DeleteSigningCertificate),
SSH public keys for CodeCommit (Upload/Get/List/Update/DeleteSSHPublicKey) and service-specific
credentials (Create/List/Update/Delete/ResetServiceSpecificCredential).

A service-specific password (or API-key secret) is returned by Create and Reset only; the store keeps
it encrypted under the key-encryption key.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import list_params, page_output
from iamd.services.iam.owners import Owner, credential_owner, page_of
from iamd.services.iam.users import find_user_authorized
from iamd.store.records import (
    ServiceCredentialRecord,
    SigningCertificateRecord,
    SshPublicKeyRecord,
    UserRecord,
)
from iamd.wire import AwsError, InvalidInput, LimitExceeded, NoSuchEntity, load_service_model, modeled_error

MAX_CERTIFICATES_PER_USER: Final = 2
MAX_SSH_KEYS_PER_USER: Final = 5
MAX_SERVICE_CREDENTIALS_PER_SERVICE: Final = 2
MIN_SSH_KEY_BITS: Final = 2048
STATUSES: Final = ("Active", "Inactive")

PASSWORD_SERVICES: Final = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com"})
"""Services whose credentials are a generated user name and password."""
API_KEY_SERVICES: Final = frozenset({"bedrock.amazonaws.com", "logs.amazonaws.com"})
"""Services with long-term API keys: an alias and a secret, optionally expiring."""


def _iam_error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model("iam"), shape, message)


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(f"Status must be one of {', '.join(STATUSES)}; got {status}.")
    return status


# -- signing certificates -----------------------------------------------------------------------


def parse_certificate(body: str) -> x509.Certificate:
    """The X.509 certificate in PEM ``body``; MalformedCertificate when it is not one."""
    try:
        return x509.load_pem_x509_certificate(body.strip().encode("utf-8"))
    except ValueError:
        raise _iam_error(
            "MalformedCertificateException",
            "Unable to parse certificate. Please ensure the certificate is in PEM format.",
        ) from None


def render_certificate(owner: Owner, cert: SigningCertificateRecord) -> dict[str, Any]:
    return {
        "UserName": owner.name,
        "CertificateId": cert.id,
        "CertificateBody": cert.body,
        "Status": cert.status,
        "UploadDate": cert.uploaded_at,
    }


def owned_certificate(ctx: OperationContext, owner: Owner, certificate_id: str) -> SigningCertificateRecord:
    for cert in ctx.uow.signing_certificates.list_for(ctx.account_id, owner.user_id):
        if cert.id == certificate_id:
            return cert
    raise NoSuchEntity(f"The Certificate with id {certificate_id} cannot be found.")


@operation("iam", "UploadSigningCertificate")
def upload_signing_certificate(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = credential_owner(ctx, "iam:UploadSigningCertificate", params)
    body = params["CertificateBody"]
    fingerprint = parse_certificate(body).fingerprint(hashes.SHA256())
    existing = ctx.uow.signing_certificates.list_for(ctx.account_id, owner.user_id)
    if any(parse_certificate(c.body).fingerprint(hashes.SHA256()) == fingerprint for c in existing):
        raise _iam_error(
            "DuplicateCertificateException", "The same certificate is already associated with this user."
        )
    if len(existing) >= MAX_CERTIFICATES_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for CertificatesPerUser: {MAX_CERTIFICATES_PER_USER}")
    cert = ctx.uow.signing_certificates.upload(
        ctx.account_id,
        certificate_id=ctx.ids.signing_certificate_id(),
        user_id=owner.user_id,
        body=body,
        uploaded_at=ctx.now,
    )
    return {"Certificate": render_certificate(owner, cert)}


@operation("iam", "ListSigningCertificates", readonly=True)
def list_signing_certificates(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = credential_owner(ctx, "iam:ListSigningCertificates", params)
    marker, max_items = list_params(params)
    page = page_of(ctx.uow.signing_certificates.list_for(ctx.account_id, owner.user_id), marker, max_items)
    return page_output(page, "Certificates", lambda c: render_certificate(owner, c))


@operation("iam", "UpdateSigningCertificate")
def update_signing_certificate(ctx: OperationContext, params: dict[str, Any]) -> None:
    status = check_status(params["Status"])
    owner = credential_owner(ctx, "iam:UpdateSigningCertificate", params)
    cert = owned_certificate(ctx, owner, params["CertificateId"])
    if cert.status != status:
        ctx.uow.signing_certificates.set_status(cert.id, status)


@operation("iam", "DeleteSigningCertificate")
def delete_signing_certificate(ctx: OperationContext, params: dict[str, Any]) -> None:
    owner = credential_owner(ctx, "iam:DeleteSigningCertificate", params)
    cert = owned_certificate(ctx, owner, params["CertificateId"])
    ctx.uow.signing_certificates.delete(cert.id)


# -- SSH public keys ----------------------------------------------------------------------------


def parse_ssh_key(body: str) -> rsa.RSAPublicKey:
    """An RSA public key of at least 2048 bits, in OpenSSH (``ssh-rsa AAAA… comment``) or PEM
    encoding; UnrecognizedPublicKeyEncoding or InvalidPublicKey otherwise."""
    text = body.strip()
    key: PublicKeyTypes
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("utf-8"))
        elif text.startswith("ssh-") or text.startswith("ecdsa-"):
            key = serialization.load_ssh_public_key(text.encode("utf-8"))
        else:
            raise _iam_error(
                "UnrecognizedPublicKeyEncodingException",
                "The SSH public key must be in ssh-rsa or PEM format.",
            )
    except (ValueError, TypeError):
        raise _iam_error("InvalidPublicKeyException", "The SSH public key is not valid.") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_SSH_KEY_BITS:
        raise _iam_error(
            "InvalidPublicKeyException",
            f"The SSH public key must be an RSA key of at least {MIN_SSH_KEY_BITS} bits.",
        )
    return key


def ssh_encoding(key: rsa.RSAPublicKey, encoding: str) -> str:
    if encoding == "PEM":
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def ssh_fingerprint(key: rsa.RSAPublicKey) -> str:
    """The MD5 fingerprint of the key's SSH wire form, as ``ssh-keygen -E md5`` and IAM show it."""
    blob = base64.b64decode(ssh_encoding(key, "SSH").split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def render_ssh_key(
    user: UserRecord, key: SshPublicKeyRecord, *, encoding: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "UserName": user.name,
        "SSHPublicKeyId": key.id,
        "Status": key.status,
        "UploadDate": key.uploaded_at,
    }
    if encoding is not None:
        stored = key.body.strip()
        if (encoding == "PEM") == stored.startswith("-----BEGIN"):
            body = stored  # already in the encoding asked for: as uploaded
        else:
            body = ssh_encoding(parse_ssh_key(stored), encoding)
        out["Fingerprint"] = key.fingerprint
        out["SSHPublicKeyBody"] = body
    return out


def owned_ssh_key(ctx: OperationContext, user: UserRecord, key_id: str) -> SshPublicKeyRecord:
    for key in ctx.uow.ssh_public_keys.list_for_user(user.id):
        if key.id == key_id:
            return key
    raise NoSuchEntity(f"The Public Key with id {key_id} cannot be found.")


@operation("iam", "UploadSSHPublicKey")
def upload_ssh_public_key(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user = find_user_authorized(ctx, "iam:UploadSSHPublicKey", params["UserName"])
    body = params["SSHPublicKeyBody"]
    fingerprint = ssh_fingerprint(parse_ssh_key(body))
    existing = ctx.uow.ssh_public_keys.list_for_user(user.id)
    if any(k.fingerprint == fingerprint for k in existing):
        raise _iam_error(
            "DuplicateSSHPublicKeyException", "The SSH public key is already associated with this user."
        )
    if len(existing) >= MAX_SSH_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for PublicKeysPerUser: {MAX_SSH_KEYS_PER_USER}")
    key = ctx.uow.ssh_public_keys.upload(
        ctx.account_id,
        key_id=ctx.ids.ssh_public_key_id(),
        user_id=user.id,
        body=body.strip(),
        fingerprint=fingerprint,
        uploaded_at=ctx.now,
    )
    return {
        "SSHPublicKey": render_ssh_key(user, key, encoding="PEM" if key.body.startswith("-----") else "SSH")
    }


@operation("iam", "GetSSHPublicKey", readonly=True)
def get_ssh_public_key(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    user = find_user_authorized(ctx, "iam:GetSSHPublicKey", params["UserName"])
    encoding = params["Encoding"]
    if encoding not in ("SSH", "PEM"):
        raise _iam_error("UnrecognizedPublicKeyEncodingException", "Encoding must be SSH or PEM.")
    key = owned_ssh_key(ctx, user, params["SSHPublicKeyId"])
    return {"SSHPublicKey": render_ssh_key(user, key, encoding=encoding)}


@operation("iam", "ListSSHPublicKeys", readonly=True)
def list_ssh_public_keys(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner = credential_owner(ctx, "iam:ListSSHPublicKeys", params, allow_root=False)
    assert owner.user is not None
    user = owner.user
    marker, max_items = list_params(params)
    page = page_of(ctx.uow.ssh_public_keys.list_for_user(user.id), marker, max_items)
    return page_output(page, "SSHPublicKeys", lambda k: render_ssh_key(user, k))


@operation("iam", "UpdateSSHPublicKey")
def update_ssh_public_key(ctx: OperationContext, params: dict[str, Any]) -> None:
    status = check_status(params["Status"])
    user = find_user_authorized(ctx, "iam:UpdateSSHPublicKey", params["UserName"])
    key = owned_ssh_key(ctx, user, params["SSHPublicKeyId"])
    if key.status != status:
        ctx.uow.ssh_public_keys.set_status(key.id, status)


@operation("iam", "DeleteSSHPublicKey")
def delete_ssh_public_key(ctx: OperationContext, params: dict[str, Any]) -> None:
    user = find_user_authorized(ctx, "iam:DeleteSSHPublicKey", params["UserName"])
    key = owned_ssh_key(ctx, user, params["SSHPublicKeyId"])
    ctx.uow.ssh_public_keys.delete(key.id)


# -- service-specific credentials ---------------------------------------------------------------

SERVICE_NAME_KEY: Final = "iam:ServiceSpecificCredentialServiceName"
AGE_DAYS_KEY: Final = "iam:ServiceSpecificCredentialAgeDays"


def check_service(service_name: str) -> str:
    if service_name not in PASSWORD_SERVICES | API_KEY_SERVICES:
        raise _iam_error(
            "ServiceNotSupportedException",
            f"No such service {service_name} is supported for Service-Specific Credentials",
        )
    return service_name


def credential_status(ctx: OperationContext, cred: ServiceCredentialRecord) -> str:
    if cred.expires_at is not None and cred.expires_at <= ctx.now:
        return "Expired"
    return cred.status


def render_service_credential(
    ctx: OperationContext, user_name: str, cred: ServiceCredentialRecord, secret: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "UserName": user_name,
        "Status": credential_status(ctx, cred),
        "CreateDate": cred.created_at,
        "ServiceSpecificCredentialId": cred.id,
        "ServiceName": cred.service_name,
    }
    api_key = cred.service_name in API_KEY_SERVICES
    out["ServiceCredentialAlias" if api_key else "ServiceUserName"] = cred.service_user_name
    if cred.expires_at is not None:
        out["ExpirationDate"] = cred.expires_at
    if secret is not None:
        out["ServiceCredentialSecret" if api_key else "ServicePassword"] = secret
    return out


def service_user_name(
    user: UserRecord,
    existing: tuple[ServiceCredentialRecord, ...],
    account_id: str,
    credential_id: str,
    api_key: bool,
) -> str:
    """``jane-at-123456789012`` (a second credential for the same service: ``jane+1-at-…``); API
    keys get an alias with a suffix of their own."""
    if api_key:
        return f"{user.name}+{credential_id[-8:].lower()}-at-{account_id}"
    taken = {c.service_user_name for c in existing}
    name = f"{user.name}-at-{account_id}"
    suffix = 1
    while name in taken:
        name = f"{user.name}+{suffix}-at-{account_id}"
        suffix += 1
    return name


def owned_service_credential(
    ctx: OperationContext, action: str, params: dict[str, Any]
) -> tuple[Owner, ServiceCredentialRecord]:
    """The credential ``ServiceSpecificCredentialId`` of the user (named, else the caller),
    authorized with its iam:ServiceSpecificCredentialServiceName; NoSuchEntity only afterwards."""
    credential_id = params["ServiceSpecificCredentialId"]
    name = params.get("UserName")
    if name:
        user = ctx.uow.users.find(ctx.account_id, str(name))
    else:
        user = ctx.uow.users.get_by_id(ctx.caller.user_id) if ctx.caller.user_id is not None else None
    found = None
    if user is not None:
        found = next(
            (c for c in ctx.uow.service_credentials.list_for_user(user.id) if c.id == credential_id), None
        )
    extra: dict[str, object] | None = {SERVICE_NAME_KEY: found.service_name} if found is not None else None
    owner = credential_owner(ctx, action, params, extra, allow_root=False)
    if found is None or owner.user_id != found.user_id:
        raise NoSuchEntity(f"No such credential {credential_id} exists")
    return owner, found


@operation("iam", "CreateServiceSpecificCredential")
def create_service_specific_credential(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    service = params["ServiceName"]
    days = params.get("CredentialAgeDays")
    extra: dict[str, object] = {SERVICE_NAME_KEY: service}
    if days is not None:
        extra[AGE_DAYS_KEY] = str(days)
    user = find_user_authorized(ctx, "iam:CreateServiceSpecificCredential", params["UserName"], extra)
    check_service(service)
    api_key = service in API_KEY_SERVICES
    if days is not None and not api_key:
        raise InvalidInput(f"CredentialAgeDays is only valid for services with API keys, not {service}.")
    existing = ctx.uow.service_credentials.list_for_user(user.id, service)
    if len(existing) >= MAX_SERVICE_CREDENTIALS_PER_SERVICE:
        raise LimitExceeded(
            "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
            f"{MAX_SERVICE_CREDENTIALS_PER_SERVICE}"
        )
    credential_id = ctx.ids.service_credential_id()
    secret = ctx.ids.service_password()
    cred = ctx.uow.service_credentials.create(
        ctx.account_id,
        credential_id=credential_id,
        user_id=user.id,
        service_name=service,
        service_user_name=service_user_name(user, existing, ctx.account_id, credential_id, api_key),
        password=secret,
        created_at=ctx.now,
        expires_at=ctx.now + timedelta(days=int(days)) if days is not None else None,
    )
    return {"ServiceSpecificCredential": render_service_credential(ctx, user.name, cred, secret)}


@operation("iam", "ListServiceSpecificCredentials", readonly=True)
def list_service_specific_credentials(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    service = params.get("ServiceName")
    extra: dict[str, object] | None = {SERVICE_NAME_KEY: service} if service else None
    marker, max_items = list_params(params)
    if params.get("AllUsers"):
        if params.get("UserName"):
            raise InvalidInput("AllUsers cannot be specified together with UserName.")
        ctx.authorize("iam:ListServiceSpecificCredentials", "*", extra)
        if service:
            check_service(service)
        rows: list[tuple[str, ServiceCredentialRecord]] = []
        user_marker: str | None = None
        while True:
            users = ctx.uow.users.list(ctx.account_id, marker=user_marker, max_items=1000)
            for user in users.items:
                rows.extend(
                    (user.name, c) for c in ctx.uow.service_credentials.list_for_user(user.id, service)
                )
            user_marker = users.marker
            if user_marker is None:
                break
        page = page_of(rows, marker, max_items)
        return page_output(
            page, "ServiceSpecificCredentials", lambda row: render_service_credential(ctx, row[0], row[1])
        )
    owner = credential_owner(ctx, "iam:ListServiceSpecificCredentials", params, extra, allow_root=False)
    assert owner.user is not None
    if service:
        check_service(service)
    creds = ctx.uow.service_credentials.list_for_user(owner.user.id, service)
    page_creds = page_of(creds, marker, max_items)
    return page_output(
        page_creds, "ServiceSpecificCredentials", lambda c: render_service_credential(ctx, owner.name, c)
    )


@operation("iam", "UpdateServiceSpecificCredential")
def update_service_specific_credential(ctx: OperationContext, params: dict[str, Any]) -> None:
    status = check_status(params["Status"])
    _, cred = owned_service_credential(ctx, "iam:UpdateServiceSpecificCredential", params)
    if cred.status != status:
        ctx.uow.service_credentials.set_status(cred.id, status)


@operation("iam", "DeleteServiceSpecificCredential")
def delete_service_specific_credential(ctx: OperationContext, params: dict[str, Any]) -> None:
    _, cred = owned_service_credential(ctx, "iam:DeleteServiceSpecificCredential", params)
    ctx.uow.service_credentials.delete(cred.id)


@operation("iam", "ResetServiceSpecificCredential")
def reset_service_specific_credential(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    owner, cred = owned_service_credential(ctx, "iam:ResetServiceSpecificCredential", params)
    secret = ctx.ids.service_password()
    ctx.uow.service_credentials.reset_password(cred.id, secret)
    return {"ServiceSpecificCredential": render_service_credential(ctx, owner.name, cred, secret)}
