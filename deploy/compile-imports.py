"""Used by the Dockerfile: writes the byte code of the modules modelmon's services import, and no more.

At run time the image's root filesystem is read-only, so what has no byte code is compiled at every
import; compiling every module of the virtualenv instead (``compileall``) adds about 80 MB, most of it
for modules no service imports. This imports every modelmon module the installed extras allow (a
missing extra, such as Prefect in the service image, is passed over) and the libraries they import
only when called, so their byte code is written beside them. Then pyarrow and uvloop, stripped and
pyarrow without its Flight and S3 parts (slim-venv.sh), write and read a parquet file and run an event
loop, or the build fails here.

    /opt/modelmon/bin/python compile-imports.py
"""

import contextlib
import importlib
import io
import pkgutil

import modelmon
from modelmon.errors import MissingDependencyError

#: imported inside functions by the service, the prediction service, the demo and the stores
CALLED_LATER = (
    "pandas", "pyarrow.parquet", "pyarrow.dataset", "pyarrow.csv", "scipy.stats", "scipy.special",
    "sklearn.ensemble", "sklearn.pipeline", "sklearn.compose", "sklearn.preprocessing",
    "sklearn.metrics", "sklearn.linear_model", "flask", "uvicorn", "starlette.applications",
    "prometheus_client", "orjson", "jsonschema_rs", "psycopg", "psycopg_pool", "pymongo", "yaml",
)  # fmt: skip

for module in pkgutil.walk_packages(modelmon.__path__, "modelmon.", onerror=lambda name: None):
    if module.name.endswith("__main__"):
        continue  # runs the command line
    with contextlib.suppress(ImportError, MissingDependencyError):  # an extra the image lacks
        importlib.import_module(module.name)
for name in CALLED_LATER:
    with contextlib.suppress(ImportError):
        importlib.import_module(name)

import pyarrow  # noqa: E402
import pyarrow.parquet  # noqa: E402

written = io.BytesIO()
pyarrow.parquet.write_table(pyarrow.table({"x": [1.5, 2.5]}), written)
assert pyarrow.parquet.read_table(io.BytesIO(written.getvalue())).num_rows == 2
with contextlib.suppress(ImportError):  # the service extra's event loop
    import uvloop

    async def answer() -> int:
        return 2

    assert uvloop.run(answer()) == 2
