"""modelmon's drift section on two parquet files (the same work as Evidently's drift preset).

    python -m bench.modelmon_drift REFERENCE CURRENT [--parts default|none] [--report]

Prints one JSON line: seconds spent and, per column, the drift decision, score and test.

``--parts none`` profiles the columns only (``ProfileSpec.fit_profile(..., parts=())``), which is
the work the drift section needs; ``--parts default`` also fits the model-level parts (an
IsolationForest for the outlier section) and scores every chunk with it. ``--report`` builds the
whole report (every section that applies) with :func:`modelmon.engine.build.build_report` instead.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any
from unittest import mock

from bench.datasets import drift_schema
from modelmon.config import DriftSettings
from modelmon.engine.drift import data_drift
from modelmon.engine.profile import ProfileSpec
from modelmon.reading.files import read_frame, read_frames


def drift_only(
    reference_path: str, current_path: str, chunk_rows: int, parts: tuple[str, ...] | None = ()
) -> dict[str, Any]:
    reference = read_frame(reference_path)
    schema = drift_schema(reference.columns)
    spec, reference_profile = ProfileSpec.fit_profile(reference, schema, parts=parts)
    del reference
    current_profile = spec.profile_chunks(read_frames(current_path, chunk_rows=chunk_rows))
    result = data_drift(reference_profile, current_profile, DriftSettings())
    return {
        name: {"score": c.score, "method": c.method, "threshold": c.threshold, "detected": bool(c.detected)}
        for name, c in result.columns.items()
    }


def full_report(reference_path: str, current_path: str, chunk_rows: int) -> dict[str, Any]:
    from modelmon.engine.build import build_report
    from modelmon.reading.files import file_columns

    names = file_columns(reference_path)
    schema = drift_schema(names)
    report = build_report(reference_path, current_path, schema, chunk_rows=chunk_rows)
    columns = report.sections["drift"]["columns"]
    return {
        name: {key: column[key] for key in ("score", "method", "threshold", "detected")}
        for name, column in columns.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("--parts", choices=["default", "none"], default="default")
    parser.add_argument("--report", action="store_true", help="build the whole report")
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.report:
        # the report builder fits every registered part; "none" empties the table for this run.
        # Imported here: the part modules load scikit-learn and scipy.stats, which the drift
        # section alone does not need (and which would add about 0.7 s to its wall time).
        from modelmon.engine.parts import PART_TYPES

        table = {} if args.parts == "none" else PART_TYPES
        with mock.patch.dict(PART_TYPES, table, clear=True):
            columns = full_report(args.reference, args.current, args.chunk_rows)
    else:
        chosen = () if args.parts == "none" else None
        columns = drift_only(args.reference, args.current, args.chunk_rows, chosen)
    print(json.dumps({"drift_seconds": time.perf_counter() - started, "columns": columns}))


if __name__ == "__main__":
    main()
