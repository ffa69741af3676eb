"""An event's timestamp: ISO 8601 text or epoch seconds, within the accepted range, as a UTC datetime.

>>> parse_timestamp("2024-05-01T12:00:00+02:00")
datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
>>> parse_timestamp(1714557600.5)
datetime.datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from modelmon.errors import EventError
from modelmon.service.api_schema import EARLIEST, LATEST

__all__ = ["EARLIEST_SECONDS", "LATEST_SECONDS", "parse_timestamp"]

_RANGE = f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"
#: the accepted range in epoch seconds: from the first, up to but not including the second
EARLIEST_SECONDS, LATEST_SECONDS = EARLIEST.timestamp(), LATEST.timestamp()


def parse_timestamp(value: Any, where: str = "timestamp") -> datetime:
    """An aware UTC datetime from ISO 8601 text or epoch seconds."""
    if isinstance(value, bool):
        raise EventError(f"{where}: expected ISO 8601 text or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise EventError(f"{where}: {value!r} is not a finite number")
        if not EARLIEST_SECONDS <= value < LATEST_SECONDS:
            hint = " (epoch seconds, not milliseconds)" if 0 < value < 1000 * LATEST_SECONDS else ""
            raise EventError(f"{where}: {value!r} is outside the accepted range {_RANGE}{hint}")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise EventError(f"{where}: {value[:80]!r} is not an ISO 8601 timestamp") from None
        if not EARLIEST <= parsed < LATEST:
            raise EventError(f"{where}: {value[:80]!r} is outside the accepted range {_RANGE}")
        return parsed
    raise EventError(f"{where}: expected ISO 8601 text or epoch seconds, got {type(value).__name__}")
