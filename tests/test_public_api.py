"""The public surface of ``import modelmon`` is declared, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import modelmon

EXPECTED = {
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
}


def test_all_is_exactly_the_public_api():
    assert set(modelmon.__all__) == EXPECTED
    assert len(modelmon.__all__) == len(EXPECTED)
    for name in modelmon.__all__:
        assert getattr(modelmon, name) is not None
    from modelmon.engine.build import build_report
    from modelmon.errors import ModelmonError

    assert modelmon.build_report is build_report and modelmon.ModelmonError is ModelmonError
    from modelmon.engine.checks import run_checks

    assert modelmon.run_checks is run_checks


def test_unknown_names_raise_attribute_error():
    try:
        modelmon.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("modelmon.no_such_name did not raise")


def test_import_does_not_load_heavy_or_engine_modules():
    heavy = ["prefect", "shap", "pymongo", "flask", "starlette", "pandas", "numpy", "modelmon.engine"]
    code = f"import sys, modelmon; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_using_the_api_does_not_load_optional_dependencies():
    optional = ["prefect", "shap", "pymongo", "flask", "starlette"]
    code = (
        f"import sys, modelmon; modelmon.build_report; print([m for m in {optional!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
