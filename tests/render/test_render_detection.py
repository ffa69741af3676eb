"""The HTML report draws drift per segment, the DLE estimate and check results."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelmon.engine.build import build_report
from modelmon.engine.checks import run_checks
from modelmon.render.html import render_html
from modelmon.schema import Schema


def test_segment_drift_dle_and_checks_are_in_the_page():
    rng = np.random.default_rng(0)

    def frame(rows: int, shift: float) -> pd.DataFrame:
        zone = rng.choice(["north", "south"], rows)
        x = rng.uniform(0, 1, rows) + np.where(zone == "south", shift, 0.0)
        return pd.DataFrame({"x": x, "zone": zone, "pred": x, "y": x + rng.normal(0, 1, rows) * (0.1 + x)})

    schema = Schema(task="regression", numerical=["x"], prediction="pred", target="y", segments=["zone"])
    report = build_report(frame(2000, 0.0), frame(2000, 0.5).drop(columns="y"), schema,
                          sections=("drift", "performance", "segments"))  # fmt: skip
    data = report.to_dict()
    data["checks"] = run_checks(data, ["segments.drift.zone.south.dataset_drift == false"]).to_dict()
    page = render_html(data)
    assert "Drift per segment" in page and "zone=south" in page
    assert "Estimated performance (DLE, no labels needed)" in page
    assert "1 failed" in page and "segments.drift.zone.south.dataset_drift == false" in page
