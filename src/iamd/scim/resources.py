"""SCIM resources (RFC 7643) and the identity store's users and groups, both ways.

A SCIM User's attributes land in the store's attribute document in the ``identitystore`` API's
shapes, so the API and SCIM see the same user: ``name`` → ``Name``, ``emails`` → ``Emails``,
the enterprise extension → ``Extensions["aws:identitystore:enterprise"]``, ``active`` → the
user's status, ``externalId`` → an external id whose issuer is :data:`SCIM_ISSUER`.

As IAM Identity Center (developer guide, createuser): ``userName``, ``displayName``,
``name.givenName`` and ``name.familyName`` are required; multi-valued attributes hold one value;
``password``, ``ims``, ``photos``, ``x509Certificates`` and ``entitlements`` are not kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from iamd.services.identitycenter.identitystore.attributes import NAME_PARTS, check_text
from iamd.store.identity_store import ENTERPRISE, ExternalId, IdsGroupRecord, IdsUserRecord

__all__ = [
    "ENTERPRISE_URN",
    "ERROR_URN",
    "GROUP_URN",
    "LIST_URN",
    "PATCH_URN",
    "SCIM_ISSUER",
    "USER_URN",
    "ScimError",
    "group_resource",
    "user_from_scim",
    "user_resource",
]

USER_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_URN: Final = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_URN: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_URN: Final = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_ISSUER: Final = "SCIM"
"""The issuer of external ids that SCIM's ``externalId`` sets (the identitystore API shows them)."""

_SIMPLE: Final = {
    "displayname": "DisplayName",
    "nickname": "NickName",
    "profileurl": "ProfileUrl",
    "title": "Title",
    "usertype": "UserType",
    "preferredlanguage": "PreferredLanguage",
    "locale": "Locale",
    "timezone": "Timezone",
}
_SCIM_NAMES: Final = {
    "DisplayName": "displayName",
    "NickName": "nickName",
    "ProfileUrl": "profileUrl",
    "Title": "title",
    "UserType": "userType",
    "PreferredLanguage": "preferredLanguage",
    "Locale": "locale",
    "Timezone": "timezone",
}
_MULTI: Final = {
    "emails": ("Emails", {"value": "Value", "type": "Type", "primary": "Primary"}),
    "phonenumbers": ("PhoneNumbers", {"value": "Value", "type": "Type", "primary": "Primary"}),
    "roles": ("Roles", {"value": "Value", "type": "Type", "primary": "Primary"}),
    "addresses": (
        "Addresses",
        {
            "streetaddress": "StreetAddress",
            "locality": "Locality",
            "region": "Region",
            "postalcode": "PostalCode",
            "country": "Country",
            "formatted": "Formatted",
            "type": "Type",
            "primary": "Primary",
        },
    ),
}
IGNORED: Final = frozenset(
    {"password", "ims", "photos", "x509certificates", "entitlements", "groups", "meta", "id"}
)
ENTERPRISE_FIELDS: Final = {
    "employeenumber": "employeeNumber",
    "costcenter": "costCenter",
    "organization": "organization",
    "division": "division",
    "department": "department",
    "manager": "manager",
}


class ScimError(Exception):
    """An answer other than success: HTTP status, RFC 7644 ``scimType`` (or None) and detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out


def invalid(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def text(value: Any, where: str) -> str:
    try:
        return check_text(value, where)
    except Exception as exc:  # the API's ValidationException, said the SCIM way
        raise invalid(getattr(exc, "message", None) or str(exc)) from None


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):  # Entra ID sends "False"
        return value.lower() == "true"
    raise invalid(f"{where} must be true or false.")


def _lower_keys(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(f"{where} must be an object.")
    return {str(k).lower(): v for k, v in value.items()}


def scim_name(value: Any) -> dict[str, str]:
    parts = _lower_keys(value, "name")
    out: dict[str, str] = {}
    for key, part in parts.items():
        field = NAME_PARTS.get(key)
        if field is None:
            raise invalid(f"name has no sub-attribute {key}.", "invalidSyntax")
        if part is not None:
            out[field] = text(part, f"name.{key}")
    return out


def scim_multi(key: str, value: Any) -> list[dict[str, Any]] | None:
    """A multi-valued attribute: one value at most, as IAM Identity Center keeps."""
    _aws_key, fields = _MULTI[key]
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        value = [value]
    if len(value) > 1:
        raise invalid(f"{key}: IAM Identity Center keeps a single value of a multi-valued attribute.")
    item = _lower_keys(value[0], key)
    out: dict[str, Any] = {}
    for sub, part in item.items():
        if sub in ("display", "$ref"):
            continue
        field = fields.get(sub)
        if field is None:
            raise invalid(f"{key} has no sub-attribute {sub}.", "invalidSyntax")
        if part is None:
            continue
        out[field] = _bool(part, f"{key}.{sub}") if field == "Primary" else text(part, f"{key}.{sub}")
    return [out] if out else None


def scim_enterprise(value: Any) -> dict[str, Any]:
    parts = _lower_keys(value, ENTERPRISE_URN)
    out: dict[str, Any] = {}
    for key, part in parts.items():
        if key == "schemas":
            continue
        field = ENTERPRISE_FIELDS.get(key)
        if field is None:
            raise invalid(f"{ENTERPRISE_URN} has no attribute {key}.", "invalidSyntax")
        if part is None:
            continue
        if field == "manager":
            manager = _lower_keys(part, "manager") if isinstance(part, Mapping) else {"value": part}
            if manager.get("value") is not None:
                out["manager"] = {"value": text(manager["value"], "manager.value")}
        else:
            out[field] = text(part, field)
    return out


def user_from_scim(body: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool, str | None]:
    """(userName, attribute document, active, externalId) of a User resource, checked."""
    values = {str(k).lower(): v for k, v in body.items()}
    user_name = values.get("username")
    if not isinstance(user_name, str) or not user_name:
        raise invalid("userName is required.")
    user_name = text(user_name, "userName")
    if any(c.isspace() for c in user_name):
        raise invalid("userName cannot contain white space.")
    attributes: dict[str, Any] = {}
    for key, value in values.items():
        if key in _SIMPLE and value is not None:
            attributes[_SIMPLE[key]] = text(value, key)
        elif key == "name" and value is not None:
            attributes["Name"] = scim_name(value)
        elif key in _MULTI:
            multi = scim_multi(key, value)
            if multi:
                attributes[_MULTI[key][0]] = multi
        elif key == ENTERPRISE_URN.lower() and value is not None:
            enterprise = scim_enterprise(value)
            if enterprise:
                attributes["Extensions"] = {ENTERPRISE: enterprise}
        elif key in ("schemas", "active", "username", "externalid") or key in IGNORED:
            continue
        elif key.startswith("urn:"):
            raise invalid(f"The schema extension {key} is not supported.", "invalidSyntax")
        else:
            raise invalid(f"User has no attribute {key}.", "invalidSyntax")
    check_required(attributes)
    active = _bool(values["active"], "active") if values.get("active") is not None else True
    external = values.get("externalid")
    return user_name, attributes, active, None if external is None else text(external, "externalId")


def check_required(attributes: Mapping[str, Any]) -> None:
    if "DisplayName" not in attributes:
        raise invalid("displayName is required.")
    name = attributes.get("Name") or {}
    for part in ("GivenName", "FamilyName"):
        if part not in name:
            raise invalid(f"name.{part[0].lower()}{part[1:]} is required.")


def _meta(kind: str, location: str, created: Any, modified: Any, revision: int) -> dict[str, Any]:
    return {
        "resourceType": kind,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastModified": modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "location": location,
        "version": f'W/"{revision}"',
    }


def external_of(external_ids: Sequence[ExternalId]) -> str | None:
    return next((e.id for e in external_ids if e.issuer == SCIM_ISSUER), None)


def user_resource(user: IdsUserRecord, base: str, groups: Sequence[IdsGroupRecord] = ()) -> dict[str, Any]:
    """The User resource of a store user."""
    attrs = user.attributes
    schemas = [USER_URN]
    out: dict[str, Any] = {"schemas": schemas, "id": user.id}
    external = external_of(user.external_ids)
    if external is not None:
        out["externalId"] = external
    out["userName"] = user.user_name
    if attrs.get("Name"):
        name = {f"{k[0].lower()}{k[1:]}": v for k, v in attrs["Name"].items()}
        out["name"] = name
    for aws_key, scim_key in _SCIM_NAMES.items():
        if attrs.get(aws_key) is not None:
            out[scim_key] = attrs[aws_key]
    out["active"] = user.enabled
    for scim_key, (aws_key, fields) in _MULTI.items():
        items = attrs.get(aws_key)
        if items:
            back = {v: k for k, v in fields.items()}
            camel = {"streetaddress": "streetAddress", "postalcode": "postalCode"}
            out[_camel(scim_key)] = [
                {camel.get(back[k], back[k]): v for k, v in item.items() if k in back} for item in items
            ]
    enterprise = (attrs.get("Extensions") or {}).get(ENTERPRISE)
    if enterprise:
        schemas.append(ENTERPRISE_URN)
        extension = dict(enterprise)
        manager = extension.get("manager")
        if isinstance(manager, dict) and manager.get("value"):
            extension["manager"] = {"value": manager["value"], "$ref": f"{base}/Users/{manager['value']}"}
        out[ENTERPRISE_URN] = extension
    if groups:
        out["groups"] = [
            {"value": g.id, "display": g.display_name, "$ref": f"{base}/Groups/{g.id}", "type": "direct"}
            for g in groups
        ]
    out["meta"] = _meta("User", f"{base}/Users/{user.id}", user.created_at, user.updated_at, user.revision)
    return out


def _camel(key: str) -> str:
    return {"phonenumbers": "phoneNumbers"}.get(key, key)


def group_resource(
    group: IdsGroupRecord, base: str, members: Sequence[tuple[str, str]] | None
) -> dict[str, Any]:
    """The Group resource of a store group; ``members``: (user id, user name) pairs, or None to
    leave them out (``excludedAttributes=members``)."""
    out: dict[str, Any] = {"schemas": [GROUP_URN], "id": group.id}
    external = external_of(group.external_ids)
    if external is not None:
        out["externalId"] = external
    out["displayName"] = group.display_name
    if members is not None:
        out["members"] = [
            {"value": user_id, "$ref": f"{base}/Users/{user_id}", "type": "User"} for user_id, _ in members
        ]
    out["meta"] = _meta(
        "Group", f"{base}/Groups/{group.id}", group.created_at, group.updated_at, group.revision
    )
    return out


ALWAYS: Final = frozenset({"id", "schemas", "meta"})
"""Attributes returned whatever ``attributes``/``excludedAttributes`` say (RFC 7643 §7: returned
"always")."""


def _names(text: str) -> list[tuple[str, str | None]]:
    """``attributes=a,b.c,urn:…:User:d`` as (attribute, sub-attribute) pairs, lower-case; an
    attribute of the enterprise extension keeps its URN."""
    out: list[tuple[str, str | None]] = []
    for raw in text.split(",")[:100]:
        name = raw.strip()
        if not name:
            continue
        lower = name.lower()
        if lower.startswith(USER_URN.lower() + ":"):
            lower = lower[len(USER_URN) + 1 :]
        if lower.startswith("urn:"):
            prefix, _, rest = lower.rpartition(":")
            if prefix == ENTERPRISE_URN.lower():
                out.append((ENTERPRISE_URN.lower(), rest))
            else:
                out.append((lower, None))
            continue
        attr, _, sub = lower.partition(".")
        out.append((attr, sub or None))
    return out


def project(resource: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    """``resource`` with only the ``attributes`` asked for, or without the ``excluded`` ones
    (RFC 7644 §3.4.2.5); ``id``, ``schemas`` and ``meta`` always stay."""
    if attributes:
        wanted = _names(attributes)
        out: dict[str, Any] = {}
        for key, value in resource.items():
            lower = key.lower()
            if lower in ALWAYS:
                out[key] = value
                continue
            subs = [sub for attr, sub in wanted if attr == lower]
            if not subs:
                continue
            if None in subs or not isinstance(value, dict | list):
                out[key] = value
            elif isinstance(value, dict):
                out[key] = {k: v for k, v in value.items() if k.lower() in subs}
            else:
                out[key] = [
                    {k: v for k, v in item.items() if k.lower() in subs} if isinstance(item, dict) else item
                    for item in value
                ]
        return out
    if excluded:
        dropped = _names(excluded)
        out = {}
        for key, value in resource.items():
            lower = key.lower()
            subs = [sub for attr, sub in dropped if attr == lower]
            if lower in ALWAYS or not subs:
                out[key] = value
            elif None in subs:
                continue
            elif isinstance(value, dict):
                out[key] = {k: v for k, v in value.items() if k.lower() not in subs}
            elif isinstance(value, list):
                out[key] = [
                    {k: v for k, v in item.items() if k.lower() not in subs}
                    if isinstance(item, dict)
                    else item
                    for item in value
                ]
            else:
                out[key] = value
        return out
    return resource
