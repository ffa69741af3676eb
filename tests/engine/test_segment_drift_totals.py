"""Summaries of every segment value added up at once equal them added up value by value, number for
number: the same cells and counts, per-cell sums and totals added in the same order, the same new
names pruned the same way, and the same types (so the part's JSON is the same)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelmon.engine.category_counts import MAX_NEW_NAMES
from modelmon.engine.columns import CategoricalColumn, sum_all
from modelmon.engine.segment_drift_sparse import Sparse, SparseCategorical, SparseNumerical
from modelmon.engine.segment_drift_totals import summed
from modelmon.errors import SchemaError

CELLS, SLOTS = 41, 9


def _numerical(rng: np.random.Generator) -> SparseNumerical:
    cells = np.flatnonzero(rng.random(CELLS) < rng.random())[: rng.integers(1, CELLS + 1)]
    # magnitudes far apart, so a sum taken in another order shows in its last bits
    sums = rng.normal(0, 1, len(cells)) * 10.0 ** rng.integers(-3, 17, len(cells))
    low, high = rng.choice([-0.0, 0.0, -1.5, 2.25, float("inf")], 2)
    totals = {
        "count": int(rng.integers(0, 1000)),
        "missing": int(rng.integers(0, 5)),
        "type_errors": int(rng.integers(0, 5)),
        "min": float(low),
        "max": float(-high),
        "sum": float(rng.normal() * 10.0 ** rng.integers(-3, 17)),
        "sum_sq": float(rng.choice([rng.random() * 1e300, -0.0, 1e308])),
    }
    return SparseNumerical(cells, rng.integers(1, 50, len(cells)), sums, totals)


def _categorical(rng: np.random.Generator, many_names: bool, size: int = SLOTS) -> SparseCategorical:
    slots = np.flatnonzero(rng.random(size) < rng.random())
    names = rng.integers(
        0, MAX_NEW_NAMES + 300 if many_names else 6, rng.integers(0, 700 if many_names else 4)
    )
    unseen = {f"new-{name}": int(rng.integers(1, 9)) for name in names}
    column = CategoricalColumn(
        (),
        size,
        slots,
        rng.integers(1, 30, len(slots)),
        unseen,
        int(rng.integers(0, 4)),
        int(rng.integers(0, 3)),
        int(rng.integers(0, 2)),
    )
    return SparseCategorical(column)


def _parts(seed: int, parts: int, many_names: bool = False) -> dict[str, list[dict[str, Sparse]]]:
    """Each segment value's summaries in each part holding it (some values in one part only, and
    some features absent from some parts)."""
    rng = np.random.default_rng(seed)
    pieces: dict[str, list[dict[str, Sparse]]] = {}
    for value in range(12):
        for _ in range(int(rng.integers(1, parts + 1))):
            own: dict[str, Sparse] = {}
            for name in ("distance", "payment", "fare", "zone"):
                if rng.random() < 0.9:
                    numerical = name in ("distance", "fare")
                    size = SLOTS if name == "payment" else SLOTS + 4  # features of other sizes
                    own[name] = _numerical(rng) if numerical else _categorical(rng, many_names, size)
            pieces.setdefault(f"value-{value}", []).append(own)
    return pieces


def _plain(summary: Sparse) -> str:
    """Every number of a summary with its type and the sign of a zero, and its arrays' types."""
    arrays = (
        (summary.cells, summary.counts, summary.sums)
        if isinstance(summary, SparseNumerical)
        else (summary.column.slots, summary.column.slot_counts)
    )
    totals = summary.totals if isinstance(summary, SparseNumerical) else {}
    kinds = [type(value).__name__ for value in totals.values()]
    return json.dumps([summary.to_dict(), repr(totals), kinds, [str(array.dtype) for array in arrays]])


@pytest.mark.parametrize(("seed", "parts"), [(0, 2), (1, 3), (2, 7), (3, 40)])
def test_summaries_of_every_value_added_at_once_equal_them_added_value_by_value(seed, parts):
    pieces = _parts(seed, parts)
    total = summed(pieces)
    assert list(total) == list(pieces)
    for value, dicts in pieces.items():
        names = list(dict.fromkeys(name for summaries in dicts for name in summaries))
        assert list(total[value]) == names
        for name in names:
            expected = sum_all([summaries[name] for summaries in dicts if name in summaries])
            assert _plain(total[value][name]) == _plain(expected), (value, name)


def test_new_names_beyond_the_capacity_are_pruned_as_a_pair_and_a_total_prune_them():
    pieces = _parts(5, 4, many_names=True)
    total = summed(pieces)
    pruned = [
        summaries["payment"].column.unseen_error
        for summaries in total.values()
        if "payment" in summaries and isinstance(summaries["payment"], SparseCategorical)
    ]
    assert max(pruned) > 1  # the names overflowed somewhere
    for value, dicts in pieces.items():
        for name in ("payment", "zone"):
            group = [summaries[name] for summaries in dicts if name in summaries]
            if group:
                assert _plain(total[value][name]) == _plain(sum_all(group))


def test_summaries_of_different_references_are_refused():
    pieces = _parts(6, 2)
    value, dicts = next((value, dicts) for value, dicts in pieces.items() if len(dicts) == 2)
    wider = CategoricalColumn((), SLOTS + 1, np.array([0]), np.array([1]))
    dicts[0]["payment"], dicts[1]["payment"] = (
        _categorical(np.random.default_rng(0), False),
        SparseCategorical(wider),
    )
    with pytest.raises(SchemaError, match="different references"):
        summed({value: dicts})


@pytest.mark.parametrize("seed", range(5))
def test_the_union_of_sorted_runs_is_numpys_unique(seed):
    from modelmon.engine.segment_drift_totals import _union

    rng = np.random.default_rng(seed)
    runs = [np.unique(rng.integers(0, 60, rng.integers(0, 30))) + 60 * (seed % 2) * i for i in range(40)]
    keys = np.concatenate([np.zeros(0, dtype=np.int64), *runs]).astype(np.int64)
    if seed == 4:
        keys = rng.permutation(keys)  # not in runs at all
    for some in (keys, keys[:1], keys[:0]):
        union, place = _union(some)
        expected_union, expected_place = np.unique(some, return_inverse=True)
        assert union.dtype == expected_union.dtype and union.tolist() == expected_union.tolist()
        assert place.tolist() == expected_place.tolist()
