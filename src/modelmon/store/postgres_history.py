"""PostgreSQL stores for what modelmon produces: batch reports and the metric history.

Reports are kept as the other backends keep them: the JSON text as written (it may hold NaN, which
JSONB refuses) with its headline numbers beside it for quick listing. Metric points are rows of
(model, name, time, value); ``double precision`` holds NaN, so "not computable" reads back as NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from modelmon.store.base import (
    MAX_METRIC_POINTS,
    REPORT_COLUMNS,
    MetricStore,
    ReportStore,
    metric_points,
    report_row,
    stored_entry,
    stored_report,
)
from modelmon.store.documents import to_utc

if TYPE_CHECKING:
    from modelmon.store.postgres import PostgresDatabase

__all__ = ["PostgresMetricStore", "PostgresReportStore"]

_FIRST = datetime(1, 1, 1, tzinfo=UTC)


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    return stored_entry(row, to_utc)


class PostgresReportStore(ReportStore):
    """Reports in ``reports``, newest last by insertion order."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def save_report(
        self,
        model: str,
        report_json: Mapping[str, Any],
        html_path: str | None,
        start: datetime | str | None,
        end: datetime | str | None,
    ) -> str:
        row = report_row(model, report_json, html_path, start, end, lambda moment: moment)
        self.database.write(
            f"save a report of model {model!r}",
            lambda db: db.execute(
                f"INSERT INTO reports ({REPORT_COLUMNS}, report) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", row
            ),
        )
        return str(row[0])

    def list_reports(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {REPORT_COLUMNS} FROM reports WHERE %s::text IS NULL OR model = %s"
            " ORDER BY seq DESC LIMIT %s"
        )
        return [_entry(row) for row in self.database.read("list reports", sql, (model, model, max(limit, 0)))]

    def get_report(self, report_id: str) -> dict[str, Any]:
        sql = f"SELECT {REPORT_COLUMNS}, report FROM reports WHERE id = %s"
        rows = self.database.read(f"read report {report_id!r}", sql, (str(report_id),))
        return stored_report(rows, report_id, self.database.url, to_utc)


class PostgresMetricStore(MetricStore):
    """Metric points in ``metrics``, at most ``max_points`` per model and name."""

    def __init__(self, database: PostgresDatabase, max_points: int = MAX_METRIC_POINTS) -> None:
        self.database = database
        self.max_points = max_points

    def append(self, model: str, timestamp: datetime | str, values: Mapping[str, float]) -> None:
        moment = to_utc(timestamp)
        points = metric_points(values)
        if not points:
            return
        names = [name for name, _ in points]

        def insert(db: Any) -> None:
            db.execute(
                "INSERT INTO metrics (model, name, ts, value)"
                " SELECT %s, v.name, %s, v.value FROM unnest(%s::text[], %s::float8[]) AS v(name, value)",
                (model, moment, names, [value for _, value in points]),
            )
            # one statement for every name: the (model, name, ts, seq) index walks from the newest point
            db.execute(
                "DELETE FROM metrics WHERE seq IN (SELECT old.seq FROM unnest(%s::text[]) AS n(name),"
                " LATERAL (SELECT seq FROM metrics m WHERE m.model = %s AND m.name = n.name"
                " ORDER BY m.ts DESC, m.seq DESC OFFSET %s) AS old)",
                (names, model, self.max_points),
            )

        self.database.write(f"append metrics of model {model!r}", insert)

    def history(
        self,
        model: str,
        names: Iterable[str] | None = None,
        since: datetime | str | None = None,
        limit: int = 1000,
    ) -> dict[str, list[tuple[datetime, float]]]:
        low = to_utc(since, "since")
        parameters: list[Any]
        if names is None:
            source, parameters = "(SELECT DISTINCT name FROM metrics WHERE model = %s)", [model]
        else:
            source, parameters = "unnest(%s::text[])", [sorted(set(names))]
        rows = self.database.read(
            f"read metric history of model {model!r}",
            f"SELECT n.name, p.ts, p.value FROM {source} AS n(name),"
            " LATERAL (SELECT ts, value, seq FROM metrics m WHERE m.model = %s AND m.name = n.name"
            " AND m.ts >= %s ORDER BY m.ts DESC, m.seq DESC LIMIT %s) AS p"
            " ORDER BY n.name, p.ts, p.seq",
            (*parameters, model, low or _FIRST, max(limit, 0)),
        )
        history: dict[str, list[tuple[datetime, float]]] = {}
        for name, moment, value in rows:
            history.setdefault(name, []).append((to_utc(moment), float(value)))  # type: ignore[arg-type]
        return history
