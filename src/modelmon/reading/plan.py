"""How a report reads its two datasets, decided once for every entry point: :class:`ReadPlan`.

A plan holds the memory budget and, when given, a fixed number of rows a chunk; it reads a frame or
a parquet/CSV file in chunks under that budget, infers a schema from the reference's first chunk,
and checks that the data has the columns a schema names. :func:`~modelmon.build_report`, the
``report`` and ``check`` commands, the batch flow and :func:`~modelmon.engine.distributed.dask_report`
read through it, so they chunk alike and infer the same schema from the same data.

>>> import pandas as pd
>>> frame = pd.DataFrame({"fare": [4.5, 7.0, 12.25] * 40, "zone": list("abc") * 40})
>>> plan = ReadPlan(chunk_rows=50)
>>> [len(chunk) for chunk in plan.chunks(frame)]
[50, 50, 20]
>>> schema = plan.infer_schema(frame)
>>> schema.numerical, schema.categorical
(('fare',), ('zone',))
>>> check_current(frame[["zone"]], schema)
Traceback (most recent call last):
modelmon.errors.SchemaError: the current data has no column(s) 'fare' of the schema; its columns: zone
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from modelmon.errors import InputError, SchemaError
from modelmon.reading.sizes import DEFAULT_MEMORY_BUDGET
from modelmon.schema import Schema, nested_type

__all__ = [
    "Data",
    "Partition",
    "ReadPlan",
    "check_current",
    "check_reference",
    "columns_of",
    "exact_rows",
    "load_model",
    "total_rows",
]

#: a dataset: a frame, or the path of a parquet or CSV file
Data: TypeAlias = pd.DataFrame | str | os.PathLike[str]
#: (what to read, position of its first row): a parquet path and its row groups, or a frame
Partition: TypeAlias = tuple[Any, int]


def _is_file(data: Any) -> bool:
    return isinstance(data, str | os.PathLike)


def _where(data: Any, side: str) -> str:
    return f"the {side} ({data})" if _is_file(data) else f"the {side}"


@dataclass(frozen=True)
class ReadPlan:
    """Chunks of ``chunk_rows`` rows when given, else as many rows as ``memory_budget`` (bytes) allows
    (:func:`modelmon.reading.files.chunk_rows_for`)."""

    memory_budget: int = DEFAULT_MEMORY_BUDGET
    chunk_rows: int | None = None

    def __post_init__(self) -> None:
        if self.chunk_rows is not None and self.chunk_rows < 1:
            raise InputError(f"chunk_rows must be a positive number of rows, got {self.chunk_rows}")

    def chunks(
        self, data: Data, columns: list[str] | None = None, categories: Sequence[str] = ()
    ) -> Iterator[pd.DataFrame]:
        """The chunks of ``data``: a file's ``columns`` only (``None``: all), a frame's every column
        (its profile lists those the schema lacks); a parquet file's text columns named in
        ``categories`` as pandas categoricals (:func:`~modelmon.reading.files.read_frames`)."""
        from modelmon.reading.files import chunk_rows_for, frame_row_bytes, read_frames

        if isinstance(data, pd.DataFrame):
            rows = self.chunk_rows or chunk_rows_for(frame_row_bytes(data), self.memory_budget)
            for start in range(0, max(len(data), 1), rows):
                yield data.iloc[start : start + rows]
            return
        yield from read_frames(
            data, columns, self.chunk_rows, memory_budget=self.memory_budget, categories=categories
        )

    def chunks_ahead(self, data: Data, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """:meth:`chunks`, the next one read on a thread while the caller works on the last."""
        from modelmon.reading.files import read_ahead

        return read_ahead(self.chunks(data, columns))

    def partitions(self, data: Data, columns: list[str], workers: int = 1) -> Iterator[Partition]:
        """The partitions of ``data`` for a cluster of ``workers``, in order, each with the position
        of its first row: a frame's chunks, a parquet file's runs of row groups (about four a worker,
        at least a chunk each, so a worker returns a few profiles rather than one a chunk), a CSV
        file's chunks read here (a CSV file cannot be split by position)."""
        from modelmon.reading.files import count_rows, file_format, parquet_partitions

        if _is_file(data) and file_format(data) == "parquet":
            rows = -(-count_rows(data) // (4 * workers))
            runs = parquet_partitions(data, columns, self.memory_budget, max(rows, self.chunk_rows or 1))
            for groups, first_row in runs:
                yield (str(Path(data).resolve()), groups), first_row
            return
        position = 0
        for chunk in self.chunks(data, columns):
            yield chunk, position
            position += len(chunk)

    def walk_footers(self, *datasets: Any) -> None:
        """Walk the large parquet footers of the files among ``datasets`` now, while little else is
        in memory (they are kept small afterwards, :func:`modelmon.reading.files.read_footers`)."""
        from modelmon.reading.files import read_footers

        read_footers(*(data for data in datasets if _is_file(data)))

    def infer_schema(
        self,
        reference: Data,
        *,
        prediction: str | None = None,
        target: str | None = None,
        task: Any = None,
        only_given: bool = False,
        **roles: Any,
    ) -> Schema:
        """The schema :meth:`Schema.infer` finds in the reference's first chunk, the ``roles`` given
        taking their columns. The id and timestamp columns are not features.

        A parquet file's float columns are numerical whatever their values (unless one is a label,
        whose values tell the task), so they are not read: the chunk's rows are those of the whole
        rows and the schema is the one of the whole chunk, with the features in the file's order.
        """
        labels = [name for name in (prediction, target) if name]
        head, floats, order = self._inference_head(reference, labels)
        exclude = [name for name in (roles.get("id"), roles.get("timestamp")) if name]
        schema = Schema.infer(
            head,
            prediction=prediction,
            target=target,
            task=task,
            exclude=exclude,
            floats=floats,
            only_given=only_given,
            **roles,
        )
        if not floats:
            return schema
        position = {name: i for i, name in enumerate(order)}
        return dataclasses.replace(
            schema,
            numerical=tuple(sorted(schema.numerical, key=lambda name: position.get(name, -1))),
            categorical=tuple(sorted(schema.categorical, key=lambda name: position.get(name, -1))),
        )

    def _inference_head(
        self, reference: Data, labels: list[str]
    ) -> tuple[pd.DataFrame, list[str], list[str]]:
        """The reference's first chunk without a parquet file's float columns
        that are not labels, those float columns, and every column in the file's order."""
        from modelmon.reading.files import chunk_rows_for, file_format, read_frames, row_bytes

        if isinstance(reference, pd.DataFrame):
            return next(iter(self.chunks(reference))), [], [str(name) for name in reference.columns]
        # the chunk of the whole rows, whichever columns are read: the same rows decide
        rows = self.chunk_rows or chunk_rows_for(row_bytes(reference), self.memory_budget)
        floats: list[str] = []
        columns = order = None
        if file_format(reference) == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            arrow = pq.ParquetFile(reference).schema_arrow
            order = [str(name) for name in arrow.names]
            floats = [
                name for name in order if pa.types.is_floating(arrow.field(name).type) and name not in labels
            ]
            columns = [name for name in order if name not in floats]
            if not columns:
                return pd.DataFrame(), floats, order
        head = next(iter(read_frames(reference, columns, chunk_rows=rows, memory_budget=self.memory_budget)))
        return head, floats, order or [str(name) for name in head.columns]

    def schema_for(self, reference: Data, schema: Schema | None = None, **roles: Any) -> Schema:
        """``schema`` (a config model's) with the ``roles`` given replacing its own, else the one
        :meth:`infer_schema` finds. Every column it names must be one of the reference's (a typo is
        an error naming the closest column), and none a struct or list column."""
        numerical, categorical = roles.pop("numerical", None), roles.pop("categorical", None)
        if schema is not None:
            roles.pop("only_given", None)
            schema = schema.with_overrides(**roles)
            if numerical is not None or categorical is not None:
                schema = schema.with_overrides(numerical=numerical or (), categorical=categorical or ())
        else:
            schema = self.infer_schema(reference, numerical=numerical, categorical=categorical, **roles)
        check_reference(reference, schema)
        return schema


def columns_of(data: Data) -> tuple[list[str], dict[str, str]]:
    """The columns of a frame or a file, and those of them holding structs or lists (with their type).

    >>> columns_of(pd.DataFrame({"x": [1.0], "tags": [["a", "b"]]}))
    (['x', 'tags'], {'tags': 'list'})
    """
    if not isinstance(data, pd.DataFrame):
        from modelmon.reading.files import file_columns, nested_columns

        return file_columns(data), nested_columns(data)
    columns = [str(name) for name in data.columns]
    kinds = {name: nested_type(data[name]) for name in columns}
    return columns, {name: kind for name, kind in kinds.items() if kind}


def check_reference(reference: Data, schema: Schema) -> None:
    """Fail naming each column ``schema`` gives a role that ``reference`` (a frame, or a file read
    from its header only) lacks, with the closest name, or that holds structs or lists: a misspelt
    target must not pass as "no labelled rows".

    >>> reference = pd.DataFrame({"bmi": [22.0, 31.5], "progression": [151, 75]})
    >>> check_reference(reference, Schema(numerical=["bmi"], target="progresion"))
    Traceback (most recent call last):
    ...
    modelmon.errors.SchemaError: target 'progresion': the reference has no such column (did you mean \
'progression'?); its columns: bmi, progression
    """
    columns, nested = columns_of(reference)
    schema.check_columns(columns, data=_where(reference, "reference"), unsupported=nested)


def check_current(current: Data, schema: Schema) -> None:
    """Fail when the current data lacks a column the schema needs (target, segments and sensitive
    may be missing) or holds structs or lists in one: its report would test nothing."""
    columns, nested = columns_of(current)
    missing = [name for name in schema.required_columns() if name not in columns]
    where = _where(current, "current data")
    if missing:
        shown = ", ".join(columns[:30]) or "none"
        raise SchemaError(
            f"{where} has no column(s) {', '.join(map(repr, missing))} of the schema; its columns: {shown}"
        )
    wrong = {name: nested[name] for name in schema.named_columns if name in nested}
    if wrong:
        kinds = ", ".join(f"{name!r} is {kind}" for name, kind in wrong.items())
        raise SchemaError(f"{where}: {kinds}, which cannot be monitored as a number or a category")


def total_rows(data: Data) -> int:
    """Rows of a frame, or of a file (a CSV file's lines less its header)."""
    if isinstance(data, pd.DataFrame):
        return len(data)
    from modelmon.reading.files import count_rows

    return count_rows(data)


def exact_rows(data: Data) -> int | None:
    """Rows of a frame or a parquet file (from its metadata); ``None`` for CSV, whose line count can
    differ from its rows when a quoted value spans lines."""
    from modelmon.reading.files import file_format

    if not isinstance(data, pd.DataFrame) and file_format(data) != "parquet":
        return None
    return total_rows(data)


def load_model(model: Any) -> Any:
    """``model`` itself, or the estimator of the joblib or pickle file it names.

    >>> load_model("no-such-model.joblib")
    Traceback (most recent call last):
    modelmon.errors.InputError: no-such-model.joblib: no such model file
    """
    if not isinstance(model, str | os.PathLike):
        return model
    import joblib

    try:
        return joblib.load(model)
    except FileNotFoundError as exc:
        raise InputError(f"{model}: no such model file") from exc
    except Exception as exc:
        raise InputError(
            f"{model}: cannot load a model from it (expected a joblib or pickle file): {exc}"
        ) from exc
