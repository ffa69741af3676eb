"""The sending side of a :class:`~modelmon.client.Monitor`: encode, post, back off, spool, replay.

It runs on the monitor's background thread only and holds no thread of its own, so it can be driven step
by step. New batches go straight to the service while it answers; once a send fails they go to the spool
(keeping events in order), and :meth:`Sender.replay` empties the spool oldest first whenever the backoff
delay has passed. Nothing here raises for I/O: every item ends up sent, spooled, or dropped and counted.

>>> drops = []
>>> sender = Sender("http://127.0.0.1:9", "m", spool=None, drop=lambda n, key, why: drops.append((n, key)))
>>> sender.deliver("events", [{"id": "a", "features": {}, "prediction": 1}])
>>> sender.sent, drops, sender.failures
(0, [(1, 'unreachable')], 1)
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from modelmon.client.encode import encode_event, encode_target
from modelmon.client.spool import Spool
from modelmon.client.transport import Outcome, endpoint_url, post_batch
from modelmon.errors import InputError

__all__ = ["Sender"]

logger = logging.getLogger("modelmon.client")

#: drop(count, key, message): count ``count`` items as dropped and log ``message`` (rate-limited per key).
DropCallback = Callable[[int, str, str], None]

_FIRST_BACKOFF = 0.1


class Sender:
    """Deliver batches of events or targets for one model (see the module docstring)."""

    def __init__(
        self,
        url: str,
        model: str,
        token: str | None = None,
        *,
        spool: Spool | None,
        drop: DropCallback,
        timeout: float = 2.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.url = url
        self.model = model
        self.token = token
        self.spool = spool
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._drop = drop
        self._urls = {kind: endpoint_url(url, model, kind) for kind in ("events", "targets")}
        self.sent = 0
        self.failures = 0
        self.next_attempt = 0.0  # time.monotonic() before which the service is not tried again

    @property
    def replay_due(self) -> bool:
        return bool(self.spool) and time.monotonic() >= self.next_attempt

    def deliver(self, kind: str, items: list[dict[str, Any]]) -> None:
        """Encode and send one batch now, or spool it when the service is down or older batches wait."""
        encoded = self._encode(kind, items)
        if not encoded:
            return
        if self.spool is not None and (self.spool or self.failures):
            self._to_spool(kind, encoded)
            return
        if self.failures and time.monotonic() < self.next_attempt:
            self._drop(len(encoded), "unreachable", self._unreachable_message(len(encoded), kind))
            return
        retry = self._send(kind, encoded)
        if retry:
            self._to_spool(kind, retry)

    def replay(self, deadline: float, force: bool = False) -> None:
        """Send spooled batches, oldest first, until the spool is empty, a send fails or ``deadline``."""
        spool = self.spool
        if spool is None or not spool or not (force or self.replay_due):
            return
        if self.failures:
            logger.info("modelmon service at %s: retrying, %d items in the spool", self.url, spool.count)
        while spool and time.monotonic() < deadline:
            try:
                kind, items = spool.peek()
                encoded = [encode_target(i) if kind == "targets" else encode_event(i) for i in items]
            except (OSError, ValueError, KeyError, TypeError, InputError) as exc:
                self._drop(
                    spool.pop(), "spool", f"modelmon: unreadable batch in spool {spool.path} dropped: {exc}"
                )
                continue
            retry = self._send(kind, encoded)
            if len(retry) == len(encoded):
                return
            spool.pop()
            if retry:  # part of a split batch failed: keep it, at the end
                self._to_spool(kind, retry)
                return

    def _encode(self, kind: str, items: list[dict[str, Any]]) -> list[str]:
        encode = encode_target if kind == "targets" else encode_event
        encoded = []
        for item in items:
            try:
                encoded.append(encode(item))
            except InputError as exc:
                self._drop(1, "bad-value", f"modelmon: dropped one of the {kind} for {self.model!r}: {exc}")
        return encoded

    def _send(self, kind: str, encoded: list[str]) -> list[str]:
        """Post ``encoded``; return the items worth retrying later (empty when all were settled)."""
        body = f'{{"{kind}": [{", ".join(encoded)}]}}'.encode()
        answer = post_batch(
            self._urls[kind], body, count=len(encoded), token=self.token, timeout=self.timeout
        )
        if answer.outcome is Outcome.SENT:
            if self.failures:
                logger.warning("modelmon service at %s answers again", self.url)
            self.failures = 0
            self.sent += answer.accepted
            if answer.rejected:
                index, error = answer.rejected[0]
                message = (
                    f"modelmon service refused {len(answer.rejected)} of {len(encoded)} {kind} for "
                    f"{self.model!r}; first: item {index}: {error}"
                )
                self._drop(len(answer.rejected), "rejected", message)
            return []
        if answer.outcome is Outcome.RETRY:
            self._failed(answer.error, answer.retry_after)
            return encoded
        if answer.status == 413 and len(encoded) > 1:
            half = len(encoded) // 2
            return self._send(kind, encoded[:half]) + self._send(kind, encoded[half:])
        message = (
            f"modelmon service refused a batch of {len(encoded)} {kind} for {self.model!r} "
            f"and it will not be retried: {answer.error}"
        )
        self._drop(len(encoded), f"refused-{answer.status}", message)
        return []

    def _failed(self, error: str, retry_after: float | None = None) -> None:
        self.failures += 1
        delay = min(self.max_backoff, _FIRST_BACKOFF * 2 ** min(self.failures - 1, 30))
        # Jitter spreads the retries of many replicas that lost the service at the same moment; the
        # service's Retry-After, when it sent one, says when it can take more: not before.
        delay = max(delay * random.uniform(0.5, 1.0), retry_after or 0.0)
        self.next_attempt = time.monotonic() + delay
        if self.failures == 1 or self.failures % 100 == 0:  # say it again now and then while it lasts
            where = f"spooling to {self.spool.path}" if self.spool is not None else "no spool: dropping"
            logger.warning(
                "modelmon service at %s is not answering (%s, %d attempts); %s",
                self.url,
                error,
                self.failures,
                where,
            )

    def _to_spool(self, kind: str, encoded: list[str]) -> None:
        if self.spool is None:
            self._drop(len(encoded), "unreachable", self._unreachable_message(len(encoded), kind))
            return
        try:
            overflow = self.spool.append(kind, encoded)
        except OSError as exc:
            self._drop(
                len(encoded), "spool-write", f"modelmon: could not write spool {self.spool.path}: {exc}"
            )
            return
        if overflow:
            message = f"modelmon spool {self.spool.path} is full: dropped its {overflow} oldest items"
            self._drop(overflow, "spool-full", message)

    def _unreachable_message(self, count: int, kind: str) -> str:
        return (
            f"modelmon service at {self.url} is not answering and there is no spool: {count} {kind} dropped"
        )
