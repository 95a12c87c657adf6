"""Subjects: the certificate identities that obtained credentials through CreateSession, with the
certificates they presented and the instance properties they sent (recorded by
:func:`iamd.services.rolesanywhere.sessions.create_session`)."""

from __future__ import annotations

from typing import Any

from iamd.services.framework import OperationContext, operation
from iamd.services.rolesanywhere.common import (
    check_uuid,
    not_found,
    page_of,
    page_size,
    region,
    subject_arn,
)
from iamd.store.rolesanywhere import SubjectRecord


def _summary(subject: SubjectRecord) -> dict[str, Any]:
    return {
        "subjectArn": subject_arn(subject.region, subject.account_id, subject.id),
        "subjectId": subject.id,
        "enabled": subject.enabled,
        "x509Subject": subject.x509_subject,
        "lastSeenAt": subject.last_seen_at,
        "createdAt": subject.created_at,
        "updatedAt": subject.updated_at,
    }


def subject_output(subject: SubjectRecord) -> dict[str, Any]:
    out = _summary(subject)
    out["credentials"] = [
        {
            "seenAt": c.seen_at,
            "serialNumber": c.serial_number,
            "issuer": c.issuer,
            "enabled": c.enabled,
            "x509CertificateData": c.certificate_pem,
            "failed": c.failed,
        }
        for c in subject.credentials
    ]
    out["instanceProperties"] = [
        {"seenAt": p.seen_at, "properties": dict(p.properties), "failed": p.failed}
        for p in subject.instance_properties
    ]
    return out


@operation("rolesanywhere", "ListSubjects", readonly=True)
def list_subjects(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("rolesanywhere:ListSubjects", "*")
    size = page_size(params)
    page = page_of(
        lambda: ctx.uow.rolesanywhere.list_subjects(
            ctx.account_id, region(ctx), marker=params.get("nextToken"), max_items=size
        )
    )
    out: dict[str, Any] = {"subjects": [_summary(s) for s in page.items]}
    if page.marker is not None:
        out["nextToken"] = page.marker
    return out


@operation("rolesanywhere", "GetSubject", readonly=True)
def get_subject(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    subject_id = check_uuid(str(params["subjectId"]), "subjectId")
    ctx.authorize("rolesanywhere:GetSubject", subject_arn(region(ctx), ctx.account_id, subject_id))
    found = ctx.uow.rolesanywhere.find_subject(ctx.account_id, region(ctx), subject_id)
    if found is None:
        raise not_found("Subject")
    return {"subject": subject_output(found)}
