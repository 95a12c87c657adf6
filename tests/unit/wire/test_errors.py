"""The error hierarchy: codes, statuses, faults, and errors declared by service models."""

from __future__ import annotations

import inspect

import pytest

import iamd.wire.errors as errors_module
from iamd.wire import (
    AccessDenied,
    AuthenticationError,
    AwsError,
    ClientError,
    DeleteConflict,
    EntityAlreadyExists,
    ExpiredToken,
    IncompleteSignature,
    InternalFailure,
    InvalidAction,
    InvalidClientTokenId,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    MissingAuthenticationToken,
    NoSuchEntity,
    RequestExpired,
    ServerError,
    SignatureDoesNotMatch,
    UnsupportedOperation,
    ValidationError,
    Violation,
    modeled_error,
)

from .helpers import CATALOG


@pytest.mark.parametrize(
    ("error", "code", "status", "fault"),
    [
        (ValidationError(), "ValidationError", 400, "Sender"),
        (NoSuchEntity(), "NoSuchEntity", 404, "Sender"),
        (EntityAlreadyExists(), "EntityAlreadyExists", 409, "Sender"),
        (LimitExceeded(), "LimitExceeded", 409, "Sender"),
        (DeleteConflict(), "DeleteConflict", 409, "Sender"),
        (MalformedPolicyDocument(), "MalformedPolicyDocument", 400, "Sender"),
        (InvalidInput(), "InvalidInput", 400, "Sender"),
        (AccessDenied(), "AccessDenied", 403, "Sender"),
        (InvalidClientTokenId(), "InvalidClientTokenId", 403, "Sender"),
        (SignatureDoesNotMatch(), "SignatureDoesNotMatch", 403, "Sender"),
        (MissingAuthenticationToken(), "MissingAuthenticationToken", 403, "Sender"),
        (IncompleteSignature(), "IncompleteSignature", 400, "Sender"),
        (ExpiredToken(), "ExpiredToken", 403, "Sender"),
        (RequestExpired(), "RequestExpired", 400, "Sender"),
        (UnsupportedOperation(), "UnsupportedOperation", 400, "Sender"),
        (InvalidAction(), "InvalidAction", 400, "Sender"),
        (InternalFailure(), "InternalFailure", 500, "Receiver"),
    ],
)
def test_common_errors_have_aws_codes_and_statuses(
    error: AwsError, code: str, status: int, fault: str
) -> None:
    assert (error.code, error.status, error.fault) == (code, status, fault)


def test_authentication_errors_share_a_base() -> None:
    for cls in (MissingAuthenticationToken, IncompleteSignature, InvalidClientTokenId, SignatureDoesNotMatch):
        assert issubclass(cls, AuthenticationError)
        assert issubclass(cls, ClientError)
    assert issubclass(InternalFailure, ServerError)


def test_default_messages_are_aws_texts() -> None:
    assert InvalidClientTokenId().message == "The security token included in the request is invalid."
    assert ExpiredToken().message == "The security token included in the request is expired"
    assert (
        str(NoSuchEntity("The user with name bob cannot be found."))
        == "The user with name bob cannot be found."
    )


def test_instance_overrides_class_defaults() -> None:
    error = ClientError("slow down", code="Throttling", status=400)
    assert (error.code, error.json_code, error.wire_json_code) == ("Throttling", None, "Throttling")
    assert NoSuchEntity().wire_json_code == "NoSuchEntityException"


def test_validation_error_counts_its_violations() -> None:
    one = ValidationError(violations=[Violation("userName", None, "Member must not be null")])
    assert one.message == (
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: "
        "Member must not be null"
    )
    two = ValidationError(
        violations=[Violation("a", "x", "c1"), Violation("b", "secret", "c2", sensitive=True)],
    )
    assert two.message == (
        "2 validation errors detected: Value 'x' at 'a' failed to satisfy constraint: c1; "
        "Value at 'b' failed to satisfy constraint: c2"
    )


def test_modeled_error_takes_code_and_status_from_the_model() -> None:
    error = modeled_error(CATALOG.service("iam"), "NoSuchEntityException", "gone")
    assert (error.code, error.json_code, error.status, error.sender_fault) == (
        "NoSuchEntity",
        "NoSuchEntityException",
        404,
        True,
    )
    failure = modeled_error(CATALOG.service("iam"), "ServiceFailureException")
    assert (failure.code, failure.status, failure.fault) == ("ServiceFailure", 500, "Receiver")
    unmodeled_status = modeled_error(
        CATALOG.service("organizations"), "ConcurrentModificationException", "busy"
    )
    assert (unmodeled_status.code, unmodeled_status.status) == ("ConcurrentModificationException", 400)


def test_modeled_error_rejects_shapes_that_are_not_exceptions() -> None:
    with pytest.raises(ValueError, match="not an exception"):
        modeled_error(CATALOG.service("iam"), "User")


def test_module_docstring_draws_every_error_class() -> None:
    doc = errors_module.__doc__ or ""
    classes = [
        name
        for name, obj in inspect.getmembers(errors_module, inspect.isclass)
        if issubclass(obj, AwsError) and obj.__module__ == errors_module.__name__
    ]
    assert classes
    assert [name for name in classes if name not in doc] == []
