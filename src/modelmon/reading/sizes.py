"""Sizes in bytes as people write them (``256MiB``, ``1.5GB``), and the default memory budget.

Kept apart from :mod:`modelmon.reading.files` so that a command can read its ``--memory-budget`` before
numpy and pandas are imported.
"""

from __future__ import annotations

from modelmon.errors import InputError

__all__ = ["DEFAULT_MEMORY_BUDGET", "parse_bytes"]

#: memory a report may spend on one chunk of data and the work on it, unless told otherwise
DEFAULT_MEMORY_BUDGET = 256 << 20
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 10**3, "kib": 1 << 10, "m": 1 << 20, "mb": 10**6}
_UNITS.update({"mib": 1 << 20, "g": 1 << 30, "gb": 10**9, "gib": 1 << 30, "t": 1 << 40, "tb": 10**12})
_UNITS["tib"] = 1 << 40


def parse_bytes(text: str | int) -> int:
    """A size such as ``"256MiB"``, ``"1.5GB"`` or ``"512m"`` in bytes.

    >>> parse_bytes("256MiB"), parse_bytes("1GB"), parse_bytes("2g"), parse_bytes(1 << 21)
    (268435456, 1000000000, 2147483648, 2097152)
    """
    if isinstance(text, int):
        size = text
    else:
        number = str(text).strip().lower().replace(" ", "")
        digits = number.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = number[len(digits) :]
        try:
            size = int(float(digits) * _UNITS[unit])
        except (ValueError, KeyError) as exc:
            raise InputError(
                f"memory budget {text!r}: expected a size such as 256MiB, 1GB or 512m "
                f"(units: {', '.join(sorted(unit for unit in _UNITS if unit))})"
            ) from exc
    if size < 1 << 20:
        raise InputError(f"memory budget {text!r} is below 1 MiB; give at least 1MiB (default 256MiB)")
    return size
