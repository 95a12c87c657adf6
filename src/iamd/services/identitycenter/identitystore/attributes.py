"""Users' and groups' attributes: checking what a request sets, applying UpdateUser/UpdateGroup
``Operations`` (``{AttributePath, AttributeValue}``; a missing value removes the attribute), and
rendering them back.

The model's patterns: user names are 1–128 letters, marks, symbols, digits and punctuation (no
white space); other strings are 1–1024 of those plus tab, newline, carriage return, space,
no-break space and ideographic space. ``Emails``, ``Addresses``, ``PhoneNumbers`` and ``Roles``
hold one item, ``Photos`` 1–3 with at most one primary; ``Extensions`` only
``aws:identitystore:enterprise``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

from iamd.services.identitycenter.identitystore.common import RESERVED_NAMES, validation
from iamd.store.identity_store import ENTERPRISE

__all__ = [
    "ENTERPRISE_FIELDS",
    "USER_ATTRIBUTES",
    "apply_group_operations",
    "apply_user_operations",
    "check_display_name",
    "check_text",
    "check_user_attributes",
    "check_user_name",
    "render_extensions",
]

SIMPLE: Final = {
    "displayname": "DisplayName",
    "nickname": "NickName",
    "profileurl": "ProfileUrl",
    "usertype": "UserType",
    "title": "Title",
    "preferredlanguage": "PreferredLanguage",
    "locale": "Locale",
    "timezone": "Timezone",
    "website": "Website",
    "birthdate": "Birthdate",
}
NAME_PARTS: Final = {
    "formatted": "Formatted",
    "familyname": "FamilyName",
    "givenname": "GivenName",
    "middlename": "MiddleName",
    "honorificprefix": "HonorificPrefix",
    "honorificsuffix": "HonorificSuffix",
}
LISTS: Final = {
    "emails": ("Emails", ("Value", "Type", "Primary"), 1),
    "addresses": (
        "Addresses",
        ("StreetAddress", "Locality", "Region", "PostalCode", "Country", "Formatted", "Type", "Primary"),
        1,
    ),
    "phonenumbers": ("PhoneNumbers", ("Value", "Type", "Primary"), 1),
    "roles": ("Roles", ("Value", "Type", "Primary"), 1),
    "photos": ("Photos", ("Value", "Type", "Display", "Primary"), 3),
}
USER_ATTRIBUTES: Final = (
    "Name",
    *SIMPLE.values(),
    *(v[0] for v in LISTS.values()),
    "Extensions",
)
ENTERPRISE_FIELDS: Final = (
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
)
_TEXT_SPACES: Final = frozenset("\t\n\r \u00a0\u3000")


def _allowed(char: str, spaces: bool) -> bool:
    return unicodedata.category(char)[0] in "LMSNP" or (spaces and char in _TEXT_SPACES)


def check_text(value: object, where: str, *, limit: int = 1024, spaces: bool = True) -> str:
    """``value`` when it is a string the model's pattern accepts, else ValidationException."""
    if not isinstance(value, str):
        raise validation(f"{where} must be a string.")
    if not 1 <= len(value) <= limit:
        raise validation(f"{where} must be 1 to {limit} characters long.")
    bad = next((c for c in value if not _allowed(c, spaces)), None)
    if bad is not None:
        raise validation(f"{where} contains a character that is not allowed: U+{ord(bad):04X}.")
    return value


def check_user_name(value: object) -> str:
    name = check_text(value, "UserName", limit=128, spaces=False)
    if name.casefold() in RESERVED_NAMES:
        raise validation(f"UserName {name} is reserved: Administrator and AWSAdministrators can't be used.")
    return name


def check_display_name(value: object, what: str = "DisplayName") -> str:
    name = check_text(value, what)
    if name.casefold() in RESERVED_NAMES:
        raise validation(f"{what} {name} is reserved: Administrator and AWSAdministrators can't be used.")
    return name


def _pascal(key: str, known: Sequence[str]) -> str | None:
    return next((k for k in known if k.lower() == key.lower()), None)


def _check_name(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise validation(f"{where} must be an object.")
    out: dict[str, str] = {}
    for key, part in value.items():
        field = _pascal(str(key), tuple(NAME_PARTS.values()))
        if field is None:
            raise validation(f"{where} has no attribute {key}.")
        out[field] = check_text(part, f"{where}.{field}")
    return out


def _check_list(value: object, where: str, fields: Sequence[str], limit: int) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise validation(f"{where} must hold {'one item' if limit == 1 else f'1 to {limit} items'}.")
    items: list[dict[str, Any]] = []
    for n, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise validation(f"{where}[{n}] must be an object.")
        out: dict[str, Any] = {}
        for key, part in item.items():
            field = _pascal(str(key), fields)
            if field is None:
                raise validation(f"{where}[{n}] has no attribute {key}.")
            if field == "Primary":
                if not isinstance(part, bool):
                    raise validation(f"{where}[{n}].Primary must be true or false.")
                out[field] = part
            else:
                out[field] = check_text(part, f"{where}[{n}].{field}")
        items.append(out)
    if where == "Photos":
        if any("Value" not in p for p in items):
            raise validation("Photos: every photo needs a Value.")
        if sum(1 for p in items if p.get("Primary")) > 1:
            raise validation("Photos: at most one photo can be primary.")
    return items


def _check_extensions(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not 1 <= len(value) <= 10:
        raise validation("Extensions must be a map of 1 to 10 extensions.")
    out: dict[str, Any] = {}
    for name, document in value.items():
        if name != ENTERPRISE:
            raise validation(f"Extension {name} is not supported: the only extension is {ENTERPRISE}.")
        out[name] = _check_enterprise(document)
    return out


def _check_enterprise(document: object) -> dict[str, Any]:
    if not isinstance(document, Mapping):
        raise validation(f"{ENTERPRISE} must be a JSON object.")
    out: dict[str, Any] = {}
    for key, value in document.items():
        field = _pascal(str(key), ENTERPRISE_FIELDS)
        if field is None:
            raise validation(f"{ENTERPRISE} has no attribute {key}: it has {', '.join(ENTERPRISE_FIELDS)}.")
        if field == "manager":
            if not isinstance(value, Mapping) or set(value) - {"value"}:
                raise validation(f'{ENTERPRISE}.manager must be an object {{"value": "..."}}.')
            out[field] = {"value": check_text(value.get("value"), f"{ENTERPRISE}.manager.value")}
        else:
            out[field] = check_text(value, f"{ENTERPRISE}.{field}")
    return out


def _check_attribute(key: str, value: object) -> Any:
    if key == "Name":
        return _check_name(value, "Name")
    if key == "Extensions":
        return _check_extensions(value)
    for list_key, fields, limit in LISTS.values():
        if key == list_key:
            return _check_list(value, key, fields, limit)
    if key == "DisplayName":
        return check_display_name(value)
    return check_text(value, key)


def check_user_attributes(params: Mapping[str, Any]) -> dict[str, Any]:
    """The attribute document of a CreateUser request (everything but the store and UserName),
    checked. Identity Center needs DisplayName and Name (the API reference)."""
    attributes = {
        key: _check_attribute(key, params[key]) for key in USER_ATTRIBUTES if params.get(key) is not None
    }
    if "DisplayName" not in attributes:
        raise validation("DisplayName is required: IAM Identity Center users need a display name.")
    if not attributes.get("Name"):
        raise validation("Name is required: IAM Identity Center users need a name (GivenName, FamilyName).")
    return attributes


def _path(operation: Mapping[str, Any]) -> tuple[str, list[str]]:
    raw = str(operation["AttributePath"])
    if raw.startswith("aws:identitystore:"):
        head, _, rest = raw.partition(".")
        return head, [p.lower() for p in rest.split(".")] if rest else []
    parts = raw.split(".")
    return parts[0].lower(), [p.lower() for p in parts[1:]]


def apply_user_operations(
    user_name: str, attributes: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """The user name and attribute document after UpdateUser's ``Operations``, checked."""
    doc: dict[str, Any] = {k: v for k, v in attributes.items()}
    for operation in operations:
        head, rest = _path(operation)
        where = str(operation["AttributePath"])
        has_value = "AttributeValue" in operation and operation["AttributeValue"] is not None
        value = operation.get("AttributeValue")
        if head == "username" and not rest:
            if not has_value:
                raise validation("UserName cannot be removed.")
            user_name = check_user_name(value)
        elif head in SIMPLE and not rest:
            key = SIMPLE[head]
            if not has_value:
                if key == "DisplayName":
                    raise validation("DisplayName cannot be removed: IAM Identity Center users need one.")
                doc.pop(key, None)
            else:
                doc[key] = _check_attribute(key, value)
        elif head == "name" and not rest:
            if not has_value:
                raise validation("Name cannot be removed: IAM Identity Center users need one.")
            doc["Name"] = _check_name(value, "Name")
        elif head == "name" and len(rest) == 1 and rest[0] in NAME_PARTS:
            part = NAME_PARTS[rest[0]]
            name = dict(doc.get("Name") or {})
            if has_value:
                name[part] = check_text(value, f"Name.{part}")
            else:
                name.pop(part, None)
            if not name:
                raise validation("Name cannot be left empty: IAM Identity Center users need one.")
            doc["Name"] = name
        elif head in LISTS and not rest:
            key, fields, limit = LISTS[head]
            if has_value:
                doc[key] = _check_list(value, key, fields, limit)
            else:
                doc.pop(key, None)
        elif head == ENTERPRISE:
            extensions = dict(doc.get("Extensions") or {})
            enterprise = dict(extensions.get(ENTERPRISE) or {})
            if not rest:
                enterprise = _check_enterprise(value) if has_value else {}
            else:
                field = _pascal(rest[0], ENTERPRISE_FIELDS)
                if (
                    field is None
                    or (len(rest) > 1 and rest[1:] != ["value"])
                    or (len(rest) > 1 and field != "manager")
                ):
                    raise validation(f"AttributePath {where} is not an attribute of {ENTERPRISE}.")
                if not has_value:
                    enterprise.pop(field, None)
                else:
                    item = {"value": value} if field == "manager" and len(rest) > 1 else value
                    enterprise.update(_check_enterprise({field: item}))
            if enterprise:
                extensions[ENTERPRISE] = enterprise
            else:
                extensions.pop(ENTERPRISE, None)
            if extensions:
                doc["Extensions"] = extensions
            else:
                doc.pop("Extensions", None)
        elif head.startswith("aws:identitystore:"):
            raise validation(f"Extension {head} is not supported: the only extension is {ENTERPRISE}.")
        else:
            raise validation(f"AttributePath {where} is not an attribute of a user that can be updated.")
    return user_name, doc


def apply_group_operations(
    display_name: str | None, description: str | None, operations: Sequence[Mapping[str, Any]]
) -> tuple[str | None, str | None]:
    """A group's display name and description after UpdateGroup's ``Operations``, checked."""
    for operation in operations:
        head, rest = _path(operation)
        value = operation.get("AttributeValue")
        if head == "displayname" and not rest:
            if value is None:
                raise validation("DisplayName cannot be removed from a group.")
            display_name = check_display_name(value)
        elif head == "description" and not rest:
            description = None if value is None else check_text(value, "Description")
        else:
            raise validation(
                f"AttributePath {operation['AttributePath']} is not an attribute of a group that can be "
                "updated: use displayName or description."
            )
    return display_name, description


def render_extensions(
    attributes: Mapping[str, Any], requested: Sequence[str] | None
) -> dict[str, Any] | None:
    """The user's extensions that the request named (``Extensions`` come back only when asked)."""
    if not requested:
        return None
    have = attributes.get("Extensions") or {}
    for name in requested:
        if name != ENTERPRISE:
            raise validation(f"Extension {name} is not supported: the only extension is {ENTERPRISE}.")
    chosen = {name: have[name] for name in requested if name in have}
    return chosen or None
