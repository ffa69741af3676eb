"""Slow clients cannot take the service's connections: a header deadline and a connection limit.

uvicorn reads headers for as long as a client takes to send them, and accepts connections until
the process runs out of files; a thousand clients sending a byte every few seconds then hold
every file, and ``/health`` is reset like the rest. :func:`guarded_protocol` gives uvicorn an HTTP
protocol that

- answers 408 and closes a connection whose request headers have not all arrived within
  ``header_seconds`` of the connection (or of the previous answer on a kept-alive connection);
- keeps at most ``connections`` open: a new connection beyond that closes the oldest connection
  that is still waiting for its headers or idle, so a client that sends its request at once (a
  probe of ``/health``, a sender with a token) always gets in, while slow ones take turns being
  closed. Only when every open connection is busy with a request is the new one refused.

The limit never exceeds the process's file limit less :data:`FILE_RESERVE` (files, store
connections, the journal), so accepting a connection never fails for want of a file. The body's
own deadline is read by the app (:func:`modelmon.service.body.read_body`). Counts are in
:class:`ConnectionGuard` (``/health``: ``connections``).

>>> guard = ConnectionGuard(connections=10, header_seconds=5.0)
>>> guard.connections <= 10
True
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import Any

__all__ = ["FILE_RESERVE", "ConnectionGuard", "file_limit", "guarded_protocol"]

log = logging.getLogger("modelmon.service")

#: files of the process kept free of connections (the store's, the journal's, logs, pipes)
FILE_RESERVE = 128


def file_limit() -> int:
    """The process's soft limit of open files (``ulimit -n``)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def _timeout_answer(seconds: float) -> bytes:
    body = json.dumps(
        {"error": f"the request's headers did not arrive within {seconds:g} s; send them at once"}
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class ConnectionGuard:
    """The shared state of one server's connections: who waits for headers, since when; counts."""

    def __init__(self, connections: int = 1000, header_seconds: float = 10.0) -> None:
        self.connections = max(1, min(connections, file_limit() - FILE_RESERVE))
        self.header_seconds = header_seconds
        self._reset()

    def _reset(self) -> None:
        #: connections waiting for headers or idle, oldest first (dicts keep insertion order)
        self.waiting: dict[Any, None] = {}
        self.open = 0
        #: connections closed because their headers were too slow
        self.header_timeouts = 0
        #: waiting or idle connections closed to make room for a new one
        self.evicted = 0
        #: new connections refused because every open one was busy with a request
        self.refused = 0

    def health(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "limit": self.connections,
            "header_seconds": self.header_seconds,
            "header_timeouts": self.header_timeouts,
            "evicted": self.evicted,
            "refused": self.refused,
        }


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with ``guard``'s header deadline and connection limit."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # the service extra's server

    timeout_answer = _timeout_answer(guard.header_seconds)

    class GuardedProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _counted = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if guard.open >= guard.connections and not self._make_room():
                guard.refused += 1
                transport.abort()
                return
            guard.open += 1
            self._counted = True
            self._await_headers()

        def _make_room(self) -> bool:
            for oldest in guard.waiting:
                guard.waiting.pop(oldest)
                guard.evicted += 1
                oldest.transport.abort()  # connection_lost follows and gives back its place
                guard.open -= 1
                oldest._counted = False
                return True
            return False

        def _await_headers(self) -> None:
            guard.waiting[self] = None
            self._header_timer = self.loop.call_later(guard.header_seconds, self._headers_too_slow)

        def _headers_arrived(self) -> None:
            guard.waiting.pop(self, None)
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self in guard.waiting and not self.transport.is_closing():
                guard.header_timeouts += 1
                self.transport.write(timeout_answer)
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._headers_arrived()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._await_headers()  # the next request's headers, on a kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_arrived()
            if self._counted:
                guard.open -= 1
                self._counted = False
            super().connection_lost(exc)

    return GuardedProtocol
