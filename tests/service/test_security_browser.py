"""The dashboard and /docs behind a token, in headless Chromium: log in once, then every page works."""

from __future__ import annotations

import tempfile
import threading

import pytest
import uvicorn
from security_support import TOKEN, config, event, service

from integration_support import free_port, need, require_binary
from modelmon.demo.stack import wait_for_http
from modelmon.service.app import create_app
from modelmon.service.auth import COOKIE
from modelmon.service.openapi import OPERATIONS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def url():
    monitoring = service(config(auth_token=TOKEN))
    monitoring.ingest("m", [event(i) for i in range(300)])
    monitoring.recompute("m")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(monitoring), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/health", 30, thread.is_alive)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        monitoring.close()


def test_log_in_at_the_form_then_the_dashboard_and_docs_load(url):
    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    errors: list[str] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: m.type == "error" and "401" not in m.text and errors.append(m.text))
        page.goto(f"{url}/?model=m")
        page.fill("#token", "not-the-token-at-all-1234")
        page.click("button[type=submit]")
        assert "not right" in page.inner_text("#message")
        assert browser.cookies() == []
        page.goto(f"{url}/?model=m")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-loaded='m']", timeout=20_000)
        assert page.url == f"{url}/?model=m"
        shown_rows = page.inner_text("[data-field='current_rows']")
        (cookie,) = browser.cookies()
        page.goto(f"{url}/docs")
        page.wait_for_selector("body[data-loaded='true']", timeout=20_000)
        operations = page.eval_on_selector_all("details[data-operation]", "nodes => nodes.length")
        docs_text = page.inner_text("body")
        script_cookie = page.evaluate("document.cookie")
        browser.close()
    assert errors == []
    assert shown_rows == "300"
    assert cookie["name"] == COOKIE and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert TOKEN not in cookie["value"] and script_cookie == ""  # scripts on the page cannot read it
    assert operations == len(OPERATIONS) + 1  # and POST /login, since the service has a token
    health = [line for line in docs_text.splitlines() if "/health" in line and "token" in line]
    assert health and all(line.count("(no token needed)") == 1 for line in health), health
