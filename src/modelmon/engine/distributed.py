"""Batch reports on a Dask cluster: partitions profiled on the workers, merged on the driver.

A parquet file is split into runs of row groups of about one chunk of the memory budget each
(:func:`modelmon.reading.files.parquet_partitions`); a DataFrame into slices; a CSV file is read by the driver
in chunks, each sent to a worker. Every partition carries the position of its first row, and what
a side keeps of each row (its sample, its stream) depends only on that position, so the merged
result is the single-process one: the same spec, the same counts, samples and streams, and the
same report JSON except for sums of floats (a column's sum, sum of squares, cell sums), which are
added in another order and may differ in the last bits.

A reference that fits in memory (:func:`~modelmon.engine.sides.fits_in_memory`) is fitted whole on
one worker, as one process fits it. A larger one is fitted in two rounds on the cluster: workers
sketch their partitions, the driver adds the sketches and fits the spec
(:mod:`modelmon.engine.fitting`), then workers profile their partitions against it and the driver
adds the profiles. The current data is profiled the same way.

    report = dask_report("ref.parquet", "cur.parquet", schema, workers=2)

``workers=N`` starts a local cluster of N single-threaded worker processes for the run;
``scheduler="tcp://host:8786"`` uses an existing cluster, whose workers must reach the files at the
same paths and have modelmon installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pandas as pd

from modelmon.config import DriftSettings
from modelmon.engine.build import fit_reference, note_unexpected_columns
from modelmon.engine.result import Report
from modelmon.engine.sides import (
    CurrentSide,
    ReferenceSide,
    fits_in_memory,
    reference_bytes,
    reference_sketch,
    wanted_columns,
)
from modelmon.errors import InputError, require
from modelmon.reading.plan import Data, Partition, ReadPlan, exact_rows
from modelmon.reading.sizes import DEFAULT_MEMORY_BUDGET
from modelmon.schema import Schema

__all__ = ["dask_client", "dask_report"]


def dask_client(
    workers: int | None = None, scheduler: str | None = None, memory_budget: int = DEFAULT_MEMORY_BUDGET
) -> Any:
    """A context manager giving a ``distributed.Client``: a local cluster of ``workers`` processes
    (closed on exit), or the cluster of ``scheduler``."""
    distributed = require("distributed", "dask")
    if scheduler is not None:
        return distributed.Client(scheduler)
    if workers is None or workers < 1:
        raise InputError(f"workers must be a positive number of worker processes, got {workers}")
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        # a worker holds a chunk and its copies (the budget) plus the spec and what it keeps
        memory_limit=max(4 * memory_budget, 1 << 30),
    )
    return _closing(distributed.Client(cluster), cluster)


@contextlib.contextmanager
def _closing(client: Any, cluster: Any) -> Iterator[Any]:
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _chunks(
    source: Any, columns: list[str], memory_budget: int, chunk_rows: int | None
) -> Iterator[pd.DataFrame]:
    if isinstance(source, pd.DataFrame):
        yield source
        return
    from modelmon.reading.files import read_row_groups

    path, groups = source
    yield from read_row_groups(path, groups, columns, chunk_rows, memory_budget=memory_budget)


def sketch_partition(
    source: Any,
    first_row: int,
    schema: Schema,
    memory_budget: int,
    chunk_rows: int | None,
    total_rows: int | None = None,
) -> Any:
    """On a worker: the reference sketch of one partition (``total_rows``: the whole reference's)."""
    sketch = reference_sketch(schema, memory_budget, total_rows)
    position = first_row
    for chunk in _chunks(source, wanted_columns(schema), memory_budget, chunk_rows):
        sketch.update(chunk, first_row=position)
        position += len(chunk)
    return sketch


def profile_partition(
    source: Any,
    first_row: int,
    side: ReferenceSide,
    settings: dict[str, int],
    memory_budget: int,
    chunk_rows: int | None,
) -> CurrentSide:
    """On a worker: one partition fed to a side against the fitted reference."""
    current = CurrentSide(side, **settings)
    position = first_row
    for chunk in _chunks(source, wanted_columns(side.schema), memory_budget, chunk_rows):
        current.update(chunk, first_row=position)
        position += len(chunk)
    # sent back without the reference's own profile and sample: the driver has them
    current.reference = ReferenceSide(side.spec, current.profile, None, None, side.sections)
    return current


def _gather_sum(client: Any, function: Callable[..., Any], parts: Iterator[Partition], *args: Any) -> Any:
    """Run ``function`` on every partition and add the results in partition order.

    At most two partitions per worker are in flight, so the driver never holds more than that of a
    CSV file it reads itself.
    """
    limit = 2 * _workers(client)
    pending: list[Any] = []
    total: Any = None
    for source, first_row in parts:
        pending.append(client.submit(function, source, first_row, *args, pure=False))
        while len(pending) >= limit:  # added in partition order as they come, then released
            result = pending.pop(0).result()
            total = result if total is None else total + result
    for future in pending:
        result = future.result()
        total = result if total is None else total + result
    if total is None:
        raise InputError("the data has no rows to profile")
    return total


def _workers(client: Any) -> int:
    return max(len(client.scheduler_info().get("workers", {})), 1)


def _sketched_reference(
    client: Any,
    reference: Data,
    schema: Schema,
    count: int,
    sections: Sequence[str] | None,
    sample_rows: int,
    seed: int,
    memory_budget: int,
    chunk_rows: int | None,
) -> ReferenceSide:
    """A reference larger than memory, fitted in two rounds: partitions sketched, then profiled."""
    from modelmon.engine.sections import parts_for

    columns = wanted_columns(schema)
    sketch = _gather_sum(
        client,
        sketch_partition,
        ReadPlan(memory_budget, chunk_rows).partitions(reference, columns, count),
        schema,
        memory_budget,
        chunk_rows,
        exact_rows(reference),
    )
    spec = sketch.spec(parts_for(sections))
    del sketch
    unprofiled = client.scatter(ReferenceSide.unprofiled(spec, sections), broadcast=True)
    reference_settings = {"sample_rows": sample_rows, "stream_rows": 1, "seed": seed}
    fitted: ReferenceSide = _gather_sum(
        client,
        profile_partition,
        ReadPlan(memory_budget, chunk_rows).partitions(reference, columns, count),
        unprofiled,
        reference_settings,
        memory_budget,
        chunk_rows,
    ).as_reference()
    note_unexpected_columns(fitted.profile, reference, schema)
    return fitted


def dask_report(
    reference: Data,
    current: Data,
    schema: Schema,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    drift: DriftSettings | None = None,
    model: Any = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    chunk_rows: int | None = None,
    sections: Sequence[str] | None = None,
    sample_rows: int = 5_000,
    stream_rows: int = 20_000,
    seed: int = 0,
) -> Report:
    """:func:`~modelmon.engine.build.build_report` with partitions profiled on a Dask cluster.

    The result equals the single-process report but for the order floats are summed in.
    """
    from modelmon.engine.sections import check_sections

    if sections is not None:
        sections = check_sections(sections)
    columns = wanted_columns(schema)
    with dask_client(workers, scheduler, memory_budget) as client:
        count = _workers(client)
        if fits_in_memory(reference_bytes(reference, columns), memory_budget, sections):
            # held and fitted whole, as one process fits it: on one worker, as one task
            fitted = client.submit(
                fit_reference,
                reference,
                schema,
                sample_rows=sample_rows,
                seed=seed,
                sections=sections,
                memory_budget=memory_budget,
                chunk_rows=chunk_rows,
                pure=False,
            ).result()
        else:
            fitted = _sketched_reference(
                client, reference, schema, count, sections, sample_rows, seed, memory_budget, chunk_rows
            )
        side = client.scatter(fitted, broadcast=True)
        settings = {"sample_rows": sample_rows, "stream_rows": stream_rows, "seed": seed + 1}
        current_side = _gather_sum(
            client,
            profile_partition,
            ReadPlan(memory_budget, chunk_rows).partitions(current, columns, count),
            side,
            settings,
            memory_budget,
            chunk_rows,
        )
    current_side.reference = fitted
    note_unexpected_columns(current_side.profile, current, schema)
    return current_side.report(drift=drift, model=model, sections=sections)
