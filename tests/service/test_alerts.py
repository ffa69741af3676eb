"""POST /v1/alerts: Alertmanager's webhook gets each alert a diagnostic report, enriched
notifications and, opt-in, an action; bad payloads build nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alert_support import READ_TOKEN, WRITE_TOKEN, alert_body, events, http_sink, model_spec, reference
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from modelmon.config import parse_config
from modelmon.service.app import create_app
from modelmon.service.runtime import MonitoringService
from modelmon.store import open_store

AUTH = {"Authorization": f"Bearer {WRITE_TOKEN}"}


def _service(tmp_path: Path, alerts: dict[str, Any] | None = None, tokens: bool = True) -> MonitoringService:
    data: dict[str, Any] = {"models": {"m": model_spec()}, "reports_dir": str(tmp_path / "reports")}
    if alerts is not None:
        data["alerts"] = alerts
    if tokens:
        data.update(auth_token=WRITE_TOKEN, read_token=READ_TOKEN)
    config = parse_config(data, base=tmp_path, environ={})
    return MonitoringService(config, store=open_store("memory://"), references={"m": reference()})


def _stored(service: MonitoringService, rows: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while service.store.events.count("m") < rows:
        assert time.monotonic() < deadline, f"{service.store.events.count('m')} of {rows} events stored"
        time.sleep(0.05)


def _ingest_shift(service: MonitoringService, rows: int = 1000) -> None:
    service.ingest("m", events(rows, shift_x=2.0, shift_w=0.4))
    _stored(service, rows)


def _entries(client: TestClient, **query: str) -> list[dict[str, Any]]:
    answer = client.get("/v1/alerts", params=query, headers=AUTH)
    assert answer.status_code == 200, answer.text
    return answer.json()["alerts"]


@pytest.fixture
def sink():
    with http_sink() as running:
        yield running


@pytest.fixture
def service(tmp_path, sink):
    receivers = [
        {"name": "ops", "type": "webhook", "url": f"{sink.url}/ops"},
        {"name": "chat", "type": "slack", "url": f"{sink.url}/slack"},
    ]
    running = _service(tmp_path, {"receivers": receivers})
    yield running
    running.close()


@pytest.fixture
def client(service):
    return TestClient(create_app(service, CollectorRegistry()))


def test_a_firing_alert_gets_a_report_of_its_period_that_names_the_shifted_column_first(client, service):
    _ingest_shift(service)
    answer = client.post("/v1/alerts", json=alert_body(), headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["alerts"][0] | {"report_id": None} == {
        "fingerprint": "a1b2c3", "model": "m", "status": "firing", "report": "building", "report_id": None,
        "new": True,
    }  # fmt: skip
    assert service.alerts.wait_idle(60)
    entry = _entries(client, model="m")[0]
    report = entry["report"]
    assert report["state"] == "ready" and report["rows"] == 1000
    drifted = [item["column"] for item in entry["findings"]["drifted_columns"]]
    assert drifted[0] == "x" and "w" in drifted and "z" not in drifted
    assert entry["findings"]["confirmed"] is True
    stored = client.get(f"/v1/reports/{report['id']}", headers=AUTH).json()
    assert stored["report"]["diagnosis"]["drifted_columns"][0]["column"] == "x"
    assert stored["report"]["alert"]["fingerprint"] == "a1b2c3"
    page = client.get(report["url"].removeprefix("http://testserver"), headers=AUTH)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"] and "x" in page.text


def test_the_receivers_get_the_enriched_notification_with_a_working_link(client, service, sink):
    _ingest_shift(service)
    client.post("/v1/alerts", json=alert_body(), headers=AUTH)
    received = dict(sink.wait_for(2))
    generic, slack = received["/ops"], received["/slack"]
    assert generic["alert"]["alertname"] == "ModelmonDatasetDrift" and generic["alert"]["model"] == "m"
    assert generic["summary"][0].startswith("drift: x (wasserstein")
    link = generic["report"]["url"]
    assert link.endswith("/html") and generic["report"]["state"] == "ready"
    assert slack["text"] == "[FIRING] ModelmonDatasetDrift on m"
    assert any(link in str(block) for block in slack["blocks"])
    assert client.get(link.removeprefix("http://testserver"), headers=AUTH).status_code == 200
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'modelmon_alert_notifications_total{outcome="sent",receiver="ops"} 1.0' in metrics
    assert 'modelmon_alert_reports_total{model="m",outcome="ready"} 1.0' in metrics


def test_a_flood_of_repeated_notifications_makes_one_report(client, service, sink):
    _ingest_shift(service)
    body = alert_body()
    for _ in range(25):
        assert client.post("/v1/alerts", json=body, headers=AUTH).status_code == 200
    assert service.alerts.wait_idle(60)
    assert len(service.store.reports.list_reports("m")) == 1
    (entry,) = _entries(client)
    assert entry["notifications"] == 25
    assert len(sink.wait_for(2)) == 2  # one per receiver, not one per repeat


def test_a_resolved_alert_closes_its_report(client, service, sink):
    _ingest_shift(service)
    started = datetime.now(UTC)  # Alertmanager sends a resolved alert with the start it fired with
    client.post("/v1/alerts", json=alert_body(starts_at=started), headers=AUTH)
    assert service.alerts.wait_idle(60)
    report_id = _entries(client)[0]["report"]["id"]
    answer = client.post("/v1/alerts", json=alert_body(status="resolved", starts_at=started), headers=AUTH)
    assert answer.status_code == 200 and answer.json()["alerts"][0]["status"] == "resolved"
    assert service.alerts.wait_idle(60)
    (entry,) = _entries(client)
    assert entry["status"] == "resolved" and entry["resolved_at"] and entry["report"]["id"] == report_id
    assert len(service.store.reports.list_reports("m")) == 1
    statuses = [body.get("alert", {}).get("status") for path, body in sink.received if path == "/ops"]
    assert "resolved" in statuses


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (alert_body(), {}, 401, "token"),
        (alert_body(), {"Authorization": f"Bearer {READ_TOKEN}"}, 403, "read"),
        ({**alert_body(), "version": "3"}, AUTH, 422, "version"),
        ({"version": "4"}, AUTH, 422, "alerts: missing"),
        ({**alert_body(), "alerts": [{**alert_body()["alerts"][0], "startsAt": "yesterday"}]}, AUTH, 422,
         "startsAt"),
        ({**alert_body(), "alerts": [{**alert_body()["alerts"][0], "fingerprint": "../x"}]}, AUTH, 422,
         "fingerprint"),
        ([1, 2], AUTH, 422, "expected object"),
    ],
)  # fmt: skip
def test_a_bad_or_unauthenticated_payload_gets_a_4xx_and_builds_nothing(
    client, service, body, headers, status, says
):
    _ingest_shift(service, 100)
    answer = client.post("/v1/alerts", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]
    assert service.alerts.wait_idle(10)
    assert service.alerts.recent() == [] and service.store.reports.list_reports() == []


def test_a_body_that_is_not_json_is_a_400(client, service):
    answer = client.post("/v1/alerts", content=b"{not json", headers=AUTH)
    assert answer.status_code == 400 and service.alerts.recent() == []


def test_an_alert_without_a_model_of_the_service_is_ignored_and_counted(client, service):
    answer = client.post("/v1/alerts", json=alert_body(model="other"), headers=AUTH).json()
    assert answer == {"alerts": [], "ignored": [{"index": 0, "reason": "not a model of this service"}]}
    client.post("/v1/alerts", json=alert_body(model=None), headers=AUTH)
    assert "modelmon_alerts_ignored_total 2.0" in client.get("/metrics", headers=AUTH).text
    assert service.alerts.recent() == []


def test_an_alert_of_a_period_without_events_says_so(client, service):
    client.post("/v1/alerts", json=alert_body(), headers=AUTH)
    assert service.alerts.wait_idle(60)
    report = _entries(client)[0]["report"]
    assert report["state"] == "empty" and "no events of m" in report["error"]


def test_the_action_waits_for_a_change_the_report_confirms(tmp_path):
    # Prefect's address is a closed port: an unconfirmed alert must not even try it
    actions = {"m": {"deployment": "retrain/on-alert", "prefect_api_url": "http://127.0.0.1:9/api"}}
    service = _service(tmp_path, {"actions": actions}, tokens=False)
    client = TestClient(create_app(service, CollectorRegistry()))
    try:
        service.ingest("m", events(1000))
        _stored(service, 1000)
        client.post("/v1/alerts", json=alert_body(fingerprint="calm"))
        assert service.alerts.wait_idle(60)
        assert _entries(client)[0]["action"]["state"] == "not_confirmed"
        service.ingest("m", events(1000, shift_x=2.0, start=1000))
        _stored(service, 2000)
        client.post("/v1/alerts", json=alert_body(fingerprint="shift"))
        assert service.alerts.wait_idle(60)
        action = _entries(client)[0]["action"]
        assert action["state"] == "failed" and "could not reach Prefect" in action["error"]
    finally:
        service.close()


@pytest.mark.slow
def test_the_alert_book_survives_a_restart(tmp_path, sink):
    body = alert_body(starts_at=datetime.now(UTC))
    first = _service(tmp_path, {})
    try:
        _ingest_shift(first)
        TestClient(create_app(first, CollectorRegistry())).post("/v1/alerts", json=body, headers=AUTH)
        assert first.alerts.wait_idle(60)
        report_id = first.alerts.recent()[0]["report"]["id"]
    finally:
        first.close()
    second = _service(tmp_path, {})
    try:
        client = TestClient(create_app(second, CollectorRegistry()))
        answer = client.post("/v1/alerts", json=body, headers=AUTH).json()
        assert answer["alerts"][0]["new"] is False and answer["alerts"][0]["report_id"] == report_id
    finally:
        second.close()
