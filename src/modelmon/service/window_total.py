"""The running total of a window's bucket profiles, kept up to date as buckets fill and leave.

Summing every bucket of a window on each recompute costs one merge per bucket. Buckets change at
the new end and leave at the old one, so the total is kept as a queue of two stacks (the classic
sliding-window aggregation; profiles cannot be subtracted, since a minimum cannot be taken back):

- the *older* buckets, with the total of those still in the window, and for every
  :data:`STRIDE`-th of them (counted from the newest) the sum of itself and the older buckets newer
  than it: when the oldest leaves, the new total is the next such sum plus the fewer than
  ``STRIDE`` buckets before it (a sum for every bucket would hold as many profiles as the window,
  each as large as the whole window's), taken at the next read, so the many buckets a large
  batch makes leave cost one sum;
- the *newer* buckets, as one running sum that each change is added to.

When the older part runs out, the newer buckets become the older part (one merge each, once in a
bucket's life). A change to a bucket of the older part (a late target joined to an old event) is
kept beside it until that bucket leaves; anything else (a bucket opened between two others by a late
timestamp) starts the total over from the buckets.

The total is kept too, with what was added since (the sum of a profile and a few small ones costs
about what a sum of two does): while no bucket of the older part leaves, a recompute adds the new
rows' profiles to the last total, and with nothing new it adds nothing. The newer part's sum takes
its new profiles all at once when an older bucket leaves. So a round of new rows costs one sum
where it cost two (the newer part's and the total's), and a recompute with nothing new none. Sums
come out in another order than a sum over the buckets in turn: equal up to floating-point summation
order, which ``tests/service/test_window_total.py`` bounds after every change.

>>> import pandas as pd
>>> from modelmon.engine.profile import ProfileSpec
>>> from modelmon.schema import Schema
>>> spec = ProfileSpec.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), Schema(numerical=["x"]))
>>> buckets = {}
>>> total = RunningTotal(spec, lambda key: buckets[key])
>>> for key in range(4):
...     buckets[key] = spec.profile(pd.DataFrame({"x": [float(key)] * (key + 1)}))
...     total.opened(key)
...     total.grew(key, buckets[key])
>>> total.dropped(0); del buckets[0]
>>> total.profile().rows, total.profile().columns["x"].min
(9, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable

from modelmon.engine.profile import Profile, ProfileSpec

__all__ = ["STRIDE", "RunningTotal"]

#: every this many older buckets keep the sum of themselves and the newer older ones
STRIDE = 5
#: profiles kept aside to be added later, at most (so a rebuild without recomputes holds few)
MAX_PENDING = 8


class RunningTotal:
    """The sum of a window's bucket profiles; ``bucket(key)`` gives one bucket's profile.

    The window reports each change: :meth:`opened` when a bucket is made, :meth:`grew` when a
    profile is added to one, :meth:`dropped` before one leaves.
    """

    def __init__(self, spec: ProfileSpec, bucket: Callable[[int], Profile]) -> None:
        self.spec = spec
        self.bucket = bucket
        self._keys: list[int] = []  # oldest first
        self._known: set[int] = set()
        self.reset()

    def reset(self) -> None:
        """Forget the sums; the next :meth:`profile` adds up the buckets again."""
        self._valid = False
        self._older: list[int] = []  # the oldest bucket last
        self._sums: dict[int, Profile] = {}  # older bucket -> sum of it and the newer older ones
        self._older_total: Profile | None = None  # of the older buckets in the window
        self._older_stale = False  # an older bucket left since _older_total was taken
        self._newer: list[int] = []
        self._newer_total: Profile | None = None
        self._newer_added: list[Profile] = []  # added to newer buckets, not yet in _newer_total
        self._late: dict[int, Profile] = {}
        self._whole: Profile | None = None  # the last total, while no older bucket left since
        self._whole_added: list[Profile] = []  # added to any bucket since, not yet in _whole

    def opened(self, key: int) -> None:
        """Bucket ``key`` is new and still empty."""
        if key in self._known:
            return
        self._known.add(key)
        if self._keys and key < self._keys[-1]:  # opened between two others: start over
            self._keys.append(key)
            self._keys.sort()
            self.reset()
            return
        self._keys.append(key)
        if self._valid:
            self._newer.append(key)

    def grew(self, key: int, added: Profile) -> None:
        """Bucket ``key`` (:meth:`opened` before) had ``added`` added to it."""
        if not self._valid:
            return
        if self._older and key <= self._older[0]:
            self._late[key] = self._late[key] + added if key in self._late else added
        else:
            self._newer_added.append(added)
            if len(self._newer_added) >= MAX_PENDING:
                self._newer_total = self._newer_sum()
        if self._whole is not None:  # the total grows by what its bucket grew by, wherever it is
            self._whole_added.append(added)
            if len(self._whole_added) >= MAX_PENDING:
                self._whole = self._whole_sum()

    def dropped(self, key: int) -> None:
        """Bucket ``key`` leaves the window (called while ``bucket(key)`` still answers)."""
        self._known.discard(key)
        if self._keys[0] != key:
            self._keys.remove(key)
            self.reset()
            return
        self._keys.pop(0)
        self._late.pop(key, None)
        if not self._valid:
            return
        self._whole, self._whole_added = None, []
        if self._older:
            self._older.pop()
            self._sums.pop(key, None)
            # taken at the next profile(): a large batch makes many buckets leave between two reads
            self._older_stale = True
        else:
            self._newer.pop(0)  # the oldest of the newer buckets; the others become the older part
            self._flip()

    def _flip(self) -> None:
        """The newer buckets become the older part, every ``STRIDE``-th with its sum of itself and the
        newer ones: the running sum takes the buckets between two kept sums at once (one sum with a
        profile the size of the whole part per kept sum, not per bucket)."""
        running: Profile | None = None
        between: list[Profile] = []
        for number, key in enumerate(reversed(self._newer)):
            self._older.append(key)
            between.append(self.bucket(key))
            if number % STRIDE == 0:
                running = self._sum([running, *between] if running is not None else between)
                self._sums[key] = running
                between = []
        if between:
            running = self._sum([running, *between] if running is not None else between)
        self._older_total, self._older_stale = running, False
        self._newer, self._newer_total, self._newer_added = [], None, []

    def _sum(self, profiles: list[Profile]) -> Profile:
        return profiles[0] if len(profiles) == 1 else Profile.total(self.spec, profiles)

    def _older_pieces(self) -> list[Profile]:
        """What the older buckets' total is the sum of: the buckets older than the oldest kept
        sum's bucket, then that sum (none when no sum is kept)."""
        for place in range(len(self._older) - 1, -1, -1):  # from the oldest
            summed = self._sums.get(self._older[place])
            if summed is not None:
                older = self._older[place + 1 :]
                for key in older:  # their late changes are in their profiles, so in the total
                    self._late.pop(key, None)
                return [*[self.bucket(key) for key in older], summed]
        return []

    def _newer_sum(self) -> Profile | None:
        """The newer buckets' total with the profiles added to them since it was taken."""
        kept = [self._newer_total] if self._newer_total is not None else []
        added, self._newer_added = self._newer_added, []
        if not added:
            return self._newer_total
        return Profile.total(self.spec, [*kept, *added]) if len(kept) + len(added) > 1 else added[0]

    def _whole_sum(self) -> Profile:
        assert self._whole is not None
        added, self._whole_added = self._whole_added, []
        return Profile.total(self.spec, [self._whole, *added]) if added else self._whole

    def profile(self) -> Profile:
        """The sum of every bucket's profile (the spec's empty profile for none). The same object
        until a bucket changes: its readers only read it."""
        if self._whole is not None:
            self._whole = self._whole_sum()
            return self._whole
        if not self._valid:
            self._newer = list(self._keys)
            self._newer_total = (
                Profile.total(self.spec, [self.bucket(key) for key in self._keys]) if self._keys else None
            )
            self._newer_added = []
            self._valid = True
        if self._older_stale:
            # after a bucket left: the older part's pieces, the late changes and the newer part's
            # pieces in one sum. The older part's own total is not read again before the next
            # bucket leaves (which makes it stale again) or the parts turn (which makes it anew),
            # so it is not taken apart: one sum where there were three
            newer = [self._newer_total] if self._newer_total is not None else []
            parts = [*self._older_pieces(), *self._late.values(), *newer, *self._newer_added]
            self._whole = self._sum(parts) if parts else self.spec.empty()
            return self._whole
        self._newer_total = self._newer_sum()
        parts = [self._older_total] if self._older_total is not None else []
        parts += self._late.values()
        if self._newer_total is not None:
            parts.append(self._newer_total)
        if not parts:
            self._whole = self.spec.empty()
        else:
            self._whole = parts[0] if len(parts) == 1 else Profile.total(self.spec, parts)
        return self._whole
