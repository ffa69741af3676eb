"""The report JSON page: every key of real reports, built on the demo data at build time.

Two reports are built (a regression and a classification, with segments, a sensitive attribute
and a drifted current side), and every path of their JSON is listed with the types seen there.
Column names, segment values and groups are shown as ``{column}`` and ``{value}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelmon.demo import files, incidents
from modelmon.demo.data import credit_applications, taxi_trips
from modelmon.engine.build import build_report
from modelmon.schema import Schema

#: what each section answers, in the order the report holds them
SECTIONS = {
    "drift": "Per column (features, prediction, target): the test, score, threshold, p-value where the "
    "test has one, and the verdict; dataset drift when the share of drifted features reaches 0.5; "
    "`insufficient_data` instead of a verdict when a column has fewer values than its test needs. "
    "`drift.embeddings`: per embedding set, a domain classifier's ROC AUC or MMD with a permutation "
    "p-value.",
    "quality": "Missing values, values of the wrong type, values outside the reference range, new "
    "categories, constant columns, reference vs current statistics, missing or unexpected columns, "
    "duplicate rows; `issues` lists only what is new against the reference.",
    "performance": "MAE, RMSE, mean error, MAPE, R2 or accuracy, precision, recall, F1, ROC AUC, log loss, "
    "against the reference; without labels, estimates (`estimated`): CBPE for a binary classifier, DLE "
    "for a regression.",
    "segments": "Every metric per value of each segment column, the worst segments ranked, too-small "
    "segments listed; `drift`: per segment value, the segment's features tested against the same "
    "segment of the reference, `drift_ranking` and `drift_too_small`.",
    "checks": "Only when conditions are checked (`modelmon check`, `run_checks`, the batch flow's "
    "`checks`): each condition, the value read and whether it holds.",
    "fairness": "Per sensitive attribute: selection rate, TPR, FPR and error per group; demographic "
    "parity difference and ratio, equalized-odds difference.",
    "outliers": "IsolationForest fitted on the reference plus range rules: outlier share and the top "
    "outlier rows.",
    "explain": "SHAP attributions of the model (`--model-file`) on both samples (tree models: shap's "
    "TreeExplainer on up to 1,000 rows; others: antithetic permutations as shap's Permutation explainer "
    "computes them, equal to its values, on 60 rows against 30 background rows, in a few model calls), "
    "or attributions sent with events; attribution drift.",
    "concept": "ADWIN and Page-Hinkley over the regression error stream, DDM and ADWIN over "
    "classification errors, ordered by time; a change is `confirmed` when two detectors agree or one "
    "fires while the windowed error is above the reference's band.",
    "multivariate": "A domain classifier's ROC AUC telling the reference from the current data, and the "
    "features that separate them.",
}


def _reports() -> Iterable[tuple[dict[str, Any], set[str], set[str]]]:
    """(report JSON, column names, segment and group values) of the two demo models."""
    demo = files.demo_config()["models"]
    for generate, model, shifted in [
        (taxi_trips, "taxi-duration", "trip_distance"),
        (credit_applications, "credit-approval", "income"),
    ]:
        reference = generate(3000, seed=0)
        current = incidents.covariate_shift(generate(2000, seed=1), shifted, at=1000)
        spec = {key: value for key, value in demo[model].items() if key in Schema.__dataclass_fields__}
        schema = Schema.from_dict(spec)
        report = build_report(reference, current, schema)
        columns = set(reference.columns)
        values = {
            str(value)
            for column in (*schema.segments, *schema.sensitive, *schema.categorical)
            for value in reference[column].astype(str).unique()
        }
        yield report.to_dict(), columns, values | {"other", "missing"}


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(value), "")


def _walk(node: Any, path: tuple[str, ...], columns: set[str], values: set[str], out: dict) -> None:
    if isinstance(node, dict):
        out.setdefault(path, set()).add("object")
        for key, value in node.items():
            name = "{column}" if key in columns else "{value}" if key in values else key
            _walk(value, (*path, name), columns, values, out)
    elif isinstance(node, list):
        out.setdefault(path, set()).add("array")
        for item in node[:3]:
            _walk(item, (*path, "[]"), columns, values, out)
    else:
        out.setdefault(path, set()).add(_type(node) or type(node).__name__)


def page() -> str:
    """The page: the sections, then every path with its types."""
    paths: dict[tuple[str, ...], set[str]] = {}
    for report, columns, values in _reports():
        _walk(report, (), columns, values, paths)
    lines = [
        "# Report JSON\n",
        "`modelmon report --json`, `Report.to_dict()`, the batch flow's reports and the service's "
        "`/v1/models/{model}/summary` share this shape; its keys are the API that `modelmon check` "
        "conditions read. A section that does not apply is present with `applicable: false` and says "
        "why. The keys below are those of two reports built on the demo data when these pages were "
        "built; `{column}` stands for a column name, `{value}` for a segment value or a group.\n",
        "## Sections\n",
        "| section | what it answers |",
        "|---|---|",
        *(f"| `{name}` | {text} |" for name, text in SECTIONS.items()),
        "",
        "## Every key\n",
    ]
    tops = sorted({path[0] for path in paths if path}, key=lambda name: (name in SECTIONS, name))
    for top in tops:
        lines += [f"### `{top}`\n", "| path | type |", "|---|---|"]
        for path in sorted(p for p in paths if p and p[0] == top):
            shown = ".".join(path).replace(".[]", "[]")
            lines.append(f"| `{shown}` | {', '.join(sorted(paths[path]))} |")
        lines.append("")
    return "\n".join(lines)
