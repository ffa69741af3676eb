from __future__ import annotations

import numpy as np
import pandas as pd

from modelmon.config import parse_config
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store


def _model(reference: str, **extra: object) -> dict[str, object]:
    return {
        "task": "regression",
        "reference": reference,
        "numerical": ["x"],
        "categorical": ["c"],
        "prediction": "y",
        "id": "rid",
        "window": {"rows": 500},
        **extra,
    }


def test_models_naming_one_reference_file_share_it_fitted_once(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(list("ab"), 500)})
    frame["y"] = frame["x"] * 2
    frame.to_parquet(tmp_path / "reference.parquet")
    frame.assign(x=frame["x"] + 5).to_parquet(tmp_path / "other.parquet")
    models = {f"region-{i}": _model("reference.parquet") for i in range(3)}
    models["other-file"] = _model("other.parquet")
    models["other-schema"] = _model("reference.parquet", categorical=[])
    config = parse_config({"models": models}, base=tmp_path, environ={})
    service = MonitoringService(config, store=open_store("memory://"))
    try:
        monitors = service.monitors
        shared = monitors["region-0"]
        assert all(monitors[f"region-{i}"].spec is shared.spec for i in (1, 2))
        assert monitors["region-1"].reference is shared.reference
        assert monitors["other-file"].spec is not shared.spec
        other = monitors["other-file"].reference.columns["x"]
        assert other.sum / other.count > 4  # its own file, shifted by 5
        assert monitors["other-schema"].spec is not shared.spec
        # the windows stay each model's own
        service.ingest("region-1", [{"id": "1", "features": {"x": 0.5, "c": "a"}, "prediction": 1.0}])
        service.recompute_all()
        rows = {name: monitor.latest["current_rows"] for name, monitor in monitors.items()}
        assert rows == {"region-0": 0, "region-1": 1, "region-2": 0, "other-file": 0, "other-schema": 0}
    finally:
        service.close()
