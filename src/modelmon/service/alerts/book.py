"""The alert book: every alert modelmon was told about, its diagnostic report, deliveries and action.

An entry is keyed by the alert's fingerprint and start (:attr:`~.payload.Alert.key`): Alertmanager
repeats a firing alert every ``group_interval`` / ``repeat_interval``, and each repeat finds the
same entry, so a flood of notifications makes one report. The book is kept in memory, bounded to
:data:`MAX_ENTRIES` (the oldest resolved entries go first), and written to a JSON file after each
change (to a temporary file, then renamed) so that a restart keeps the links and the cool-downs.

>>> import tempfile, pathlib
>>> book = AlertBook(pathlib.Path(tempfile.mkdtemp()) / "alerts.json")
>>> entry, new = book.open("f1@t", {"model": "taxi", "status": "firing"})
>>> again, new_again = book.open("f1@t", {"model": "taxi", "status": "firing"})
>>> new, new_again, again["notifications"]
(True, False, 2)
>>> AlertBook(book.path).get("f1@t")["notifications"]
2
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["MAX_ENTRIES", "AlertBook"]

log = logging.getLogger(__name__)

#: entries kept; beyond it the oldest resolved ones (then the oldest) are forgotten
MAX_ENTRIES = 1000


class AlertBook:
    """Entries by key, newest last; thread-safe; persisted to ``path`` (``None``: memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        self.load_error: str | None = None
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
                self._entries = {entry["key"]: entry for entry in loaded["entries"]}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # a damaged book loses the links, never the service: it is set aside and started anew
                self.load_error = f"the alert book {path.name} could not be read ({exc}); started a new one"
                log.warning(self.load_error)
                path.replace(path.with_suffix(f".damaged-{int(time.time())}"))

    def open(self, key: str, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The entry of ``key`` (created from ``fields`` if new; a repeat counts one more notification)."""
        with self._lock:
            entry = self._entries.get(key)
            new = entry is None
            if entry is None:
                entry = {"key": key, "notifications": 0, "first_seen": time.time(), **fields}
                self._entries[key] = entry
                self._trim()
            entry["notifications"] += 1
            entry["last_seen"] = time.time()
            snapshot = json.loads(json.dumps(entry, default=str))
        self.save()
        return snapshot, new

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else json.loads(json.dumps(entry, default=str))

    def update(self, key: str, **fields: Any) -> dict[str, Any] | None:
        """Set ``fields`` on the entry of ``key``; its new state (``None``: no such entry)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            entry.update(fields)
            snapshot = json.loads(json.dumps(entry, default=str))
        self.save()
        return snapshot

    def entries(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first (by the time they were first seen)."""
        with self._lock:
            chosen = [e for e in self._entries.values() if model is None or e.get("model") == model]
            chosen.sort(key=lambda entry: entry["first_seen"], reverse=True)
            return json.loads(json.dumps(chosen[:limit], default=str))

    def last_action(self, model: str) -> float | None:
        """When the latest action of ``model`` was started (for the cool-down), or ``None``."""
        with self._lock:
            times = [
                entry["action"]["at"]
                for entry in self._entries.values()
                if entry.get("model") == model and (entry.get("action") or {}).get("state") == "started"
            ]
        return max(times, default=None)

    def _trim(self) -> None:
        while len(self._entries) > MAX_ENTRIES:
            resolved = [key for key, entry in self._entries.items() if entry.get("status") == "resolved"]
            del self._entries[resolved[0] if resolved else next(iter(self._entries))]

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            text = json.dumps({"entries": list(self._entries.values())}, default=str)
        temporary = self.path.with_suffix(f".tmp-{threading.get_ident()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text)
            os.replace(temporary, self.path)
        except OSError as exc:  # the book in memory still answers; the next save tries again
            log.warning("could not write the alert book %s: %s", self.path, exc)
