"""The Prefect flow ``batch_report``: one period of stored events compared with the reference.

Tasks, in order: ``load-reference`` (fitted once per reference file and cached in
``<reports_dir>/.cache``), ``profile-events`` (the period streamed from the store chunk by chunk),
``build-report`` (every section of the engine; SHAP when the config names a ``model_file``),
``write-files`` (``<reports_dir>/<model>/<start>_<end>.json`` and ``.html``), ``store-report`` and
``push-metrics`` (``batch.*`` names in the metric history). Tasks that talk to the store retry
twice on :class:`~modelmon.errors.StoreError`; any other error fails the run at once, with its
message in the run's log.

Run it once with ``modelmon batch``, for a range of periods with ``modelmon backfill``, and on a
schedule with ``modelmon schedule`` (see :mod:`modelmon.flows.schedule`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from modelmon.errors import StoreError, require

require("prefect", "batch")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from modelmon.config import Config, load_config  # noqa: E402
from modelmon.engine.result import Report  # noqa: E402
from modelmon.flows.current import (  # noqa: E402
    CurrentProfile,
    headline_metrics,
    load_model_file,
    report_paths,
)
from modelmon.flows.periods import parse_time, resolve_period  # noqa: E402
from modelmon.flows.reference import ReferenceState, load_reference  # noqa: E402
from modelmon.store import open_store, redact_url  # noqa: E402

__all__ = ["FLOW_NAME", "batch_report"]

FLOW_NAME = "modelmon-batch-report"
#: rows per frame read from the store: large enough to profile fast, small enough to bound memory
CHUNK_ROWS = 50_000
STORE_RETRIES = 2
STORE_RETRY_DELAY_SECONDS = 2


def _is_store_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only when the store failed; a wrong config or schema fails at once."""
    try:
        state.result()
    except StoreError:
        return True
    except Exception:
        return False
    return False


@task(name="load-reference", cache_policy=NO_CACHE)
def load_reference_task(config: Config, model: str) -> ReferenceState:
    logger = get_run_logger()
    model_config = config.model(model)
    reference = load_reference(model_config, Path(config.reports_dir) / ".cache")
    how = "from the cache" if reference.from_cache else "fitted and cached"
    logger.info("reference of %s: %d rows from %s (%s)", model, reference.profile.rows, reference.source, how)
    return reference


@task(
    name="profile-events",
    retries=STORE_RETRIES,
    retry_delay_seconds=STORE_RETRY_DELAY_SECONDS,
    retry_condition_fn=_is_store_error,
    cache_policy=NO_CACHE,
)
def profile_events(
    config: Config,
    model: str,
    start: datetime,
    end: datetime,
    reference: ReferenceState,
    chunk_rows: int = CHUNK_ROWS,
) -> CurrentProfile:
    logger = get_run_logger()
    current = CurrentProfile(config.model(model), reference)
    with open_store(config.store) as store:
        expected = store.events.count(model, start, end)
        logger.info(
            "reading %d events of %s from %s for [%s, %s)",
            expected,
            model,
            redact_url(config.store),
            start.isoformat(),
            end.isoformat(),
        )
        current.update_from_store(store.events.read_frames(model, start, end, chunk_rows=chunk_rows))
    logger.info("profiled %d events in %d chunks", current.rows, current.chunks)
    return current


@task(name="build-report", cache_policy=NO_CACHE)
def build_report_task(config: Config, model: str, current: CurrentProfile) -> Report:
    logger = get_run_logger()
    model_file = config.model(model).model_file
    estimator = load_model_file(model_file)
    if estimator is not None:
        logger.info("explaining predictions with the model in %s", model_file)
    report = current.report(estimator)
    drift = report.sections.get("drift") or {}
    drifted = [name for name, info in (drift.get("columns") or {}).items() if info.get("detected")]
    logger.info(
        "dataset drift: %s (share of drifted columns %s); drifted columns: %s",
        drift.get("dataset_drift"),
        drift.get("drifted_share"),
        ", ".join(drifted) or "none",
    )
    return report


@task(name="write-files", cache_policy=NO_CACHE)
def write_files(
    config: Config, model: str, data: dict[str, Any], start: datetime, end: datetime
) -> dict[str, str]:
    from modelmon.render.html import write_html
    from modelmon.render.json import write_json

    json_path, html_path = report_paths(Path(config.reports_dir), model, start, end)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(json_path, data)
    write_html(html_path, data)
    get_run_logger().info("wrote %s and %s", json_path, html_path)
    return {"json": str(json_path), "html": str(html_path)}


@task(
    name="store-report",
    retries=STORE_RETRIES,
    retry_delay_seconds=STORE_RETRY_DELAY_SECONDS,
    retry_condition_fn=_is_store_error,
    cache_policy=NO_CACHE,
)
def store_report(
    config: Config, model: str, data: dict[str, Any], html_path: str | None, start: datetime, end: datetime
) -> str:
    with open_store(config.store) as store:
        report_id = store.reports.save_report(model, data, html_path, start, end)
    get_run_logger().info("stored report %s of %s", report_id, model)
    return report_id


@task(
    name="push-metrics",
    retries=STORE_RETRIES,
    retry_delay_seconds=STORE_RETRY_DELAY_SECONDS,
    retry_condition_fn=_is_store_error,
    cache_policy=NO_CACHE,
)
def push_metrics(config: Config, model: str, values: dict[str, float], at: datetime) -> int:
    with open_store(config.store) as store:
        store.metrics.append(model, at, values)
    get_run_logger().info("appended %d batch.* values to the metric history of %s", len(values), model)
    return len(values)


@task(name="check-report", cache_policy=NO_CACHE)
def check_report(data: dict[str, Any], checks: list[str] | bool) -> dict[str, Any]:
    """The check results of the report (``True``: the conditions generated from the reference)."""
    from modelmon.engine.checks import run_checks

    suite = run_checks(data, None if isinstance(checks, bool) else list(checks))
    logger = get_run_logger()
    for result in suite.checks:
        logger.info("check %s: %s %s", "passed" if result.passed else "FAILED", result.name, result.detail)
    return suite.to_dict()


@flow(name=FLOW_NAME, validate_parameters=True)
def batch_report(
    config_path: str,
    model: str,
    start: datetime | None = None,
    end: datetime | None = None,
    period: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    memory_budget: str = "256MiB",
    checks: list[str] | bool = False,
) -> dict[str, Any]:
    """Compare the events of ``[start, end)`` (or of the ``period`` ending now) with the reference.

    ``workers`` (a local Dask cluster of that many processes) or ``scheduler`` (an existing one's
    address) profile sub-periods on Dask through prefect-dask (:mod:`modelmon.flows.partitions`);
    events are read from the store in chunks sized by ``memory_budget``.

    Returns ``report_id``, the ``json`` and ``html`` paths, ``start``, ``end`` and ``current_rows``;
    a period without events writes no report (``report_id`` is ``None``). With ``checks`` (a list
    of conditions, or ``True`` for those generated from the reference) the results are stored with
    the report under ``checks``, and a failed check then fails the run
    (:class:`~modelmon.errors.ChecksFailed`).
    """
    from modelmon.render.json import to_jsonable

    logger = get_run_logger()
    config = load_config(config_path)
    config.model(model)  # fail early, naming the known models, before any task runs
    first, last = resolve_period(start, end, period, now=_scheduled_time())
    reference = load_reference_task(config, model)
    from modelmon.engine.sides import wanted_columns
    from modelmon.flows.partitions import store_chunk_rows
    from modelmon.reading.files import parse_bytes

    chunk_rows = store_chunk_rows(len(wanted_columns(config.model(model).schema)), parse_bytes(memory_budget))
    if workers is not None or scheduler is not None:
        from modelmon.flows.partitions import profile_on_dask

        current = profile_on_dask(
            config_path,
            model,
            first,
            last,
            reference,
            workers=workers,
            scheduler=scheduler,
            chunk_rows=chunk_rows,
        )
    else:
        current = profile_events(config, model, first, last, reference, chunk_rows)
    result: dict[str, Any] = {
        "model": model,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "current_rows": current.rows,
        "report_id": None,
        "json": None,
        "html": None,
    }
    if current.rows == 0:
        logger.warning(
            "no events of %s in [%s, %s): no report written", model, first.isoformat(), last.isoformat()
        )
        push_metrics(config, model, {"batch.current_rows": 0.0}, last)
        return result
    report = build_report_task(config, model, current)
    data = to_jsonable({**report.to_dict(), "model": model, "period": {"start": first, "end": last}})
    if checks is not False:
        data["checks"] = check_report(data, checks)
    paths = write_files(config, model, data, first, last)
    result["report_id"] = store_report(config, model, data, paths["html"], first, last)
    push_metrics(config, model, headline_metrics(data), last)
    result.update(paths)
    result["dataset_drift"] = data["drift"].get("dataset_drift")
    if checks is not False and not data["checks"]["passed"]:
        from modelmon.engine.checks import CheckResult, CheckSuite
        from modelmon.errors import ChecksFailed

        raise ChecksFailed(CheckSuite([CheckResult(**item) for item in data["checks"]["checks"]]))
    return result


def _scheduled_time() -> datetime | None:
    """When a scheduled run was due: its period ends there, however late the run starts."""
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        return None
    return parse_time(scheduled.isoformat(), "scheduled start time")
