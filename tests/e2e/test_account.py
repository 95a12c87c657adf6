"""The account end to end: its alias, GetAccountSummary, and users' permissions boundaries."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from tests.e2e.harness import ACCOUNT_ID, Server, new_user_client


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(
    action: str | list[str], resource: str = "*", condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def test_account_alias_lifecycle(iam: Any) -> None:
    assert iam.list_account_aliases()["AccountAliases"] == []
    iam.create_account_alias(AccountAlias="example-corp")
    listed = iam.list_account_aliases()
    assert listed["AccountAliases"] == ["example-corp"] and listed["IsTruncated"] is False
    iam.create_account_alias(AccountAlias="example-corp")  # the same again: no change
    # An account has one alias: a new one replaces it.
    iam.create_account_alias(AccountAlias="example-corp-2")
    assert iam.list_account_aliases()["AccountAliases"] == ["example-corp-2"]
    with pytest.raises(ClientError) as exc:
        iam.delete_account_alias(AccountAlias="example-corp")
    assert error_of(exc) == (404, "NoSuchEntity", "The account alias example-corp cannot be found.")
    iam.delete_account_alias(AccountAlias="example-corp-2")
    assert iam.list_account_aliases()["AccountAliases"] == []
    with pytest.raises(ClientError) as exc:
        iam.delete_account_alias(AccountAlias="example-corp-2")
    assert error_of(exc)[:2] == (404, "NoSuchEntity")


def test_invalid_aliases_are_refused(iam: Any) -> None:
    for bad in ("Upper-Case", "double--hyphen", "-leading", "under_score"):
        with pytest.raises(ClientError) as exc:
            iam.create_account_alias(AccountAlias=bad)
        assert error_of(exc)[:2] == (400, "ValidationError"), bad
    with pytest.raises(ClientError) as exc:
        iam.create_account_alias(AccountAlias="123456789012")
    assert error_of(exc)[:2] == (400, "InvalidInput")
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_account_summary_has_every_key_aws_documents(iam: Any) -> None:
    model = botocore.session.get_session().get_service_model("iam")
    documented = set(model.shape_for("summaryKeyType").enum)
    summary = iam.get_account_summary()["SummaryMap"]
    assert set(summary) == documented
    assert all(isinstance(v, int) for v in summary.values())
    assert summary["UsersQuota"] == 5000
    assert summary["GroupsQuota"] == 300
    assert summary["RolesQuota"] == 1000
    assert summary["PoliciesQuota"] == 1500
    assert summary["AccessKeysPerUserQuota"] == 2
    assert summary["SigningCertificatesPerUserQuota"] == 2
    assert summary["GroupsPerUserQuota"] == 10
    assert summary["AttachedPoliciesPerUserQuota"] == 10
    assert summary["PolicySizeQuota"] == 6144
    assert summary["UserPolicySizeQuota"] == 2048
    assert summary["GroupPolicySizeQuota"] == 5120
    assert summary["RolePolicySizeQuota"] == 10240
    assert summary["AssumeRolePolicySizeQuota"] == 2048
    assert summary["VersionsPerPolicyQuota"] == 5
    # The root user has no keys, certificates, password or MFA: the best practice a new account follows.
    assert summary["AccountAccessKeysPresent"] == 0
    assert summary["AccountSigningCertificatesPresent"] == 0
    assert summary["AccountMFAEnabled"] == 0


def test_account_summary_counts_follow_the_account(iam: Any) -> None:
    before = iam.get_account_summary()["SummaryMap"]
    iam.create_user(UserName="a-counted")
    iam.create_group(GroupName="a-counted")
    iam.create_policy(PolicyName="a-counted", PolicyDocument=policy(allow("iam:ListUsers")))
    iam.attach_user_policy(UserName="a-counted", PolicyArn=f"arn:aws:iam::{ACCOUNT_ID}:policy/a-counted")
    after = iam.get_account_summary()["SummaryMap"]
    assert after["Users"] == before["Users"] + 1
    assert after["Groups"] == before["Groups"] + 1
    assert after["Policies"] == before["Policies"] + 1
    assert after["PolicyVersionsInUse"] == before["PolicyVersionsInUse"] + 1


def test_a_new_user_can_do_nothing_with_the_account(server: Server, iam: Any) -> None:
    nobody = new_user_client(server, iam, "a-nobody")
    for call in (
        lambda: nobody.get_account_summary(),
        lambda: nobody.list_account_aliases(),
        lambda: nobody.create_account_alias(AccountAlias="hijacked"),
        lambda: nobody.delete_account_alias(AccountAlias="hijacked"),
        lambda: nobody.put_user_permissions_boundary(
            UserName="a-nobody", PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
        lambda: nobody.delete_user_permissions_boundary(UserName="a-nobody"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == (403, "AccessDenied")
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_a_granted_user_reads_the_summary(server: Server, iam: Any) -> None:
    reader = new_user_client(
        server, iam, "a-reader", policy(allow(["iam:GetAccountSummary", "iam:ListAccountAliases"]))
    )
    assert reader.get_account_summary()["SummaryMap"]["Users"] >= 1
    assert reader.list_account_aliases()["AccountAliases"] == []
    with pytest.raises(ClientError):
        reader.create_account_alias(AccountAlias="not-allowed")


def test_permissions_boundary_of_a_user(server: Server, iam: Any) -> None:
    bounded = new_user_client(server, iam, "a-bounded", policy(allow("iam:*")))
    bounded.create_group(GroupName="a-before-boundary")

    readonly = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    iam.put_user_permissions_boundary(UserName="a-bounded", PermissionsBoundary=readonly)
    got = iam.get_user(UserName="a-bounded")["User"]
    assert got["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": readonly,
    }
    # The boundary caps what the identity policy grants: reads still work, writes no longer do.
    bounded.list_groups()
    with pytest.raises(ClientError) as exc:
        bounded.create_group(GroupName="a-after-boundary")
    status, code, message = error_of(exc)
    assert (status, code) == (403, "AccessDenied") and "permissions boundary" in message

    iam.delete_user_permissions_boundary(UserName="a-bounded")
    assert "PermissionsBoundary" not in iam.get_user(UserName="a-bounded")["User"]
    bounded.create_group(GroupName="a-after-boundary")
    iam.delete_user_permissions_boundary(UserName="a-bounded")  # none set: nothing to do

    with pytest.raises(ClientError) as exc:
        iam.put_user_permissions_boundary(
            UserName="a-bounded", PermissionsBoundary=f"arn:aws:iam::{ACCOUNT_ID}:policy/no-such-policy"
        )
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.put_user_permissions_boundary(UserName="a-no-such-user", PermissionsBoundary=readonly)
    assert error_of(exc)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        iam.put_user_permissions_boundary(
            UserName="a-bounded", PermissionsBoundary="arn:aws:s3:::not-a-policy-arn"
        )
    assert error_of(exc)[:2] == (400, "InvalidInput")


def test_the_permissions_boundary_condition_key(server: Server, iam: Any) -> None:
    """A delegated administrator may set only the one boundary its policy names (iam:PermissionsBoundary)."""
    allowed = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    other = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    delegate = new_user_client(
        server,
        iam,
        "a-delegate",
        policy(
            allow(
                ["iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
                f"arn:aws:iam::{ACCOUNT_ID}:user/*",
                {"StringEquals": {"iam:PermissionsBoundary": allowed}},
            )
        ),
    )
    iam.create_user(UserName="a-managed")
    with pytest.raises(ClientError) as exc:
        delegate.put_user_permissions_boundary(UserName="a-managed", PermissionsBoundary=other)
    assert error_of(exc)[:2] == (403, "AccessDenied")
    delegate.put_user_permissions_boundary(UserName="a-managed", PermissionsBoundary=allowed)
    # Removing the boundary is judged on the boundary being removed.
    iam.put_user_permissions_boundary(UserName="a-managed", PermissionsBoundary=other)
    with pytest.raises(ClientError) as exc:
        delegate.delete_user_permissions_boundary(UserName="a-managed")
    assert error_of(exc)[:2] == (403, "AccessDenied")
    iam.put_user_permissions_boundary(UserName="a-managed", PermissionsBoundary=allowed)
    delegate.delete_user_permissions_boundary(UserName="a-managed")
    assert "PermissionsBoundary" not in iam.get_user(UserName="a-managed")["User"]


def test_account_with_the_aws_cli(server: Server, iam: Any) -> None:
    done = server.cli("iam", "create-account-alias", "--account-alias", "cli-alias")
    assert done.returncode == 0, done.stderr
    assert iam.list_account_aliases()["AccountAliases"] == ["cli-alias"]
    iam.delete_account_alias(AccountAlias="cli-alias")
    done = server.cli("iam", "get-account-summary")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["SummaryMap"]["UsersQuota"] == 5000
