"""The framework-independent request and response."""

from __future__ import annotations

from iamd.wire import Headers, HttpRequest, HttpResponse


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    headers = Headers([("X-Thing", "a"), ("x-thing", "b"), ("Host", "h")])
    assert headers["X-THING"] == "a"
    assert headers.get_all("x-Thing") == ["a", "b"]
    assert "HOST" in headers
    assert sorted(headers) == ["host", "x-thing"]
    assert len(headers) == 2
    assert Headers({"A": "1"})["a"] == "1"


def test_form_params_merge_query_string_and_form_body() -> None:
    request = HttpRequest.build(
        "POST",
        "/",
        "Action=ListUsers&Marker=q",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"Version=2010-05-08&Marker=a+b%2Bc&Empty=",
    )
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form_params == {
        "Action": "ListUsers",
        "Marker": "a b+c",
        "Version": "2010-05-08",
        "Empty": "",
    }


def test_json_body_is_not_read_as_form_parameters() -> None:
    request = HttpRequest.build("POST", "/", "", {"Content-Type": "application/x-amz-json-1.1"}, b"Action=x")
    assert request.form_params == {}


def test_response_header_lookup() -> None:
    response = HttpResponse(200, [("Content-Type", "text/xml")], b"")
    assert response.header("content-type") == "text/xml"
    assert response.header("x-missing") is None
