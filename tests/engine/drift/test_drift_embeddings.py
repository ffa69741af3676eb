"""Embedding drift: MMD against a plain numpy computation, a rotation found, unchanged samples quiet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelmon.config import DriftSettings, parse_config
from modelmon.engine.build import build_report
from modelmon.engine.drift.embeddings import embeddings_drift
from modelmon.engine.drift.embeddings_mmd import _permuted_mmd2, mmd_test, rbf_kernel, unbiased_mmd2
from modelmon.errors import ConfigError, InputError, SchemaError
from modelmon.schema import Schema

COLUMNS = tuple(f"e{i}" for i in range(8))
MMD = DriftSettings(embeddings={"text": {"method": "mmd"}})


def _embeddings(rows: int, correlation: float, rng: np.random.Generator) -> pd.DataFrame:
    """Pairs of coordinates with the given correlation: every coordinate's marginal is N(0, 1)."""
    first = rng.normal(size=(rows, 4))
    second = correlation * first + np.sqrt(1 - correlation**2) * rng.normal(size=(rows, 4))
    values = np.empty((rows, 8))
    values[:, 0::2], values[:, 1::2] = first, second
    return pd.DataFrame(values, columns=list(COLUMNS))


def _reference_mmd2(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """MMD^2_u and sigma written out on raw arrays, one kernel value at a time per block."""
    pooled = np.vstack([x, y])
    distances = np.sqrt(((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(axis=2))
    sigma = np.median(distances[np.triu_indices(len(pooled), k=1)])

    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)) / sigma**2)

    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * kxy.mean()), float(sigma)


def test_mmd_equals_the_plain_computation_on_raw_arrays():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(120, 5)), rng.normal(0.2, 1.1, size=(90, 5))
    expected, sigma = _reference_mmd2(x, y)
    result = mmd_test(x, y, permutations=50)
    assert result["sigma"] == pytest.approx(sigma, rel=1e-10)
    assert result["score"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_permutation_null_equals_relabelling_one_permutation_at_a_time():
    rng = np.random.default_rng(5)
    pooled = rng.normal(size=(70, 3))
    kernel, _ = rbf_kernel(pooled)
    fast = _permuted_mmd2(kernel, 30, 40, np.random.default_rng(9))
    draws = np.random.default_rng(9)
    slow = []
    for _ in range(40):
        order = draws.permutation(70)
        inside = np.zeros(70, dtype=bool)
        inside[order[:30]] = True
        relabelled = np.concatenate([np.flatnonzero(inside), np.flatnonzero(~inside)])
        slow.append(unbiased_mmd2(kernel[np.ix_(relabelled, relabelled)], 30))
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_a_rotation_that_keeps_every_marginal_is_found_while_columns_stay_quiet():
    rng = np.random.default_rng(0)
    reference, current = _embeddings(2000, 0.8, rng), _embeddings(1000, -0.8, rng)
    schema = Schema(numerical=list(COLUMNS), embeddings={"text": list(COLUMNS)})
    drift = build_report(reference, current, schema, drift=MMD, sections=("drift",)).sections["drift"]
    found = drift["embeddings"]["text"]
    assert found["method"] == "mmd" and found["detected"] and found["p_value"] < 0.01
    assert found["dimensions"] == 8 and found["rows_current"] == 1000
    assert not [name for name, column in drift["columns"].items() if column["detected"]]
    assert drift["dataset_drift"] is False
    # Evidently's default, a linear domain classifier, cannot see a change of correlation alone
    default = build_report(reference, current, schema, sections=("drift",)).sections["drift"]
    assert default["embeddings"]["text"]["method"] == "model"
    assert not default["embeddings"]["text"]["detected"]


def test_a_shift_of_the_embeddings_is_found_by_the_default_classifier():
    rng = np.random.default_rng(1)
    reference, current = _embeddings(2000, 0.8, rng), _embeddings(1000, 0.8, rng) + 0.3
    result = embeddings_drift({"text": COLUMNS}, reference, current)["text"]
    assert result["method"] == "model" and result["detected"]
    assert result["threshold"] == 0.55 and result["score"] > 0.6 and result["p_value"] < 0.001


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mmd", "model"])
def test_an_unchanged_sample_is_not_flagged_in_19_of_20_seeds(method):
    settings = DriftSettings(embeddings={"text": {"method": method}})
    flagged = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        reference, current = _embeddings(1200, 0.8, rng), _embeddings(400, 0.8, rng)
        flagged += embeddings_drift({"text": COLUMNS}, reference, current, settings)["text"]["detected"]
    assert flagged <= 1


def test_a_column_of_vectors_is_the_same_space_as_its_coordinates():
    rng = np.random.default_rng(2)
    reference, current = _embeddings(300, 0.8, rng), _embeddings(200, -0.8, rng)
    as_vectors = [pd.DataFrame({"vec": list(frame.to_numpy())}) for frame in (reference, current)]
    by_columns = embeddings_drift({"text": COLUMNS}, reference, current, MMD)["text"]
    by_vectors = embeddings_drift({"text": ("vec",)}, *as_vectors, MMD)["text"]
    assert by_vectors["score"] == by_columns["score"] and by_vectors["p_value"] == by_columns["p_value"]
    assert by_vectors["dimensions"] == 8
    ragged = pd.DataFrame({"vec": [[1.0, 2.0], [1.0]] * 20})
    with pytest.raises(InputError, match="vectors of one length"):
        embeddings_drift({"text": ("vec",)}, ragged, ragged)


def test_too_few_rows_give_no_verdict_and_bad_settings_name_the_key():
    rng = np.random.default_rng(3)
    result = embeddings_drift({"text": COLUMNS}, _embeddings(500, 0.8, rng), _embeddings(60, 0.8, rng))[
        "text"
    ]
    assert result["detected"] is None and result["insufficient_data"] and "needs 100" in result["note"]
    with pytest.raises(ConfigError, match=r"drift\.embeddings\.text\.method: unknown method 'pca'"):
        embeddings_drift({"text": COLUMNS}, rng.normal(size=(5, 8)), rng.normal(size=(5, 8)),
                         DriftSettings(embeddings={"text": {"method": "pca"}}))  # fmt: skip


def test_the_config_declares_embedding_sets():
    model = {"reference": "r.parquet", "numerical": ["x"], "embeddings": {"text": ["e0", "e1"]},
             "drift": {"embeddings": {"text": {"method": "mmd"}}}}  # fmt: skip
    config = parse_config({"models": {"m": model}}, environ={}).models["m"]
    assert config.schema.embeddings == {"text": ("e0", "e1")} and "e1" in config.schema.named_columns
    assert config.schema.to_dict()["embeddings"] == {"text": ["e0", "e1"]}
    assert config.drift.embeddings == {"text": {"method": "mmd"}}
    with pytest.raises(SchemaError, match=r"embeddings\.text: expected at least one column"):
        Schema(embeddings={"text": []})
    inferred = Schema.infer(_embeddings(50, 0.0, np.random.default_rng(0)), embeddings={"text": ["e0", "e1"]})
    assert "e0" not in inferred.numerical and "e2" in inferred.numerical


def test_the_html_report_shows_each_embedding_set_and_a_warming_window():
    from modelmon.render.data_health import render_drift

    rng = np.random.default_rng(6)
    reference, current = _embeddings(400, 0.8, rng), _embeddings(200, -0.8, rng)
    schema = Schema(numerical=["e0"], embeddings={"text": list(COLUMNS)})
    drift = build_report(reference, current, schema, drift=MMD, sections=("drift",)).sections["drift"]
    html = render_drift(drift)
    assert "<h3>Embedding drift</h3>" in html and "<td>text</td>" in html and "<td>mmd</td>" in html
    assert drift["embeddings"]["text"]["detected"] and '<span class="badge bad">drift</span>' in html
    warming = render_drift({**drift, "dataset_drift": None, "insufficient_data": True, "min_rows": 600})
    assert "Insufficient data: the features' tests need 600 rows" in warming
