"""Helpers shared by the end-to-end tests of policies, roles, providers and enforcement."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.e2e.harness import CLIENT_CONFIG, REGION, Server


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a failed call."""
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def policy(*statements: dict[str, Any]) -> str:
    """A policy document (Version 2012-10-17) with these statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def trust(service: str = "ec2.amazonaws.com") -> str:
    """A trust policy letting ``service`` assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def unvalidated_client(server: Server, service: str = "iam") -> Any:
    """An administrator's client (IAM unless told) that sends what it is given (no client-side
    validation), to see the server's own answer to bad input."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=CLIENT_CONFIG.merge(Config(parameter_validation=False)),
    )
