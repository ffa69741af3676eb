"""The online state of one monitored model: reference, window, counters and latest results.

Requests only check events (:meth:`ModelMonitor.check`) and, once they are durable, queue their
rows (:meth:`ModelMonitor.accept`; cheap, under a lock); the background recompute profiles the
queued rows into the window, joins late targets, and runs the engine's sections on the window's
profile, each alone: a section that fails gives ``{"applicable": false, "error": ...}`` and is
counted, the others and ``computed_at`` move on. Readers (the summary endpoint, the Prometheus
collector, the dashboard) read the latest result, which is replaced whole, never mutated.

Bad data is data: a feature missing from an event is a missing value of its column, a feature the
schema does not name is left out of the window's rows and reported as an unexpected column (at most
``UNEXPECTED_NAMES`` names are kept), and a prediction of the wrong type is a type error of the
prediction column.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from modelmon import sections as registry
from modelmon.config import FUTURE_TOLERANCE_SECONDS, ModelConfig
from modelmon.engine.report import ReportInputs, not_applicable
from modelmon.errors import EventError
from modelmon.sections import run_sections
from modelmon.service.events import CheckedBatch, check_events, check_target
from modelmon.service.fitted_reference import FittedReference, fit_reference
from modelmon.service.reference import add_reference_notes
from modelmon.service.window import SlidingWindow

__all__ = ["LATENCY_BUCKETS", "ModelMonitor", "RecentIds", "framed"]

log = logging.getLogger("modelmon.service")

#: upper bounds (seconds) of the prediction latency histogram
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: recomputes a target waits for its event before it is counted as unmatched
TARGET_PATIENCE = 3
#: with a model file, SHAP runs on the window's sample at most this often (it costs seconds)
EXPLAIN_SECONDS = 60.0
_INTERNAL = ["__id", "__timestamp", "__latency_ms"]
#: names of unexpected features kept per recompute (the count of such values has no bound)
UNEXPECTED_NAMES = 20


@dataclass
class Counters:
    events: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    targets: int = 0
    targets_joined: int = 0
    targets_unmatched: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_count: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    section_errors: dict[str, int] = field(default_factory=dict)
    unexpected_features: int = 0
    duplicates: int = 0


class RecentIds:
    """The ``size`` most recent event ids (oldest forgotten first).

    >>> recent = RecentIds(2)
    >>> [row["__id"] for row in recent.keep_new([{"__id": "a"}, {"__id": "b"}, {"__id": "a"}])]
    ['a', 'b']
    >>> [row["__id"] for row in recent.keep_new([{"__id": "c"}])]
    ['c']
    >>> [row["__id"] for row in recent.keep_new([{"__id": "a"}])]  # forgotten, so new again
    ['a']
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: dict[str, None] = {}

    def keep_new(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows whose ``__id`` was not seen lately, remembering them."""
        ids = self._ids
        new = []
        for row in rows:
            key = row["__id"]
            if key not in ids:
                ids[key] = None
                new.append(row)
        excess = len(ids) - self.size
        if excess > 0:
            for key in list(islice(ids, excess)):
                del ids[key]
        return new


def framed(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Checked rows as a frame without their internal fields (``__id``, ...), as
    ``pd.DataFrame.from_records(rows).drop(columns=_INTERNAL)`` has it: the same columns in the order
    the rows first name them, each read alike, but the internal ones (a time's above all) never built.

    >>> framed([{"x": 1.0, "__id": "a"}, {"y": "b", "x": 2.0, "__id": "b"}])
         x    y
    0  1.0  NaN
    1  2.0    b
    """
    # rows of one set of fields (the usual batch) name them in the first row's order; a union of
    # sets, counted in C, tells so without gathering every row's names in order
    first = list(rows[0]) if rows else []
    named = (
        first
        if len(set().union(*rows)) == len(first)
        else dict.fromkeys(name for row in rows for name in row)
    )
    return pd.DataFrame.from_records(rows, columns=[name for name in named if name not in _INTERNAL])


class ModelMonitor:
    """Online monitoring of one model."""

    def __init__(
        self,
        config: ModelConfig,
        reference: pd.DataFrame | None = None,
        fitted: FittedReference | None = None,
        future_tolerance: float = FUTURE_TOLERANCE_SECONDS,
    ) -> None:
        """``fitted``: the model's reference fitted already (shared by the models naming the same
        file); else ``reference``, the frame to fit; else the configured file is read and fitted."""
        self.config = config
        #: seconds an event's timestamp may be ahead of its receipt (``ingest.future_tolerance_seconds``)
        self.future_tolerance = future_tolerance
        self.name = config.name
        self.schema = config.schema
        fitted = fitted if fitted is not None else fit_reference(config, reference)
        self.model = fitted.model
        self.reference_notes = fitted.notes
        self.spec, self.reference = fitted.spec, fitted.profile
        self.reference_sample = fitted.sample
        self.window = SlidingWindow(
            self.spec, config.window, buckets=config.buckets, max_awaiting_target=config.max_awaiting_target
        )
        self.counters = Counters()
        self.latest: dict[str, Any] | None = None
        #: the window's profile and row sample of the latest result (the old Evidently series read them)
        self.window_view: tuple[Any, pd.DataFrame | None] | None = None
        self._lock = threading.Lock()
        self._recompute_lock = threading.Lock()
        self._pending_rows: list[dict[str, Any]] = []
        self._pending_targets: dict[str, tuple[Any, int]] = {}
        self._concept: Any = None
        self._reference_errors = fitted.errors
        self._explained: tuple[float, dict[str, Any]] | None = None
        self._explainer: threading.Thread | None = None
        #: what the latest result showed of SHAP and of the concept flags (a change is news)
        self._explained_shown: tuple[float, dict[str, Any]] | None = None
        self._concept_flags: dict[str, bool] | None = None
        embedded = [column for columns in self.schema.embeddings.values() for column in columns]
        self._expected = frozenset(
            (*self.schema.features, *self.schema.segments, *self.schema.sensitive, *embedded)
        )
        self._unexpected: set[str] = set()
        #: what sections keep from one recompute to the next (the per-segment drift results)
        self._memo: dict[str, Any] = {}
        self._live_ids: set[str] | None = None  # ids accepted while the window is rebuilt
        # ids of the latest events: a resend (after a timeout, a replay) is stored once and counted once;
        # one older than the horizon is stored once but counted and windowed again
        self._recent = RecentIds(config.resend_horizon)
        self.recompute_error: str | None = None
        self.rebuild_error: str | None = None
        self.recomputed_at = time.monotonic()

    def check(self, events: Sequence[Any], received_at: datetime | None = None) -> CheckedBatch:
        """Check events (counting the rejected ones); the valid ones are queued by :meth:`accept`."""
        batch = check_events(events, self.schema, received_at, self.future_tolerance)
        unexpected = self._normalise(batch)
        with self._lock:
            for reason, count in batch.reasons.items():
                self.counters.rejected[reason] = self.counters.rejected.get(reason, 0) + count
            room = UNEXPECTED_NAMES - len(self._unexpected)
            if room > 0 and unexpected:
                self._unexpected.update(sorted(unexpected)[:room])
        return batch

    def _normalise(self, batch: CheckedBatch) -> set[str]:
        """Missing features become missing values, unknown ones leave the rows; their names are returned."""
        unexpected: set[str] = set()
        expected = self._expected
        for row, document in zip(batch.rows, batch.documents, strict=True):
            features = document["features"]
            if features.keys() == expected:
                continue
            for name in expected.difference(features):
                row[name] = None
            extra = features.keys() - expected
            if extra:
                for name in extra:
                    del row[name]
                unexpected.update(extra)
                batch.unexpected += len(extra)
        return unexpected

    def count_refused(self, reason: str, count: int) -> None:
        """Count events or targets answered 503 (``reason``: a code of the service's fixed list)."""
        with self._lock:
            self.counters.refused[reason] = self.counters.refused.get(reason, 0) + count

    def ingest(self, events: Sequence[Any], received_at: datetime | None = None) -> CheckedBatch:
        """Check events and queue the valid ones for the next recompute (no journal, no store)."""
        batch = self.check(events, received_at)
        self.accept(batch)
        return batch

    def accept(self, batch: CheckedBatch) -> None:
        """Queue the rows of a checked, durable batch for the next recompute (each id once)."""
        with self._lock:
            rows = self._recent.keep_new(batch.rows)
            self.counters.duplicates += len(batch.rows) - len(rows)
        if len(rows) < len(batch.rows):
            batch = CheckedBatch(rows=rows, unexpected=batch.unexpected)
        latencies = [row["__latency_ms"] for row in batch.rows if row["__latency_ms"] is not None]
        if latencies:
            # binned before taking the lock, which only adds the batch's totals
            seconds = np.asarray(latencies, dtype=float) / 1000.0
            slots = np.searchsorted(LATENCY_BUCKETS, seconds, side="left")
            binned = np.bincount(slots, minlength=len(LATENCY_BUCKETS) + 1).tolist()
            total = float(seconds.sum())
        with self._lock:
            self._pending_rows.extend(batch.rows)
            if self._live_ids is not None:
                self._live_ids.update(row["__id"] for row in batch.rows)
            counters = self.counters
            counters.events += len(batch.rows)
            counters.unexpected_features += batch.unexpected
            if latencies:
                counters.latency_counts = [
                    a + b for a, b in zip(counters.latency_counts, binned, strict=True)
                ]
                counters.latency_sum += total
                counters.latency_count += len(latencies)

    def add_targets(self, targets: Sequence[Any]) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
        """Check and queue late targets (no journal, no store)."""
        pairs, rejected = self.check_targets(targets)
        self.accept_targets(pairs)
        return pairs, rejected

    def check_targets(self, targets: Sequence[Any]) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
        """Check ``[{"id": ..., "target": ...}]`` items: the valid (id, target) pairs and the rejected."""
        pairs: list[tuple[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(targets):
            try:
                pairs.append(check_target(item))
            except EventError as exc:
                rejected.append({"index": index, "error": str(exc)})
        return pairs, rejected

    def accept_targets(self, pairs: list[tuple[str, Any]]) -> None:
        """Queue durable late targets for the next recompute."""
        with self._lock:
            for event_id, value in pairs:
                self._pending_targets[event_id] = (value, 0)
            self.counters.targets += len(pairs)

    def refresh(self, now: float | None = None) -> bool:
        """Recompute when the results may have changed since the last recompute; whether it did.

        Nothing new (no event, target or unexpected column queued, no bucket of a window by seconds
        expired, no concept flag aged out, no SHAP result finished) leaves the latest results as
        they are, ``computed_at`` included: an idle model costs a few comparisons a refresh.
        """
        now = time.time() if now is None else now
        if self.latest is None or self._has_news(now):
            self.recompute(now)
            return True
        self.recomputed_at = time.monotonic()
        return False

    def _has_news(self, now: float) -> bool:
        with self._lock:
            if self._pending_rows or self._pending_targets or self._unexpected:
                return True
        if self.recompute_error is not None or self.window.expires(now):
            return True
        if self._explained is not self._explained_shown:
            return True
        return self._concept is not None and self._concept.flags(now) != self._concept_flags

    def recompute(self, now: float | None = None) -> dict[str, Any]:
        """Profile queued rows, join targets, and compute every online section on the window."""
        now = time.time() if now is None else now
        with self._recompute_lock:
            with self._lock:
                rows, self._pending_rows = self._pending_rows, []
                targets, self._pending_targets = self._pending_targets, {}
                unexpected, self._unexpected = self._unexpected, set()
            self.window.note_unexpected(unexpected, now)
            self._add_rows(rows, now)
            self._join_targets(targets, now)
            self.latest = self._results(now)
            self.recompute_error = None
            self.recomputed_at = time.monotonic()
            return self.latest

    def _add_rows(self, rows: list[dict[str, Any]], now: float) -> None:
        """Profile checked rows into the window (under the recompute lock); time moves on without."""
        if not rows:
            self.window.add(pd.DataFrame(), now=now)
            return
        # a window by rows keeps its length's newest rows: the older are counted, never framed
        kept = self.window.newest_kept(len(rows))
        self.window.skip(len(rows) - kept)
        frame = framed(rows[len(rows) - kept :])
        # only a window by seconds places rows by their timestamps
        stamps = (
            np.array([row["__timestamp"].timestamp() for row in rows])
            if self.config.window.seconds is not None
            else None
        )
        self.window.add(frame, now=now, timestamps=stamps)
        # the detectors read every labelled row, the skipped ones too: their two columns are enough
        target, prediction = self.schema.target, self.schema.prediction
        if kept < len(rows) and target is not None and prediction is not None:
            frame = pd.DataFrame.from_records(rows, columns=[target, prediction])
        inline = self._inline_labelled(frame)
        if inline is not None:
            self._feed_concept(inline, now)

    def _inline_labelled(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        target = self.schema.target
        if target is None or target not in frame.columns:
            return None
        known = frame[target].notna().to_numpy()
        if known.all():  # every row labelled (targets sent inline): the frame itself, not a copy
            return frame if len(frame) else None
        labelled = frame[known]
        return labelled if not labelled.empty else None

    def _join_targets(self, targets: dict[str, tuple[Any, int]], now: float) -> None:
        if not targets:
            return
        joined, missed = self.window.add_targets({key: value for key, (value, _) in targets.items()})
        retry = {key: (targets[key][0], targets[key][1] + 1) for key in missed}
        expired = [key for key, (_, attempts) in retry.items() if attempts >= TARGET_PATIENCE]
        with self._lock:
            self.counters.targets_joined += len(joined)
            self.counters.targets_unmatched += len(expired)
            for key, value in retry.items():
                if key not in expired:
                    self._pending_targets.setdefault(key, value)
        if joined:
            self._feed_concept(pd.DataFrame.from_records(joined), now)

    def _feed_concept(self, labelled: pd.DataFrame, now: float) -> None:
        from modelmon.service.concept import feed_concept

        self._concept = feed_concept(self._concept, self.schema, labelled, self._reference_errors, now=now)

    def _explain(self, inputs: ReportInputs, now: float) -> dict[str, Any]:
        """SHAP on the window's sample in a thread every ``EXPLAIN_SECONDS``; the latest result meanwhile."""
        due = self._explained is None or now - self._explained[0] >= EXPLAIN_SECONDS
        has_rows = inputs.current_sample is not None and len(inputs.current_sample) > 0
        running = self._explainer is not None and self._explainer.is_alive()
        if due and has_rows and not running:
            inputs.model = self.model
            self._explainer = threading.Thread(
                target=self._explain_in_background,
                args=(inputs, now),
                name=f"modelmon-explain-{self.name}",
                daemon=True,
            )
            self._explainer.start()
        if self._explained is None:
            return not_applicable("SHAP attributions of the window are being computed")
        return self._explained[1]

    def _explain_in_background(self, inputs: ReportInputs, now: float) -> None:
        try:
            self._explained = (now, run_sections(inputs, only=("explain",))["explain"])
        except Exception as exc:  # reported in the section, so the dashboard and logs say why
            self._explained = (now, not_applicable(f"SHAP attributions failed: {exc}"))

    def _section(self, name: str, compute: Any) -> dict[str, Any]:
        try:
            return dict(compute())
        except Exception as exc:  # one section's failure must not freeze the others or the window
            with self._lock:
                self.counters.section_errors[name] = self.counters.section_errors.get(name, 0) + 1
            return {"applicable": False, "error": f"{type(exc).__name__}: {exc}"}

    def failing_sections(self) -> dict[str, str]:
        """Section -> error of the latest result's sections that failed."""
        latest = self.latest or {}
        return {
            name: str(section["error"])
            for name, section in latest.items()
            if isinstance(section, dict)
            and section.get("error") is not None
            and not section.get("applicable")
        }

    def begin_warming(self) -> None:
        """Remember the ids accepted from now on, which a rebuild from the store must not add twice."""
        with self._lock:
            self._live_ids = set()

    def rebuild(self, events: Any, recovered: list[dict[str, Any]], deadline: float) -> int:
        """Refill the window from the store's newest events (then the journal's); returns the rows.

        Each store chunk is profiled into the window as it is read, so a rebuild holds one chunk of
        events, not the window's; it stops at ``deadline`` with what it has."""
        from modelmon.service.rebuild import rebuild_batches

        with self._lock:
            live = self._live_ids or set()
        window, schema = self.config.window, self.schema
        added, left_out, first_error = 0, 0, ""
        for chunk in rebuild_batches(events, self.name, window, schema, recovered, live, deadline):
            # stored before the tolerance was checked, or under another clock: left out as at ingest
            batch = check_events(chunk, schema, future_tolerance=self.future_tolerance)
            if batch.rejected:
                left_out += len(batch.rejected)
                first_error = first_error or batch.rejected[0]["error"]
            self._normalise(batch)
            with self._recompute_lock:
                with self._lock:
                    rows = self._recent.keep_new(batch.rows)  # the journal repeats stored events
                self._add_rows(rows, time.time())
            added += len(rows)
        if left_out:
            log.warning(
                "window of %s: %d stored events left out of the rebuild, the first: %s",
                self.name,
                left_out,
                first_error,
            )
        with self._lock:
            self._live_ids = None
        return added

    def _results(self, now: float) -> dict[str, Any]:
        current = self.window.current()
        inputs = ReportInputs(
            reference=self.reference,
            current=current,
            reference_sample=self.reference_sample,
            current_sample=self.window.sample(),
            current_sample_scores=self.window.sample_scores(),
            drift=self.config.drift,
            memo=self._memo,
        )
        # with a model file the explain section is computed below from attributions of the window
        online = tuple(
            section.name
            for section in registry.REGISTRY
            if section.online and (self.model is None or section.name != "explain")
        )
        sections = {
            name: self._section(name, lambda name=name: run_sections(inputs, only=(name,))[name])
            for name in online
        }
        if self.model is not None:
            sections["explain"] = self._section("explain", lambda: self._explain(inputs, now))
        self.window_view = (current, inputs.current_sample)
        from modelmon.service.concept import concept_section

        sections["concept"] = self._section(
            "concept", lambda: concept_section(self._concept, self.schema, now)
        )
        self._explained_shown = self._explained
        self._concept_flags = None if self._concept is None else self._concept.flags(now)
        add_reference_notes(sections, self.reference_notes)
        return {
            "model": self.name,
            "computed_at": datetime.fromtimestamp(now, tz=UTC).isoformat(),
            "reference_rows": self.reference.rows,
            "current_rows": current.rows,
            "labelled_rows": self.window.labelled_rows,
            "window": {"rows": self.config.window.rows, "seconds": self.config.window.seconds},
            **sections,
        }
