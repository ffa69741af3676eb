"""Per-column scipy on raw data: the same tests as the default drift choice, without profiles.

Prints one JSON line: seconds spent and, per column, the drift decision and score.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance


def main(reference_path: str, current_path: str) -> None:
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    columns = {}
    for name in reference.columns:
        if name.startswith("num_"):
            ref, cur = reference[name].to_numpy(), current[name].to_numpy()
            score = wasserstein_distance(ref, cur) / np.std(ref)
            method = "wasserstein"
        else:
            keys = sorted(set(reference[name].unique()) | set(current[name].unique()))
            ref_freq = reference[name].value_counts(normalize=True).reindex(keys, fill_value=0).to_numpy()
            cur_freq = current[name].value_counts(normalize=True).reindex(keys, fill_value=0).to_numpy()
            score = float(jensenshannon(ref_freq, cur_freq))
            method = "jensenshannon"
        columns[name] = {
            "score": float(score),
            "method": method,
            "threshold": 0.1,
            "detected": bool(score >= 0.1),
        }
    print(json.dumps({"drift_seconds": time.perf_counter() - started, "columns": columns}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
