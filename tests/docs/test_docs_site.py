"""The documentation site: built with ``--strict``, then opened page by page in headless Chromium.

The build is the one ``make docs`` runs, so a broken link, a missing page in the nav or a reference
page the code no longer matches fails here, in ``make test``. In the browser every page must render
its title without a script error, and every link from one page of the site to another (and to an
anchor in it) must lead somewhere.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from integration_support import need, require_binary

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    need(
        subprocess.run([sys.executable, "-c", "import mkdocs, material"], capture_output=True).returncode
        == 0,
        "mkdocs-material is not installed (pip install 'modelmon[docs]')",
    )
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, (
        f"mkdocs build --strict failed:\n{build.stdout[-3000:]}{build.stderr[-6000:]}"
    )
    assert "WARNING" not in build.stderr, build.stderr
    return out


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on loopback (the search index is fetched, which file:// forbids)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the test reports what matters
        pass


def _pages(site: Path) -> list[str]:
    return sorted(str(page.relative_to(site)) for page in site.rglob("*.html") if page.name != "404.html")


def test_the_site_has_every_page_of_the_nav_and_the_generated_reference(site):
    pages = set(_pages(site))
    for page in [
        "index.html",
        "getting-started.html",
        "concepts.html",
        "guarantees.html",
        "design.html",
        "how-to/evidently-migration.html",
        "how-to/scale.html",
        "how-to/deployment.html",
        "reference/cli.html",
        "reference/python.html",
        "reference/config.html",
        "reference/report.html",
        "reference/http.html",
        "reference/prometheus.html",
    ]:
        assert page in pages, f"{page} is missing from the built site"
    reference = (site / "reference" / "prometheus.html").read_text()
    assert "modelmon_drift_score" in reference and "ModelmonDatasetDrift" in reference
    assert "--memory-budget" in (site / "reference" / "cli.html").read_text()
    assert "/v1/models/{model}/events" in (site / "reference" / "http.html").read_text()
    assert "max_backlog" in (site / "reference" / "config.html").read_text()
    assert "drifted_share" in (site / "reference" / "report.html").read_text()


def test_every_page_renders_and_no_internal_link_is_broken(site, served):
    chromium = require_binary("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        need(False, "playwright is not installed (pip install playwright)")
    errors: list[str] = []
    links: dict[str, set[str]] = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
        for path in _pages(site):
            page.goto(f"{served}/{path}")
            title = page.inner_text("article h1").strip()
            assert title, f"{path} renders no title"
            assert page.locator("article").inner_text().strip() != title, (
                f"{path} renders nothing but its title"
            )
            hrefs = page.eval_on_selector_all("a[href]", "anchors => anchors.map(a => a.href)")
            links[path] = {href for href in hrefs if href.startswith(served)}
        browser.close()
    assert not errors, errors
    broken = []
    for path, hrefs in links.items():
        for href in hrefs:
            target, anchor = urldefrag(href)
            relative = unquote(urlparse(target).path).lstrip("/") or "index.html"
            file = site / relative
            if file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                broken.append(f"{path} -> {href}")
            elif anchor and file.suffix == ".html" and f'id="{anchor}"' not in file.read_text():
                broken.append(f"{path} -> {href} (no such anchor)")
    assert not broken, broken
    assert len(links) >= 20
