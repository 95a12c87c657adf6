"""A custom policy check that cannot finish within the request's time budget answers
UnprocessableEntityException (422) saying so, never a PASS (access_analyzer_api.md §5: 422 when
the policy is valid but cannot be analyzed). The server here runs with a 1 ms request budget."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import Server, start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("iamd") / "data", "--request-budget", "0.001")
    yield running
    stop_server(running)


def _doc(resources: list[str]) -> str:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resources}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_out_of_budget_is_422_not_pass(server: Server) -> None:
    patterns = [f"arn:aws:s3:::b/{'*a' * 6}{i}?*" for i in range(40)]
    analyzer = server.client("accessanalyzer")
    with pytest.raises(ClientError) as failed:
        analyzer.check_no_new_access(
            newPolicyDocument=_doc(patterns),
            existingPolicyDocument=_doc([p.replace("?", "x") for p in patterns]),
            policyType="IDENTITY_POLICY",
        )
    error = failed.value.response
    assert error["Error"]["Code"] == "UnprocessableEntityException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 422
    assert "time budget" in error["Error"]["Message"]
