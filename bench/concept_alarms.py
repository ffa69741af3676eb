"""False alarms and detection delay of the concept-drift detectors at their defaults, and of the alert.

Streams of labelled errors go through the service's own path (``modelmon.service.concept``: the
task's detectors scaled by reference errors, flags held ``HOLD_SECONDS``, the band, the confirmed
rule of ``ModelmonConceptDrift``), 50 labelled rows per refresh at one labelled row per second:

- stationary: ``--rows`` (100,000) labelled rows per seed, errors drawn from the reference's law.
  Regression: absolute errors ``abs(N(0, 1))`` and, heavy-tailed, ``abs(t(3))``; classification: 0/1
  errors at 10 % and 25 %. A false alarm is a detection (per detector) or a rising edge of the
  confirmed rule (the alert), counted per 10,000 labelled rows.
- changed: 20,000 rows with a change at row 10,000: regression errors x1.4 (the demo's
  ``concept_change`` factor for taxi), classification 10 % -> 20 % and 25 % -> 35 %. The delay is
  the labelled rows from the change to the first detection after it (per detector) and to the first
  confirmed refresh (the alert's condition; Prometheus then waits its ``for:``).

    python -m bench.concept_alarms [--rows 100000] [--seeds 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from modelmon.schema import Schema
from modelmon.service.concept import concept_section, feed_concept

REFRESH_ROWS = 50
CHANGE_AT = 10_000
CHANGED_ROWS = 20_000

Draw = Callable[[np.random.Generator, int], np.ndarray]

#: stream name -> (task, draw of reference-law errors, draw of changed errors)
STREAMS: dict[str, tuple[str, Draw, Draw]] = {
    "regression, abs N(0,1)": (
        "regression",
        lambda rng, n: np.abs(rng.normal(size=n)),
        lambda rng, n: 1.4 * np.abs(rng.normal(size=n)),
    ),
    "regression, abs t(3)": (
        "regression",
        lambda rng, n: np.abs(rng.standard_t(3, size=n)),
        lambda rng, n: 1.4 * np.abs(rng.standard_t(3, size=n)),
    ),
    "classification 10 %": (
        "classification",
        lambda rng, n: (rng.random(n) < 0.10).astype(float),
        lambda rng, n: (rng.random(n) < 0.20).astype(float),
    ),
    "classification 25 %": (
        "classification",
        lambda rng, n: (rng.random(n) < 0.25).astype(float),
        lambda rng, n: (rng.random(n) < 0.35).astype(float),
    ),
}


def _frame(task: str, errors: np.ndarray) -> pd.DataFrame:
    if task == "regression":
        return pd.DataFrame({"p": 0.0, "y": errors})
    return pd.DataFrame({"p": 1, "y": np.where(errors > 0, 0, 1)})


def replay(task: str, reference: np.ndarray, errors: np.ndarray) -> dict[str, Any]:
    """Detections per detector and the rows at which the confirmed rule rose, through the service path."""
    schema = Schema(task=task, numerical=["x"], prediction="p", target="y")  # type: ignore[arg-type]
    frame = _frame(task, errors)
    state, was_confirmed, rises = None, False, []
    for start in range(0, len(frame), REFRESH_ROWS):
        now = float(start + REFRESH_ROWS)
        state = feed_concept(state, schema, frame.iloc[start : start + REFRESH_ROWS], reference, now=now)
        confirmed = concept_section(state, schema, now)["confirmed"]
        if confirmed and not was_confirmed:
            rises.append(start + REFRESH_ROWS)
        was_confirmed = confirmed
    assert state is not None
    return {"detections": state.monitor.detections, "alerts": rises}


def _reference_errors(task: str, draw: Draw, rng: np.random.Generator) -> np.ndarray:
    return draw(rng, 5000)


def false_alarms(rows: int, seeds: int) -> list[dict[str, Any]]:
    results = []
    for name, (task, draw, _) in STREAMS.items():
        counts: dict[str, int] = {}
        early: dict[str, int] = {}  # streams with an alarm in their first 10,000 rows (a fresh start)
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            found = replay(task, _reference_errors(task, draw, rng), draw(rng, rows))
            alarms = {**found["detections"], "alert (confirmed)": found["alerts"]}
            for detector, positions in alarms.items():
                counts[detector] = counts.get(detector, 0) + len(positions)
                early[detector] = early.get(detector, 0) + any(p < 10_000 for p in positions)
        per_10k = {key: value * 10_000 / (rows * seeds) for key, value in counts.items()}
        results.append({"stream": name, "counts": counts, "per_10k": per_10k, "early": early})
    return results


def delays(seeds: int) -> list[dict[str, Any]]:
    results = []
    for name, (task, draw, changed) in STREAMS.items():
        found: dict[str, list[int | None]] = {}
        for seed in range(seeds):
            rng = np.random.default_rng(1000 + seed)
            reference = _reference_errors(task, draw, rng)
            errors = np.concatenate([draw(rng, CHANGE_AT), changed(rng, CHANGED_ROWS - CHANGE_AT)])
            replayed = replay(task, reference, errors)
            for detector, positions in replayed["detections"].items():
                after = [p - CHANGE_AT for p in positions if p >= CHANGE_AT]
                found.setdefault(detector, []).append(after[0] if after else None)
            after = [p - CHANGE_AT for p in replayed["alerts"] if p >= CHANGE_AT]
            found.setdefault("alert (confirmed)", []).append(after[0] if after else None)
        results.append({"stream": name, "delays": found})
    return results


def _median(values: list[int | None]) -> str:
    hit = [v for v in values if v is not None]
    missed = len(values) - len(hit)
    text = f"{int(np.median(hit))}" if hit else "-"
    return text + (f" ({missed} missed)" if missed else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"False alarms per 10,000 labelled rows ({args.seeds} seeds x {args.rows:,} stationary rows)\n")
    print("| stream | detector | alarms | per 10k rows | streams with one in their first 10k rows |")
    print("|---|---|---|---|---|")
    for row in false_alarms(args.rows, args.seeds):
        for detector, count in row["counts"].items():
            share = f"{row['early'][detector]} of {args.seeds}"
            print(f"| {row['stream']} | {detector} | {count} | {row['per_10k'][detector]:.2f} | {share} |")
    print(
        f"\nDetection delay in labelled rows after a change at row {CHANGE_AT:,} "
        f"(median over {args.seeds} seeds)\n"
    )
    print("| stream | detector | delay |\n|---|---|---|")
    for row in delays(args.seeds):
        for detector, values in row["delays"].items():
            print(f"| {row['stream']} | {detector} | {_median(values)} |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
