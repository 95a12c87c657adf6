"""``Principal.parse`` remembers each text it read (``iamd.authz.principal._parse_cached``): the same
principal as reading it afresh, and a refused text refused every time."""

from __future__ import annotations

import pytest

from iamd.authz.principal import Principal
from iamd.authz.request import normalize_context

TEXTS = [
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:user/path/bob",
    "arn:aws:iam::111111111111:root",
    "arn:aws:sts::111111111111:assumed-role/Admin/session",
    "arn:aws-cn:sts::111111111111:assumed-role/Admin/a/b",
    "arn:aws:sts::111111111111:federated-user/carol",
    "s3.amazonaws.com",
    "lambda.amazonaws.com.cn",
]
REFUSED = [
    "",
    "alice",
    "arn:aws:iam::1111:user/alice",
    "arn:aws:iam::111111111111:role/Admin",
    "arn:aws:sts::111111111111:assumed-role/Admin",
    "arn:aws:iam::111111111111:user/",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_remembered_principal_is_the_one_read_afresh(text: str) -> None:
    first = Principal.parse(text)
    assert first == Principal._read(text) and type(first) is Principal
    assert Principal.parse(text) is first


@pytest.mark.parametrize("text", REFUSED)
def test_a_refused_text_is_refused_every_time(text: str) -> None:
    for _ in range(2):
        with pytest.raises(ValueError) as caught:
            Principal.parse(text)
        with pytest.raises(ValueError) as fresh:
            Principal._read(text)
        assert str(caught.value) == str(fresh.value)


def test_a_subclass_reads_its_own() -> None:
    class Caller(Principal):
        pass

    parsed = Caller.parse(TEXTS[0])
    assert type(parsed) is Caller and parsed == Principal.parse(TEXTS[0])


class _Text(str):
    pass


def test_context_values_as_text() -> None:
    values: dict[str, object] = {
        "aws:SourceIp": "10.0.0.1",
        "Aws:Tags": ["a", 1, True],
        "aws:SecureTransport": True,
        "aws:MultiFactorAuthAge": 30,
        "aws:Absent": None,
        "aws:Sub": _Text("x"),
        "aws:Pair": ("b", False),
    }
    out = normalize_context(values)
    assert out == {
        "aws:sourceip": "10.0.0.1",
        "aws:tags": ("a", "1", "true"),
        "aws:securetransport": "true",
        "aws:multifactorauthage": "30",
        "aws:sub": "x",
        "aws:pair": ("b", "false"),
    }
    assert type(out["aws:sub"]) is str
