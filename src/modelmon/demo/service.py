"""The example prediction service: the demo taxi-duration and credit models behind a small Flask app.

``POST /predict`` takes one taxi ride as JSON and answers its predicted duration in minutes;
``POST /predict/credit`` takes one credit application and answers the approval and P(repaid). Every
answer is logged with :class:`modelmon.client.Monitor` (never blocking: a background thread sends the
events, a disk spool keeps them while the monitoring service is down), and ``/metrics`` exports the
service's request counts and latency histogram. With ``mongodb_uri`` each request's in/out/metadata
document is also written to MongoDB, as in the classic setup, from a background thread.

>>> import tempfile
>>> from modelmon.demo.files import write_demo_files
>>> folder = tempfile.TemporaryDirectory()
>>> _ = write_demo_files(folder.name, rows=500)
>>> app = create_app(folder.name, "http://127.0.0.1:9", spool_dir=folder.name)
>>> client = app.test_client()
>>> ride = {"ride_id": "r1", "trip_distance": 2.5, "fare_amount": 12.0, "tip_amount": 2.0,
...         "tolls_amount": 0.0, "passenger_count": 1, "pickup_hour": 9, "pickup_weekday": 2,
...         "PULocationID": 74, "DOLocationID": 42, "payment_type": "card", "vendor": "VTS"}
>>> answer = client.post("/predict", json=ride).get_json()
>>> answer["ride_id"], answer["duration"] > 0
('r1', True)
>>> client.post("/predict", json={"trip_distance": 2.5}).get_json()["error"]
"missing field 'fare_amount'"
>>> close_app(app)
>>> folder.cleanup()

It is served by werkzeug's threaded server (:func:`serve`): gunicorn is not a dependency, and a
demo at tens of requests per second does not need more. Put it behind gunicorn (``create_app`` is a
plain WSGI factory) to serve real traffic.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelmon.demo import models
from modelmon.demo.files import CREDIT_MODEL_NAME, TAXI_MODEL_NAME
from modelmon.errors import InputError, require

__all__ = ["MongoWriter", "Route", "RowModel", "close_app", "create_app", "parse_features", "serve"]

log = logging.getLogger("modelmon.demo.service")
_WARN_EVERY = 30.0  # seconds between two warnings about MongoDB


@dataclass(frozen=True)
class Route:
    """One model behind one URL: which file, which inputs, which id field, which monitored model."""

    path: str
    model_name: str
    model_file: str
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    id_field: str
    #: monitored but never given to the model (fairness): passed on to the monitor when present
    extra: tuple[str, ...] = ()


ROUTES = (
    Route(
        "/predict",
        TAXI_MODEL_NAME,
        "taxi_model.pkl",
        tuple(models.TAXI_NUMERICAL),
        tuple(models.TAXI_CATEGORICAL),
        models.TAXI_ID,
    ),
    Route(
        "/predict/credit",
        CREDIT_MODEL_NAME,
        "credit_model.pkl",
        tuple(models.CREDIT_NUMERICAL),
        tuple(models.CREDIT_CATEGORICAL),
        models.CREDIT_ID,
        tuple(models.CREDIT_SENSITIVE),
    ),
)


class RowModel:
    """One demo model answering one request at a time, with the pipeline's encoding done in plain Python.

    A scikit-learn Pipeline spends milliseconds per call on a one-row DataFrame (frame building,
    validation, the column transformer), several times the model's own work. When the pipeline has the
    shape ``modelmon.demo.models`` builds (clean, ordinal-encode the categories, pass the numbers, then
    the estimator), this class encodes the row itself and calls only the estimator; otherwise it uses
    the pipeline. The tests check that both give the same predictions, junk and unknown values included.

    Each prediction runs on one OpenMP thread: idle OpenMP threads spin, which makes a one-row
    prediction several times slower. The limit is per thread (werkzeug serves each request on a new
    one), so it is set around every call, through a controller that found the libraries once.
    """

    def __init__(self, pipeline: Any, numerical: tuple[str, ...], categorical: tuple[str, ...]) -> None:
        self.pipeline = pipeline
        self.numerical = numerical
        self.categorical = categorical
        self.estimator = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
        self.codes = self._category_codes()
        from threadpoolctl import ThreadpoolController

        self._openmp = ThreadpoolController().select(user_api="openmp")

    @property
    def fast(self) -> bool:
        return self.codes is not None

    def _category_codes(self) -> list[dict[str, float]] | None:
        try:
            transformers = self.pipeline.named_steps["columns"].transformers_
            used = [entry for entry in transformers if entry[0] != "remainder" or len(entry[2])]
            (_, encoder, categorical), (_, passthrough, numerical) = used
            categories = encoder.categories_
        except (AttributeError, KeyError, ValueError, TypeError):
            return None
        same_columns = list(categorical) == list(self.categorical) and list(numerical) == list(self.numerical)
        if (
            not same_columns
            or hasattr(self.estimator, "feature_names_in_")
            or type(passthrough).__name__
            not in (
                "FunctionTransformer",
                "str",
            )
        ):
            return None
        return [{str(value): float(code) for code, value in enumerate(values)} for values in categories]

    def _row(self, features: Mapping[str, Any]) -> Any:
        import numpy as np

        assert self.codes is not None
        encoded = [
            codes.get(_category_text(features.get(name)), math.nan)
            for codes, name in zip(self.codes, self.categorical, strict=True)
        ]
        return np.array([encoded + [_number(features.get(name)) for name in self.numerical]])

    def predict(self, features: Mapping[str, Any]) -> float:
        if not self.fast:
            return float(self.pipeline.predict(_one_row(features))[0])
        with self._openmp.limit(limits=1):
            return float(self.estimator.predict(self._row(features))[0])

    def predict_proba(self, features: Mapping[str, Any], label: Any = 1) -> float:
        """P(``label``) for one row."""
        column = list(self.estimator.classes_).index(label)
        if not self.fast:
            return float(self.pipeline.predict_proba(_one_row(features))[0, column])
        with self._openmp.limit(limits=1):
            return float(self.estimator.predict_proba(self._row(features))[0, column])


def _category_text(value: Any) -> str:
    """The text ``models.clean_features`` makes of one category value: 7 and 7.0 are "7", None "missing"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _number(value: Any) -> float:
    """The number ``models.clean_features`` makes of one value: junk text and None are NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def parse_features(body: Any, route: Route) -> dict[str, Any]:
    """The features of a request body, or :class:`InputError` naming the field that is wrong.

    Numbers may be null (a missing value the model handles). A string in a numerical field is let
    through: the model reads it as missing and the monitor counts it as a type error, which is what
    the ``type_errors`` incident is there to show.

    >>> parse_features({"age": 30}, ROUTES[1])
    Traceback (most recent call last):
    ...
    modelmon.errors.InputError: missing field 'income'
    """
    if not isinstance(body, dict):
        raise InputError(f"the request body must be a JSON object of features, got {type(body).__name__}")
    features: dict[str, Any] = {}
    for name in route.numerical + route.categorical:
        if name not in body:
            raise InputError(f"missing field {name!r}")
        value = body[name]
        if isinstance(value, list | dict):
            raise InputError(f"field {name!r} must be a single value, got {type(value).__name__}")
        if name in route.numerical and isinstance(value, bool):
            raise InputError(f"field {name!r} must be a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        features[name] = value
    for name in route.extra:
        if name in body and not isinstance(body[name], list | dict):
            features[name] = body[name]
    return features


class MongoWriter:
    """Insert documents into a MongoDB collection from a daemon thread; failures are logged, not raised.

    ``collection`` is opened lazily by the thread (pymongo connects on first use), so a MongoDB that is
    down never delays start-up or a request. At most ``queue_size`` documents wait; more are dropped.
    """

    def __init__(
        self,
        open_collection: Callable[[], Any],
        queue_size: int = 10_000,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.open_collection = open_collection
        self.queue_size = queue_size
        self.on_close = on_close
        self.written = 0
        self.failed = 0
        self._documents: queue.Queue[dict[str, Any] | None] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._run, name="modelmon-demo-mongo", daemon=True)
        self._thread.start()

    @classmethod
    def from_uri(cls, uri: str, collection: str = "predictions", timeout_ms: int = 2000) -> MongoWriter:
        """A writer to ``collection`` of the URI's database (``modelmon`` when the URI names none).

        ``timeout_ms`` bounds how long one insert waits for an unreachable server.
        """
        pymongo = require("pymongo", "mongo")
        clients: list[Any] = []

        def open_collection() -> Any:
            clients.append(pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms))
            return clients[-1].get_default_database(default="modelmon")[collection]

        def close_clients() -> None:
            for client in clients:
                client.close()

        return cls(open_collection, on_close=close_clients)

    def put(self, document: dict[str, Any]) -> None:
        try:
            self._documents.put_nowait(document)
        except queue.Full:
            self.failed += 1

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._documents.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        collection = None
        last_warning = -_WARN_EVERY
        while (document := self._documents.get()) is not None:
            try:
                if collection is None:
                    collection = self.open_collection()
                collection.insert_one(document)
                self.written += 1
            except Exception as exc:  # MongoDB down or refusing: the prediction was served anyway
                self.failed += 1
                now = time.monotonic()
                if now - last_warning >= _WARN_EVERY:  # one line per period, not one per request
                    last_warning = now
                    log.warning(
                        "could not write prediction documents to MongoDB (%d so far): %r", self.failed, exc
                    )
        if self.on_close is not None:
            self.on_close()


def _model_version(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{path.stem}-{digest}"


def create_app(
    data_dir: str | os.PathLike[str],
    monitor_url: str = "http://127.0.0.1:8085",
    *,
    token: str | None = None,
    mongodb_uri: str | None = None,
    mongo_writer: MongoWriter | None = None,
    registry: Any = None,
    spool_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """The Flask app serving the demo models found in ``data_dir`` (written by ``modelmon demo-data``).

    ``registry`` is the prometheus_client registry of ``/metrics`` (a new one by default, so several
    apps can live in one process); ``spool_dir`` holds the monitors' spool files.
    """
    flask = require("flask", "demo")
    prometheus = require("prometheus_client", "demo")
    from modelmon.client import Monitor, instrument_flask, register_monitor

    folder = Path(data_dir)
    loaded = {
        route.path: RowModel(models.load_model(folder / route.model_file), route.numerical, route.categorical)
        for route in ROUTES
    }
    versions = {route.path: _model_version(folder / route.model_file) for route in ROUTES}
    monitors = {
        route.path: Monitor(
            monitor_url,
            route.model_name,
            token=token,
            spool_path=Path(spool_dir) / f"{route.model_name}.jsonl" if spool_dir is not None else None,
        )
        for route in ROUTES
    }
    writer = mongo_writer or (MongoWriter.from_uri(mongodb_uri) if mongodb_uri else None)
    registry = registry if registry is not None else prometheus.CollectorRegistry()

    app = flask.Flask("modelmon.demo.service")
    app.extensions["modelmon"] = {"monitors": monitors, "mongo": writer}

    def predict(route: Route) -> Any:
        try:
            body = flask.request.get_json(force=True, silent=False)
        except Exception:
            return {"error": "the request body is not valid JSON"}, 400
        try:
            features = parse_features(body, route)
        except InputError as exc:
            return {"error": str(exc)}, 400
        model = loaded[route.path]
        request_id = body.get(route.id_field)
        answer: dict[str, Any] = {}
        probability = None
        if route.model_name == TAXI_MODEL_NAME:
            prediction: Any = round(model.predict(features), 2)
            answer["duration"] = prediction
        else:
            probability = round(model.predict_proba(features), 4)
            prediction = int(probability >= models.APPROVAL_THRESHOLD)
            answer |= {"prediction": prediction, "probability": probability}
        event_id = monitors[route.path].log(features, prediction, id=request_id, probabilities=probability)
        answer |= {route.id_field: event_id, "model_version": versions[route.path]}
        if writer is not None:
            writer.put(_document(route, event_id, features, answer, versions[route.path]))
        return answer

    for route in ROUTES:
        app.add_url_rule(route.path, route.model_name, lambda route=route: predict(route), methods=["POST"])

    @app.get("/health")
    def health() -> Any:
        return {
            "status": "ok",
            "models": {route.model_name: versions[route.path] for route in ROUTES},
            "monitor": {
                route.model_name: {
                    "sent": monitors[route.path].sent,
                    "spooled": monitors[route.path].spooled,
                    "dropped": monitors[route.path].dropped,
                }
                for route in ROUTES
            },
        }

    taxi_monitor, *others = monitors.values()
    instrument_flask(app, taxi_monitor, registry=registry)
    for monitor in others:
        register_monitor(monitor, registry)
    return app


def _one_row(features: Mapping[str, Any]) -> Any:
    import pandas as pd

    return pd.DataFrame([features])


def _document(
    route: Route, event_id: str, features: dict[str, Any], answer: dict[str, Any], version: str
) -> dict[str, Any]:
    output = {key: value for key, value in answer.items() if key not in (route.id_field, "model_version")}
    return {
        "model": route.model_name,
        "id": event_id,
        "in": features,
        "out": output,
        "metadata": {"model_version": version, "timestamp": time.time()},
    }


def close_app(app: Any, timeout: float = 5.0) -> None:
    """Send what the app's monitors still hold (spooling the rest) and stop its background threads."""
    parts = app.extensions["modelmon"]
    for monitor in parts["monitors"].values():
        monitor.close(timeout=timeout)
    if parts["mongo"] is not None:
        parts["mongo"].close(timeout=timeout)


def serve(app: Any, host: str = "127.0.0.1", port: int = 9696) -> None:
    """Serve ``app`` with werkzeug's threaded server until SIGINT or SIGTERM, then close it cleanly."""
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)

    def stop(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever to return: call it from another thread, not the handler's.
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.server_close()
        close_app(app)
