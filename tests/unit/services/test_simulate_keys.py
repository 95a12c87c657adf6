"""The context keys the policy simulator lists (GetContextKeysFor*Policy), read from parsed policies."""

from __future__ import annotations

import time

from iamd.policy import VERSION_2012, parse_policy
from iamd.services.iam.simulate import context_keys


def test_keys_are_read_in_linear_time_when_braces_never_close() -> None:
    """Issue 10: a regex looking for ``${…}`` rescanned the rest of the text from every ``${``
    without a closing brace (20,000 of them: seconds); the keys found are unchanged."""
    resources = [
        "arn:aws:s3:::b/" + "${" * 20_000,
        "arn:aws:s3:::b/${aws:username}/${aws:PrincipalTag/team, 'x'}",
    ]
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": resources}
    policy = parse_policy({"Version": VERSION_2012, "Statement": [statement]}, strict=False)
    start = time.perf_counter()
    keys = context_keys([policy])
    assert time.perf_counter() - start < 0.25
    assert keys == ["aws:PrincipalTag/team", "aws:username"]
