"""Check results as JUnit XML, the test-report format CI systems (GitLab, Jenkins, GitHub) read.

One ``<testsuite>`` holds one ``<testcase>`` per check; a failed check carries a ``<failure>``
whose message says what was read and what was expected.

>>> suite = {"passed": False, "total": 2, "failed": 1, "checks": [
...     {"name": "no dataset drift", "condition": "drift.dataset_drift == false",
...      "path": "drift.dataset_drift", "passed": True, "actual": False, "detail": ""},
...     {"name": "mae", "condition": "performance.current.mae < 3", "path": "performance.current.mae",
...      "passed": False, "actual": 3.2, "detail": "3.2 is not < 3"}]}
>>> print(junit_xml(suite, "taxi")[:96])
<?xml version="1.0" encoding="utf-8"?>
<testsuites name="modelmon check" tests="2" failures="1">
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["junit_xml", "write_junit"]


def junit_xml(suite: Mapping[str, Any], name: str = "modelmon") -> str:
    """The JUnit XML document of a check suite (``CheckSuite.to_dict()``)."""
    checks = list(suite.get("checks") or [])
    failures = sum(not check["passed"] for check in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures)}
    root = ElementTree.Element("testsuites", {"name": "modelmon check", **counts})
    testsuite = ElementTree.SubElement(root, "testsuite", {"name": name, **counts, "errors": "0"})
    for check in checks:
        section = str(check.get("path", "")).split(".")[0] or "report"
        case = ElementTree.SubElement(
            testsuite, "testcase", {"name": str(check["name"]), "classname": f"modelmon.{section}"}
        )
        if not check["passed"]:
            failure = ElementTree.SubElement(
                case, "failure", {"message": str(check.get("detail") or "failed")}
            )
            failure.text = f"{check['condition']}\nvalue read: {check.get('actual')!r}"
        else:
            output = ElementTree.SubElement(case, "system-out")
            output.text = f"{check['condition']}\nvalue read: {check.get('actual')!r}"
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


def write_junit(path: str | os.PathLike[str], suite: Mapping[str, Any], name: str = "modelmon") -> Path:
    """Write :func:`junit_xml` to ``path`` (parent folders created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(suite, name), encoding="utf-8")
    return target
