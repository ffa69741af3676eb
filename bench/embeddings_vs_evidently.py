"""Embedding drift: modelmon's default (``model``) beside Evidently 0.7's ``model()`` on the same arrays.

Cases (seeded): unchanged, a shift of every coordinate by 0.3, a rotation of correlated pairs
(marginals unchanged), each with a 2,000-row reference (threshold rule) and a 600-row reference
(Evidently's bootstrap rule), 8 dimensions, 1,000 current rows. For each: both tools' ROC AUC and
verdict, and modelmon's ``mmd`` p-value beside them. Evidently runs in its own environment
(``bench/harness.py``).

    python -m bench.embeddings_vs_evidently
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from bench.harness import evidently_python
from modelmon.engine.drift.embeddings_classifier import classifier_test
from modelmon.engine.drift.embeddings_mmd import mmd_test

EVIDENTLY_SCRIPT = """
import json, sys
import numpy as np, pandas as pd
from evidently.legacy.metrics.data_drift.embedding_drift_methods import model
data = np.load(sys.argv[1])
out = {}
for name in data.files:
    if not name.endswith("_reference"):
        continue
    case = name[: -len("_reference")]
    reference, current = data[name], data[case + "_current"]
    method = model(bootstrap=reference.shape[0] < 1000)  # EmbeddingsDriftMetric's default
    score, detected, _ = method(pd.DataFrame(current), pd.DataFrame(reference))
    out[case] = {"score": float(score), "detected": bool(detected)}
print(json.dumps(out))
"""


def _pairs(rows: int, correlation: float, rng: np.random.Generator) -> np.ndarray:
    first = rng.normal(size=(rows, 4))
    second = correlation * first + np.sqrt(1 - correlation**2) * rng.normal(size=(rows, 4))
    return np.hstack([first, second])


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    built = {}
    for reference_rows in (2000, 600):
        built[f"unchanged, reference {reference_rows}"] = (
            _pairs(reference_rows, 0.8, rng),
            _pairs(1000, 0.8, rng),
        )
        built[f"shift 0.3, reference {reference_rows}"] = (
            _pairs(reference_rows, 0.8, rng),
            _pairs(1000, 0.8, rng) + 0.3,
        )
        built[f"rotation, reference {reference_rows}"] = (
            _pairs(reference_rows, 0.8, rng),
            _pairs(1000, -0.8, rng),
        )
    return built


def main() -> None:
    built = cases()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "embeddings.npz"
        arrays = {}
        for index, (reference, current) in enumerate(built.values()):
            arrays[f"c{index}_reference"], arrays[f"c{index}_current"] = reference, current
        np.savez(path, **arrays)
        answer = subprocess.run(
            [evidently_python(), "-c", EVIDENTLY_SCRIPT, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    evidently = json.loads(answer.stdout.strip().splitlines()[-1])
    print("| case | modelmon AUC | Evidently AUC | modelmon drift | Evidently drift | modelmon mmd p-value |")
    print("|---|---|---|---|---|---|")
    agree = 0
    for index, (name, (reference, current)) in enumerate(built.items()):
        ours = classifier_test(reference, current)
        theirs = evidently[f"c{index}"]
        mmd = mmd_test(reference, current)
        agree += ours["detected"] == theirs["detected"] and abs(ours["score"] - theirs["score"]) < 1e-9
        print(
            f"| {name} | {ours['score']:.4f} | {theirs['score']:.4f} | {ours['detected']} | "
            f"{theirs['detected']} | {mmd['p_value']:.4f} |"
        )
    print(f"\nsame AUC (within 1e-9) and verdict on {agree} of {len(built)} cases")


if __name__ == "__main__":
    main()
