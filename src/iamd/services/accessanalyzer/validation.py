"""ValidatePolicy: the checks of ``iamd.analyzer`` over the wire, paged with maxResults/nextToken.

Authorized as ``access-analyzer:ValidatePolicy`` on ``*`` (the Service Authorization Reference
lists no resource type for it). Findings are in English whatever ``locale`` asks for.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from iamd.analyzer import PolicyType, validate_policy
from iamd.catalog import service_reference
from iamd.services.framework import OperationContext, operation
from iamd.wire import ValidationError
from iamd.wire.errors import Violation

__all__ = ["validate_policy_operation"]

DEFAULT_PAGE = 100
MAX_DOCUMENT = 131072
"""The longest policy document validated, in characters: IAM's own bound on a policy document
(botocore's ``iam`` model, ``policyDocumentType``), four times the largest resource policy AWS
stores (KMS key policies, 32 KB). Access Analyzer's model gives none; a bound keeps one request
from costing seconds of work and a garbage collection over millions of objects."""


def _invalid(name: str, value: object, constraint: str) -> ValidationError:
    return ValidationError(violations=[Violation(name, None if value is None else str(value), constraint)])


def _token(document: str, policy_type: str, resource_type: str | None, start: int) -> str:
    digest = hashlib.sha256(f"{policy_type}\n{resource_type}\n{document}".encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(f"v1:{start}:{digest}".encode()).decode()


def _start(token: str, document: str, policy_type: str, resource_type: str | None) -> int:
    try:
        version, start, _digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        offset = int(start)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid("nextToken", None, "must be a token from a previous ValidatePolicy answer") from exc
    if version != "v1" or offset < 0 or _token(document, policy_type, resource_type, offset) != token:
        raise _invalid("nextToken", None, "must come from ValidatePolicy on the same policy and type")
    return offset


@operation("accessanalyzer", "ValidatePolicy", readonly=True, heavy=True)
def validate_policy_operation(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("access-analyzer:ValidatePolicy", "*")
    document = str(params["policyDocument"])
    policy_type = str(params["policyType"])
    resource_type = params.get("validatePolicyResourceType")
    if resource_type is not None and policy_type != PolicyType.RESOURCE_POLICY.value:
        raise _invalid(
            "validatePolicyResourceType",
            resource_type,
            "may only be given with policyType RESOURCE_POLICY",
        )
    if not document.strip():
        raise _invalid("policyDocument", None, "must be a non-empty policy document")
    if len(document) > MAX_DOCUMENT:
        raise _invalid(
            "policyDocument",
            None,
            f"Member must have length less than or equal to {MAX_DOCUMENT} (it has {len(document)})",
        )
    limit = params.get("maxResults")
    if limit is not None and int(limit) < 1:
        raise _invalid("maxResults", limit, "Member must have value greater than or equal to 1")
    page = int(limit) if limit is not None else DEFAULT_PAGE
    start = 0
    if params.get("nextToken"):
        start = _start(str(params["nextToken"]), document, policy_type, resource_type)
    findings = validate_policy(
        document, PolicyType(policy_type), service_reference(), str(resource_type) if resource_type else None
    )
    if start > len(findings):
        raise _invalid("nextToken", None, "is past the last finding")
    out: dict[str, Any] = {"findings": [f.to_api() for f in findings[start : start + page]]}
    if start + page < len(findings):
        out["nextToken"] = _token(document, policy_type, resource_type, start + page)
    return out
