"""A sliding window kept as a ring of small bucket profiles.

New rows are profiled once, into the bucket they belong to; a recompute merges the buckets'
profiles, so its cost depends on the number of buckets and columns, not on the rows in the
window. A window by rows keeps the newest buckets of ``rows / buckets`` events each, and at least
``MIN_BUCKET_ROWS`` for windows of ten times that (so it holds between ``rows`` minus one bucket
and ``rows`` events); a window by seconds keeps buckets of ``seconds / buckets`` seconds each.
A window by seconds places a row by its timestamp, but never outside the window: a row stamped
after ``now`` (a sender's clock a little ahead; the service refuses timestamps further ahead)
goes to the newest bucket, and a row older than the window is not profiled at all. So a window
holds at most ``buckets`` buckets whatever the timestamps, and every bucket leaves in time.

Ground truth often arrives later than the event. Each bucket therefore has two profiles: the
events as they arrived (features, prediction) and the rows completed with a target
(performance, segments, fairness, target drift). A late target finds its event's bucket by id;
when that bucket has left the window the target is counted as expired. What an unlabelled event
keeps for its target (id, prediction, segments) is capped by ``max_awaiting_target`` records per
window whatever its length and rate: beyond, the oldest are forgotten and counted
(:attr:`SlidingWindow.forgotten`), and their targets are then missed as those of expired buckets.

>>> import pandas as pd
>>> from modelmon.config import Window
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> schema = Schema(numerical=["x"], prediction="y", target="t", id="id")
>>> reference = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0], "t": [1.0, 2.0, 3.0]})
>>> spec = ProfileSpec.fit(reference, schema)
>>> window = SlidingWindow(spec, Window(rows=4), buckets=2)  # two buckets of two rows
>>> window.add(pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "y": 1.0, "t": None, "id": list("abcdef")}), now=0.0)
>>> window.rows
4
>>> joined, missed = window.add_targets({"f": 2.0, "a": 1.0})  # "a" already left the window
>>> [row["t"] for row in joined], missed
([2.0], ['a'])
>>> window.current().columns["t"].count
1
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from modelmon.config import Window
from modelmon.engine.profile import Profile, ProfileSpec
from modelmon.engine.slices import column_reads, profile_slices, slice_bounds
from modelmon.service.packed_profile import PackedProfile
from modelmon.service.window_total import RunningTotal

__all__ = ["Bucket", "SlidingWindow"]

#: parts that need a target and so come from the labelled rows (the only parts built for them)
LABELLED_PARTS = ("performance", "segments", "fairness")
#: a bucket of a window by rows holds at least this many rows (fewer only for tiny windows):
#: profiling a bucket has a fixed cost, so thousands of tiny buckets would cost more than they give
MIN_BUCKET_ROWS = 100
#: names of unexpected columns a window remembers (the newest)
MAX_UNEXPECTED = 50
#: profiles added to a bucket kept aside, at most, before they are summed with its own
MAX_ADDED = 8


@dataclass
class Bucket:
    """Profiles of one slice of the window, and what a late target needs to complete its rows.

    A bucket that no longer fills keeps its profiles packed (:mod:`.packed_profile`): reading
    :attr:`events` or :attr:`labelled` unpacks them. Profiles added to a bucket are kept aside and
    summed with its profile at once when it is read or packed: the newest bucket takes one each
    recompute, and a sum of a few profiles costs about what one sum of two does.
    """

    key: int
    stored_events: Profile | PackedProfile
    stored_labelled: Profile | PackedProfile
    rows: int = 0
    label_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    sample: list[pd.DataFrame] = field(default_factory=list)
    sample_rows: int = 0
    #: the outlier score of each kept row, scored once as it was kept (when the spec has outliers)
    sample_scores: list[np.ndarray] = field(default_factory=list)
    #: profiles added to the events' and the labelled rows' profiles, not yet summed with them
    events_added: list[Profile] = field(default_factory=list)
    labelled_added: list[Profile] = field(default_factory=list)

    @property
    def events(self) -> Profile:
        """The profile of the bucket's events as they arrived."""
        if self.events_added:
            self.stored_events = _summed(self.stored_events, self.events_added)
        stored = self.stored_events
        return stored.unpack() if isinstance(stored, PackedProfile) else stored

    @events.setter
    def events(self, profile: Profile) -> None:
        self.stored_events, self.events_added = profile, []

    @property
    def labelled(self) -> Profile:
        """The profile of the bucket's rows completed with a target."""
        if self.labelled_added:
            self.stored_labelled = _summed(self.stored_labelled, self.labelled_added)
        stored = self.stored_labelled
        return stored.unpack() if isinstance(stored, PackedProfile) else stored

    @labelled.setter
    def labelled(self, profile: Profile) -> None:
        self.stored_labelled, self.labelled_added = profile, []

    def add_events(self, profile: Profile) -> None:
        """Add ``profile`` to the events' profile (summed when read, packed or after a few)."""
        self.events_added.append(profile)
        if len(self.events_added) >= MAX_ADDED:
            self.stored_events = _summed(self.stored_events, self.events_added)

    def add_labelled(self, profile: Profile) -> None:
        """Add ``profile`` to the labelled rows' profile (summed when read, packed or after a few)."""
        self.labelled_added.append(profile)
        if len(self.labelled_added) >= MAX_ADDED:
            self.stored_labelled = _summed(self.stored_labelled, self.labelled_added)

    @property
    def labelled_rows(self) -> int:
        return self.stored_labelled.rows + sum(profile.rows for profile in self.labelled_added)

    def pack(self) -> None:
        """Keep both profiles packed until they change again."""
        if self.events_added:
            self.stored_events = _summed(self.stored_events, self.events_added)
        if self.labelled_added:
            self.stored_labelled = _summed(self.stored_labelled, self.labelled_added)
        if isinstance(self.stored_events, Profile):
            self.stored_events = PackedProfile.of(self.stored_events)
        if isinstance(self.stored_labelled, Profile):
            self.stored_labelled = PackedProfile.of(self.stored_labelled)


def _summed(stored: Profile | PackedProfile, added: list[Profile]) -> Profile:
    """``stored`` with the profiles of ``added`` summed into it, emptying ``added``."""
    profile = stored.unpack() if isinstance(stored, PackedProfile) else stored
    summed = Profile.total(profile.spec, [profile, *added])
    added.clear()
    return summed


def _present(profile: Profile) -> dict[str, Any]:
    """A profile's summaries of the columns its rows had (not those of absent columns)."""
    return {name: column for name, column in profile.columns.items() if name not in profile.absent_columns}


class SlidingWindow:
    """The most recent events of one model, as bucket profiles.

    ``sample_rows`` raw rows are kept per bucket (the first ones) for sections that need rows,
    such as the top outliers.
    """

    def __init__(
        self,
        spec: ProfileSpec,
        window: Window,
        buckets: int = 50,
        sample_rows: int = 40,
        max_awaiting_target: int | None = None,
    ) -> None:
        if buckets < 1:
            raise ValueError(f"buckets must be a positive integer, got {buckets!r}")
        if max_awaiting_target is not None and max_awaiting_target < 0:
            raise ValueError(f"max_awaiting_target must be None or >= 0, got {max_awaiting_target!r}")
        self.spec = spec
        self.window = window
        self.buckets = buckets
        self.sample_rows = sample_rows
        self.max_awaiting_target = max_awaiting_target
        self._reset()

    def _reset(self) -> None:
        self._ring: OrderedDict[int, Bucket] = OrderedDict()
        # the sums of the buckets' two profiles, kept as buckets fill and leave
        self._events_total = RunningTotal(self.spec, lambda key: self._ring[key].events)
        self._labelled_total = RunningTotal(self.spec, lambda key: self._ring[key].labelled)
        self._id_bucket: dict[str, int] = {}
        # the kept rows of every bucket as one frame, made again only when they change
        self._sample: pd.DataFrame | None = None
        self._sample_stale = False
        self._awaiting = 0  # records in the buckets' label_rows
        #: records of events that waited for a target, forgotten beyond ``max_awaiting_target``
        self.forgotten = 0
        self._unexpected: OrderedDict[str, int] = OrderedDict()  # name -> bucket key when last seen
        self._sequence = 0
        schema = self.spec.schema
        keep = [schema.prediction, *schema.probabilities, *schema.segments, *schema.sensitive, schema.id]
        self._label_columns = [name for name in dict.fromkeys(keep) if name]
        if self.window.rows is not None:
            smallest = min(MIN_BUCKET_ROWS, math.ceil(self.window.rows / 10))
            self._bucket_rows = max(smallest, math.ceil(self.window.rows / self.buckets))
            self._max_buckets = math.ceil(self.window.rows / self._bucket_rows)
        else:
            assert self.window.seconds is not None
            self._bucket_seconds = self.window.seconds / self.buckets

    @property
    def rows(self) -> int:
        """Events in the window."""
        return sum(bucket.rows for bucket in self._ring.values())

    @property
    def bucket_count(self) -> int:
        """Buckets held now (at most ``buckets``, or ``rows`` over the rows of a bucket)."""
        return len(self._ring)

    @property
    def awaiting_target(self) -> int:
        """Events whose record waits in the window for a late target."""
        return self._awaiting

    @property
    def labelled_rows(self) -> int:
        return sum(bucket.labelled_rows for bucket in self._ring.values())

    def _bucket(self, key: int) -> Bucket:
        bucket = self._ring.get(key)
        if bucket is None:
            bucket = Bucket(key, self.spec.empty(), self.spec.empty())
            self._ring[key] = bucket
            self._events_total.opened(key)
            self._labelled_total.opened(key)
        return bucket

    def _expire(self, now: float | None) -> None:
        if self.window.rows is not None:
            while len(self._ring) > self._max_buckets:
                self._drop(next(iter(self._ring)))
        elif now is not None:
            first_kept = math.floor(now / self._bucket_seconds) - self.buckets + 1
            for key in [key for key in self._ring if key < first_kept]:
                self._drop(key)

    def expires(self, now: float) -> bool:
        """Whether a bucket of a window by seconds has left the window by ``now`` (so its results
        change although no event arrived); a window by rows changes only with events."""
        if self.window.rows is not None or not self._ring:
            return False
        return next(iter(self._ring)) < math.floor(now / self._bucket_seconds) - self.buckets + 1

    def _drop(self, key: int) -> None:
        self._events_total.dropped(key)
        self._labelled_total.dropped(key)
        bucket = self._ring.pop(key)
        self._sample_stale = self._sample_stale or bucket.sample_rows > 0
        self._awaiting -= len(bucket.label_rows)
        for event_id in bucket.label_rows:
            if self._id_bucket.get(event_id) == key:
                del self._id_bucket[event_id]

    def note_unexpected(self, names: set[str], now: float) -> None:
        """Columns the schema does not name, seen in rows added now; reported while their bucket lasts."""
        if not names:
            return
        key = (
            self._sequence // self._bucket_rows
            if self.window.rows is not None
            else math.floor(now / self._bucket_seconds)
        )
        for name in sorted(names):
            self._unexpected.pop(name, None)
            self._unexpected[name] = key
        while len(self._unexpected) > MAX_UNEXPECTED:
            self._unexpected.popitem(last=False)

    def _unexpected_now(self) -> list[str]:
        first = next(iter(self._ring), None)
        return sorted(name for name, key in self._unexpected.items() if first is not None and key >= first)

    def newest_kept(self, count: int) -> int:
        """How many of ``count`` rows added at once the window keeps: a window by rows keeps its
        length's newest (the older would leave at once, unprofiled), a window by seconds all."""
        if self.window.rows is None:
            return count
        return min(count, self._max_buckets * self._bucket_rows)

    def skip(self, count: int) -> None:
        """Count ``count`` rows that arrived before the next :meth:`add`'s and would leave a window by
        rows at once: they take their places in its sequence, as :meth:`add` would give them."""
        if count:
            if self.window.rows is None:
                raise ValueError("a window by seconds places rows by their timestamps: none is skipped")
            self._sequence += count

    def add(self, frame: pd.DataFrame, now: float, timestamps: np.ndarray | None = None) -> None:
        """Profile new rows into their buckets (by arrival order, or by ``timestamps`` in epoch seconds)."""
        if frame.empty:
            self._expire(now)  # time moves on: buckets of a window by seconds leave without events
            return
        if self.window.rows is not None:
            # rows that would leave the window at once are never profiled
            keep = self._max_buckets * self._bucket_rows
            if len(frame) > keep:
                self._sequence += len(frame) - keep
                frame = frame.iloc[len(frame) - keep :]
            keys = (self._sequence + np.arange(len(frame))) // self._bucket_rows
            self._sequence += len(frame)
        else:
            stamps = timestamps if timestamps is not None else np.full(len(frame), now)
            newest = math.floor(now / self._bucket_seconds)
            keys = np.minimum(np.floor(stamps / self._bucket_seconds), newest).astype(np.int64)
            inside = keys > newest - self.buckets
            if not inside.all():
                frame, keys = frame[inside], keys[inside]
        order, unique, bounds = slice_bounds(keys)
        if len(unique) > 1 and (np.diff(order) != 1).any():
            frame = frame.iloc[order]  # each bucket's rows together, in their order of arrival
        self._add_to_buckets([int(key) for key in unique], frame, bounds)
        self._ring = OrderedDict(sorted(self._ring.items()))
        self._expire(now)
        self._forget_beyond_cap()
        self._pack_older()

    def _pack_older(self) -> None:
        """Pack every bucket but the newest (which fills): they change only by a late target."""
        for key in list(self._ring)[:-1]:
            self._ring[key].pack()

    def _forget_beyond_cap(self) -> None:
        """Forget the oldest records waiting for a target beyond ``max_awaiting_target``."""
        if self.max_awaiting_target is None:
            return
        excess = self._awaiting - self.max_awaiting_target
        for key, bucket in self._ring.items():
            if excess <= 0:
                break
            oldest = list(islice(bucket.label_rows, excess))
            for event_id in oldest:
                del bucket.label_rows[event_id]
                if self._id_bucket.get(event_id) == key:
                    del self._id_bucket[event_id]
            excess -= len(oldest)
            self._awaiting -= len(oldest)
            self.forgotten += len(oldest)

    def _add_to_buckets(self, keys: list[int], frame: pd.DataFrame, bounds: np.ndarray) -> None:
        """Profile the rows ``bounds[i]:bounds[i + 1]`` of ``frame`` into bucket ``keys[i]``: every
        bucket's profile at once, each equal to profiling its rows alone (:mod:`.slices`)."""
        schema = self.spec.schema
        target = schema.target
        has_target = target is not None and target in frame.columns
        # the other columns taken by position: the frame ``drop`` gives, without its lookup of names
        events = (
            frame.take([i for i, name in enumerate(frame.columns) if name != target], axis=1)
            if has_target
            else frame
        )
        # each column read once, for the events' profiles and the labelled rows' among them
        reads = column_reads(self.spec, frame)
        profiled = profile_slices(self.spec, events, bounds, reads=reads)
        for key, added in zip(keys, profiled, strict=True):
            bucket = self._bucket(key)
            bucket.add_events(added)
            self._events_total.grew(key, added)
            bucket.rows += added.rows
        self._keep_samples(keys, frame, bounds, profiled)
        if has_target:
            assert target is not None
            known = frame[target].notna().to_numpy()
            every = bool(known.all())
            labelled = frame if every else frame[known]  # all labelled: the same rows, not a copy
            counts = (
                np.add.reduceat(known, bounds[:-1]) if len(known) else np.zeros(len(keys), dtype=np.int64)
            )
            kept = [key for key, count in zip(keys, counts.tolist(), strict=True) if count]
            if kept:
                cuts = np.concatenate(([0], np.cumsum(counts[counts > 0])))
                positions = None if every else np.flatnonzero(known)
                # every row labelled: the same slices, whose columns but the target are summarised
                ready = None if not every else [_present(profile) for profile in profiled]
                for key, added in zip(
                    kept,
                    profile_slices(self.spec, labelled, cuts, LABELLED_PARTS, reads, positions, ready),
                    strict=True,
                ):
                    bucket = self._bucket(key)
                    bucket.add_labelled(added)
                    self._labelled_total.grew(key, added)
        if target is not None and schema.id and schema.id in frame.columns:
            waits = ~known if has_target else np.ones(len(frame), dtype=bool)
            if waits.any():  # no frame of records when every row came with its target
                self._keep_waiting(keys, frame, bounds, waits)

    def _keep_waiting(
        self, keys: list[int], frame: pd.DataFrame, bounds: np.ndarray, waits: np.ndarray
    ) -> None:
        """Keep what each row in ``waits`` needs when its target arrives, in its bucket, by id."""
        schema = self.spec.schema
        assert schema.id is not None
        columns = [name for name in self._label_columns if name in frame.columns]
        waiting = frame[columns].assign(__bucket=np.repeat(keys, np.diff(bounds)))[waits]
        for record in waiting.to_dict("records"):
            key = record.pop("__bucket")
            label_rows = self._ring[key].label_rows
            event_id = str(record[schema.id])
            if event_id not in label_rows:
                self._awaiting += 1
            label_rows[event_id] = record
            self._id_bucket[event_id] = key

    def _keep_samples(
        self, keys: list[int], frame: pd.DataFrame, bounds: np.ndarray, profiled: list[Profile]
    ) -> None:
        """Keep each bucket's first ``sample_rows`` rows with their outlier scores: those bucket
        ``keys[i]``'s outlier counts (in ``profiled[i]``) gave them, or else scored in one call."""
        given = [_row_scores(profile) for profile in profiled]  # taken, so no profile keeps them
        outliers = self.spec.state.get("outliers")
        # the events' counts scored the frame without its target, which is no feature
        reuse = outliers is not None and self.spec.schema.target not in outliers.encoder.columns
        takes: list[tuple[Bucket, int, int, np.ndarray | None]] = []
        for key, start, end, scores in zip(
            keys, bounds[:-1].tolist(), bounds[1:].tolist(), given, strict=True
        ):
            bucket = self._ring[key]
            end = min(end, start + self.sample_rows - bucket.sample_rows)
            if end > start:
                takes.append(
                    (bucket, start, end, scores[: end - start] if reuse and scores is not None else None)
                )
        if not takes:
            return
        self._sample_stale = True
        unscored = [(start, end) for _, start, end, scores in takes if scores is None]
        fresh = None
        if outliers is not None and unscored:
            sample = frame.iloc[np.concatenate([np.arange(start, end) for start, end in unscored])]
            absent = [name for name in outliers.encoder.columns if name not in sample.columns]
            fresh = outliers.scores(sample.assign(**dict.fromkeys(absent, np.nan)))
        offset = 0
        for bucket, start, end, scores in takes:
            bucket.sample.append(frame.iloc[start:end])
            bucket.sample_rows += end - start
            if scores is None and fresh is not None:
                scores, offset = fresh[offset : offset + end - start], offset + end - start
            if scores is not None:
                bucket.sample_scores.append(scores)

    def add_targets(self, targets: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        """Join late targets to their events; returns the completed rows and the ids not in the window."""
        target = self.spec.schema.target
        if target is None:
            return [], list(targets)
        per_bucket: dict[int, list[dict[str, Any]]] = {}
        missed: list[str] = []
        for event_id, value in targets.items():
            key = self._id_bucket.pop(str(event_id), None)
            if key is None or key not in self._ring:
                missed.append(str(event_id))
                continue
            record = self._ring[key].label_rows.pop(str(event_id))
            self._awaiting -= 1
            per_bucket.setdefault(key, []).append({**record, target: value})
        for key, records in per_bucket.items():
            bucket = self._ring[key]
            added = self.spec.profile(pd.DataFrame.from_records(records), parts=LABELLED_PARTS)
            bucket.add_labelled(added)
            self._labelled_total.grew(key, added)
        self._pack_older()
        return [record for records in per_bucket.values() for record in records], missed

    def current(self) -> Profile:
        """The window's profile: events for features and prediction, labelled rows for the rest."""
        events = self._events_total.profile()
        labelled = self._labelled_total.profile()
        columns = dict(events.columns)
        target = self.spec.schema.target
        if target is not None and target in columns:
            columns[target] = labelled.columns[target]
        parts = {name: part for name, part in events.parts.items() if name not in LABELLED_PARTS}
        parts.update({name: part for name, part in labelled.parts.items() if name in LABELLED_PARTS})
        absent = [name for name in events.absent_columns if name != target]
        unexpected = sorted({*events.unexpected_columns, *self._unexpected_now()})
        return Profile(self.spec, events.rows, columns, absent, unexpected, parts)

    def sample(self) -> pd.DataFrame | None:
        """The kept raw rows of every bucket, oldest first: the same frame until they change (its
        readers, the sections, only read it), since joining the buckets' frames cost a recompute
        with nothing new a tenth of its time."""
        if self._sample_stale:
            frames = [frame for bucket in self._ring.values() for frame in bucket.sample]
            self._sample = pd.concat(frames, ignore_index=True) if frames else None
            self._sample_stale = False
        return self._sample

    def sample_scores(self) -> np.ndarray | None:
        """The outlier scores of :meth:`sample`'s rows (``None`` when the spec has no outliers)."""
        if "outliers" not in self.spec.state:
            return None
        scores = [scores for bucket in self._ring.values() for scores in bucket.sample_scores]
        return np.concatenate(scores) if scores else None


def _row_scores(profile: Profile) -> np.ndarray | None:
    """The outlier scores of every row of ``profile`` from its counts, taken out of them."""
    counts = profile.parts.get("outliers")
    if counts is None:
        return None
    scores, counts.row_scores = counts.row_scores, None
    return scores
