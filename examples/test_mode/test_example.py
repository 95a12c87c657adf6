"""Tests written with examples/test_mode/conftest.py: each one starts from a fresh account."""

from __future__ import annotations

import boto3
import pytest


@pytest.mark.parametrize("round_no", [1, 2])
def test_each_test_gets_a_fresh_account(aws: boto3.Session, round_no: int) -> None:
    iam = aws.client("iam")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["iamd-admin"]
    iam.create_user(UserName="alice")  # the same name again in round 2: the reset removed it


def test_the_root_user(aws_root: boto3.Session) -> None:
    identity = aws_root.client("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:root"
