"""Regression performance without labels: modelmon's DLE against NannyML 0.13's DLE.

    python -m bench.dle_vs_nannyml [--rows 20000] [--seeds 0 1 2]

For each seed, a model whose error grows with one input (``load``) is monitored on a reference
and on two current datasets: one like the reference, one where ``load`` shifts towards the
inputs where the model errs more. Both tools fit their loss models on the same reference file and
estimate MAE and RMSE of the same current file, targets withheld; the realized values are computed
from the withheld targets. NannyML runs in its own environment (``bench/.venv-nannyml``, created on
first use); its time includes its interpreter start and imports, modelmon's is its fit and estimate.
Prints a markdown table and, last, one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.harness import measure, nannyml_python

FEATURES = ["load", "size", "kind"]
COMMAND = "python -m bench.dle_vs_nannyml"


def heteroscedastic(rows: int, seed: int, shifted: bool = False) -> pd.DataFrame:
    """``pred`` is right on average; the noise grows with ``load`` (and is larger for kind ``c``)."""
    rng = np.random.default_rng(seed)
    load = rng.beta(4, 1.5, rows) if shifted else rng.uniform(0, 1, rows)
    size = rng.normal(10, 2, rows)
    kind = rng.choice(["a", "b", "c"], rows).astype(object)
    scale = 0.3 + 3.0 * load + np.where(kind == "c", 1.0, 0.0)
    pred = 2 * size + 5 * load
    y = pred + rng.normal(0, 1, rows) * scale
    return pd.DataFrame({"load": load, "size": size, "kind": kind, "pred": pred, "y": y})


def modelmon_dle(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """modelmon's estimate as it runs (on at most ``SAMPLE_ROWS`` rows of a chunk, with its
    standard error), and the estimate over every row (``every_row``, as before the sample)."""
    from unittest import mock

    from modelmon.engine import dle
    from modelmon.engine.profile import ProfileSpec
    from modelmon.schema import Schema

    started = time.perf_counter()
    schema = Schema(numerical=["load", "size"], categorical=["kind"], prediction="pred", target="y")
    spec = ProfileSpec.fit(reference, schema, parts=["dle"])
    part = spec.profile(current.drop(columns="y")).parts["dle"]
    seconds = time.perf_counter() - started
    with mock.patch.object(dle, "SAMPLE_ROWS", len(current)):
        every_row = dle.estimate_losses(spec.profile(current.drop(columns="y")).parts["dle"])
    return {
        **dle.estimate_losses(part),
        "seconds": seconds,
        "sampled_rows": part.sampled,
        "sampling_error": dle.sampling_error(part),
        "every_row": every_row,
    }


SCENARIOS = {"unchanged": False, "load shifted": True}


def run(
    rows: int, seeds: list[int], folder: Path, scenarios: tuple[str, ...] = tuple(SCENARIOS)
) -> list[dict[str, Any]]:
    interpreter = nannyml_python()
    assert interpreter is not None
    results = []
    for seed in seeds:
        reference = heteroscedastic(rows, seed)
        reference_path = folder / f"reference-{seed}.parquet"
        reference.to_parquet(reference_path)
        for scenario in scenarios:
            shifted = SCENARIOS[scenario]
            current = heteroscedastic(rows, seed + 1000, shifted)
            current_path = folder / f"current-{seed}-{int(shifted)}.parquet"
            current.to_parquet(current_path)
            error = current["y"] - current["pred"]
            nannyml = measure(
                [
                    interpreter,
                    "bench/nannyml_dle.py",
                    str(reference_path),
                    str(current_path),
                    ",".join(FEATURES),
                    "pred",
                    "y",
                ],
                env={"NML_DISABLE_USAGE_LOGGING": "1"},
            )
            ours = modelmon_dle(reference, current)
            row: dict[str, Any] = {"seed": seed, "scenario": scenario, "rows": rows}
            row["realized"] = {"mae": float(error.abs().mean()), "rmse": float(np.sqrt((error**2).mean()))}
            row["modelmon"] = ours
            row["nannyml"] = {**nannyml.output, "process_seconds": nannyml.seconds}
            for metric in ("mae", "rmse"):
                row[f"{metric}_vs_nannyml"] = ours[metric] / nannyml.output[metric] - 1
                row[f"{metric}_vs_every_row"] = ours[metric] / ours["every_row"][metric] - 1
                row[f"{metric}_every_row_vs_nannyml"] = ours["every_row"][metric] / nannyml.output[metric] - 1
                row[f"{metric}_vs_realized"] = ours[metric] / row["realized"][metric] - 1
            results.append(row)
    return results


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| seed | current | realized MAE | modelmon MAE (sampled rows, s.e.) | every row | NannyML MAE "
        "| modelmon vs NannyML | realized RMSE | modelmon RMSE (s.e.) | every row | NannyML RMSE "
        "| modelmon vs NannyML | modelmon s | NannyML s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        ours = row["modelmon"]
        lines.append(
            f"| {row['seed']} | {row['scenario']} | {row['realized']['mae']:.4f} "
            f"| {ours['mae']:.4f} ({ours['sampled_rows']:,}, {ours['sampling_error']['mae']:.4f}) "
            f"| {ours['every_row']['mae']:.4f} "
            f"| {row['nannyml']['mae']:.4f} | {100 * row['mae_vs_nannyml']:+.2f}% "
            f"| {row['realized']['rmse']:.4f} | {ours['rmse']:.4f} ({ours['sampling_error']['rmse']:.4f}) "
            f"| {ours['every_row']['rmse']:.4f} | {row['nannyml']['rmse']:.4f} "
            f"| {100 * row['rmse_vs_nannyml']:+.2f}% | {row['modelmon']['seconds']:.2f} "
            f"| {row['nannyml']['process_seconds']:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = run(options.rows, options.seeds, Path(folder))
    print("\n".join(table(results)))
    worst = max(abs(row[f"{m}_vs_nannyml"]) for row in results for m in ("mae", "rmse"))
    print(f"\nlargest difference from NannyML: {100 * worst:.2f}%", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
