"""PATCH (RFC 7644 §3.5.2) on a User's JSON, and on a Group's display name, external id and members.

A User is patched as its JSON resource: the operations change the document, which is then checked
and stored as a replacement (so a PATCH can never store what a PUT would refuse). ``op`` ignores
case (Entra ID sends ``Replace``); a ``replace`` whose value filter matches no item of a
multi-valued attribute adds one (``emails[type eq "work"].value``, as Entra ID and Okta send).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from iamd.scim.filters import Compare, FilterError, Path, matches, parse_path
from iamd.scim.resources import ENTERPRISE_URN, PATCH_URN, USER_URN, ScimError, invalid
from iamd.scim.schemas import MAX_OPERATIONS

__all__ = ["GroupChanges", "operations_of", "patch_group", "patch_user"]


def operations_of(body: Mapping[str, Any]) -> list[tuple[str, str | None, Any]]:
    """(op, path, value) of a PatchOp message, checked."""
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or PATCH_URN not in schemas:
        raise invalid(f"A PATCH request's schemas must include {PATCH_URN}.", "invalidSyntax")
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise invalid("A PATCH request needs Operations.", "invalidSyntax")
    if len(operations) > MAX_OPERATIONS:
        raise invalid(f"A PATCH request may have at most {MAX_OPERATIONS} operations.", "tooMany")
    out = []
    for n, item in enumerate(operations):
        if not isinstance(item, Mapping):
            raise invalid(f"Operations[{n}] must be an object.", "invalidSyntax")
        op = str(item.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise invalid(f"Operations[{n}].op must be add, replace or remove.", "invalidSyntax")
        path = item.get("path")
        if path is not None and not isinstance(path, str):
            raise invalid(f"Operations[{n}].path must be a string.", "invalidPath")
        if op == "remove" and not path:
            raise invalid(f"Operations[{n}]: remove needs a path.", "noTarget")
        if op != "remove" and "value" not in item:
            raise invalid(f"Operations[{n}]: {op} needs a value.", "invalidValue")
        out.append((op, path or None, item.get("value")))
    return out


_CANONICAL: Final = {
    name.lower(): name
    for name in (
        "userName",
        "displayName",
        "nickName",
        "profileUrl",
        "userType",
        "preferredLanguage",
        "externalId",
        "phoneNumbers",
        "givenName",
        "familyName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
        "streetAddress",
        "postalCode",
        "employeeNumber",
        "costCenter",
    )
}


def _key(doc: Mapping[str, Any], name: str) -> str | None:
    return next((k for k in doc if k.lower() == name.lower()), None)


def _new_key(doc: Mapping[str, Any], name: str) -> str:
    """``name`` as ``doc`` spells it, else in its canonical camel case (paths come lower-cased)."""
    return _key(doc, name) or _CANONICAL.get(name.lower(), name)


def _parse(path: str) -> Path:
    try:
        return parse_path(path)
    except FilterError as exc:
        raise invalid(str(exc), "invalidPath") from None


def _container(doc: dict[str, Any], attribute: str) -> tuple[dict[str, Any], str]:
    """The object that holds ``attribute`` (the enterprise extension's, or the resource) and the
    attribute's name in it."""
    enterprise = ENTERPRISE_URN.lower()
    if attribute.startswith(enterprise + ":"):
        key = _key(doc, ENTERPRISE_URN) or ENTERPRISE_URN
        inner = doc.setdefault(key, {})
        if not isinstance(inner, dict):
            raise invalid(f"{ENTERPRISE_URN} must be an object.")
        return inner, attribute[len(enterprise) + 1 :]
    if attribute == enterprise:
        return doc, ENTERPRISE_URN
    if attribute.startswith(USER_URN.lower() + ":"):
        return doc, attribute[len(USER_URN) + 1 :]
    return doc, attribute


def _item_values(item: Mapping[str, Any]) -> Any:
    lower = {k.lower(): v for k, v in item.items()}
    return lambda path: [lower[path.split(".")[-1]]] if path.split(".")[-1] in lower else []


def _selected(items: list[Any], selector: Any) -> list[int]:
    return [
        n
        for n, item in enumerate(items)
        if isinstance(item, Mapping) and matches(selector, _item_values(item))
    ]


def _seed(selector: Any) -> dict[str, Any]:
    """The item a filter such as ``type eq "work"`` describes, to create when none matches."""
    if isinstance(selector, Compare) and selector.op == "eq":
        return {selector.path.split(".")[-1]: selector.value}
    return {}


def _merge(target: dict[str, Any], value: Mapping[str, Any]) -> None:
    for key, part in value.items():
        existing = _key(target, str(key))
        if existing is not None and isinstance(target[existing], dict) and isinstance(part, Mapping):
            _merge(target[existing], part)
        else:
            if existing is not None and existing != key:
                del target[existing]
            target[str(key)] = copy.deepcopy(part)


def patch_user(
    resource: Mapping[str, Any], operations: Sequence[tuple[str, str | None, Any]]
) -> dict[str, Any]:
    """The User JSON after ``operations``."""
    doc = copy.deepcopy(dict(resource))
    for op, path, value in operations:
        if path is None:
            if not isinstance(value, Mapping):
                raise invalid("Without a path, the value must be an object of attributes.")
            value = {
                (k if not k.lower().startswith(USER_URN.lower() + ":") else k[len(USER_URN) + 1 :]): v
                for k, v in value.items()
            }
            if op == "replace":
                for key in value:
                    existing = _key(doc, key)
                    if existing is not None:
                        del doc[existing]
            _merge(doc, value)
            continue
        parsed = _parse(path)
        holder, name = _container(doc, parsed.attribute)
        key = _new_key(holder, name)
        current = holder.get(key)
        if parsed.selector is not None:
            items = current if isinstance(current, list) else []
            chosen = _selected(items, parsed.selector)
            if op == "remove":
                if not chosen:
                    continue
                if parsed.sub is None:
                    holder[key] = [item for n, item in enumerate(items) if n not in chosen]
                else:
                    for n in chosen:
                        sub = _key(items[n], parsed.sub)
                        if sub is not None:
                            del items[n][sub]
                continue
            if not chosen:
                items.append(_seed(parsed.selector))
                chosen = [len(items) - 1]
            for n in chosen:
                if parsed.sub is None:
                    if not isinstance(value, Mapping):
                        raise invalid(f"The value for {path} must be an object.")
                    _merge(items[n], value)
                else:
                    items[n][_new_key(items[n], parsed.sub)] = value
            holder[key] = items
            continue
        if parsed.sub is not None:
            inner = holder.get(key)
            if inner is None:
                inner = holder[key] = {}
            if not isinstance(inner, dict):
                raise invalid(f"{parsed.attribute} has no sub-attributes.", "invalidPath")
            sub = _new_key(inner, parsed.sub)
            if op == "remove":
                inner.pop(sub, None)
            else:
                inner[sub] = value
            continue
        if op == "remove":
            holder.pop(key, None)
        elif op == "add" and isinstance(current, list):
            added = value if isinstance(value, list) else [value]
            holder[key] = _add_items(current, added)
        elif op == "add" and isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            holder[key] = copy.deepcopy(value)
    return doc


def _add_items(current: list[Any], added: list[Any]) -> list[Any]:
    """Add to a multi-valued attribute: an item of a type already there replaces it (Identity
    Center keeps one value), an identical item is not repeated."""
    out = list(current)
    for item in added:
        kind = str(item.get("type", "")).lower() if isinstance(item, Mapping) else None
        same = [
            n
            for n, old in enumerate(out)
            if isinstance(old, Mapping) and str(old.get("type", "")).lower() == kind
        ]
        if item in out:
            continue
        if same:
            out[same[0]] = item
        else:
            out.append(item)
    return out


@dataclass
class GroupChanges:
    display_name: str | None = None
    external_id: str | None = None
    clear_external_id: bool = False
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    replace_members: list[str] | None = None


def _member_ids(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("value"), str):
            out.append(item["value"])
        else:
            raise invalid(f"{where}: each member must be an object with a value (a user id).")
    return out


def patch_group(operations: Sequence[tuple[str, str | None, Any]]) -> GroupChanges:
    """What a Group PATCH changes: only displayName, externalId and members may be patched (IAM
    Identity Center's PatchGroup)."""
    changes = GroupChanges()
    for op, path, value in operations:
        if path is None:
            if not isinstance(value, Mapping):
                raise invalid("Without a path, the value must be an object of attributes.")
            for key, part in value.items():
                _group_change(changes, op, key.lower(), None, part)
            continue
        parsed = _parse(path)
        _group_change(changes, op, parsed.attribute, parsed, value)
    return changes


def _group_change(changes: GroupChanges, op: str, attribute: str, parsed: Path | None, value: Any) -> None:
    if attribute == "displayname":
        if op == "remove":
            raise invalid("displayName cannot be removed.", "mutability")
        if not isinstance(value, str):
            raise invalid("displayName must be a string.")
        changes.display_name = value
    elif attribute == "externalid":
        if op == "remove":
            changes.clear_external_id = True
        elif not isinstance(value, str):
            raise invalid("externalId must be a string.")
        else:
            changes.external_id = value
    elif attribute == "members":
        if parsed is not None and parsed.selector is not None:
            if op != "remove":
                raise invalid("Only remove takes a members[...] filter.", "invalidPath")
            selector = parsed.selector
            if not (
                isinstance(selector, Compare) and selector.op == "eq" and selector.path.endswith("value")
            ):
                raise invalid('Use members[value eq "<user id>"] to name a member.', "invalidFilter")
            changes.remove.append(str(selector.value))
        elif op == "remove":
            if value is None:
                raise ScimError(400, "Removing all members in one request is not supported.", "invalidValue")
            changes.remove.extend(_member_ids(value, "members"))
        elif op == "replace":
            changes.replace_members = _member_ids(value, "members") if value else []
        else:
            changes.add.extend(_member_ids(value, "members"))
    elif attribute in ("schemas", "id", "meta"):
        raise invalid(f"{attribute} cannot be changed.", "mutability")
    else:
        raise invalid(
            f"Group attribute {attribute} cannot be patched: IAM Identity Center patches displayName, "
            "externalId and members.",
            "invalidPath",
        )
