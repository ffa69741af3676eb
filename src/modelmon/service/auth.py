"""Bearer-token authentication for every route but the open ones (``/health``).

The check runs before routing, so nothing about the service (not even which models exist) is
told to a request without the token. Tokens are compared as SHA-256 digests with
:func:`hmac.compare_digest`: the time taken says nothing about the token, not even its length.

- ``Authorization: Bearer <auth_token>`` may do everything.
- ``Authorization: Bearer <read_token>`` (optional) may only read: ``GET`` and ``HEAD``.
- Browsers log in with a form (``POST /login``): the answer sets an ``HttpOnly``,
  ``SameSite=Strict`` cookie holding a digest derived from the token, never the token itself.
  The cookie only reads, so a page on another site cannot make a browser write events.

A request without a valid token gets 401 with a JSON error saying how to authenticate (or, for a
browser asking for a page, the login form); the token sent is never repeated in an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from importlib import resources
from typing import Any

from modelmon.errors import BodyError
from modelmon.service.body import read_body, request_chunks

__all__ = [
    "COOKIE",
    "LOGIN_BODY_LIMIT",
    "LOGIN_FIELDS",
    "LOGIN_PATH",
    "TokenAuth",
    "same_origin_path",
    "session_value",
]

COOKIE = "modelmon_session"
LOGIN_PATH = "/login"
_READ_METHODS = frozenset({"GET", "HEAD"})
LOGIN_BODY_LIMIT = 4096
LOGIN_FIELDS = 4
_HOW = (
    "send 'Authorization: Bearer <token>' with the auth_token of the service's config "
    "(or its MODELMON_TOKEN); a read_token may only read; browsers log in at the form this "
    "service shows for its pages"
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def session_value(token: str) -> str:
    """The cookie a browser holds after logging in with ``token`` (not the token, not reversible)."""
    return hmac.new(token.encode(), b"modelmon dashboard session", hashlib.sha256).hexdigest()


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie(scope: Scope) -> str:
    for part in _header(scope, b"cookie").split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE:
            return value
    return ""


class TokenAuth:
    """ASGI middleware: ``app`` is reached only with the right token, except at ``open_paths``."""

    def __init__(
        self,
        app: App,
        token: str,
        read_token: str | None = None,
        open_paths: Collection[str] = (),
        body_seconds: float | None = None,
    ) -> None:
        self.app = app
        self.body_seconds = body_seconds
        self.open_paths = frozenset(open_paths)
        self._write = _digest(token)
        self._read = _digest(read_token) if read_token else None
        self._sessions = [_digest(session_value(t)) for t in (token, read_token) if t]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if scope["path"] == LOGIN_PATH and method == "POST":
            await self._login(scope, receive, send)
            return
        access = self._access(scope)
        if access == "write" or (access == "read" and method in _READ_METHODS):
            await self.app(scope, receive, send)
        elif access == "read":
            await _answer(send, 403, "this token may only read (GET); send the auth_token to write")
        elif method == "GET" and "text/html" in _header(scope, b"accept"):
            await _page(send, 401, _login_page(""))
        else:
            reason = "invalid" if access == "invalid" else "missing"
            await _answer(send, 401, f"{reason} token: {_HOW}")

    def _access(self, scope: Scope) -> str:
        """``write``, ``read``, ``invalid`` (a token that is not one of ours) or ``missing``."""
        header = _header(scope, b"authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return "invalid"
            given = _digest(token.strip())
            if hmac.compare_digest(given, self._write):
                return "write"
            if self._read is not None and hmac.compare_digest(given, self._read):
                return "read"
            return "invalid"
        cookie = _cookie(scope)
        if cookie:
            given = _digest(cookie)
            # every digest is compared, so the time does not tell which one matched
            matches = [hmac.compare_digest(given, session) for session in self._sessions]
            return "read" if any(matches) else "invalid"
        return "missing"

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(
                request_chunks(receive),
                LOGIN_BODY_LIMIT,
                _header(scope, b"content-length") or None,
                self.body_seconds,
            )
        except BodyError as exc:
            await _answer(send, exc.status, str(exc))
            return
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=LOGIN_FIELDS)
        except ValueError:
            await _answer(send, 400, f"login form: at most {LOGIN_FIELDS} fields (token and next)")
            return
        token = (form.get("token") or [""])[0].strip()
        target = same_origin_path((form.get("next") or ["/"])[0])
        given = _digest(token)
        if token and any(hmac.compare_digest(given, d) for d in (self._write, self._read) if d is not None):
            secure = "; Secure" if scope.get("scheme") == "https" else ""
            cookie = f"{COOKIE}={session_value(token)}; Path=/; HttpOnly; SameSite=Strict{secure}"
            headers = [(b"location", target.encode()), (b"set-cookie", cookie.encode())]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await _page(send, 401, _login_page("That token is not right; try again."))


def same_origin_path(target: str) -> str:
    """``target`` when it is a path of this service, else ``/``: where the login form sends a browser.

    Only printable ASCII is kept: browsers drop tabs and line ends from a ``Location``, so
    ``/\t/evil.example`` would become ``//evil.example``, another site; CR, LF and NUL cannot be
    sent in a header at all.

    >>> [same_origin_path(target) for target in ("/?model=m", "/\t/evil.example", "//evil.example")]
    ['/?model=m', '/', '/']
    """
    if not target.startswith("/") or target[1:2] in ("/", "\\") or "\\" in target:
        return "/"
    if not all("!" <= char <= "~" for char in target):
        return "/"
    return target


def _login_page(message: str) -> bytes:
    page = resources.files("modelmon.service").joinpath("static/login.html").read_text()
    return page.replace("<!--message-->", message).encode()


async def _page(send: Send, status: int, body: bytes) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"www-authenticate", b'Bearer realm="modelmon"'),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 408:  # the rest of the body may still be on its way: the connection is not reused
        headers.append((b"connection", b"close"))
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="modelmon"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
