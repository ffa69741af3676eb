"""Reference pages written from the code when the site is built (a mkdocs hook).

Each page is generated at build time, never committed, so it cannot disagree with the code it
describes: the config keys from the config's parser, the report JSON from reports built on the
demo data, the HTTP API from the service's ``/openapi.json``, the Prometheus series from a live
in-process service's ``/metrics``, the alert rules from ``deploy/prometheus/rules``, and the Python
API from ``modelmon.__all__``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).parent))  # the page writers beside this hook

import pages_api
import pages_config
import pages_python
import pages_report
import pages_service

ROOT = Path(__file__).resolve().parents[2]


def on_files(files: Files, config: Any) -> Files:
    """Add the generated reference pages to the site's files."""
    service = pages_service.observe_service()
    pages = {
        "reference/config.md": pages_config.page(),
        "reference/report.md": pages_report.page(),
        "reference/http.md": pages_api.http_page(service.openapi),
        "reference/prometheus.md": pages_api.prometheus_page(
            service.metrics, ROOT / "deploy" / "prometheus" / "rules"
        ),
        "reference/python.md": pages_python.page(),
        "reference/openapi.json": json.dumps(service.openapi, indent=2),
    }
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files
