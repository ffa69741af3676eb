"""A period's events profiled on a Dask cluster: sub-periods as Prefect tasks on prefect-dask.

The period is cut into sub-periods of equal length (four per worker); the store counts each one's
events, so every sub-period knows the position of its first event in the whole period (events are
read in time order, the same order as one read of the whole period). Each sub-period is a task run
by :class:`prefect_dask.DaskTaskRunner` on a worker, which opens the store itself and streams its
events chunk by chunk; the flow adds the sides in time order. What a side keeps of each event
depends only on its position, so the result is the single-process one up to the order floats are
summed in (see :mod:`modelmon.engine.distributed`).

Workers must reach the store: a SQLite file on a shared disk or a MongoDB/PostgreSQL URL.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from modelmon.errors import require

require("prefect", "batch")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from modelmon.config import load_config  # noqa: E402
from modelmon.flows.current import CurrentProfile  # noqa: E402
from modelmon.flows.reference import ReferenceState  # noqa: E402
from modelmon.store import open_store  # noqa: E402

__all__ = ["profile_on_dask", "store_chunk_rows", "sub_periods"]

#: bytes guessed per stored field once read into pandas (JSON documents become objects and floats)
STORE_FIELD_BYTES = 64


def store_chunk_rows(columns: int, memory_budget: int) -> int:
    """Events read from the store at a time under the memory budget."""
    from modelmon.reading.files import chunk_rows_for

    return chunk_rows_for(STORE_FIELD_BYTES * max(columns, 1), memory_budget)


def sub_periods(start: datetime, end: datetime, parts: int) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into ``parts`` consecutive periods of equal length.

    >>> from datetime import UTC
    >>> day = datetime(2026, 1, 1, tzinfo=UTC)
    >>> [(a.hour, b.hour) for a, b in sub_periods(day, day.replace(hour=6), 3)]
    [(0, 2), (2, 4), (4, 6)]
    """
    step = (end - start) / parts
    bounds = [start + step * i for i in range(parts)] + [end]
    return list(itertools.pairwise(bounds))


@task(name="profile-sub-period", cache_policy=NO_CACHE)
def profile_sub_period(
    config_path: str,
    model: str,
    start: datetime,
    end: datetime,
    first_row: int,
    reference: ReferenceState,
    chunk_rows: int,
) -> CurrentProfile:
    config = load_config(config_path)
    current = CurrentProfile(config.model(model), reference)
    with open_store(config.store) as store:
        current.update_from_store(
            store.events.read_frames(model, start, end, chunk_rows=chunk_rows), first_row=first_row
        )
    return current


@flow(name="modelmon-profile-partitions", validate_parameters=False)
def _profile_partitions(
    config_path: str, model: str, start: datetime, end: datetime, parts: int, chunk_rows: int, reference: Any
) -> CurrentProfile:
    logger = get_run_logger()
    config = load_config(config_path)
    ranges = sub_periods(start, end, parts)
    with open_store(config.store) as store:
        counts = [store.events.count(model, low, high) for low, high in ranges]
    firsts = [sum(counts[:i]) for i in range(len(counts))]
    logger.info("profiling %d events of %s in %d sub-periods on Dask", sum(counts), model, len(ranges))
    futures = [
        profile_sub_period.submit(config_path, model, low, high, first, reference, chunk_rows)
        for (low, high), first, count in zip(ranges, firsts, counts, strict=True)
        if count
    ]
    total = CurrentProfile(config.model(model), reference)
    for future in futures:
        total = total + future.result()
    return total


def profile_on_dask(
    config_path: str,
    model: str,
    start: datetime,
    end: datetime,
    reference: ReferenceState,
    *,
    workers: int | None,
    scheduler: str | None,
    chunk_rows: int,
) -> CurrentProfile:
    """The period's side, profiled by sub-period tasks on a local cluster of ``workers`` processes
    or on the cluster of ``scheduler``."""
    prefect_dask = require("prefect_dask", "dask")
    if scheduler is not None:
        runner = prefect_dask.DaskTaskRunner(address=scheduler)
    else:
        cluster = {"n_workers": workers, "threads_per_worker": 1, "processes": True}
        runner = prefect_dask.DaskTaskRunner(cluster_kwargs={**cluster, "dashboard_address": ":0"})
    parts = 4 * (workers or 2)
    profiled: CurrentProfile = _profile_partitions.with_options(task_runner=runner)(
        config_path, model, start, end, parts, chunk_rows, reference
    )
    return profiled
