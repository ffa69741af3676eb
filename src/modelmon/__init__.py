"""modelmon: monitoring for machine-learning models in production.

The public API for notebooks and pipelines::

    import modelmon

    schema = modelmon.Schema(numerical=["trip_distance"], categorical=["PULocationID"], prediction="duration")
    report = modelmon.build_report("reference.parquet", "current.parquet", schema)
    report.sections["drift"]["dataset_drift"]
    report.save_html("report.html")
    modelmon.run_checks(report, ["drift.dataset_drift == false"]).passed   # gate a pipeline
    modelmon.ReadPlan().schema_for("reference.parquet")   # the schema `modelmon report` infers

Names are loaded on first use, so ``import modelmon`` (and ``modelmon.client`` inside a prediction
service) stays cheap: numpy, pandas and the engine are imported only when an engine name is used.

>>> import modelmon
>>> modelmon.Schema(numerical=["x"]).numerical
('x',)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CheckError",
    "CheckSuite",
    "ConfigError",
    "DriftSettings",
    "InputError",
    "MissingDependencyError",
    "ModelmonError",
    "Profile",
    "ProfileSpec",
    "ReadPlan",
    "Report",
    "Schema",
    "SchemaError",
    "StoreError",
    "UnknownModelError",
    "__version__",
    "build_report",
    "load_config",
    "run_checks",
]

#: public name -> module that defines it
_EXPORTS = {
    "CheckError": "modelmon.errors",
    "ConfigError": "modelmon.errors",
    "InputError": "modelmon.errors",
    "MissingDependencyError": "modelmon.errors",
    "ModelmonError": "modelmon.errors",
    "SchemaError": "modelmon.errors",
    "StoreError": "modelmon.errors",
    "UnknownModelError": "modelmon.errors",
    "DriftSettings": "modelmon.config",
    "load_config": "modelmon.config",
    "Schema": "modelmon.schema",
    "Profile": "modelmon.engine.profile",
    "ProfileSpec": "modelmon.engine.profile",
    "ReadPlan": "modelmon.reading.plan",
    "Report": "modelmon.engine.result",
    "build_report": "modelmon.engine.build",
    "CheckSuite": "modelmon.engine.checks",
    "run_checks": "modelmon.engine.checks",
}

if TYPE_CHECKING:
    from modelmon.config import DriftSettings, load_config
    from modelmon.engine.build import build_report
    from modelmon.engine.checks import CheckSuite, run_checks
    from modelmon.engine.profile import Profile, ProfileSpec
    from modelmon.errors import (
        CheckError,
        ConfigError,
        InputError,
        MissingDependencyError,
        ModelmonError,
        SchemaError,
        StoreError,
        UnknownModelError,
    )
    from modelmon.reading.plan import ReadPlan
    from modelmon.schema import Schema


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'modelmon' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
