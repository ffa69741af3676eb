"""The contract every store backend keeps (memory, SQLite, MongoDB): one suite, run on each."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from modelmon.errors import EventError, InputError
from modelmon.store import Store, UnknownReportError

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def event(i: int, **fields):
    """Event number ``i``, ``i`` seconds after T0."""
    return {
        "id": f"ride-{i}",
        "timestamp": T0 + timedelta(seconds=i),
        "features": {"trip_distance": float(i), "PULocationID": i % 3},
        "prediction": 10.0 + i,
        **fields,
    }


def all_rows(store: Store, model: str = "taxi", **kwargs) -> pd.DataFrame:
    frames = list(store.events.read_frames(model, **kwargs))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def test_events_round_trip_with_every_field(store: Store) -> None:
    full = {
        "id": 17,
        "timestamp": "2024-03-01T13:00:00.123456+01:00",
        "features": {"trip_distance": np.float64(2.5), "PULocationID": "161", "night": True},
        "prediction": "yes",
        "probabilities": {"yes": 0.8, "no": 0.2},
        "target": "no",
        "latency_ms": 12.5,
        "attributions": {"trip_distance": 0.7, "PULocationID": -0.1},
        "metadata": {"model_version": "v3"},
    }
    assert store.events.add_events("credit", [full]) == 1
    frames = list(store.events.read_frames("credit"))
    assert len(frames) == 1
    row = frames[0].iloc[0]
    assert row["id"] == "17"
    assert row["timestamp"] == pd.Timestamp("2024-03-01T12:00:00.123Z")
    assert str(frames[0]["timestamp"].dt.tz) == "UTC"
    assert (row["trip_distance"], row["PULocationID"], bool(row["night"])) == (2.5, "161", True)
    assert (row["prediction"], row["target"], row["latency_ms"]) == ("yes", "no", 12.5)
    assert (row["proba_yes"], row["proba_no"]) == (0.8, 0.2)
    assert (row["attr_trip_distance"], row["attr_PULocationID"]) == (0.7, -0.1)
    assert "metadata" not in frames[0].columns


def test_number_probabilities_become_one_column(store: Store) -> None:
    store.events.add_events("credit", [event(0, probabilities=0.9), event(1, probabilities=None)])
    rows = all_rows(store, "credit")
    assert rows["probability"].iloc[0] == 0.9
    assert math.isnan(rows["probability"].iloc[1])
    assert not [column for column in rows.columns if column.startswith(("proba_", "attr_"))]


def test_missing_timestamp_means_received_now(store: Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    store.events.add_events("taxi", [{"features": {"x": 1.0}, "prediction": 1.0}])
    latest = store.events.latest_timestamp("taxi")
    assert latest is not None and before <= latest <= datetime.now(UTC)


def test_chunks_come_in_time_order_whatever_the_insert_order(store: Store) -> None:
    order = list(range(25))
    random.Random(3).shuffle(order)
    store.events.add_events("taxi", [event(i) for i in order[:12]])
    store.events.add_events("taxi", [event(i) for i in order[12:]])
    store.events.add_events("other-model", [event(100)])
    frames = list(store.events.read_frames("taxi", chunk_rows=10))
    assert [len(frame) for frame in frames] == [10, 10, 5]
    assert [len(frame) for frame in store.events.read_frames("taxi", chunk_rows=5)] == [5] * 5
    rows = pd.concat(frames, ignore_index=True)
    assert rows["id"].tolist() == [f"ride-{i}" for i in range(25)]
    assert rows["timestamp"].is_monotonic_increasing
    assert rows["trip_distance"].tolist() == [float(i) for i in range(25)]


def test_time_range_includes_start_and_excludes_end(store: Store) -> None:
    store.events.add_events("taxi", [event(i) for i in range(10)])
    start, end = T0 + timedelta(seconds=3), T0 + timedelta(seconds=7)
    rows = all_rows(store, start=start, end=end, chunk_rows=3)
    assert rows["id"].tolist() == ["ride-3", "ride-4", "ride-5", "ride-6"]
    assert store.events.count("taxi", start, end) == 4
    assert store.events.count("taxi", start=start) == 7
    assert store.events.count("taxi", end="2024-03-01T12:00:02Z") == 2
    assert store.events.count("taxi") == 10
    assert list(store.events.read_frames("taxi", start=T0 + timedelta(days=1))) == []
    assert list(store.events.read_frames("nobody")) == []


def test_naive_times_are_utc(store: Store) -> None:
    store.events.add_events("taxi", [event(0, timestamp=datetime(2024, 3, 1, 12, 0))])
    assert store.events.latest_timestamp("taxi") == T0
    assert store.events.count("taxi", start=datetime(2024, 3, 1, 12, 0), end=datetime(2024, 3, 1, 12, 1)) == 1


def test_models_and_latest_timestamp(store: Store) -> None:
    assert store.events.models() == []
    assert store.events.latest_timestamp("taxi") is None
    store.events.add_events("taxi", [event(5), event(2)])
    store.events.add_events("credit", [event(1)])
    assert store.events.models() == ["credit", "taxi"]
    assert store.events.latest_timestamp("taxi") == T0 + timedelta(seconds=5)


def test_late_targets_join_by_id_and_last_upsert_wins(store: Store) -> None:
    store.events.add_events("taxi", [event(i) for i in range(5)])
    written = store.events.upsert_targets("taxi", ((f"ride-{i}", 100.0 + i) for i in (1, 3)))
    assert written == 2
    store.events.upsert_targets("taxi", [("ride-3", 333.0)])
    store.events.upsert_targets("credit", [("ride-4", 1.0)])  # another model: must not leak
    targets = all_rows(store)["target"].tolist()
    assert targets[1] == 101.0 and targets[3] == 333.0
    assert [math.isnan(targets[i]) for i in (0, 2, 4)] == [True, True, True]


def test_target_that_arrives_before_its_event_is_kept(store: Store) -> None:
    store.events.upsert_targets("taxi", [("ride-7", 70.0), (8, 80.0)])
    store.events.add_events("taxi", [event(7), event(8, id=8), event(9)])
    rows = all_rows(store)
    assert rows["target"].tolist()[:2] == [70.0, 80.0]
    assert math.isnan(rows["target"].tolist()[2])


def test_late_target_wins_over_the_target_sent_with_the_event(store: Store) -> None:
    store.events.add_events("taxi", [event(0, target=1.0), event(1, target=2.0)])
    store.events.upsert_targets("taxi", [("ride-1", 20.0)])
    assert all_rows(store)["target"].tolist() == [1.0, 20.0]


def test_many_targets_in_one_call(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # small bulk writes, so that the MongoDB backend sends several (mongomock is slow with many ids)
    monkeypatch.setattr("modelmon.store.mongo.TARGET_BATCH", 16)
    store.events.add_events("taxi", [event(i) for i in range(0, 400, 7)])
    assert store.events.upsert_targets("taxi", ((f"ride-{i}", float(i)) for i in range(400))) == 400
    rows = all_rows(store, chunk_rows=40)
    assert (rows["target"] == rows["trip_distance"]).all()


def test_invalid_event_names_its_index_and_stores_nothing(store: Store) -> None:
    with pytest.raises(EventError, match="event 1: 'features' must be an object") as caught:
        store.events.add_events("taxi", [event(0), {"prediction": 1.0}])
    assert caught.value.index == 1
    with pytest.raises(EventError, match=r"unknown fields \['colour'\]"):
        store.events.add_events("taxi", [event(0, colour="red")])
    with pytest.raises(EventError, match="reserved column names"):
        store.events.add_events("taxi", [event(0, features={"target": 1})])
    with pytest.raises(EventError, match="not an ISO 8601"):
        store.events.add_events("taxi", [event(0, timestamp="yesterday")])
    assert store.events.count("taxi") == 0


def test_bad_read_arguments_are_refused_when_called_not_when_first_read(store: Store) -> None:
    store.events.add_events("taxi", [event(0)])
    with pytest.raises(ValueError, match="chunk_rows must be a positive number of rows, got 0"):
        store.events.read_frames("taxi", chunk_rows=0)
    with pytest.raises(InputError, match="start 'yesterday' is not an ISO 8601"):
        store.events.read_frames("taxi", start="yesterday")
    with pytest.raises(InputError, match="end must be a datetime or an ISO 8601 string, got int"):
        store.events.read_frames("taxi", end=5)


def test_reports_save_list_get(store: Store) -> None:
    report = {
        "reference_rows": 1000,
        "current_rows": 500,
        "drift": {"dataset_drift": True, "drifted_share": 0.75, "columns": {"a.b": {"score": 0.3}}},
    }
    first = store.reports.save_report("taxi", report, "reports/taxi.html", T0, T0 + timedelta(days=1))
    second = store.reports.save_report("taxi", {"drift": {"dataset_drift": False}}, None, None, None)
    other = store.reports.save_report("credit", {}, None, None, None)
    assert len({first, second, other}) == 3
    listed = store.reports.list_reports("taxi")
    assert [entry["id"] for entry in listed] == [second, first]
    assert listed[1]["model"] == "taxi" and listed[1]["html_path"] == "reports/taxi.html"
    assert (listed[1]["start"], listed[1]["end"]) == (T0, T0 + timedelta(days=1))
    assert (listed[1]["dataset_drift"], listed[1]["drifted_share"], listed[1]["current_rows"]) == (
        True,
        0.75,
        500,
    )
    assert listed[0]["dataset_drift"] is False and listed[0]["drifted_share"] is None
    assert "report" not in listed[0]
    assert [entry["id"] for entry in store.reports.list_reports()] == [other, second, first]
    assert [entry["id"] for entry in store.reports.list_reports(limit=1)] == [other]
    got = store.reports.get_report(first)
    assert got["report"] == report
    assert got["created_at"].tzinfo is not None and got["created_at"] <= datetime.now(UTC)
    with pytest.raises(UnknownReportError, match="no report with id 'nope'"):
        store.reports.get_report("nope")


def test_report_with_numpy_values_is_stored_and_bad_values_are_named(store: Store) -> None:
    report_id = store.reports.save_report("taxi", {"current_rows": np.int64(5)}, None, None, None)
    assert store.reports.get_report(report_id)["report"] == {"current_rows": 5}
    with pytest.raises(InputError, match="report of model 'taxi' cannot be stored as JSON"):
        store.reports.save_report("taxi", {"bad": object()}, None, None, None)


def test_metric_history_append_and_read(store: Store) -> None:
    for minute in range(5):
        values = {"drifted_share": minute / 10, "drift_score.trip_distance": float(minute), "metric.mae": 1.0}
        store.metrics.append("taxi", T0 + timedelta(minutes=minute), values)
    store.metrics.append("credit", T0, {"drifted_share": 9.0})
    store.metrics.append("taxi", T0 + timedelta(minutes=9), {"metric.mae": math.nan})
    store.metrics.append("taxi", T0 + timedelta(minutes=10), {"metric.mae": None})
    with pytest.raises(InputError, match=r"metric 'metric\.mae': expected a number, got 'high'"):
        store.metrics.append("taxi", T0 + timedelta(minutes=11), {"metric.mae": "high"})
    history = store.metrics.history("taxi")
    assert sorted(history) == ["drift_score.trip_distance", "drifted_share", "metric.mae"]
    assert history["drifted_share"] == [(T0 + timedelta(minutes=m), m / 10) for m in range(5)]
    assert [math.isnan(value) for _, value in history["metric.mae"][-2:]] == [True, True]
    assert len(history["metric.mae"]) == 7
    some = store.metrics.history("taxi", names=["drifted_share", "missing"], since=T0 + timedelta(minutes=3))
    assert some == {"drifted_share": [(T0 + timedelta(minutes=3), 0.3), (T0 + timedelta(minutes=4), 0.4)]}
    latest = store.metrics.history("taxi", names=["drift_score.trip_distance"], limit=2)
    assert [value for _, value in latest["drift_score.trip_distance"]] == [3.0, 4.0]


def test_metric_retention_keeps_the_newest_points(store: Store) -> None:
    store.metrics.max_points = 4
    for second in range(10):
        store.metrics.append("taxi", T0 + timedelta(seconds=second), {"drifted_share": float(second)})
    points = store.metrics.history("taxi", limit=100)["drifted_share"]
    assert [value for _, value in points] == [6.0, 7.0, 8.0, 9.0]


def test_a_reopened_store_sees_what_was_written(open_backend) -> None:
    first = open_backend()
    first.events.add_events("taxi", [event(0)])
    first.events.upsert_targets("taxi", [("ride-0", 5.0)])
    report_id = first.reports.save_report("taxi", {"current_rows": 1}, None, None, None)
    first.metrics.append("taxi", T0, {"drifted_share": 0.5})
    second = open_backend()
    assert all_rows(second)["target"].tolist() == [5.0]
    assert second.reports.get_report(report_id)["current_rows"] == 1
    assert second.metrics.history("taxi") == {"drifted_share": [(T0, 0.5)]}


def test_predictions_and_targets_keep_their_types(store: Store) -> None:
    answers = [True, 7, 2.5, "cat", {"label": "dog"}]
    store.events.add_events("credit", [event(i, prediction=answer) for i, answer in enumerate(answers)])
    store.events.upsert_targets(
        "credit", [("ride-0", False), ("ride-1", 3), ("ride-2", "x"), ("ride-3", [1])]
    )
    rows = all_rows(store, "credit")
    got = rows["prediction"].tolist()
    assert got == answers and [type(value) for value in got] == [bool, int, float, str, dict]
    targets = rows["target"].tolist()
    assert targets[:4] == [False, 3, "x", [1]] and type(targets[0]) is bool


def test_missing_and_infinite_feature_values_come_back(store: Store) -> None:
    store.events.add_events(
        "taxi", [event(0, features={"x": math.nan, "y": 1.0}), event(1, features={"x": math.inf}), event(2)]
    )
    rows = all_rows(store)
    assert math.isnan(rows["x"][0]) and rows["x"][1] == math.inf
    assert rows["y"][0] == 1.0 and math.isnan(rows["y"][1])
    assert rows["trip_distance"][2] == 2.0 and math.isnan(rows["trip_distance"][0])


def test_an_event_sent_again_is_stored_once_and_the_first_write_wins(store: Store) -> None:
    assert store.events.add_events("taxi", [event(0), event(1)]) == 2
    assert store.events.add_events("taxi", [event(1, prediction=99.0), event(2)]) == 1
    rows = all_rows(store)
    assert rows["id"].tolist() == ["ride-0", "ride-1", "ride-2"]
    assert rows["prediction"].tolist() == [10.0, 11.0, 12.0]  # ride-1 keeps its first prediction


def test_a_batch_repeating_an_id_keeps_its_first_event(store: Store) -> None:
    assert store.events.add_events("taxi", [event(3), event(3, prediction=0.0), event(4)]) == 2
    assert all_rows(store)["prediction"].tolist() == [13.0, 14.0]


def test_a_resent_batch_never_makes_a_second_row(store: Store) -> None:
    batch = [event(i) for i in range(50)]
    for _ in range(3):
        store.events.add_events("taxi", batch)
    assert store.events.count("taxi") == 50
    assert store.events.add_events("other-model", [event(0)]) == 1  # ids are unique per model only


def test_events_sent_without_an_id_get_one_and_are_all_kept(store: Store) -> None:
    anonymous = {"features": {"x": 1.0}, "prediction": 1.0}
    assert store.events.add_events("taxi", [anonymous, anonymous]) == 2
    ids = all_rows(store)["id"].tolist()
    assert len(set(ids)) == 2 and all(isinstance(value, str) and value for value in ids)


def test_recent_frames_give_the_newest_rows_oldest_first(store: Store) -> None:
    store.events.add_events("taxi", [event(i) for i in range(40)])
    store.events.add_events("other-model", [event(100)])
    newest = pd.concat(list(store.events.recent_frames("taxi", rows=7, chunk_rows=3)), ignore_index=True)
    assert newest["id"].tolist() == [f"ride-{i}" for i in range(33, 40)]
    everything = pd.concat(list(store.events.recent_frames("taxi", rows=1000)), ignore_index=True)
    assert len(everything) == 40
    since = pd.concat(list(store.events.recent_frames("taxi", since=T0 + timedelta(seconds=35))))
    assert since["id"].tolist() == [f"ride-{i}" for i in range(35, 40)]
    assert list(store.events.recent_frames("nobody", rows=5)) == []
