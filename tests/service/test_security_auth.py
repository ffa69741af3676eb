"""With a token, every route but /health needs it; the check comes first and runs in constant time."""

from __future__ import annotations

import hmac

import pytest
from security_support import READ_TOKEN, TOKEN, client, config, event, service

from modelmon.config import parse_config
from modelmon.errors import ConfigError
from modelmon.service import auth
from modelmon.service.openapi import OPERATIONS

GUARDED = [op for op in OPERATIONS if not op.public]


@pytest.fixture(scope="module")
def svc():
    monitoring = service(config(auth_token=TOKEN, read_token=READ_TOKEN))
    yield monitoring
    monitoring.close()


def _path(op, model: str = "m") -> str:
    return op.path.replace("{model}", model).replace("{report_id}", "r1")


_BODIES = {
    "events": event(),
    "targets": {"targets": [{"id": "0", "target": 1.0}]},
    "iterate": [{"x": 1.0, "c": "a", "y": 2.0, "rid": "r1"}],
    "alerts": {"version": "4", "alerts": []},
}


def _send(api, op, model: str = "m", **kwargs):
    body = {"json": _BODIES[op.name]} if op.method == "POST" else {}
    return api.request(op.method, _path(op, model), **body, **kwargs)


@pytest.mark.parametrize("op", GUARDED, ids=lambda op: f"{op.method} {op.path}")
def test_every_route_but_health_needs_the_token(svc, op):
    answer = _send(client(svc), op)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error.startswith("missing token") and "Authorization: Bearer <token>" in error
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("op", GUARDED, ids=lambda op: f"{op.method} {op.path}")
def test_a_wrong_token_is_refused_and_never_echoed(svc, op):
    wrong = "guess-1234567890-" + TOKEN[:8]
    for header in (f"Bearer {wrong}", f"Basic {wrong}", wrong, "Bearer ", f"Bearer {TOKEN}x"):
        answer = _send(client(svc, Authorization=header), op)
        assert answer.status_code == 401, header
        assert answer.json()["error"].startswith("invalid token")
        assert wrong not in answer.text and TOKEN not in answer.text


@pytest.mark.parametrize("op", GUARDED, ids=lambda op: f"{op.method} {op.path}")
def test_the_token_opens_every_route(svc, op):
    answer = _send(client(svc, Authorization=f"Bearer {TOKEN}"), op)
    assert answer.status_code in (200, 404), answer.text  # 404: the report r1 does not exist
    assert answer.status_code == 200 or op.name in ("report", "report_html")


def test_health_answers_without_a_token(svc):
    assert client(svc).get("/health").status_code == 200


def test_the_check_comes_before_routing_so_nothing_is_told_without_the_token(svc):
    for path in (
        "/v1/models/secret-model/summary",
        "/v1/models/nope/events",
        "/no/such/route",
        "/v1/reports/x",
    ):
        answer = client(svc).post(path) if path.endswith("events") else client(svc).get(path)
        assert answer.status_code == 401, path
        assert "known models" not in answer.text and '"m"' not in answer.text


def test_the_read_token_reads_but_cannot_write(svc):
    reader = client(svc, Authorization=f"Bearer {READ_TOKEN}")
    assert reader.get("/metrics").status_code == 200
    assert reader.get("/v1/models/m/summary").status_code == 200
    answer = reader.post("/v1/models/m/events", json=event())
    assert answer.status_code == 403 and "may only read" in answer.json()["error"]


def test_tokens_are_compared_as_digests_in_constant_time(svc, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert client(svc, Authorization="Bearer short").get("/metrics").status_code == 401
    assert compared and all(len(a) == len(b) == 32 for a, b in compared)  # SHA-256: length says nothing


def test_a_browser_gets_the_login_form_and_a_read_only_cookie(svc):
    browser = client(svc)
    page = browser.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 401 and '<form method="post" action="/login"' in page.text
    wrong = browser.post("/login", data={"token": "nope", "next": "/"}, follow_redirects=False)
    assert wrong.status_code == 401 and "not right" in wrong.text
    login = browser.post("/login", data={"token": TOKEN, "next": "/?model=m"}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/?model=m"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert browser.get("/v1/models/m/summary").status_code == 200  # the cookie is kept by the client
    assert browser.get("/docs").status_code == 200 and browser.get("/openapi.json").status_code == 200
    # a page on another site cannot make the browser write with the cookie
    assert browser.post("/v1/models/m/events", json=event()).status_code == 403


def test_the_login_form_only_sends_the_browser_back_to_this_service(svc):
    hostile = ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil.example", ""]
    # browsers drop tabs and line ends from a Location: each of these would be //evil.example
    hostile += [f"/{char}/evil.example" for char in ("\t", "\r", "\n", "\r\n", "\x00", " ", "\x0b", "\x7f")]
    hostile += ["/ok\r\nSet-Cookie: x=1", "/caf\u00e9", "/\u2215\u2215evil.example"]
    for target in hostile:
        login = client(svc).post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/", target
        assert "x=1" not in login.headers.get("set-cookie", "")
    for target in ("/", "/?model=m", "/docs#top", "/v1/models/m/summary?a=%0d"):
        login = client(svc).post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
        assert login.headers["location"] == target


def test_the_login_form_refuses_a_flood_of_fields(svc):
    fields = "&".join(f"f{i}=1" for i in range(50))
    answer = client(svc).post(
        "/login", content=fields, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 400 and "at most 4 fields" in answer.json()["error"]
    assert client(svc).post("/login", content=b"token=" + b"x" * 5000).status_code == 413


def test_a_forged_cookie_is_refused(svc):
    forged = client(svc, Cookie=f"{auth.COOKIE}={auth.session_value('some-other-token-123456')}")
    assert forged.get("/metrics").status_code == 401


def test_the_openapi_document_says_which_routes_need_the_token(svc):
    document = client(svc, Authorization=f"Bearer {TOKEN}").get("/openapi.json").json()
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert "401" in document["paths"]["/metrics"]["get"]["responses"]
    assert document["paths"]["/login"]["post"]["security"] == []


def test_token_settings_from_the_environment_and_files(tmp_path):
    secret = tmp_path / "token"
    secret.write_text(READ_TOKEN + "\n")
    environ = {"MODELMON_TOKEN": TOKEN, "MODELMON_READ_TOKEN_FILE": str(secret)}
    loaded = parse_config({"auth_token": "ignored-because-env-wins"}, environ=environ)
    assert (loaded.auth_token, loaded.read_token) == (TOKEN, READ_TOKEN)
    with pytest.raises(ConfigError, match="at least 16 characters"):
        parse_config({"auth_token": "short"}, environ={})
    with pytest.raises(ConfigError, match="set auth_token"):
        parse_config({"read_token": READ_TOKEN}, environ={})
    with pytest.raises(ConfigError, match="MODELMON_TOKEN_FILE: cannot read"):
        parse_config({}, environ={"MODELMON_TOKEN_FILE": str(tmp_path / "missing")})
