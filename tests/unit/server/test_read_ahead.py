"""Reading ahead on PostgreSQL (``Registration.prefetch``): the user or role a request names is
read in the round trip of the caller's key, and the operation takes that result instead of
reading again; answers are as without it. Every operation that asks for it is exercised, as a
read and as a write queued for its account (as a write that lost a race is)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from tests.unit.server.conftest import PG_ACCOUNT, Signer

from iamd.server.pipeline import Connection, Pipeline
from iamd.services.framework import handler_for
from iamd.store.pipelined import Connection as PipelinedConnection

LOOPBACK = Connection(source_ip="127.0.0.1", secure=False)
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PG_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
MANAGED = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _steps(kind: str, name: str) -> list[tuple[str, dict[str, str]]]:
    """Each operation on a user or role that reads it ahead, in an order in which all succeed."""
    key = "UserName" if kind == "User" else "RoleName"
    named = {key: name}
    steps = [
        (f"Get{kind}", named),
        (f"Tag{kind}", {**named, "Tags.member.1.Key": "team", "Tags.member.1.Value": "blue"}),
        (f"List{kind}Tags", named),
        (f"Untag{kind}", {**named, "TagKeys.member.1": "team"}),
        (f"Attach{kind}Policy", {**named, "PolicyArn": MANAGED}),
        (f"ListAttached{kind}Policies", named),
        (f"Detach{kind}Policy", {**named, "PolicyArn": MANAGED}),
        (f"Put{kind}Policy", {**named, "PolicyName": "inline", "PolicyDocument": POLICY}),
        (f"Get{kind}Policy", {**named, "PolicyName": "inline"}),
        (f"List{kind}Policies", named),
        (f"Delete{kind}Policy", {**named, "PolicyName": "inline"}),
    ]
    if kind == "Role":
        steps += [
            ("UpdateRole", {**named, "Description": "read ahead"}),
            ("UpdateRoleDescription", {**named, "Description": "read ahead again"}),
            ("UpdateAssumeRolePolicy", {**named, "PolicyDocument": TRUST}),
        ]
    return steps


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements whose result was taken from a read ahead, in order."""
    seen: list[str] = []
    original = PipelinedConnection.prefetched

    def spy(self: PipelinedConnection, sql: str, params: object) -> object:
        cursor = original(self, sql, params)
        if cursor is not None:
            seen.append(sql)
        return cursor

    monkeypatch.setattr(PipelinedConnection, "prefetched", spy)
    yield seen


def _send(
    pipeline: Pipeline, request: Signer, action: str, params: dict[str, str], service: str = "iam"
) -> str:
    answer = pipeline.handle(request({"Action": action, **params}, service), LOOPBACK)
    assert answer.status == 200, (action, answer.body[:300])
    return answer.body.decode()


@pytest.mark.parametrize("queued", [False, True], ids=["alone", "queued"])
def test_every_operation_that_reads_ahead_takes_what_it_read(
    pg_pipeline: tuple[Pipeline, Signer], taken: list[str], queued: bool
) -> None:
    pipeline, request = pg_pipeline
    suffix = "q" if queued else "a"
    _send(pipeline, request, "CreateUser", {"UserName": f"ahead-{suffix}"})  # the key's account is now known
    _send(pipeline, request, "CreateRole", {"RoleName": f"ahead-{suffix}", "AssumeRolePolicyDocument": TRUST})
    exercised: set[str] = set()
    for kind in ("User", "Role"):
        for action, params in _steps(kind, f"AHEAD-{suffix}"):  # (names are case-insensitive)
            registration = handler_for("iam", action)
            assert registration is not None and registration.prefetch is not None, action
            writes = not registration.readonly
            if queued and writes:
                pipeline._contended.lost_race(("iam", action))
            del taken[:]
            _send(pipeline, request, action, params)
            if writes and not queued:
                assert taken == [], action  # a write alone sends no pipeline: nothing read ahead
            else:
                table = "roles" if kind == "Role" else "users"
                # Attach*Policy: the managed policy it names too; Put*Policy: the principal's
                # inline policies (queued: a read does not put)
                tables = [table]
                if action.startswith("Attach"):
                    tables.append("managed_policies")
                if action.startswith("Put"):
                    tables.append("inline_policies")
                assert [_first_table(sql, tables) for sql in taken] == tables, (action, taken)
            exercised.add(action)
    asked = {op for op in _iam_operations() if handler_for("iam", op).prefetch is not None}  # type: ignore[union-attr]
    assert asked == exercised


def _first_table(sql: str, tables: list[str]) -> str:
    """Which of ``tables`` the statement reads first (its outer ``FROM``)."""
    found = {t: sql.lower().find(f"from {t}") for t in tables}
    return min((at, t) for t, at in found.items() if at >= 0)[1]


def test_put_role_policy_read_ahead_counts_the_roles_other_policies(
    pg_pipeline: tuple[Pipeline, Signer], taken: list[str]
) -> None:
    """The role's inline policies read ahead by its name are that role's, and only its own: the
    aggregate size quota counts them, the one replaced left out, as when read by the role's id."""
    pipeline, request = pg_pipeline
    for name in ("sized", "other"):
        _send(pipeline, request, "CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": TRUST})
    pipeline._contended.lost_race(("iam", "PutRolePolicy"))

    def document(size: int) -> str:
        padding = "x" * (size - len(POLICY.replace(" ", "")) - 8)
        return POLICY.replace('"Version"', f'"Id": "{padding}", "Version"', 1)

    big = document(4000)
    for policy in ("a", "b"):
        _send(
            pipeline,
            request,
            "PutRolePolicy",
            {"RoleName": "sized", "PolicyName": policy, "PolicyDocument": big},
        )
    _send(pipeline, request, "PutRolePolicy", {"RoleName": "other", "PolicyName": "a", "PolicyDocument": big})
    del taken[:]
    # 8,000 characters in the role's two policies: 4,000 more is past the role's 10,240.
    refused = pipeline.handle(
        request({"Action": "PutRolePolicy", "RoleName": "sized", "PolicyName": "c", "PolicyDocument": big}),
        LOOPBACK,
    )
    assert refused.status == 409 and b"LimitExceeded" in refused.body
    assert any("inline_policies" in sql.lower() for sql in taken)
    # Replacing one of them is within it (the one replaced is left out), as on another role.
    _send(pipeline, request, "PutRolePolicy", {"RoleName": "sized", "PolicyName": "b", "PolicyDocument": big})
    _send(pipeline, request, "PutRolePolicy", {"RoleName": "other", "PolicyName": "b", "PolicyDocument": big})


def _iam_operations() -> list[str]:
    from iamd.services.framework import registered

    return registered("iam")


def test_assume_role_reads_its_role_ahead(pg_pipeline: tuple[Pipeline, Signer], taken: list[str]) -> None:
    """AssumeRole's role is named by its ARN, in whichever account: read ahead, even on the
    first request of a key; a role that does not exist is denied as before."""
    pipeline, request = pg_pipeline
    _send(pipeline, request, "CreateRole", {"RoleName": "assumed-ahead", "AssumeRolePolicyDocument": TRUST})
    arn = f"arn:aws:iam::{PG_ACCOUNT}:role/assumed-ahead"
    del taken[:]
    body = _send(pipeline, request, "AssumeRole", {"RoleArn": arn, "RoleSessionName": "ss"}, "sts")
    assert len(taken) == 1 and "roles" in taken[0].lower()
    found = ET.fromstring(body).find(".//{*}AssumedRoleUser/{*}Arn")
    assert found is not None and found.text == f"arn:aws:sts::{PG_ACCOUNT}:assumed-role/assumed-ahead/ss"
    missing = pipeline.handle(
        request({"Action": "AssumeRole", "RoleArn": arn + "-gone", "RoleSessionName": "ss"}, "sts"), LOOPBACK
    )
    assert missing.status == 403 and b"AccessDenied" in missing.body
