"""How many bytes of request bodies the service reads, parses and checks at once.

A JSON body becomes Python objects many times its size (a 9.5 MiB body of 320,000 small events
takes hundreds of MiB while it is checked), so six large bodies at once took 3 GB. Every request
with a body claims its bytes from one :class:`BodyBudget` (the declared ``Content-Length`` before
anything is read, else chunk by chunk) and keeps them until its answer; a claim that does not fit
is answered 503 with ``Retry-After`` at once, counted in :attr:`BodyBudget.refused`. With the
default budget of twice the body limit, at most two bodies of the largest size are worked on
together, whatever the mix; the peak memory this gives is measured by ``bench.large_bodies``.

A body is held as its bytes or :data:`ITEM_BYTES` per item of its batch, whichever is more: the
objects a body makes grow with its items, and a batch of ``/iterate`` records of 3 bytes each
(``{}``) would otherwise make ten times the objects of the smallest events in the same bytes (a
10 MiB body of them took 6.4 GB). A body of more items than ``max_body_bytes`` holds this way is
refused with 413 (:func:`items_limit`).

Claims are taken and given back on the event loop only, so no lock is needed.

>>> budget = BodyBudget(100)
>>> with budget.claim() as claim:
...     claim.take(60)
...     budget.in_flight
60
>>> budget.in_flight
0
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from modelmon.errors import ServiceBusy

__all__ = ["ITEM_BYTES", "BodyBudget", "Claim", "items_limit"]

#: the bytes an item of a batch holds of the budget at least: the smallest valid event,
#: ``{"features":{},"prediction":1}``, is 31 bytes
ITEM_BYTES = 32


def items_limit(max_body_bytes: int) -> int:
    """The most items one body may hold: as many of the smallest events as the body limit takes.

    >>> items_limit(10 * 1024 * 1024)
    327680
    """
    return max_body_bytes // ITEM_BYTES


class Claim:
    """The bytes one request holds of a :class:`BodyBudget`."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.held = 0

    def take(self, count: int) -> None:
        """Hold ``count`` more bytes, or :class:`~modelmon.errors.ServiceBusy` (503) when they do not fit."""
        budget = self.budget
        if budget.in_flight + count > budget.limit:
            budget.refused += 1
            raise ServiceBusy(
                f"the service is working on {budget.in_flight} bytes of other bodies (its limit is "
                f"{budget.limit}): send this one again later",
                "bodies_busy",
            )
        budget.in_flight += count
        budget.peak = max(budget.peak, budget.in_flight)
        self.held += count

    def hold_items(self, items: int) -> None:
        """Hold :data:`ITEM_BYTES` per item of the parsed body, when that is more than its bytes."""
        if items * ITEM_BYTES > self.held:
            self.take(items * ITEM_BYTES - self.held)


class BodyBudget:
    """At most ``limit`` bytes of bodies held by requests at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be a positive number of bytes, got {limit}")
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        #: requests answered 503 because their body did not fit
        self.refused = 0

    @contextlib.contextmanager
    def claim(self) -> Iterator[Claim]:
        """A claim held for the ``with`` block (its bytes are given back at the end)."""
        claim = Claim(self)
        try:
            yield claim
        finally:
            self.in_flight -= claim.held

    def health(self) -> dict[str, int]:
        return {"limit": self.limit, "in_flight": self.in_flight, "peak": self.peak, "refused": self.refused}
