"""SQLite stores for what modelmon produces: batch reports and the metric history.

>>> from modelmon.store.sqlite import open_sqlite_store
>>> store = open_sqlite_store("sqlite:///:memory:")
>>> report_id = store.reports.save_report("m", {"drift": {"drifted_share": 0.25}}, None, None, None)
>>> store.reports.get_report(report_id)["drifted_share"]
0.25
>>> store.metrics.append("m", "2024-01-01T00:00:00Z", {"drifted_share": 0.25})
>>> store.metrics.history("m")["drifted_share"][0][1]
0.25
>>> store.close()
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from modelmon.store.base import (
    MAX_METRIC_POINTS,
    REPORT_COLUMNS,
    MetricStore,
    ReportStore,
    finite_or_nan,
    metric_points,
    report_row,
    stored_entry,
    stored_report,
)
from modelmon.store.documents import from_ms, to_ms, to_utc

if TYPE_CHECKING:
    from modelmon.store.sqlite import SqliteDatabase

__all__ = ["SqliteMetricStore", "SqliteReportStore"]


def _ms_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def _datetime_or_none(value: int | None) -> datetime | None:
    return None if value is None else from_ms(value)


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    return stored_entry(row, _datetime_or_none)


class SqliteReportStore(ReportStore):
    """Reports as JSON text, with their headline numbers beside them for quick listing."""

    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database

    def save_report(
        self,
        model: str,
        report_json: Mapping[str, Any],
        html_path: str | None,
        start: datetime | str | None,
        end: datetime | str | None,
    ) -> str:
        row = report_row(model, report_json, html_path, start, end, _ms_or_none)
        self.database.write(
            f"save a report of model {model!r}",
            lambda db: db.execute(
                f"INSERT INTO reports ({REPORT_COLUMNS}, report) VALUES (?,?,?,?,?,?,?,?)", row
            ),
        )
        return str(row[0])

    def list_reports(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        if model is None:
            sql, parameters = f"SELECT {REPORT_COLUMNS} FROM reports ORDER BY seq DESC LIMIT ?", (limit,)
        else:
            sql = f"SELECT {REPORT_COLUMNS} FROM reports WHERE model = ? ORDER BY seq DESC LIMIT ?"
            parameters = (model, limit)  # type: ignore[assignment]
        return [_entry(row) for row in self.database.read("list reports", sql, parameters)]

    def get_report(self, report_id: str) -> dict[str, Any]:
        sql = f"SELECT {REPORT_COLUMNS}, report FROM reports WHERE id = ?"
        rows = self.database.read(f"read report {report_id!r}", sql, (str(report_id),))
        return stored_report(rows, report_id, self.database.url, _datetime_or_none)


class SqliteMetricStore(MetricStore):
    """Metric points, at most ``max_points`` per model and name (the oldest are dropped on append)."""

    def __init__(self, database: SqliteDatabase, max_points: int = MAX_METRIC_POINTS) -> None:
        self.database = database
        self.max_points = max_points

    def append(self, model: str, timestamp: datetime | str, values: Mapping[str, float]) -> None:
        moment = to_ms(to_utc(timestamp))  # type: ignore[arg-type]
        rows = [(model, name, moment, value) for name, value in metric_points(values)]

        def insert(db: sqlite3.Connection) -> None:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", rows)
            # the (model, name, ts) index makes this a short walk from the newest point
            db.executemany(
                "DELETE FROM metrics WHERE rowid IN (SELECT rowid FROM metrics WHERE model = ? AND name = ?"
                " ORDER BY ts DESC, rowid DESC LIMIT -1 OFFSET ?)",
                [(model, row[1], self.max_points) for row in rows],
            )

        if rows:
            self.database.write(f"append metrics of model {model!r}", insert)

    def history(
        self,
        model: str,
        names: Iterable[str] | None = None,
        since: datetime | str | None = None,
        limit: int = 1000,
    ) -> dict[str, list[tuple[datetime, float]]]:
        if names is None:
            found = self.database.read(
                "list metric names", "SELECT DISTINCT name FROM metrics WHERE model = ?", (model,)
            )
            names = [row[0] for row in found]
        low = _ms_or_none(to_utc(since, "since"))
        history = {}
        for name in sorted(set(names)):
            rows = self.database.read(
                f"read metric {name!r} of model {model!r}",
                "SELECT ts, value FROM metrics WHERE model = ? AND name = ? AND ts >= ?"
                " ORDER BY ts DESC, rowid DESC LIMIT ?",
                (model, name, -(2**62) if low is None else low, max(limit, 0)),
            )
            if rows:
                history[name] = [(from_ms(ts), finite_or_nan(value)) for ts, value in reversed(rows)]
        return history
