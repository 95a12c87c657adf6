"""A console user agent for the end-to-end tests: httpx with a cookie jar, reading the CSRF token
from each page as a browser's form would carry it."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleAgent:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.http = httpx.Client(base_url=endpoint, follow_redirects=True, timeout=60)
        self.page: httpx.Response | None = None

    def close(self) -> None:
        self.http.close()

    @property
    def csrf(self) -> str:
        assert self.page is not None
        found = _CSRF.search(self.page.text)
        assert found is not None, f"no CSRF token on {self.page.url}"
        return html.unescape(found.group(1))

    @property
    def path(self) -> str:
        assert self.page is not None
        return self.page.url.path

    @property
    def text(self) -> str:
        assert self.page is not None
        return self.page.text

    def get(self, path: str) -> httpx.Response:
        self.page = self.http.get(f"/console{path}")
        return self.page

    def post(self, path: str, data: dict[str, str], *, csrf: str | None = None, **kw: Any) -> httpx.Response:
        token = self.csrf if csrf is None else csrf
        self.page = self.http.post(f"/console{path}", data={"csrf": token, **data}, **kw)
        return self.page

    def sign_in(self, account: str, user: str, password: str) -> httpx.Response:
        self.get("/signin")
        return self.post(
            "/signin", {"kind": "user", "account": account, "username": user, "password": password}
        )

    def sign_in_root(self, email: str, password: str) -> httpx.Response:
        self.get("/signin?root=1")
        return self.post("/signin", {"kind": "root", "email": email, "password": password})

    def sign_out(self) -> httpx.Response:
        return self.post("/signout", {})

    def error(self) -> str | None:
        found = re.search(r'<p class="error" role="alert" id="error">(.*?)</p>', self.text, re.S)
        return html.unescape(found.group(1)) if found else None

    def message(self) -> str | None:
        found = re.search(r'<p class="ok" role="status" id="message">(.*?)</p>', self.text, re.S)
        return html.unescape(found.group(1)) if found else None

    def field(self, element_id: str) -> str | None:
        found = re.search(rf'id="{element_id}"[^>]*>(.*?)<', self.text, re.S)
        return html.unescape(found.group(1)).strip() if found else None

    def add_virtual_device(self, name: str) -> tuple[str, str, bytes]:
        """From the credentials (or registration) page: (serial, base32 seed, QR PNG)."""
        self.post("/mfa/virtual/create", {"name": name})
        assert self.page is not None and self.page.status_code == 200, self.text
        serial = re.search(r'name="serial" value="([^"]+)"', self.text)
        seed = re.search(r'<code id="seed">([A-Z2-7]+)</code>', self.text)
        qr = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', self.text)
        assert serial and seed and qr, self.text
        return html.unescape(serial.group(1)), seed.group(1), base64.b64decode(qr.group(1))
