"""Replay generated demo traffic to the example prediction service and ground truth to the monitoring service.

Request ``k`` goes out ``k / rate`` seconds after the start (paced, not in bursts), to the taxi or the
credit model in turn. Its row comes from the demo generators, drawn in chunks so memory stays flat over
a long run; from ``incident_at`` seconds on, the chosen incidents are applied to the rows. The row's
true target is sent to the monitoring service's ``/targets`` endpoint ``target_delay`` seconds later,
in batches, as ground truth that arrives late.

>>> shift = parse_incident("covariate_shift:trip_distance")
>>> plan = Plan(models=("taxi",), rate=100, duration=2, incidents=(shift,), incident_at=1.0)
>>> plan.requests, plan.incident_row("taxi")
(200, 100)
>>> rows = list(plan.rows("taxi", 0, 200))
>>> calm, shifted = rows[:100], rows[100:]      # longer trips from row 100 on
>>> sum(row["trip_distance"] for row in shifted) > 2 * sum(row["trip_distance"] for row in calm)
True
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import math
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from modelmon.demo import data, incidents, models
from modelmon.demo.files import CREDIT_MODEL_NAME, TAXI_MODEL_NAME
from modelmon.errors import ConfigError, InputError

__all__ = [
    "MAX_DURATION",
    "MAX_RATE",
    "Incident",
    "Plan",
    "Simulator",
    "Stats",
    "check_local_url",
    "parse_incident",
]

#: bounds that keep a typo from flooding a service: requests per second and seconds of traffic
MAX_RATE = 2000.0
MAX_DURATION = 7 * 24 * 3600.0
_CHUNK = 2000
#: incidents that change the model's output, which the prediction service computes itself
_OUTPUT_INCIDENTS = frozenset({"bias", "prediction_drift"})


@dataclass(frozen=True)
class Dataset:
    """How one demo dataset reaches the services."""

    name: str
    model_name: str
    path: str
    generate: Callable[..., pd.DataFrame]
    id_column: str
    target: str
    sent: tuple[str, ...]


DATASETS = {
    "taxi": Dataset(
        "taxi",
        TAXI_MODEL_NAME,
        "/predict",
        data.taxi_trips,
        models.TAXI_ID,
        models.TAXI_TARGET,
        (models.TAXI_ID, *models.TAXI_NUMERICAL, *models.TAXI_CATEGORICAL),
    ),
    "credit": Dataset(
        "credit",
        CREDIT_MODEL_NAME,
        "/predict/credit",
        data.credit_applications,
        models.CREDIT_ID,
        models.CREDIT_TARGET,
        (models.CREDIT_ID, *models.CREDIT_NUMERICAL, *models.CREDIT_CATEGORICAL, *models.CREDIT_SENSITIVE),
    ),
}


@dataclass(frozen=True)
class Incident:
    """An incident of ``incidents.INCIDENTS`` and, optionally, the columns it hits instead of its defaults."""

    name: str
    columns: tuple[str, ...] = ()

    def applies_to(self, dataset: str) -> bool:
        frame_columns = _columns_of(dataset)
        return all(column in frame_columns for column in self.columns)

    def apply(self, frame: pd.DataFrame, at: int, seed: int) -> pd.DataFrame:
        arguments: dict[str, Any] = {}
        key = _column_key(self.name)
        if self.columns and key is not None:
            arguments[key] = list(self.columns) if key == "columns" else self.columns[0]
        return incidents.apply_incident(self.name, frame, at=at, seed=seed, **arguments)


def parse_incident(text: str) -> Incident:
    """``NAME`` or ``NAME:COLUMN[,COLUMN]`` as an :class:`Incident`.

    >>> parse_incident("missing_spike:tip_amount,fare_amount")
    Incident(name='missing_spike', columns=('tip_amount', 'fare_amount'))
    """
    name, _, columns = text.partition(":")
    if name not in incidents.INCIDENTS:
        raise ConfigError(f"unknown incident {name!r}; choose one of {sorted(incidents.INCIDENTS)}")
    if name in _OUTPUT_INCIDENTS:
        raise ConfigError(
            f"incident {name!r} changes the model's predictions, which the prediction service computes "
            "itself; see it in a batch report of the demo files instead (`modelmon demo-data`)"
        )
    chosen = tuple(column.strip() for column in columns.split(",") if column.strip())
    key = _column_key(name)
    if chosen and (key is None or (key != "columns" and len(chosen) > 1)):
        raise ConfigError(f"incident {name!r} takes {'one column' if key else 'no columns'}, got {text!r}")
    if chosen and not any(Incident(name, chosen).applies_to(dataset) for dataset in DATASETS):
        raise ConfigError(f"incident {text!r}: no demo dataset has all of the columns {list(chosen)}")
    return Incident(name, chosen)


def _column_key(incident: str) -> str | None:
    """The argument through which ``incident`` is told its columns, if any."""
    defaults = incidents.DEFAULT_ARGUMENTS["taxi"][incident]
    return next((key for key in ("columns", "column", "segment_column") if key in defaults), None)


@functools.cache
def _columns_of(dataset: str) -> frozenset[str]:
    return frozenset(DATASETS[dataset].generate(1, seed=0).columns)


@dataclass(frozen=True)
class Plan:
    """What to send: which datasets, how fast, how long, which incidents from when.

    ``rate * duration`` requests are due; a service slower than ``rate`` holds them up, and the run
    gives up on the rest at ``deadline`` seconds (by default ``duration``), so a later deadline sends
    every request of the plan to a slow service.
    """

    models: tuple[str, ...] = ("taxi", "credit")
    rate: float = 50.0
    duration: float = 60.0
    incidents: tuple[Incident, ...] = ()
    incident_at: float = 30.0
    target_delay: float = 10.0
    seed: int = 0
    deadline: float | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in self.models if name not in DATASETS]
        if unknown or not self.models:
            raise ConfigError(f"unknown models {unknown or '(none)'}; choose from {sorted(DATASETS)}")
        if not 0 < self.rate <= MAX_RATE:
            raise InputError(f"rate {self.rate} must be above 0 and at most {MAX_RATE:g} requests per second")
        if not 0 < self.duration <= MAX_DURATION:
            raise InputError(f"duration {self.duration} must be above 0 and at most {MAX_DURATION:g} seconds")
        if self.deadline is not None and not self.duration <= self.deadline <= MAX_DURATION:
            raise InputError(
                f"deadline {self.deadline} must be at least the duration ({self.duration:g}) "
                f"and at most {MAX_DURATION:g} seconds"
            )
        if self.incident_at < 0 or self.target_delay < 0:
            raise InputError(
                f"incident_at ({self.incident_at}) and target_delay ({self.target_delay}) "
                "must not be negative"
            )
        for incident in self.incidents:
            if not any(incident.applies_to(name) for name in self.models):
                raise ConfigError(f"incident {incident} applies to none of the models {list(self.models)}")

    @property
    def requests(self) -> int:
        return math.floor(self.rate * self.duration)

    @property
    def give_up_at(self) -> float:
        """Seconds from the start after which requests still held up by a slow service are skipped."""
        return self.duration if self.deadline is None else self.deadline

    def send_time(self, k: int) -> float:
        """Seconds from the start at which request ``k`` is due."""
        return k / self.rate

    def route(self, k: int) -> tuple[str, int]:
        """The dataset of request ``k`` and the position of its row in that dataset's stream."""
        return self.models[k % len(self.models)], k // len(self.models)

    def incident_row(self, dataset: str) -> int:
        """First row of ``dataset``'s stream sent at or after ``incident_at``."""
        first_request = math.ceil(self.incident_at * self.rate)
        position = self.models.index(dataset)
        return max(0, math.ceil((first_request - position) / len(self.models)))

    def rows(self, dataset: str, start: int, stop: int) -> Iterator[dict[str, Any]]:
        """Rows ``start`` to ``stop`` of ``dataset``'s stream as request bodies, incidents applied."""
        for chunk_start in range(start - start % _CHUNK, stop, _CHUNK):
            frame = self.chunk(dataset, chunk_start // _CHUNK)
            low, high = max(start - chunk_start, 0), min(stop - chunk_start, _CHUNK)
            yield from _records(frame.iloc[low:high], DATASETS[dataset].sent)

    def chunk(self, dataset: str, index: int) -> pd.DataFrame:
        """Chunk ``index`` of ``dataset``'s stream: its own seed and ids, incidents from their row on."""
        spec = DATASETS[dataset]
        frame = spec.generate(
            _CHUNK,
            seed=1000 + self.seed * 100_003 + index,
            id_prefix=f"{dataset}-sim{self.seed}-{index:05d}-",
        )
        at = self.incident_row(dataset) - index * _CHUNK
        if at < _CHUNK:
            for incident in self.incidents:
                if incident.applies_to(dataset):
                    frame = incident.apply(frame, at=max(at, 0), seed=self.seed + index)
        return frame


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    for row in frame[[*columns, *_targets(frame)]].to_dict("records"):
        yield {key: _plain(value) for key, value in row.items()}


def _targets(frame: pd.DataFrame) -> list[str]:
    return [spec.target for spec in DATASETS.values() if spec.target in frame.columns]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


def check_local_url(url: str) -> str:
    """``url`` when its host is this machine or a private network (a compose network); else InputError.

    The simulator floods what it is pointed at, so it refuses hosts on the public internet.
    Names are resolved (no network use for IP addresses).

    >>> check_local_url("http://127.0.0.1:9696")
    'http://127.0.0.1:9696'
    >>> check_local_url("http://8.8.8.8")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    modelmon.errors.InputError: http://8.8.8.8: the simulator only sends to this machine or a private ...
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{url!r} is not an http(s) URL")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 80)}
    except OSError as exc:
        raise InputError(f"{url}: cannot resolve host {parts.hostname!r}: {exc}") from exc
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not (ip.is_loopback or ip.is_private or ip.is_link_local):
            raise InputError(
                f"{url}: the simulator only sends to this machine or a private network, not to {address}"
            )
    return url.rstrip("/")


@dataclass
class Stats:
    """What the simulator did so far."""

    sent: int = 0
    ok: int = 0
    errors: int = 0
    targets_sent: int = 0
    targets_failed: int = 0
    last_error: str = ""
    pending_targets: int = 0
    by_model: dict[str, int] = field(default_factory=dict)

    def line(self, elapsed: float, incident_on: bool) -> str:
        text = (
            f"[simulate] {elapsed:5.0f}s  requests {self.sent} (ok {self.ok}, errors {self.errors})  "
            f"targets {self.targets_sent} sent, {self.pending_targets} waiting"
        )
        if self.targets_failed:
            text += f", {self.targets_failed} failed"
        if incident_on:
            text += "  incident ON"
        failed = self.errors or self.targets_failed
        return text + (f"  last error: {self.last_error}" if failed and self.last_error else "")


#: ``post(url, path, body) -> (status, parsed JSON or None)``; raises OSError when unreachable
Post = Callable[[str, str, Any], tuple[int, Any]]


class Simulator:
    """Run a :class:`Plan`; ``clock``, ``sleep`` and ``post`` are injectable so tests need not wait."""

    def __init__(
        self,
        plan: Plan,
        service_url: str,
        monitor_url: str,
        *,
        post: Post | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        echo: Callable[[str], None] = print,
        progress_every: float = 5.0,
        target_batch: int = 500,
        token: str | None = None,
    ) -> None:
        self.plan = plan
        self.service_url = service_url
        self.monitor_url = monitor_url
        # the monitoring service's token goes to the monitoring service only
        self._poster = JsonPoster(tokens={monitor_url: token} if token else {}) if post is None else None
        self.post = post or self._poster.post  # type: ignore[union-attr]
        self.clock = clock
        self.sleep = sleep
        self.echo = echo
        self.progress_every = progress_every
        self.target_batch = target_batch
        self.stats = Stats()
        self.stopped = False
        self._targets: deque[tuple[float, str, str, Any]] = deque()  # (due, model, id, target)

    def stop(self) -> None:
        """Ask :meth:`run` to stop after the current request (safe from a signal handler)."""
        self.stopped = True

    def run(self) -> Stats:
        """Send the plan's requests and targets; return what happened."""
        try:
            return self._run()
        finally:
            if self._poster is not None:
                self._poster.close()

    def _run(self) -> Stats:
        plan = self.plan
        streams = {name: self._stream(name) for name in plan.models}
        start = self.clock()
        next_progress = self.progress_every
        for k in range(plan.requests):
            due = start + plan.send_time(k)
            while not self.stopped and (wait := due - self.clock()) > 0:
                self.sleep(min(wait, 0.5))
                self._send_due_targets(self.clock())
            if self.stopped:
                break
            if self.clock() - start >= plan.give_up_at:  # behind schedule: the deadline bounds the run
                self.echo(
                    f"[simulate] service too slow for {plan.rate:g}/s: {plan.requests - k} requests skipped"
                )
                break
            dataset, _ = plan.route(k)
            self._request(dataset, next(streams[dataset]), now=self.clock())
            elapsed = self.clock() - start
            if elapsed >= next_progress:
                self.echo(self.stats.line(elapsed, elapsed >= plan.incident_at and bool(plan.incidents)))
                next_progress += self.progress_every
            self._send_due_targets(self.clock())
        self._finish(start)
        return self.stats

    def _stream(self, dataset: str) -> Iterator[dict[str, Any]]:
        rows = math.ceil(self.plan.requests / len(self.plan.models)) + 1
        return self.plan.rows(dataset, 0, rows)

    def _request(self, dataset: str, row: dict[str, Any], now: float) -> None:
        spec = DATASETS[dataset]
        target = row.pop(spec.target)
        self.stats.sent += 1
        self.stats.by_model[dataset] = self.stats.by_model.get(dataset, 0) + 1
        try:
            status, answer = self.post(self.service_url, spec.path, row)
        except OSError as exc:
            status, answer = 0, {"error": f"{self.service_url} unreachable: {exc}"}
        if status == 200:
            self.stats.ok += 1
            self._targets.append(
                (now + self.plan.target_delay, spec.model_name, str(row[spec.id_column]), target)
            )
        else:
            self.stats.errors += 1
            self.stats.last_error = f"{status} {(answer or {}).get('error', '')}".strip()
        self.stats.pending_targets = len(self._targets)

    def _send_due_targets(self, now: float) -> None:
        by_model: dict[str, list[dict[str, Any]]] = {}
        while self._targets and self._targets[0][0] <= now:
            _, model, ride_id, target = self._targets.popleft()
            by_model.setdefault(model, []).append({"id": ride_id, "target": target})
        for model, targets in by_model.items():
            for first in range(0, len(targets), self.target_batch):
                self._send_targets(model, targets[first : first + self.target_batch])
        self.stats.pending_targets = len(self._targets)

    def _send_targets(self, model: str, batch: list[dict[str, Any]]) -> None:
        try:
            status, answer = self.post(self.monitor_url, f"/v1/models/{model}/targets", {"targets": batch})
        except OSError as exc:
            status, answer = 0, {"error": str(exc)}
        if status == 200:
            self.stats.targets_sent += len(batch)
        else:
            self.stats.targets_failed += len(batch)
            self.stats.last_error = f"targets: {status} {(answer or {}).get('error', '')}".strip()

    def _finish(self, start: float) -> None:
        """Wait for the last targets to come due (unless stopped), send them, print the final line."""
        while self._targets and not self.stopped:
            wait = self._targets[-1][0] - self.clock()
            if wait > 0:
                self.sleep(min(wait, 0.5))
            self._send_due_targets(self.clock())
        if self._targets:
            self.echo(f"[simulate] stopped: {len(self._targets)} targets not sent")
        self.echo(self.stats.line(self.clock() - start, False).replace("[simulate]", "[simulate] done"))


class JsonPoster:
    """POST JSON over one kept-alive connection per base URL (the standard library only); ``tokens``
    maps a base URL to the bearer token sent with each of its requests."""

    def __init__(self, timeout: float = 10.0, tokens: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self.tokens = dict(tokens or {})
        self._connections: dict[str, http.client.HTTPConnection] = {}

    def post(self, base_url: str, path: str, body: Any) -> tuple[int, Any]:
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if base_url in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[base_url]}"
        for attempt in (1, 2):  # a kept-alive connection the server closed fails once: reconnect
            connection = self._connection(base_url)
            try:
                connection.request("POST", urlsplit(base_url).path.rstrip("/") + path, payload, headers)
                response = connection.getresponse()
                text = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self._connections.pop(base_url, None)
                if attempt == 2:
                    raise
                continue
            try:
                return response.status, json.loads(text) if text else None
            except ValueError:
                return response.status, {"error": text[:200].decode(errors="replace")}
        raise AssertionError("unreachable")

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def _connection(self, base_url: str) -> http.client.HTTPConnection:
        connection = self._connections.get(base_url)
        if connection is None:
            parts = urlsplit(base_url)
            kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout)
            self._connections[base_url] = connection
        return connection
