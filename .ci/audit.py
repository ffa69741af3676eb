"""Known vulnerabilities of the installed dependencies (pip-audit over PyPI's advisory data).

Fails (exit 1) when an installed package has a known vulnerability. When the advisory data cannot
be reached (an offline machine, a package index without PyPI's JSON API), it says so and which
error it got, and exits 0: an audit that could not run is reported, never passed off as clean.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    binary = Path(sys.executable).parent / "pip-audit"
    if not binary.exists() and shutil.which("pip-audit") is None:
        print("dependency audit: NOT RUN: pip-audit is not installed (pip install 'modelmon[dev]')")
        return 0
    command = [
        str(binary if binary.exists() else "pip-audit"),
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    command += ["--skip-editable", "--timeout", "30"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"dependency audit: NOT RUN: pip-audit could not reach the advisory data ({error[:300]})")
        return 0
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for package in vulnerable:
        for vuln in package["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(f"VULNERABLE {package['name']} {package['version']}: {vuln['id']} (fixed in {fixes})")
    if vulnerable:
        print(
            f"dependency audit: {len(vulnerable)} of {len(dependencies)} packages have known vulnerabilities"
        )
        return 1
    audited = len(dependencies) - len(skipped)
    if audited == 0:
        reason = skipped[0]["skip_reason"] if skipped else "no packages found"
        print(f"dependency audit: NOT RUN: no package could be looked up in the advisory data ({reason})")
        return 0
    print(f"dependency audit: {audited} packages, no known vulnerabilities ({len(skipped)} not audited)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
