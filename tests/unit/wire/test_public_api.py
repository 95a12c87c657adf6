"""The curated public API of iamd.wire does not drift silently."""

from __future__ import annotations

import iamd.wire

EXPECTED = {
    "DEFAULT_SERVICES",
    "AccessDenied",
    "AuthenticationError",
    "AwsError",
    "ClientError",
    "CredentialScope",
    "DeleteConflict",
    "EntityAlreadyExists",
    "ExpiredToken",
    "Headers",
    "HttpRequest",
    "HttpResponse",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidClientTokenId",
    "InvalidInput",
    "LimitExceeded",
    "MalformedPolicyDocument",
    "MissingAction",
    "MissingAuthenticationToken",
    "NoSuchEntity",
    "OperationRef",
    "Protocol",
    "RequestEntityTooLarge",
    "RequestExpired",
    "SecretLookup",
    "SerializationError",
    "ServerError",
    "ServiceCatalog",
    "ServiceUnavailable",
    "SigV4Verifier",
    "SignatureDoesNotMatch",
    "SignedRequest",
    "Throttling",
    "UnsupportedOperation",
    "ValidationError",
    "VerifiedIdentity",
    "Violation",
    "check_scope",
    "has_signature",
    "load_service_model",
    "modeled_error",
    "parse_signature",
    "protocol_for",
    "requires_auth",
    "validate",
}


def test_exported_names_are_the_documented_ones() -> None:
    assert set(iamd.wire.__all__) == EXPECTED


def test_every_exported_name_exists() -> None:
    for name in iamd.wire.__all__:
        assert hasattr(iamd.wire, name), name
