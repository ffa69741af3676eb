"""Durations written the short way (``30m``, ``24h``, ``7d``) and the periods of a backfill.

>>> parse_duration("90m")
datetime.timedelta(seconds=5400)
>>> [(start.hour, end.hour) for start, end in periods("2026-01-01T00:00Z", "2026-01-01T05:00Z", "2h")]
[(0, 2), (2, 4), (4, 5)]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from modelmon.errors import ConfigError, InputError
from modelmon.store.documents import to_utc

__all__ = ["parse_duration", "parse_time", "period_label", "periods", "resolve_period"]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """A positive duration from ``<number><unit>``, unit one of s, m, h, d, w.

    >>> parse_duration("1d") == timedelta(days=1)
    True
    >>> parse_duration("soon")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    modelmon.errors.ConfigError: duration 'soon' is not understood; write a number and a unit ...
    """
    match = _DURATION.match(str(text))
    if match is None:
        raise ConfigError(
            f"{what} {text!r} is not understood; write a number and a unit "
            f"(s, m, h, d or w), for example 30m, 24h or 7d"
        )
    amount = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if amount <= timedelta(0):
        raise ConfigError(f"{what} {text!r} must be longer than zero")
    return amount


def parse_time(value: str | datetime, what: str = "time") -> datetime:
    """An aware UTC datetime from ISO 8601 text (naive text is taken as UTC)."""
    try:
        moment = to_utc(value, what)
    except InputError as exc:
        raise ConfigError(f"{exc}; write e.g. 2026-01-01T00:00:00Z") from exc
    assert moment is not None
    return moment


def periods(
    start: str | datetime, end: str | datetime, every: str | timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive ``[start, end)`` periods of length ``every``; the last one stops at ``end``."""
    first, last = parse_time(start, "start"), parse_time(end, "end")
    step = every if isinstance(every, timedelta) else parse_duration(every, "every")
    if last <= first:
        raise ConfigError(f"end {last.isoformat()} must be after start {first.isoformat()}")
    moment = first
    while moment < last:
        yield moment, min(moment + step, last)
        moment += step


def period_label(start: datetime, end: datetime) -> str:
    """The file-name stem of a period's report: ``<start>_<end>`` in compact UTC.

    >>> period_label(parse_time("2026-01-01T00:00Z"), parse_time("2026-01-02T00:00Z"))
    '20260101T000000Z_20260102T000000Z'
    """
    return f"{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}"


def resolve_period(
    start: datetime | str | None, end: datetime | str | None, period: str | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The ``[start, end)`` of a run: given outright, or the ``period`` (``24h``) that ends at ``now``.

    >>> resolve_period(None, None, "1h", now=datetime(2026, 1, 1, 12, tzinfo=UTC))[0].isoformat()
    '2026-01-01T11:00:00+00:00'
    """
    if start is not None and end is not None:
        first, last = parse_time(start, "start"), parse_time(end, "end")
    elif period is not None and start is None:
        last = parse_time(end, "end") if end is not None else (now or datetime.now(UTC))
        first = last - parse_duration(period, "period")
    else:
        raise ConfigError("give both start and end, or a period (such as 24h) that ends now or at end")
    if last <= first:
        raise ConfigError(f"end {last.isoformat()} must be after start {first.isoformat()}")
    return first, last
