"""Server certificates (for load balancers): Upload/Get/List/Update/DeleteServerCertificate and their
tags. The body and chain must be PEM X.509 certificates and the private key must match the body's
public key; the private key is stored encrypted and never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iamd.services.framework import OperationContext, operation
from iamd.services.iam.common import (
    entity_arn,
    list_params,
    page_output,
    request_tag_context,
    resource_tag_context,
    tags_from_params,
    tags_output,
)
from iamd.services.iam.lookups import KeyPairMismatch, MalformedCertificate, page_list
from iamd.store.records import ServerCertificateRecord
from iamd.wire import EntityAlreadyExists, LimitExceeded, NoSuchEntity

MAX_SERVER_CERTIFICATES = 20


def certificate_arn(cert: ServerCertificateRecord) -> str:
    return entity_arn(cert.account_id, "server-certificate", cert.path, cert.name)


def render_metadata(cert: ServerCertificateRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": cert.path,
        "ServerCertificateName": cert.name,
        "ServerCertificateId": cert.id,
        "Arn": certificate_arn(cert),
        "UploadDate": cert.uploaded_at,
    }
    if cert.expires_at is not None:
        out["Expiration"] = cert.expires_at
    return out


def check_certificate(body: str, private_key: str, chain: str | None) -> datetime:
    """The certificate's expiry; MalformedCertificate or KeyPairMismatch as IAM answers."""
    try:
        certificate = x509.load_pem_x509_certificate(body.encode())
    except ValueError as exc:
        raise MalformedCertificate(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from exc
    try:
        key = serialization.load_pem_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise MalformedCertificate(
            "Unable to parse private key. Please ensure the key is in PEM format."
        ) from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if certificate.public_key().public_bytes(encoding, public) != key.public_key().public_bytes(
        encoding, public
    ):
        raise KeyPairMismatch("The public key certificate and the private key do not match.")
    if chain:
        try:
            if not x509.load_pem_x509_certificates(chain.encode()):
                raise ValueError("empty chain")
        except ValueError as exc:
            raise MalformedCertificate(
                "Unable to parse certificate chain. Please ensure the chain is in PEM format."
            ) from exc
    return certificate.not_valid_after_utc


def find_certificate_authorized(
    ctx: OperationContext, action: str, name: str, extra: dict[str, object] | None = None
) -> ServerCertificateRecord:
    cert = ctx.uow.server_certificates.find(ctx.account_id, name)
    if cert is None:
        ctx.authorize(action, entity_arn(ctx.account_id, "server-certificate", "/", name), extra)
        raise NoSuchEntity(f"The Server Certificate with name {name} cannot be found.")
    context = resource_tag_context(ctx.uow.tags.list(ctx.account_id, "server-certificate", cert.id))
    if extra:
        context.update(extra)
    ctx.authorize(action, certificate_arn(cert), context)
    return cert


@operation("iam", "UploadServerCertificate")
def upload_server_certificate(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path = params["ServerCertificateName"], params.get("Path") or "/"
    tags = tags_from_params(params)
    arn = entity_arn(ctx.account_id, "server-certificate", path, name)
    extra = request_tag_context(tags)
    ctx.authorize("iam:UploadServerCertificate", arn, extra)
    if tags:
        ctx.authorize("iam:TagServerCertificate", arn, extra)
    body, key, chain = params["CertificateBody"], params["PrivateKey"], params.get("CertificateChain")
    expires_at = check_certificate(body, key, chain)
    if ctx.uow.server_certificates.find(ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"The Server Certificate with name {name} already exists.")
    if ctx.uow.accounts.summary(ctx.account_id).server_certificates >= MAX_SERVER_CERTIFICATES:
        raise LimitExceeded(
            f"Cannot exceed quota for ServerCertificatesPerAccount: {MAX_SERVER_CERTIFICATES}"
        )
    cert = ctx.uow.server_certificates.upload(
        ctx.account_id,
        certificate_id=ctx.ids.server_certificate_id(),
        name=name,
        path=path,
        body=body,
        chain=chain or None,
        private_key=key,
        uploaded_at=ctx.now,
        expires_at=expires_at,
    )
    out: dict[str, Any] = {"ServerCertificateMetadata": render_metadata(cert)}
    if tags:
        ctx.uow.tags.put(ctx.account_id, "server-certificate", cert.id, tags)
        out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]  # as sent, like CreatePolicy
    return out


@operation("iam", "GetServerCertificate", readonly=True)
def get_server_certificate(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    cert = find_certificate_authorized(ctx, "iam:GetServerCertificate", params["ServerCertificateName"])
    out: dict[str, Any] = {"ServerCertificateMetadata": render_metadata(cert), "CertificateBody": cert.body}
    if cert.chain:
        out["CertificateChain"] = cert.chain
    # Always a Tags list, [] when none (recorded against AWS: LocalStack's
    # tests/aws/services/iam/test_iam_server_certificates.snapshot.json, get-certificate).
    out["Tags"] = tags_output(ctx.uow.tags.list(ctx.account_id, "server-certificate", cert.id))
    return {"ServerCertificate": out}


@operation("iam", "ListServerCertificates", readonly=True)
def list_server_certificates(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListServerCertificates", "*")
    marker, max_items = list_params(params)
    page = ctx.uow.server_certificates.list(
        ctx.account_id, path_prefix=params.get("PathPrefix") or "/", marker=marker, max_items=max_items
    )
    return page_output(page, "ServerCertificateMetadataList", render_metadata)


@operation("iam", "UpdateServerCertificate")
def update_server_certificate(ctx: OperationContext, params: dict[str, Any]) -> None:
    cert = find_certificate_authorized(ctx, "iam:UpdateServerCertificate", params["ServerCertificateName"])
    new_name, new_path = params.get("NewServerCertificateName"), params.get("NewPath")
    if new_name or new_path:
        # The new name and path need permission too.
        target = entity_arn(
            ctx.account_id, "server-certificate", new_path or cert.path, new_name or cert.name
        )
        ctx.authorize("iam:UpdateServerCertificate", target)
    if new_name:
        other = ctx.uow.server_certificates.find(ctx.account_id, new_name)
        if other is not None and other.id != cert.id:
            raise EntityAlreadyExists(f"The Server Certificate with name {new_name} already exists.")
    ctx.uow.server_certificates.update(cert.id, name=new_name or None, path=new_path or None)


@operation("iam", "DeleteServerCertificate")
def delete_server_certificate(ctx: OperationContext, params: dict[str, Any]) -> None:
    cert = find_certificate_authorized(ctx, "iam:DeleteServerCertificate", params["ServerCertificateName"])
    ctx.uow.server_certificates.delete(cert.id)


@operation("iam", "TagServerCertificate")
def tag_server_certificate(ctx: OperationContext, params: dict[str, Any]) -> None:
    tags = tags_from_params(params)
    cert = find_certificate_authorized(
        ctx, "iam:TagServerCertificate", params["ServerCertificateName"], request_tag_context(tags)
    )
    existing = {t.key.lower() for t in ctx.uow.tags.list(ctx.account_id, "server-certificate", cert.id)}
    tags_from_params(params, len(existing - {k.lower() for k in tags}))
    ctx.uow.tags.put(ctx.account_id, "server-certificate", cert.id, tags)


@operation("iam", "UntagServerCertificate")
def untag_server_certificate(ctx: OperationContext, params: dict[str, Any]) -> None:
    keys = [str(k) for k in params.get("TagKeys") or []]
    cert = find_certificate_authorized(
        ctx, "iam:UntagServerCertificate", params["ServerCertificateName"], {"aws:TagKeys": keys}
    )
    ctx.uow.tags.remove(ctx.account_id, "server-certificate", cert.id, keys)


@operation("iam", "ListServerCertificateTags", readonly=True)
def list_server_certificate_tags(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    cert = find_certificate_authorized(ctx, "iam:ListServerCertificateTags", params["ServerCertificateName"])
    marker, max_items = list_params(params)
    page = page_list(ctx.uow.tags.list(ctx.account_id, "server-certificate", cert.id), marker, max_items)
    return page_output(page, "Tags", lambda t: {"Key": t.key, "Value": t.value})
