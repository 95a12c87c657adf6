"""Every operation of the pinned IAM, STS and Roles Anywhere models has a handler in iamd: an
implementation, or an UnsupportedOperation registration that says why (framework.unsupported).

When a botocore bump (scripts/update-botocore) brings new operations, this fails, naming them,
until each one is handled on purpose."""

from __future__ import annotations

import pytest

import iamd.server.pipeline  # noqa: F401  (imports every service package, registering its handlers)
from iamd.services.framework import handler_for, registered
from iamd.wire import load_service_model


@pytest.mark.parametrize("service", ["iam", "sts", "rolesanywhere"])
def test_every_operation_of_the_model_is_handled(service: str) -> None:
    operations = set(load_service_model(service).operation_names)
    assert sorted(operations - set(registered(service))) == []


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        # botocore 1.44.18's additions (the workload identity family); 1.44.8 had none of them.
        ("iam", "CreateWorkloadIdentityProvider"),
        ("iam", "ListWorkloadIdentityTemplates"),
        ("iam", "EnableOrganizationLevelResources"),
        ("iam", "DisableOrganizationLevelResources"),
        ("sts", "GetCertificate"),
        ("sts", "GetTrustBundles"),
        ("sts", "IssueWorkloadIdentityContext"),
    ],
)
def test_the_newer_models_operations_are_known(service: str, operation: str) -> None:
    assert operation in load_service_model(service).operation_names
    assert handler_for(service, operation) is not None
