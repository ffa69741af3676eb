"""The Python API page: every public name of ``modelmon``, documented from its docstring."""

from __future__ import annotations

import modelmon

INTRO = """# Python API

Every name of `modelmon.__all__`, documented from the code (its docstrings, signatures and
examples). `import modelmon` is cheap: numpy, pandas and the engine are imported only when an
engine name is first used.

```python
import modelmon

schema = modelmon.Schema(numerical=["trip_distance"], categorical=["PULocationID"], prediction="duration")
report = modelmon.build_report("reference.parquet", "current.parquet", schema)
modelmon.run_checks(report, ["drift.dataset_drift == false"]).passed
```

The client that prediction services use is `modelmon.client` (standard library only); see
[instrument a prediction service](../how-to/instrument.md).
"""


def page() -> str:
    """The page: one mkdocstrings block per public name, where it is defined."""
    blocks = [INTRO]
    for name in sorted(modelmon.__all__, key=str.lower):
        if name == "__version__":
            continue
        module = modelmon._EXPORTS[name]
        blocks.append(f"::: {module}.{name}\n    options:\n      heading: modelmon.{name}\n")
    blocks.append("## The client\n\n::: modelmon.client.Monitor\n")
    return "\n".join(blocks)
