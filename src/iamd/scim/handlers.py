"""What each SCIM request does to the identity store, inside one transaction.

``dispatch`` returns (HTTP status, JSON body or None, headers) or raises
:class:`~iamd.scim.resources.ScimError`. Identity Center's rules hold: unique user names,
primary emails, group names and external ids (409 ``uniqueness``), at most 100 members added or
removed per group request, removing all members at once refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from iamd.scim.filters import Compare, Filter, FilterError, Logic, parse_filter
from iamd.scim.filters import matches as filter_matches
from iamd.scim.patch import operations_of, patch_group, patch_user
from iamd.scim.resources import (
    GROUP_URN,
    LIST_URN,
    SCIM_ISSUER,
    ScimError,
    group_resource,
    invalid,
    project,
    text,
    user_from_scim,
    user_resource,
)
from iamd.scim.schemas import MAX_OPERATIONS, MAX_RESULTS, resource_types, schemas, service_provider_config
from iamd.services.identitycenter.identitystore.common import RESERVED_NAMES
from iamd.store.errors import AlreadyExists, InvalidMarker, NotFound
from iamd.store.identity_store import ExternalId, IdsGroupRecord, IdsUserRecord, NameTest, Taken
from iamd.store.paging import decode_marker, encode_marker
from iamd.store.records import Page
from iamd.store.unit import UnitOfWork

if TYPE_CHECKING:
    from iamd.scim.app import Call

Answer = tuple[int, Any, dict[str, str]]
SCANNED: Final = 50_000
"""The most users or groups a filter that no index answers looks through (a store's quota)."""
CREATED_BY: Final = "SCIM"


def dispatch(uow: UnitOfWork, call: Call) -> Answer:
    """The answer to ``call``, with ``attributes``/``excludedAttributes`` applied to the
    resources it returns."""
    try:
        status, body, headers = _dispatch(uow, call)
    except NotFound as exc:  # the store's own check, e.g. an entity gone since it was read
        raise ScimError(404, f"{exc}.") from None
    attributes, excluded = call.query.get("attributes"), call.query.get("excludedAttributes")
    if isinstance(body, dict) and (attributes or excluded) and call.parts[:1] in (("Users",), ("Groups",)):
        if "Resources" in body:
            body["Resources"] = [project(r, attributes, excluded) for r in body["Resources"]]
        else:
            body = project(body, attributes, excluded)
    return status, body, headers


def _dispatch(uow: UnitOfWork, call: Call) -> Answer:
    head = call.parts[0] if call.parts else ""
    rest = call.parts[1:]
    if len(rest) > 1:
        raise ScimError(404, f"No resource at /{'/'.join(call.parts)}.")
    method = call.method
    if head == "ServiceProviderConfig" and not rest and method == "GET":
        return 200, service_provider_config(call.base), {}
    if head == "ResourceTypes" and method == "GET":
        return _one_or_list(resource_types(call.base), rest, "id")
    if head == "Schemas" and method == "GET":
        return _one_or_list(schemas(call.base), rest, "id")
    if head == "Users":
        return _users(uow, call, rest[0] if rest else None)
    if head == "Groups":
        return _groups(uow, call, rest[0] if rest else None)
    if head in ("Me", "Bulk", ".search"):
        raise ScimError(501, f"/{head} is not supported, as in IAM Identity Center.")
    if head in ("ServiceProviderConfig", "ResourceTypes", "Schemas"):
        raise ScimError(405, f"{method} is not allowed on /{head}.")
    raise ScimError(404, f"No resource at /{'/'.join(call.parts)}.")


def _one_or_list(items: list[dict[str, Any]], rest: tuple[str, ...], key: str) -> Answer:
    if rest:
        found = next((i for i in items if i[key] == rest[0]), None)
        if found is None:
            raise ScimError(404, f"{rest[0]} not found.")
        return 200, found, {}
    return (
        200,
        {
            "schemas": [LIST_URN],
            "totalResults": len(items),
            "itemsPerPage": len(items),
            "startIndex": 1,
            "Resources": items,
        },
        {},
    )


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise invalid("The request body must be a JSON object.", "invalidSyntax")
    return body


@dataclass(frozen=True, slots=True)
class Paging:
    """How a listing is paged: by index (RFC 7644 §3.4.2.4: ``startIndex``, 1-based, below 1
    counts as 1; ``count`` 0–100, default 100) or, when the request names a ``cursor`` (empty for
    the first page), by cursor as AWS's SCIM and RFC 9865 page (``count`` 1–100; the answer has
    ``nextCursor`` while more follow, and no ``totalResults`` or ``startIndex``)."""

    start: int
    count: int
    cursor: str | None


_CURSOR: Final = re.compile(r"[-a-zA-Z0-9+=/:_]{0,2048}")
"""A cursor as AWS documents it (the characters of the ones iamd gives), bounded."""


def _paging(query: Mapping[str, str]) -> Paging:
    try:
        start = int(query.get("startIndex", "1"))
        count = int(query.get("count", str(MAX_RESULTS)))
    except ValueError:
        raise invalid("startIndex and count must be integers.") from None
    cursor = query.get("cursor")
    if cursor is None:
        return Paging(max(start, 1), min(max(count, 0), MAX_RESULTS), None)
    if "startIndex" in query:
        raise invalid("startIndex and cursor cannot be used together: page by one or the other.")
    if not _CURSOR.fullmatch(cursor):
        raise invalid("The cursor is not one this service gave.", "invalidCursor")
    if count < 1:
        raise invalid(f"count must be between 1 and {MAX_RESULTS} when paging by cursor.")
    return Paging(1, min(count, MAX_RESULTS), cursor)


def _cursor_list(resources: list[dict[str, Any]], next_cursor: str | None) -> Answer:
    body: dict[str, Any] = {"schemas": [LIST_URN], "itemsPerPage": len(resources), "Resources": resources}
    if next_cursor is not None:
        body["nextCursor"] = next_cursor
    return 200, body, {}


def _database_page(
    paging: Paging,
    by_marker: Callable[[str | None], Page[Any]],
    count: Callable[[], int],
    window: Callable[[int], Sequence[Any]],
    render: Callable[[Sequence[Any]], list[dict[str, Any]]],
) -> Answer:
    """A page the database answers whole: by cursor, a page the store keys by marker (a cursor is
    a marker of the store's: 400 if not); by index, the count and the window from the offset."""
    if paging.cursor is not None:
        try:
            page = by_marker(paging.cursor or None)
        except InvalidMarker:
            raise invalid("The cursor is not one this service gave.", "invalidCursor") from None
        return _cursor_list(render(page.items), page.marker)
    total = count()
    return _list(render(window(min(paging.start - 1, total))), total, paging.start)


def _matched_page(
    paging: Paging,
    matching: list[Any],
    key: Callable[[Any], tuple[str, ...]],
    render: Callable[[Sequence[Any]], list[dict[str, Any]]],
) -> Answer:
    """A page of the resources a filter matched (in the listing's order, ``key``), by index or
    by cursor; a cursor here is the key of the last resource of the page before."""
    if paging.cursor is None:
        chosen = matching[paging.start - 1 : paging.start - 1 + paging.count]
        return _list(render(chosen), len(matching), paging.start)
    ordered = sorted(matching, key=key)
    if paging.cursor:
        try:
            after = decode_marker(paging.cursor, len(key(ordered[0]))) if ordered else ()
        except InvalidMarker:
            raise invalid("The cursor is not one this service gave.", "invalidCursor") from None
        ordered = [item for item in ordered if key(item) > after]
    chosen = ordered[: paging.count]
    more = len(ordered) > paging.count
    return _cursor_list(render(chosen), encode_marker(key(chosen[-1])) if more else None)


def _filter(query: Mapping[str, str]) -> Filter | None:
    raw = query.get("filter")
    if raw is None or not raw.strip():
        return None
    try:
        return parse_filter(raw)
    except FilterError as exc:
        raise invalid(f"Invalid filter: {exc}.", "invalidFilter") from None


def _list(resources: list[dict[str, Any]], total: int, start: int) -> Answer:
    return (
        200,
        {
            "schemas": [LIST_URN],
            "totalResults": total,
            "itemsPerPage": len(resources),
            "startIndex": start,
            "Resources": resources,
        },
        {},
    )


def _equals(node: Filter | None, path: str) -> str | None:
    """The value of ``path eq "value"`` when the filter is exactly that (an indexed lookup)."""
    if isinstance(node, Compare) and node.op == "eq" and node.path == path and isinstance(node.value, str):
        return node.value
    if isinstance(node, Logic) and node.op == "and":
        return _equals(node.left, path) or _equals(node.right, path)
    return None


_NAME_OPERATORS: Final = frozenset({"eq", "sw", "ew", "co"})


def _name_test(node: Filter | None, path: str) -> NameTest | None:
    """The filter as a test of the name column at ``path`` (``userName``, a group's
    ``displayName``), when it is exactly one such comparison with a text: the database answers it,
    paging included."""
    if (
        isinstance(node, Compare)
        and node.path == path
        and node.op in _NAME_OPERATORS
        and isinstance(node.value, str)
    ):
        return node.op, node.value  # type: ignore[return-value]  # checked just above
    return None


def _narrowing(node: Filter | None, path: str) -> NameTest | None:
    """A name test every resource the filter matches passes: the filter itself, or a comparison
    it requires through ``and``. The database narrows the resources to those; the filter then
    decides among them."""
    if (test := _name_test(node, path)) is not None:
        return test
    if isinstance(node, Logic) and node.op == "and":
        return _narrowing(node.left, path) or _narrowing(node.right, path)
    return None


def _values(resource: Mapping[str, Any]) -> Callable[[str], list[Any]]:
    """A filter's view of a resource: every value at a lower-cased path."""
    lower = _lower(resource)

    def get(path: str) -> list[Any]:
        if path.startswith("urn:"):
            urn, _, attr = path.rpartition(":")
            node: Any = lower.get(urn)
            parts = attr.split(".")
        else:
            node = lower
            parts = path.split(".")
        level: list[Any] = [node]
        for part in parts:
            following: list[Any] = []
            for item in level:
                if isinstance(item, dict) and part in item:
                    value = item[part]
                    following.extend(value if isinstance(value, list) else [value])
                elif isinstance(item, dict) and part == "value" and "value" not in item:
                    continue
            level = following
        if len(parts) == 1 and level and all(isinstance(v, dict) for v in level):
            return [v.get("value") for v in level if "value" in v]  # emails eq "…" means emails.value
        return level

    return get


def _lower(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k).lower(): _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


# -- users ----------------------------------------------------------------------------------------


def _user(uow: UnitOfWork, store_id: str, user_id: str) -> IdsUserRecord:
    user = uow.identity_store.find_user(store_id, user_id)
    if user is None:
        raise ScimError(404, f"User {user_id} not found.")
    return user


def _user_json(uow: UnitOfWork, user: IdsUserRecord, base: str) -> dict[str, Any]:
    return user_resource(user, base, uow.identity_store.groups_of_user(user.store_id, user.id))


def _users_json(uow: UnitOfWork, users: Sequence[IdsUserRecord], call: Call) -> list[dict[str, Any]]:
    """A page of users, their groups read at once."""
    groups = uow.identity_store.groups_of_users(call.token.store_id, [u.id for u in users])
    return [user_resource(u, call.base, groups[u.id]) for u in users]


def _taken(exc: Taken) -> ScimError:
    return ScimError(
        409, f"Refused to create a new, duplicate resource: {exc.attribute} is taken.", "uniqueness"
    )


def _external(value: str | None) -> list[ExternalId]:
    return [] if value is None else [ExternalId(SCIM_ISSUER, value)]


def _check_user_name(user_name: str) -> None:
    if user_name.casefold() in RESERVED_NAMES:
        raise invalid(f"userName {user_name} is reserved.")
    if len(user_name) > 128:
        raise invalid("userName must be at most 128 characters.")


def _users(uow: UnitOfWork, call: Call, user_id: str | None) -> Answer:
    store_id = call.token.store_id
    repo = uow.identity_store
    if user_id is None and call.method == "GET":
        return _list_users(uow, call)
    if user_id is None and call.method == "POST":
        user_name, attributes, active, external = user_from_scim(_object(call.body))
        _check_user_name(user_name)
        try:
            user = repo.create_user(
                store_id,
                user_name=user_name,
                attributes=attributes,
                created_at=call.now,
                created_by=CREATED_BY,
                external_ids=_external(external),
                status="ENABLED" if active else "DISABLED",
            )
        except Taken as exc:
            raise _taken(exc) from None
        body = user_resource(user, call.base)
        return 201, body, {"Location": body["meta"]["location"]}
    if user_id is None:
        raise ScimError(405, f"{call.method} is not allowed on /Users.")
    user = _user(uow, store_id, user_id)
    if call.method == "GET":
        return 200, _user_json(uow, user, call.base), {}
    if call.method == "DELETE":
        repo.delete_user(store_id, user.id)
        return 204, None, {}
    if call.method == "PUT":
        return _replace_user(uow, call, user, _object(call.body))
    if call.method == "PATCH":
        operations = operations_of(_object(call.body))
        patched = patch_user(user_resource(user, call.base), operations)
        return _replace_user(uow, call, user, patched)
    raise ScimError(405, f"{call.method} is not allowed on /Users/{user_id}.")


def _replace_user(uow: UnitOfWork, call: Call, user: IdsUserRecord, body: Mapping[str, Any]) -> Answer:
    user_name, attributes, active, external = user_from_scim(body)
    _check_user_name(user_name)
    other = [e for e in user.external_ids if e.issuer != SCIM_ISSUER]
    try:
        updated = uow.identity_store.update_user(
            user.store_id,
            user.id,
            user_name=user_name,
            attributes=attributes,
            status="ENABLED" if active else "DISABLED",
            external_ids=[*other, *_external(external)],
            updated_at=call.now,
            updated_by=CREATED_BY,
        )
    except Taken as exc:
        raise _taken(exc) from None
    return 200, _user_json(uow, updated, call.base), {}


def _list_users(uow: UnitOfWork, call: Call) -> Answer:
    store_id = call.token.store_id
    repo = uow.identity_store
    node = _filter(call.query)
    paging = _paging(call.query)
    named = _name_test(node, "username")
    if node is None or named is not None:
        return _database_page(
            paging,
            lambda marker: repo.list_users(
                store_id, user_name_test=named, marker=marker, max_items=paging.count
            ),
            lambda: repo.count_users(store_id, user_name=named),
            lambda offset: repo.users_window(store_id, user_name=named, offset=offset, limit=paging.count),
            lambda users: _users_json(uow, users, call),
        )
    candidates: list[IdsUserRecord]
    if (name := _equals(node, "username")) is not None:
        found = repo.find_user_by_name(store_id, name)
        candidates = [found] if found else []
    elif (external := _equals(node, "externalid")) is not None:
        owner = repo.find_by_external_id(store_id, "user", ExternalId(SCIM_ISSUER, external))
        found = repo.find_user(store_id, owner) if owner else None
        candidates = [found] if found else []
    elif (wanted := _equals(node, "id")) is not None:
        found = repo.find_user(store_id, wanted)
        candidates = [found] if found else []
    else:
        narrowed = _narrowing(node, "username")
        candidates = list(repo.users_window(store_id, user_name=narrowed, offset=0, limit=SCANNED))
    groups = repo.groups_of_users(store_id, [u.id for u in candidates]) if "groups" in repr(node) else {}
    matching = []
    for user in candidates:
        if filter_matches(node, _values(user_resource(user, call.base, groups.get(user.id, ())))):
            matching.append(user)
    return _matched_page(
        paging,
        matching,
        lambda user: (user.user_name.casefold(), user.id),
        lambda chosen: _users_json(uow, chosen, call),
    )


# -- groups ---------------------------------------------------------------------------------------


def _group(uow: UnitOfWork, store_id: str, group_id: str) -> IdsGroupRecord:
    group = uow.identity_store.find_group(store_id, group_id)
    if group is None:
        raise ScimError(404, f"Group {group_id} not found.")
    return group


def _members(uow: UnitOfWork, group: IdsGroupRecord) -> list[tuple[str, str]]:
    return list(uow.identity_store.member_names(group.store_id, group.id))


def _group_json(uow: UnitOfWork, group: IdsGroupRecord, call: Call) -> dict[str, Any]:
    excluded = {a.strip().lower() for a in call.query.get("excludedAttributes", "").split(",")}
    members = None if "members" in excluded else _members(uow, group)
    return group_resource(group, call.base, members)


def _display_name(value: Any) -> str:
    name = text(value, "displayName")
    if name.casefold() in RESERVED_NAMES:
        raise invalid(f"displayName {name} is reserved.")
    return name


def _member_list(body: Mapping[str, Any]) -> list[str]:
    members = body.get("members") or []
    if not isinstance(members, list):
        raise invalid("members must be a list.")
    if len(members) > MAX_OPERATIONS:
        raise invalid(f"A request may name at most {MAX_OPERATIONS} members.", "tooMany")
    out = []
    for item in members:
        if not isinstance(item, Mapping) or not isinstance(item.get("value"), str):
            raise invalid("Each member must be an object with a value (a user id).")
        out.append(item["value"])
    return out


def _add_members(uow: UnitOfWork, call: Call, group: IdsGroupRecord, user_ids: list[str]) -> None:
    for user_id in dict.fromkeys(user_ids):
        if uow.identity_store.find_user(group.store_id, user_id) is None:
            raise invalid(f"Member {user_id} is not a user of this identity store.")
        try:
            uow.identity_store.add_member(
                group.store_id, group.id, user_id, created_at=call.now, created_by=CREATED_BY
            )
        except AlreadyExists:
            continue


def _remove_members(uow: UnitOfWork, group: IdsGroupRecord, user_ids: list[str]) -> None:
    for user_id in dict.fromkeys(user_ids):
        membership = uow.identity_store.find_membership(group.store_id, group.id, user_id)
        if membership is not None:
            uow.identity_store.remove_membership(group.store_id, membership.id)


def _groups(uow: UnitOfWork, call: Call, group_id: str | None) -> Answer:
    store_id = call.token.store_id
    repo = uow.identity_store
    if group_id is None and call.method == "GET":
        return _list_groups(uow, call)
    if group_id is None and call.method == "POST":
        body = _object(call.body)
        values = {str(k).lower(): v for k, v in body.items()}
        if values.get("displayname") is None:
            raise invalid("displayName is required.")
        display_name = _display_name(values["displayname"])
        external = values.get("externalid")
        members = _member_list({"members": values.get("members")})
        try:
            group = repo.create_group(
                store_id,
                display_name=display_name,
                description=None,
                created_at=call.now,
                created_by=CREATED_BY,
                external_ids=_external(None if external is None else text(external, "externalId")),
            )
        except Taken as exc:
            raise _taken(exc) from None
        _add_members(uow, call, group, members)
        resource = _group_json(uow, group, call)
        return 201, resource, {"Location": resource["meta"]["location"]}
    if group_id is None:
        raise ScimError(405, f"{call.method} is not allowed on /Groups.")
    group = _group(uow, store_id, group_id)
    if call.method == "GET":
        return 200, _group_json(uow, group, call), {}
    if call.method == "DELETE":
        repo.delete_group(store_id, group.id)
        return 204, None, {}
    if call.method == "PUT":
        body = {str(k).lower(): v for k, v in _object(call.body).items()}
        if body.get("displayname") is None:
            raise invalid("displayName is required.")
        wanted = _member_list({"members": body.get("members")})
        external = body.get("externalid")
        try:
            group = repo.update_group(
                store_id,
                group.id,
                display_name=_display_name(body["displayname"]),
                external_ids=_keep_other(group, None if external is None else text(external, "externalId")),
                updated_at=call.now,
                updated_by=CREATED_BY,
            )
        except Taken as exc:
            raise _taken(exc) from None
        current = set(repo.member_ids(store_id, group.id))
        _remove_members(uow, group, [m for m in current if m not in wanted])
        _add_members(uow, call, group, [m for m in wanted if m not in current])
        return 200, _group_json(uow, group, call), {}
    if call.method == "PATCH":
        return _patch_group(uow, call, group)
    raise ScimError(405, f"{call.method} is not allowed on /Groups/{group_id}.")


def _keep_other(group: IdsGroupRecord, scim_external: str | None) -> list[ExternalId]:
    return [e for e in group.external_ids if e.issuer != SCIM_ISSUER] + _external(scim_external)


def _patch_group(uow: UnitOfWork, call: Call, group: IdsGroupRecord) -> Answer:
    changes = patch_group(operations_of(_object(call.body)))
    repo = uow.identity_store
    if changes.replace_members is not None and not changes.replace_members:
        raise invalid(
            "Replacing all members with none in one request is not supported; remove them in batches."
        )
    touched = len(changes.add) + len(changes.remove) + len(changes.replace_members or [])
    if touched > MAX_OPERATIONS:
        raise invalid(f"A request may change at most {MAX_OPERATIONS} memberships.", "tooMany")
    external_ids = None
    if changes.external_id is not None or changes.clear_external_id:
        external_ids = _keep_other(
            group, None if changes.clear_external_id else text(changes.external_id, "externalId")
        )
    if changes.display_name is not None or external_ids is not None:
        try:
            group = repo.update_group(
                group.store_id,
                group.id,
                display_name=None if changes.display_name is None else _display_name(changes.display_name),
                external_ids=external_ids,
                updated_at=call.now,
                updated_by=CREATED_BY,
            )
        except Taken as exc:
            raise _taken(exc) from None
    if changes.replace_members is not None:
        current = set(repo.member_ids(group.store_id, group.id))
        _remove_members(uow, group, [m for m in current if m not in changes.replace_members])
        _add_members(uow, call, group, [m for m in changes.replace_members if m not in current])
    _add_members(uow, call, group, changes.add)
    _remove_members(uow, group, changes.remove)
    return 204, None, {}


def _list_groups(uow: UnitOfWork, call: Call) -> Answer:
    store_id = call.token.store_id
    repo = uow.identity_store
    node = _filter(call.query)
    paging = _paging(call.query)
    named = _name_test(node, "displayname")
    if node is None or named is not None:
        return _database_page(
            paging,
            lambda marker: repo.list_groups(
                store_id, display_name_test=named, marker=marker, max_items=paging.count
            ),
            lambda: repo.count_groups(store_id, display_name=named),
            lambda offset: repo.groups_window(
                store_id, display_name=named, offset=offset, limit=paging.count
            ),
            lambda groups: _groups_json(uow, groups, call),
        )
    candidates: list[IdsGroupRecord]
    if (name := _equals(node, "displayname")) is not None:
        found = repo.find_group_by_name(store_id, name)
        candidates = [found] if found else []
    elif (external := _equals(node, "externalid")) is not None:
        owner = repo.find_by_external_id(store_id, "group", ExternalId(SCIM_ISSUER, external))
        found = repo.find_group(store_id, owner) if owner else None
        candidates = [found] if found else []
    elif (member := _equals(node, "members.value")) is not None:
        candidates = list(repo.groups_of_user(store_id, member))
    elif (wanted := _equals(node, "id")) is not None:
        found = repo.find_group(store_id, wanted)
        candidates = [found] if found else []
    else:
        narrowed = _narrowing(node, "displayname")
        candidates = list(repo.groups_window(store_id, display_name=narrowed, offset=0, limit=SCANNED))
    needs_members = "members" in repr(node)
    matching = []
    for group in candidates:
        members = _members(uow, group) if needs_members else []
        if filter_matches(node, _values(group_resource(group, call.base, members))):
            matching.append(group)
    return _matched_page(
        paging, matching, lambda group: (group.id,), lambda chosen: _groups_json(uow, chosen, call)
    )


def _groups_json(uow: UnitOfWork, groups: Sequence[IdsGroupRecord], call: Call) -> list[dict[str, Any]]:
    resources = [_group_json(uow, g, call) for g in groups]
    for resource in resources:
        resource["schemas"] = [GROUP_URN]
    return resources
