"""What :meth:`Monitor.flush` and :meth:`Monitor.close` answer: what became of the items logged since
the previous answer, so that a batch the service refused does not read as delivered.

>>> delivery = Delivery(finished=True, sent=0, rejected=269, dropped=269, spooled=0,
...                     reasons=("modelmon service refused 269 of 269 events for 'm'; first: item 0: ...",))
>>> bool(delivery), delivery.rejected
(False, 269)
>>> bool(Delivery(finished=True, sent=5, rejected=0, dropped=0, spooled=0, reasons=()))
True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_REASONS", "Delivery"]

#: the reasons kept per answer: the first ones of each kind of loss say enough to fix the sender
MAX_REASONS = 5


@dataclass(frozen=True)
class Delivery:
    """The items logged since the previous :meth:`~Monitor.flush` or :meth:`~Monitor.close`.

    True when ``finished`` (flush: nothing is left to send; close: the sender stopped in time) and
    nothing was given up. ``rejected`` counts the items the service refused (each also counted in
    ``dropped``, with every other loss: a full queue or spool, a value that cannot be sent);
    ``spooled`` the items waiting on disk for the service; ``reasons`` the first messages saying why
    items were lost.
    """

    finished: bool
    sent: int
    rejected: int
    dropped: int
    spooled: int
    reasons: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.finished and not self.dropped
