"""SCIM filters (RFC 7644 §3.4.2.2), PATCH paths and operations (§3.5.2), and the User mapping."""

from __future__ import annotations

from typing import Any

import pytest

from iamd.scim.filters import MAX_FILTER, Compare, FilterError, Logic, matches, parse_filter, parse_path
from iamd.scim.patch import operations_of, patch_group, patch_user
from iamd.scim.resources import ENTERPRISE_URN, PATCH_URN, ScimError, project, user_from_scim

USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "u1",
    "userName": "Alice@Example.com",
    "displayName": "Alice",
    "name": {"givenName": "Alice", "familyName": "Liddell"},
    "emails": [{"value": "alice@example.com", "type": "work", "primary": True}],
    "active": True,
}


def _values(resource: dict[str, Any]) -> Any:
    from iamd.scim.handlers import _values as values

    return values(resource)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "alice@example.com"', True),  # userName ignores case
        ('id eq "U1"', False),  # id is case-exact
        ('emails.value co "@example"', True),
        ('emails[type eq "work" and value sw "alice"]', True),
        ('emails eq "alice@example.com"', True),
        ('name.familyName ew "dell" and active eq true', True),
        ('displayName eq "Bob" or name.givenName eq "Alice"', True),
        ('not (displayName eq "Alice")', False),
        ("title pr", False),
        ('title ne "x"', True),
    ],
)
def test_filters_match_as_the_rfc_says(text: str, expected: bool) -> None:
    assert matches(parse_filter(text), _values(USER)) is expected


def test_filter_structure_and_errors() -> None:
    node = parse_filter('userName eq "a" and externalId eq "b"')
    assert isinstance(node, Logic) and node.left == Compare("username", "eq", "a")
    for bad in ('userName zz "a"', "userName eq", '(userName eq "a"', "userName eq a b", ""):
        with pytest.raises(FilterError):
            parse_filter(bad)
    with pytest.raises(FilterError):
        parse_filter('userName eq "' + "a" * MAX_FILTER + '"')
    with pytest.raises(FilterError, match="nests deeper"):  # not a RecursionError (a 500)
        parse_filter("(" * 400 + 'userName eq "a"' + ")" * 400)
    with pytest.raises(FilterError):
        parse_filter('emails[type eq "a" and x[y eq "b"]]')
    assert matches(parse_filter("(" * 10 + 'userName eq "alice@example.com"' + ")" * 10), _values(USER))


def test_paths() -> None:
    path = parse_path('emails[type eq "work"].value')
    assert path.attribute == "emails" and path.sub == "value" and path.selector is not None
    assert parse_path("name.givenName").sub == "givenname"
    assert parse_path(f"{ENTERPRISE_URN}:department").attribute == f"{ENTERPRISE_URN.lower()}:department"


def test_patch_user_creates_a_typed_item_when_none_matches() -> None:
    ops = operations_of(
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555"},
                {"op": "Replace", "path": "name.givenName", "value": "Al"},
                {"op": "remove", "path": 'emails[type eq "work"]'},
            ],
        }
    )
    patched = patch_user(USER, ops)
    assert patched["phoneNumbers"] == [{"type": "work", "value": "+1 555"}]
    assert patched["name"]["givenName"] == "Al" and patched["emails"] == []
    assert USER["name"]["givenName"] == "Alice"  # the input is not changed


def test_patch_messages_are_checked() -> None:
    with pytest.raises(ScimError):
        operations_of({"schemas": [], "Operations": [{"op": "add", "value": {}}]})
    with pytest.raises(ScimError):
        operations_of({"schemas": [PATCH_URN], "Operations": [{"op": "remove"}]})
    with pytest.raises(ScimError):
        operations_of({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "x"}] * 101})


def test_patch_group_collects_member_changes() -> None:
    changes = patch_group(
        [
            ("add", "members", [{"value": "u1"}, {"value": "u2"}]),
            ("remove", 'members[value eq "u3"]', None),
            ("replace", "displayName", "Ops"),
        ]
    )
    assert changes.add == ["u1", "u2"] and changes.remove == ["u3"] and changes.display_name == "Ops"
    with pytest.raises(ScimError):
        patch_group([("remove", "members", None)])
    with pytest.raises(ScimError):
        patch_group([("replace", "description", "x")])


def test_user_mapping_keeps_identity_center_rules() -> None:
    user_name, attributes, active, external = user_from_scim({**USER, "externalId": "e1", "active": "False"})
    assert user_name == "Alice@Example.com" and active is False and external == "e1"
    assert attributes["Emails"] == [{"Value": "alice@example.com", "Type": "work", "Primary": True}]
    with pytest.raises(ScimError, match="displayName"):
        user_from_scim({k: v for k, v in USER.items() if k != "displayName"})
    with pytest.raises(ScimError, match="single value"):
        user_from_scim({**USER, "emails": [{"value": "a@x"}, {"value": "b@x"}]})
    with pytest.raises(ScimError, match="no attribute"):
        user_from_scim({**USER, "shoeSize": 42})


def test_projection_keeps_id_schemas_and_meta() -> None:
    resource = {**USER, "meta": {"resourceType": "User"}}
    only = project(resource, "userName,name.givenName", None)
    assert set(only) == {"schemas", "id", "meta", "userName", "name"} and only["name"] == {
        "givenName": "Alice"
    }
    without = project(resource, None, "emails,name.familyName")
    assert "emails" not in without and without["name"] == {"givenName": "Alice"} and "id" in without
