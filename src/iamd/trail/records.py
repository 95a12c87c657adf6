"""CloudTrail's record format: the identity, the times, the parameters and response elements
(camelCase, secrets hidden), and the JSON forms that are stored, hashed and shown.

A record looks like AWS's, field for field and in AWS's order::

    {"eventVersion": "1.10",
     "userIdentity": {"type": "IAMUser", "principalId": "AIDA…", "arn": "arn:aws:iam::…:user/alice",
                      "accountId": "…", "accessKeyId": "AKIA…", "userName": "alice"},
     "eventTime": "2026-11-28T15:21:35Z", "eventSource": "iam.amazonaws.com",
     "eventName": "CreateUser", "awsRegion": "us-east-1", "sourceIPAddress": "…", "userAgent": "…",
     "requestParameters": {"userName": "bob"},
     "responseElements": {"user": {"path": "/", "userName": "bob", "userId": "AIDA…",
                                   "arn": "…", "createDate": "Nov 28, 2026 3:21:35 PM"}},
     "requestID": "…", "eventID": "…", "readOnly": false, "eventType": "AwsApiCall",
     "managementEvent": true, "recipientAccountId": "…", "eventCategory": "Management"}

Secrets never reach a record: members whose botocore shape is marked ``sensitive`` (passwords,
secret access keys, private keys, SAML assertions, web identity tokens, the Organizations account
names and e-mails AWS also hides) and the members listed in :data:`SECRET_MEMBERS` (session tokens,
MFA codes and seeds …) are replaced by ``HIDDEN_DUE_TO_SECURITY_REASONS``, as AWS does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from botocore.model import Shape

from iamd.wire.jsontext import scrub

__all__ = [
    "EVENT_VERSION",
    "HIDDEN",
    "SECRET_MEMBERS",
    "Identity",
    "SessionIssuer",
    "api_call_record",
    "cloudtrail_time",
    "element_time",
    "lower_first",
    "record_json",
    "service_event_record",
    "sign_in_record",
    "trail_elements",
]

EVENT_VERSION: Final = "1.10"
HIDDEN: Final = "HIDDEN_DUE_TO_SECURITY_REASONS"
SECRET_MEMBERS: Final = frozenset(
    {
        "secretaccesskey",
        "sessiontoken",
        "password",
        "oldpassword",
        "newpassword",
        "servicepassword",
        "privatekey",
        "authenticationcode1",
        "authenticationcode2",
        "tokencode",
        "base32stringseed",
        "qrcodepng",
        "samlassertion",
        "webidentitytoken",
        "clientsecret",
        "providedcontexts",
    }
)
"""Members hidden whatever their shape says (lower-cased names)."""


def cloudtrail_time(moment: datetime) -> str:
    """``eventTime``: ISO 8601 in UTC at second precision, ``2026-11-28T15:21:35Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def element_time(moment: datetime) -> str:
    """A timestamp inside requestParameters / responseElements as IAM's records write it:
    ``Nov 28, 2026 3:21:35 PM``."""
    utc = moment.astimezone(UTC)
    hour = utc.hour % 12 or 12
    return f"{utc:%b} {utc.day}, {utc.year} {hour}:{utc:%M:%S} {'AM' if utc.hour < 12 else 'PM'}"


def lower_first(name: str) -> str:
    """CloudTrail's member names: the API name with its first letter lower-cased
    (``UserName`` -> ``userName``, ``SAMLProviderArn`` -> ``sAMLProviderArn``)."""
    return name[:1].lower() + name[1:]


def trail_elements(shape: Shape | None, value: Any) -> Any:
    """``value`` (an operation's input or output, keyed by the model's member names) as CloudTrail
    shows it: camelCase members, timestamps as :func:`element_time`, blobs base64, secrets
    hidden. Members the shape does not declare are dropped."""
    if shape is None or value is None:
        return None
    if shape.metadata.get("sensitive"):
        return HIDDEN
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return None
        if shape.is_document_type:
            return value
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if name not in value or value[name] is None:
                continue
            key = lower_first(name)
            if key.lower() in SECRET_MEMBERS or member.metadata.get("sensitive"):
                out[key] = HIDDEN
            else:
                out[key] = trail_elements(member, value[name])
        return out
    if kind == "list":
        return (
            [trail_elements(shape.member, item) for item in value]
            if isinstance(value, list | tuple)
            else None
        )
    if kind == "map":
        if not isinstance(value, Mapping):
            return None
        return {str(k): trail_elements(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return element_time(value) if isinstance(value, datetime) else str(value)
    if kind == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        return base64.b64encode(raw).decode("ascii")
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class SessionIssuer:
    """Who issued a session: the role (``type`` Role) or, for a federated user, the IAM user."""

    type: str
    principal_id: str
    arn: str
    account_id: str
    user_name: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account_id,
            "userName": self.user_name,
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """``userIdentity``, and what the trail indexes about the caller."""

    type: str
    """IAMUser, Root, AssumedRole, FederatedUser, AWSAccount, WebIdentityUser, SAMLUser, Unknown."""
    principal_id: str | None = None
    arn: str | None = None
    account_id: str | None = None
    access_key_id: str | None = None
    user_name: str | None = None
    session: bool = False
    """Temporary credentials: the record gets a sessionContext."""
    session_created: datetime | None = None
    mfa_authenticated: bool = False
    issuer: SessionIssuer | None = None
    source_identity: str | None = None
    web_identity: Mapping[str, Any] | None = None
    """webIdFederationData for web identity sessions."""
    identity_provider: str | None = None
    """SAMLUser / WebIdentityUser: the provider."""
    entity_id: str | None = None
    """The IAM user or role this identity acts as (last-accessed data); not in the record."""
    entity_arn: str | None = None
    lookup_name: str | None = None
    """LookupEvents' Username: the user name, the role session name, ``root``."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.principal_id is not None:
            out["principalId"] = self.principal_id
        if self.arn is not None:
            out["arn"] = self.arn
        if self.account_id is not None:
            out["accountId"] = self.account_id
        if self.access_key_id is not None:
            out["accessKeyId"] = self.access_key_id
        if self.user_name is not None:
            out["userName"] = self.user_name
        if self.session:
            context: dict[str, Any] = {}
            if self.issuer is not None:
                context["sessionIssuer"] = self.issuer.to_json()
                context["webIdFederationData"] = dict(self.web_identity or {})
            attributes: dict[str, str] = {}
            if self.session_created is not None:
                attributes["creationDate"] = cloudtrail_time(self.session_created)
            attributes["mfaAuthenticated"] = "true" if self.mfa_authenticated else "false"
            context["attributes"] = attributes
            if self.source_identity is not None:
                context["sourceIdentity"] = self.source_identity
            out["sessionContext"] = context
        if self.identity_provider is not None:
            out["identityProvider"] = self.identity_provider
        out.update(self.extra)
        return out


def api_call_record(
    *,
    identity: Identity,
    event_time: datetime,
    event_source: str,
    event_name: str,
    region: str,
    source_ip: str,
    user_agent: str,
    request_parameters: Any,
    response_elements: Any,
    request_id: str,
    event_id: str,
    read_only: bool,
    recipient_account_id: str,
    error_code: str | None = None,
    error_message: str | None = None,
    additional: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``AwsApiCall`` record."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity.to_json(),
        "eventTime": cloudtrail_time(event_time),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error_code is not None:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or ""
    record["requestParameters"] = request_parameters
    record["responseElements"] = response_elements
    if additional:
        record["additionalEventData"] = dict(additional)
    record.update(
        {
            "requestID": request_id,
            "eventID": event_id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": recipient_account_id,
            "eventCategory": "Management",
        }
    )
    return record


def sign_in_record(
    *,
    identity: Identity,
    event_time: datetime,
    source_ip: str,
    user_agent: str,
    event_id: str,
    recipient_account_id: str,
    success: bool,
    mfa_used: bool,
    login_to: str,
    error_message: str = "Failed authentication",
) -> dict[str, Any]:
    """An ``AwsConsoleSignIn`` record (``ConsoleLogin``, from signin.amazonaws.com)."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity.to_json(),
        "eventTime": cloudtrail_time(event_time),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if not success:
        record["errorMessage"] = error_message
    record.update(
        {
            "requestParameters": None,
            "responseElements": {"ConsoleLogin": "Success" if success else "Failure"},
            "additionalEventData": {
                "LoginTo": login_to,
                "MobileVersion": "No",
                "MFAUsed": "Yes" if mfa_used else "No",
            },
            "eventID": event_id,
            "readOnly": False,
            "eventType": "AwsConsoleSignIn",
            "managementEvent": True,
            "recipientAccountId": recipient_account_id,
            "eventCategory": "Management",
        }
    )
    return record


def service_event_record(
    *,
    account_id: str,
    event_time: datetime,
    event_source: str,
    event_name: str,
    source_ip: str,
    user_agent: str,
    event_id: str,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """An ``AwsServiceEvent`` record: something the service did that is no API call (CloudTrail
    User Guide, "AWS service events": ``userIdentity`` names the account and the service,
    ``serviceEventDetails`` says what happened)."""
    return {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"accountId": account_id, "invokedBy": event_source},
        "eventTime": cloudtrail_time(event_time),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "serviceEventDetails": dict(details),
        "eventCategory": "Management",
    }


def record_json(record: Mapping[str, Any]) -> str:
    """The record's canonical JSON: compact (no whitespace), AWS's field order, UTF-8 as is. It is
    what is stored, shown (CloudTrailEvent, the trail files) and hashed into the chain; records
    are built in one order by one serializer, so the same record always gives the same text.
    A lone UTF-16 surrogate (text that is not Unicode, which no database stores) becomes U+FFFD."""
    return scrub(_RECORD_ENCODER.encode(record))


_RECORD_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""``json.dumps(record, separators=(",", ":"), ensure_ascii=False)``, its encoder made once (the
text is the same: ``json.dumps`` makes this encoder on every call)."""
