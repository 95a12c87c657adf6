"""Several requests' handlers run in one transaction, each as its own request (a new
OperationContext), decided by the server's authorizer: a decision on aws:ResourceTag sees the tags
written earlier in the transaction (the store keeps the tags it read exact across its writes:
UnitOfWork.rows_seen), and a caller's own policies written earlier in it decide its next request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.unit.conftest import Live

from iamd.server.caller import user_caller
from iamd.services.framework import OperationContext, RequestInfo, handler_for, store_errors_as_aws
from iamd.store import UnitOfWork
from iamd.wire import AccessDenied

ACCOUNT = "111111111111"  # the live fixture's account


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


BLUE_ONLY = {"StringEquals": {"aws:ResourceTag/team": "blue"}}
DECIDER_POLICY = _policy(
    {
        "Effect": "Allow",
        "Action": ["iam:TagUser", "iam:UntagUser", "iam:TagRole", "iam:UntagRole", "iam:PutUserPolicy"],
        "Resource": "*",
    },
    {"Effect": "Allow", "Action": ["iam:GetUser", "iam:GetRole"], "Resource": "*", "Condition": BLUE_ONLY},
)
TRUST = _policy(
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
)


class RolledBack(Exception):
    """Ends a test's transaction without committing it."""


@pytest.fixture(scope="module")
def prepared(live: Live) -> Live:
    """The decider (whose policies grant GetUser and GetRole on what is tagged team=blue), and a
    user and a role tagged team=red."""
    now = datetime.now(UTC)
    with live.store.transaction() as uow:
        decider = uow.users.create(
            ACCOUNT, user_id="AIDADECIDER0000000001", name="decider", path="/", created_at=now
        )
        uow.inline_policies.put(ACCOUNT, "user", decider.id, "decide", DECIDER_POLICY)
        target = uow.users.create(
            ACCOUNT, user_id="AIDATARGET00000000001", name="target", path="/", created_at=now
        )
        uow.tags.put(ACCOUNT, "user", target.id, {"team": "red"})
        role = uow.roles.create(
            ACCOUNT,
            role_id="AROATARGET00000000001",
            name="target-role",
            path="/",
            trust_policy=TRUST,
            created_at=now,
        )
        uow.tags.put(ACCOUNT, "role", role.id, {"team": "red"})
    return live


Run = Callable[[str, Mapping[str, Any]], Any]


@pytest.fixture
def one_transaction(prepared: Live) -> Iterator[Callable[[Callable[[Run], None]], None]]:
    """Runs a test's requests in one transaction (rolled back after), each a request of its own
    by the decider."""
    live = prepared
    authorizer = live.pipeline.authorizer

    def within(steps: Callable[[Run], None]) -> None:
        with pytest.raises(RolledBack), live.store.transaction() as uow:
            caller = user_caller(uow, uow.users.get(ACCOUNT, "decider"))

            def run(operation: str, params: Mapping[str, Any]) -> Any:
                now = datetime.now(UTC)
                info = RequestInfo("req", "iam", operation, "us-east-1", "127.0.0.1", "test", False, now)
                ctx = OperationContext(
                    uow=uow,
                    caller=caller,
                    info=info,
                    ids=live.pipeline.ids,
                    now=now,
                    authorize_with=lambda action, resource, context=None, *, resource_account=None: (
                        authorizer.decide(
                            uow,
                            caller,
                            info,
                            now,
                            action,
                            resource,
                            context,
                            resource_account=resource_account,
                        )
                    ),
                )
                registration = handler_for("iam", operation)
                assert registration is not None
                with store_errors_as_aws():
                    return registration.handler(ctx, dict(params))

            steps(run)
            _still_usable(uow)
            raise RolledBack

    yield within


def _still_usable(uow: UnitOfWork) -> None:
    assert uow.users.find(ACCOUNT, "target") is not None


def _allowed(run: Run, operation: str, params: Mapping[str, Any]) -> bool:
    try:
        run(operation, params)
    except AccessDenied:
        return False
    return True


def test_a_user_tag_written_decides_the_next_request_in_the_transaction(
    one_transaction: Callable[[Callable[[Run], None]], None],
) -> None:
    def steps(run: Run) -> None:
        get = {"UserName": "target"}
        assert not _allowed(run, "GetUser", get)  # team=red (the tags read: kept for the write)
        run("TagUser", {"UserName": "target", "Tags": [{"Key": "team", "Value": "blue"}]})  # replaced
        assert _allowed(run, "GetUser", get)
        run("UntagUser", {"UserName": "target", "TagKeys": ["TEAM"]})
        assert not _allowed(run, "GetUser", get)
        run("TagUser", {"UserName": "target", "Tags": [{"Key": "Team", "Value": "blue"}]})  # added
        assert _allowed(run, "GetUser", get)
        run("TagUser", {"UserName": "target", "Tags": [{"Key": "team", "Value": "red"}]})  # after an add
        assert not _allowed(run, "GetUser", get)

    one_transaction(steps)


def test_a_role_tag_written_decides_the_next_request_in_the_transaction(
    one_transaction: Callable[[Callable[[Run], None]], None],
) -> None:
    def steps(run: Run) -> None:
        get = {"RoleName": "target-role"}
        assert not _allowed(run, "GetRole", get)
        run("TagRole", {"RoleName": "target-role", "Tags": [{"Key": "TEAM", "Value": "blue"}]})
        assert _allowed(run, "GetRole", get)
        run("UntagRole", {"RoleName": "target-role", "TagKeys": ["team"]})
        assert not _allowed(run, "GetRole", get)
        run("TagRole", {"RoleName": "target-role", "Tags": [{"Key": "team", "Value": "blue"}]})
        assert _allowed(run, "GetRole", get)

    one_transaction(steps)


def test_a_callers_own_policy_written_decides_its_next_request_in_the_transaction(
    one_transaction: Callable[[Callable[[Run], None]], None],
) -> None:
    """PutUserPolicy on the decider itself: replaced (the same name, read by the size check), then
    its next request is decided on the new document (the compiled-policy cache keys on the
    generations the write moved). (Only the transaction's first change to the decider: its
    generation goes up once per transaction, so a compiled-policy cache entry made after it stays
    for the rest of the transaction, as before the store kept rows read.)"""

    def steps(run: Run) -> None:
        get = {"UserName": "target"}
        assert not _allowed(run, "GetUser", get)
        everything = _policy(
            {"Effect": "Allow", "Action": ["iam:GetUser", "iam:PutUserPolicy"], "Resource": "*"}
        )
        run("PutUserPolicy", {"UserName": "decider", "PolicyName": "DECIDE", "PolicyDocument": everything})
        assert _allowed(run, "GetUser", get)

    one_transaction(steps)
