"""The cache of compiled policy documents: one entry per label and text, a changed text compiled
anew, bounded by the text it holds; sets built from it decide as sets compiled whole."""

from __future__ import annotations

import json

from iamd.authz import NamedPolicy, compile_policies
from iamd.policy import PolicyKind, parse_policy
from iamd.services.compiled_documents import DocumentCache
from iamd.services.policies import compile_documents
from iamd.store.records import PolicyDocument


def _text(action: str, effect: str = "Allow") -> str:
    statement = {"Effect": effect, "Action": action, "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=4)


def test_the_same_label_and_text_are_compiled_once() -> None:
    cache = DocumentCache()
    first = cache.compiled("p", _text("s3:GetObject"))
    again = cache.compiled("p", _text("s3:GetObject"))
    assert first is not None and again is first
    assert len(cache) == 1


def test_a_changed_text_or_another_label_is_compiled_anew() -> None:
    cache = DocumentCache()
    old = cache.compiled("p", _text("s3:GetObject"))
    new = cache.compiled("p", _text("s3:PutObject"))
    other = cache.compiled("group/p", _text("s3:GetObject"))
    assert old is not None and new is not None and other is not None
    assert new[0][0].source is not None and new[0][0].source.actions == ("s3:PutObject",)
    assert other[0][0].ref.policy == "group/p" and old[0][0].ref.policy == "p"
    assert len(cache) == 3


def test_a_document_that_no_longer_parses_grants_nothing() -> None:
    assert DocumentCache().compiled("p", "{not json") is None


def test_the_cache_is_bounded_by_the_text_it_holds() -> None:
    texts = [_text(f"s3:Get{n}") for n in range(10)]
    cache = DocumentCache(max_text=3 * len(texts[0]))
    for n, text in enumerate(texts):
        cache.compiled(f"p{n}", text)
    assert len(cache) == 3
    recent = cache.compiled("p9", texts[9])
    assert recent is cache.compiled("p9", texts[9])
    huge = cache.compiled("big", _text("s3:" + "x" * 4 * len(texts[0])))
    assert huge is not None and len(cache) == 3  # compiled, not kept


def test_a_set_from_the_cache_is_the_set_compiled_whole() -> None:
    docs = [
        PolicyDocument(layer="identity", source="managed", name="a", document=_text("s3:*")),
        PolicyDocument(layer="identity", source="inline", name="b", document="{broken"),
        PolicyDocument(
            layer="identity", source="managed", name="c", document=_text("s3:Delete*", "Deny"), via_group="g"
        ),
    ]
    cached = compile_documents(docs)
    whole = compile_policies(
        [
            NamedPolicy("a", parse_policy(docs[0].document, PolicyKind.MANAGED, strict=False)),
            NamedPolicy("g/c", parse_policy(docs[2].document, PolicyKind.MANAGED, strict=False)),
        ]
    )
    assert cached.names == whole.names == ("a", "g/c")
    assert [(s.ref, s.effect) for s in cached.statements] == [(s.ref, s.effect) for s in whole.statements]
    assert cached.has_not_principal == whole.has_not_principal
    assert compile_documents(docs).statements == cached.statements  # the same compiled objects
