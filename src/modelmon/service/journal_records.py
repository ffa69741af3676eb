"""The journal's records on disk: framing, checksum, and reading a folder back at start.

A record is ``RS crc32 SP json LF`` (RS is the byte 0x1E of JSON text sequences, RFC 7464; crc32
is 8 hex digits over the JSON bytes). JSON text never holds a raw control byte, so RS marks where
a record starts even after a record cut in the middle: the record after it is still found. A
record whose checksum or shape is wrong is skipped, counted and its bytes appended to
``quarantine/<segment>.damaged``; a file of the folder that is not a segment is moved into
``quarantine/`` with a warning. Nothing found in the folder stops the service from starting.

>>> record = frame(b'{"kind":"events","model":"m","items":[{"id":"a"}]}')
>>> found = read_segment(record + record.replace(b'"m"', b'"n"'))
>>> [entry["model"] for entry in found.entries], len(found.damaged)
(['m'], 1)
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["QUARANTINE", "SegmentRead", "frame", "quarantine_records", "read_segment", "segment_files"]

log = logging.getLogger("modelmon.service")

_RS = b"\x1e"
_HEADER = 9  # 8 hex digits of the checksum and a space
#: the folder of the journal where damaged records and unknown files are put aside
QUARANTINE = "quarantine"
_SEGMENT = re.compile(r"segment-(\d{6,18})\.jsonl")
#: files of the journal folder that belong there without being segments
_KNOWN = frozenset({"dead-letter.jsonl"})


def frame(payload: bytes) -> bytes:
    """One record of the JSON ``payload`` (without its line end), with its checksum."""
    return b"%s%08x %s\n" % (_RS, zlib.crc32(payload), payload)


@dataclass
class SegmentRead:
    """What a segment holds: the records that passed (as dicts) and the byte runs that did not."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[bytes] = field(default_factory=list)


def _entry(payload: bytes) -> dict[str, Any] | None:
    """The batch of a record whose checksum passed, or None when its shape is not a batch's."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:  # integers beyond 64 bits, which the journal writes with the standard library
            data = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        return None
    items = data.get("items")
    if not isinstance(items, list) or not items:
        return None
    kind = data.get("kind")
    if kind == "events" and all(isinstance(item, dict) for item in items):
        return data
    if kind == "targets" and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in items
    ):
        return data
    return None


def read_segment(data: bytes) -> SegmentRead:
    """The records of one segment's bytes; damaged ones (bad checksum, shape or framing) apart."""
    found = SegmentRead()
    chunks = data.split(_RS)
    if chunks[0]:  # bytes before the first record: nothing the journal wrote
        found.damaged.append(chunks[0])
    for chunk in chunks[1:]:
        record, newline, rest = chunk.partition(b"\n")
        payload = record[_HEADER:]
        entry = None
        if newline and len(record) > _HEADER and record[_HEADER - 1 : _HEADER] == b" ":
            checksum = record[: _HEADER - 1]
            if checksum == b"%08x" % zlib.crc32(payload):
                entry = _entry(payload)
        if entry is None:
            found.damaged.append(_RS + record + newline)
        else:
            found.entries.append(entry)
        if rest:
            found.damaged.append(rest)
    return found


def _aside(path: Path, quarantine: Path) -> None:
    quarantine.mkdir(exist_ok=True)
    target = quarantine / path.name
    number = 1
    while target.exists():
        target = quarantine / f"{path.name}.{number}"
        number += 1
    path.rename(target)
    log.warning("journal: %s is not a segment of the journal; moved aside to %s", path, target)


def segment_files(folder: Path) -> tuple[list[tuple[int, Path]], int]:
    """The segments of ``folder`` (number, path), oldest first, and how many other files were
    moved to the quarantine."""
    segments: list[tuple[int, Path]] = []
    moved = 0
    quarantine = folder / QUARANTINE
    for path in sorted(folder.iterdir()):
        if path.name in _KNOWN or path.name == QUARANTINE:
            continue
        matched = _SEGMENT.fullmatch(path.name)
        if matched and path.is_file():
            segments.append((int(matched.group(1)), path))
            continue
        moved += 1
        try:
            _aside(path, quarantine)
        except OSError as exc:  # left where it is: it is never read as a segment
            log.warning("journal: %s is not a segment and cannot be moved aside: %s", path, exc)
    return sorted(segments), moved


def quarantine_records(folder: Path, segment: Path, damaged: list[bytes]) -> None:
    """Append the damaged bytes of ``segment`` to its file in the quarantine, logging how many."""
    quarantine = folder / QUARANTINE
    target = quarantine / f"{segment.name}.damaged"
    log.warning(
        "journal: %d damaged records of %s skipped (checksum, shape or a cut); their bytes are in %s",
        len(damaged),
        segment,
        target,
    )
    try:
        quarantine.mkdir(exist_ok=True)
        with target.open("ab") as file:
            file.write(b"".join(damaged))
    except OSError as exc:
        log.error("journal: cannot keep the damaged records of %s in %s: %s", segment, target, exc)
