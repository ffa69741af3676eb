"""Instrumentation for prediction services: send events to modelmon without ever slowing a prediction.

It runs inside other people's services, so it needs only the standard library; prometheus_client, Flask
and Starlette are imported when their parts are used.

- :class:`Monitor` queues events and late targets in memory (``log`` and ``log_target`` never block and
  never raise), sends them in batches from a daemon thread, backs off and spools to disk while the
  monitoring service is down, and replays the spool, oldest first, when it answers again.
- :func:`instrument_flask` and :class:`MonitorMiddleware` (ASGI: FastAPI, Starlette) export the service's
  ``modelmon_http_requests_total`` and ``modelmon_http_request_duration_seconds``, serve ``/metrics``
  with the monitor's ``modelmon_client_*`` gauges, and let ``Monitor.log`` stamp each event with the
  latency of the request that logged it (:func:`current_latency_ms`).

A service whose monitoring service is unreachable keeps working; its events wait in the spool:

>>> import pathlib, tempfile
>>> from modelmon.client import Monitor
>>> folder = tempfile.TemporaryDirectory()
>>> with Monitor("http://127.0.0.1:9", "taxi-duration",
...              spool_path=pathlib.Path(folder.name) / "taxi.jsonl") as monitor:
...     ride = monitor.log({"trip_distance": 3.2, "PULocationID": "132"}, prediction=17.5)
...     monitor.log_target(ride, 19.0)
>>> monitor.sent, monitor.spooled, monitor.dropped
(0, 2, 0)
>>> folder.cleanup()

In a Flask service (see the README for FastAPI)::

    monitor = Monitor("http://monitoring:8085", "taxi-duration", token=os.environ.get("MODELMON_TOKEN"))
    instrument_flask(app, monitor)

    @app.post("/predict")
    def predict():
        ride = request.get_json()
        duration = model.predict(features(ride))
        monitor.log(features(ride), duration, id=ride["ride_id"])   # latency_ms filled in
        return {"duration": duration}
"""

from __future__ import annotations

from modelmon.client.asgi import MonitorMiddleware
from modelmon.client.flask_hooks import instrument_flask
from modelmon.client.metrics import MonitorCollector, register_monitor
from modelmon.client.monitor import Monitor, default_spool_path
from modelmon.client.timing import current_latency_ms

__all__ = [
    "Monitor",
    "MonitorCollector",
    "MonitorMiddleware",
    "current_latency_ms",
    "default_spool_path",
    "instrument_flask",
    "register_monitor",
]
