"""Policy documents come back URL-encoded exactly as ``urllib.parse.quote`` with IAM's safe
characters encodes them (``encode_document`` does it faster)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from iamd.server.bootstrap import document_text, managed_policy_data
from iamd.services.iam.common import encode_document


def _quoted(text: str) -> str:
    return quote(text, safe="-_.!~*'()")


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_any_text_is_encoded_as_quote_encodes_it(text: str) -> None:
    assert encode_document(text) == _quoted(text)


def test_every_aws_managed_policy_and_the_characters_that_matter() -> None:
    for text in ["", "%", "%25%%41", "a b\n\t\"'()*!~", "é ü 日本 😀", "".join(map(chr, range(0x800)))]:
        assert encode_document(text) == _quoted(text)
    for entry in managed_policy_data().values():
        text = document_text(entry)
        assert encode_document(text) == _quoted(text)
