"""The discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas, as
iamd serves them: the User, Group and enterprise User schemas (RFC 7643 §4, §8.7), limited to
what IAM Identity Center keeps."""

from __future__ import annotations

from typing import Any, Final

from iamd.scim.resources import ENTERPRISE_URN, GROUP_URN, USER_URN

SCHEMA_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
CONFIG_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
MAX_RESULTS: Final = 100
MAX_OPERATIONS: Final = 100
MAX_BODY: Final = 256 * 1024


def attr(
    name: str,
    kind: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    exact: bool = False,
    mutability: str = "readWrite",
    returned: str = "default",
    uniqueness: str = "none",
    sub: list[dict[str, Any]] | None = None,
    description: str = "",
    canonical: list[str] | None = None,
    refs: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "mutability": mutability,
        "returned": returned,
    }
    if kind in ("string", "reference"):
        out["caseExact"] = exact
        out["uniqueness"] = uniqueness
    if sub is not None:
        out["subAttributes"] = sub
    if canonical is not None:
        out["canonicalValues"] = canonical
    if refs is not None:
        out["referenceTypes"] = refs
    return out


def _typed(kind_values: list[str]) -> list[dict[str, Any]]:
    return [
        attr("value", required=True),
        attr("type", canonical=kind_values),
        attr("primary", "boolean"),
    ]


USER_ATTRIBUTES: Final = [
    attr("userName", required=True, uniqueness="server", description="Unique identifier, used to sign in."),
    attr(
        "name",
        "complex",
        required=True,
        sub=[
            attr("formatted"),
            attr("familyName", required=True),
            attr("givenName", required=True),
            attr("middleName"),
            attr("honorificPrefix"),
            attr("honorificSuffix"),
        ],
    ),
    attr("displayName", required=True),
    attr("nickName"),
    attr("profileUrl", "reference", refs=["external"]),
    attr("title"),
    attr("userType"),
    attr("preferredLanguage"),
    attr("locale"),
    attr("timezone"),
    attr("active", "boolean"),
    attr("emails", "complex", multi=True, sub=_typed(["work", "home", "other"])),
    attr(
        "phoneNumbers", "complex", multi=True, sub=_typed(["work", "home", "mobile", "fax", "pager", "other"])
    ),
    attr(
        "addresses",
        "complex",
        multi=True,
        sub=[
            attr("formatted"),
            attr("streetAddress"),
            attr("locality"),
            attr("region"),
            attr("postalCode"),
            attr("country"),
            attr("type", canonical=["work", "home", "other"]),
            attr("primary", "boolean"),
        ],
    ),
    attr(
        "groups",
        "complex",
        multi=True,
        mutability="readOnly",
        sub=[
            attr("value", mutability="readOnly"),
            attr("$ref", "reference", mutability="readOnly", refs=["Group"]),
            attr("display", mutability="readOnly"),
            attr("type", mutability="readOnly", canonical=["direct"]),
        ],
    ),
    attr("roles", "complex", multi=True, sub=_typed([])),
]
GROUP_ATTRIBUTES: Final = [
    attr("displayName", required=True, uniqueness="server"),
    attr(
        "members",
        "complex",
        multi=True,
        sub=[
            attr("value", exact=True, mutability="immutable"),
            attr("$ref", "reference", mutability="immutable", refs=["User"]),
            attr("display", mutability="readOnly"),
            attr("type", mutability="immutable", canonical=["User"]),
        ],
    ),
]
ENTERPRISE_ATTRIBUTES: Final = [
    attr("employeeNumber"),
    attr("costCenter"),
    attr("organization"),
    attr("division"),
    attr("department"),
    attr(
        "manager",
        "complex",
        sub=[
            attr("value", required=True),
            attr("$ref", "reference", refs=["User"]),
            attr("displayName", mutability="readOnly"),
        ],
    ),
]


def _schema(
    urn: str, name: str, description: str, attributes: list[dict[str, Any]], base: str
) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_URN],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
    }


def schemas(base: str) -> list[dict[str, Any]]:
    return [
        _schema(USER_URN, "User", "User Account", USER_ATTRIBUTES, base),
        _schema(GROUP_URN, "Group", "Group", GROUP_ATTRIBUTES, base),
        _schema(ENTERPRISE_URN, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRIBUTES, base),
    ]


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE_URN],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_URN,
            "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE_URN],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP_URN,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [CONFIG_URN],
        "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The access token that `iamd sso scim-token` prints, as Authorization: Bearer",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }
