"""Certificate attribute mappings: which fields of the end-entity certificate become the session's
principal tags (``x509Subject/CN``, ``x509Issuer/O``, ``x509SAN/DNS``, ``x509SAN/Name/CN`` …).

A profile maps, per certificate field, a list of specifiers:

- ``x509Subject`` and ``x509Issuer``: an RDN short name (``CN``, ``OU``, ``O``, ``L``, ``ST``, ``C``,
  ``DC``, ``UID``), or ``*`` for all of them;
- ``x509SAN``: ``DNS`` (the first DNS name), ``URI`` (the first URI), ``Name/*`` (every supported RDN of
  the first directory name; ``Name`` and ``Name/`` mean the same and are stored as ``Name/*``) or
  ``Name/<RDN>``.

Each mapped attribute takes the first value of its kind. AWS's defaults (``*``, ``*`` and
``DNS``/``URI``/``Name/*``) apply until PutAttributeMapping or DeleteAttributeMapping change them.
PutAttributeMapping replaces the rules of one field; DeleteAttributeMapping removes some specifiers
of a field (or the whole field when it names none).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from iamd.services.rolesanywhere.common import validation

__all__ = ["CERTIFICATE_FIELDS", "RDN_KEYS", "certificate_attributes", "specifiers_of"]

CERTIFICATE_FIELDS: Final = ("x509Subject", "x509Issuer", "x509SAN")
RDN_KEYS: Final = (
    ("CN", NameOID.COMMON_NAME),
    ("OU", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("O", NameOID.ORGANIZATION_NAME),
    ("L", NameOID.LOCALITY_NAME),
    ("ST", NameOID.STATE_OR_PROVINCE_NAME),
    ("C", NameOID.COUNTRY_NAME),
    ("DC", NameOID.DOMAIN_COMPONENT),
    ("UID", NameOID.USER_ID),
)
_RDN_NAMES: Final = tuple(key for key, _ in RDN_KEYS)


def _check_field(field: str) -> None:
    if field not in CERTIFICATE_FIELDS:
        raise validation(
            f"Unknown certificateField '{field}': it must be one of {', '.join(CERTIFICATE_FIELDS)}."
        )


def _specifier(field: str, raw: str) -> str:
    value = raw.strip()
    if field == "x509SAN":
        if value in ("DNS", "URI"):
            return value
        if value in ("Name", "Name/", "Name/*"):
            return "Name/*"
        if value.startswith("Name/") and value[len("Name/") :] in _RDN_NAMES:
            return value
        supported = "DNS, URI, Name/*, " + ", ".join(f"Name/{k}" for k in _RDN_NAMES)
    else:
        if value == "*" or value in _RDN_NAMES:
            return value
        supported = "*, " + ", ".join(_RDN_NAMES)
    raise validation(f"Unsupported specifier '{raw}' for certificateField {field}; supported: {supported}.")


def specifiers_of(field: str, raw: Iterable[str]) -> tuple[str, ...]:
    """The specifiers of ``field``, checked and normalized (``Name`` -> ``Name/*``), without
    repeats, in the order given. ValidationException names an unknown field or specifier."""
    _check_field(field)
    out: list[str] = []
    for item in raw:
        specifier = _specifier(field, str(item))
        if specifier not in out:
            out.append(specifier)
    return tuple(out)


def _name_values(name: x509.Name, prefix: str, wanted: Collection[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, oid in RDN_KEYS:
        if "*" not in wanted and key not in wanted:
            continue
        found = name.get_attributes_for_oid(oid)
        if found:
            value = found[0].value
            values[f"{prefix}/{key}"] = value if isinstance(value, str) else value.decode("utf-8", "replace")
    return values


def certificate_attributes(
    certificate: x509.Certificate, mappings: Mapping[str, Collection[str]]
) -> dict[str, str]:
    """The attributes of ``certificate`` that ``mappings`` selects, keyed as principal tags."""
    values = _name_values(certificate.subject, "x509Subject", mappings.get("x509Subject", ()))
    values.update(_name_values(certificate.issuer, "x509Issuer", mappings.get("x509Issuer", ())))
    san_rules = mappings.get("x509SAN", ())
    if not san_rules:
        return values
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return values
    dns = san.get_values_for_type(x509.DNSName)
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    names = san.get_values_for_type(x509.DirectoryName)
    if dns and "DNS" in san_rules:
        values["x509SAN/DNS"] = dns[0]
    if uris and "URI" in san_rules:
        values["x509SAN/URI"] = uris[0]
    name_rules = {rule[len("Name/") :] for rule in san_rules if rule.startswith("Name/")}
    if names and name_rules:
        values.update(_name_values(names[0], "x509SAN/Name", name_rules))
    return values
