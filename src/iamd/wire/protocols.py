"""One instance of each wire protocol, and the one a service model speaks."""

from __future__ import annotations

from botocore.model import ServiceModel

from iamd.wire.base import Protocol
from iamd.wire.json import JsonProtocol
from iamd.wire.models import protocol_name
from iamd.wire.query import QueryProtocol
from iamd.wire.restjson import RestJsonProtocol

__all__ = ["PROTOCOLS", "protocol_for"]

PROTOCOLS: dict[str, Protocol] = {
    "query": QueryProtocol(),
    "json": JsonProtocol(),
    "rest-json": RestJsonProtocol(),
}


def protocol_for(service: ServiceModel) -> Protocol:
    """The protocol that decodes and encodes ``service``'s requests and responses."""
    name = protocol_name(service)
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"{service.service_name} speaks {name!r}, which iamd does not support") from None
