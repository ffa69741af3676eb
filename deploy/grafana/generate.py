"""Generate modelmon's Grafana dashboards (JSON) into ``deploy/grafana/dashboards/``.

Every query filters by the dashboard's ``model`` variable. Series of prediction services and health
probes may carry no ``model`` label, so they filter with ``model=~"$model|"`` (this model, or none).
No query divides by a raw series: ratios divide by ``clamp_min(..., 1e-09)``, and rates of counters
that only appear on the first event fall back to 0 with ``or ... * 0``. Alert thresholds drawn on
panels are the defaults of ``deploy/prometheus/thresholds.yml``.

Run it after editing::

    python deploy/grafana/generate.py            # rewrites dashboards/*.json
    python deploy/grafana/generate.py --check    # exit 1 if the checked-in JSON is out of date

>>> sorted(DASHBOARDS) == sorted(name[:-5] for name in render())
True
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find grafana_panels when run as a script

from grafana_panels import (
    HTTP,
    MODEL,
    MODEL_OR_NONE,
    Panel,
    bars,
    dashboard,
    limit,
    or_zero,
    query,
    rate,
    stat,
    state,
    table,
    timeseries,
)

HERE = Path(__file__).resolve().parent


def service_health() -> tuple[str, str, list[Panel]]:
    return (
        "modelmon: service health",
        "Are the prediction and monitoring services up, fast and fed?",
        [
            stat(
                "Health probes",
                [query(f"modelmon_service_up{{{MODEL_OR_NONE}}}", "{{service}}")],
                "Probed by the monitoring service (config `health:`).",
                up_down=True,
            ),
            stat(
                "Scrape targets",
                [query(f'up{{job=~"modelmon-.*",{MODEL_OR_NONE}}}', "{{job}}")],
                "Can Prometheus scrape the services?",
                up_down=True,
            ),
            timeseries(
                "Requests per second",
                [
                    query(
                        rate("modelmon_http_requests_total", MODEL_OR_NONE, "job, endpoint, status"),
                        "{{job}} {{endpoint}} {{status}}",
                    )
                ],
                unit="reqps",
            ),
            timeseries(
                "Share of 5xx answers",
                [query(f"modelmon:http_error_ratio:rate5m{{{MODEL_OR_NONE}}}", "{{job}} {{endpoint}}")],
                unit="percentunit",
                threshold=limit("http_error_ratio"),
            ),
            timeseries(
                "Request duration",
                [
                    query(
                        f"histogram_quantile(0.5, sum by ({HTTP}, le) "
                        f"(rate(modelmon_http_request_duration_seconds_bucket{{{MODEL_OR_NONE}}}[5m])))",
                        "p50 {{job}} {{endpoint}}",
                    ),
                    query(
                        f"modelmon:http_request_duration_seconds:p99_5m{{{MODEL_OR_NONE}}}",
                        "p99 {{job}} {{endpoint}}",
                    ),
                ],
                "Measured by the client middleware inside the prediction service.",
                unit="s",
            ),
            timeseries(
                "Prediction latency p99 (reported in events)",
                [query(f"modelmon:prediction_latency_seconds:p99_5m{{{MODEL}}}", "{{model}}")],
                unit="s",
                threshold=limit("prediction_latency_p99_seconds"),
            ),
            timeseries(
                "Events and ground truth per second",
                [
                    query(f"modelmon:events:rate5m{{{MODEL}}}", "events {{model}}"),
                    query(or_zero(rate("modelmon_targets_total", MODEL, "model")), "targets {{model}}"),
                ],
                unit="reqps",
            ),
            timeseries(
                "Rejected events per second",
                [
                    query(
                        or_zero(rate("modelmon_events_rejected_total", MODEL, "model, reason")),
                        "{{model}} {{reason}}",
                    )
                ],
                "Events the monitoring service refused, by reason.",
                unit="reqps",
            ),
            timeseries(
                "Client queue and spool",
                [
                    query(f"modelmon_client_queue_depth{{{MODEL_OR_NONE}}}", "queued {{job}}"),
                    query(f"modelmon_client_spooled_events{{{MODEL_OR_NONE}}}", "spooled {{job}}"),
                ],
                "Events waiting in the prediction service. Spooled events: the monitoring service is "
                "unreachable.",
            ),
            timeseries(
                "Client events dropped in 10 minutes",
                [query(f"increase(modelmon_client_dropped_events_total{{{MODEL_OR_NONE}}}[10m])", "{{job}}")],
                threshold=limit("client_dropped_events"),
            ),
            timeseries(
                "Health probe duration",
                [query(f"modelmon_service_probe_seconds{{{MODEL_OR_NONE}}}", "{{service}}")],
                unit="s",
            ),
            timeseries(
                "Rows in the current window", [query(f"modelmon_window_rows{{{MODEL}}}", "{{model}}")]
            ),
        ],
    )


def performance() -> tuple[str, str, list[Panel]]:
    return (
        "modelmon: model performance",
        "Quality of the predictions, overall and by segment.",
        [
            timeseries(
                "Metrics now and on the reference",
                [
                    query(f'modelmon_model_metric{{{MODEL},segment="all"}}', "{{model}} {{metric}}"),
                    query(f"modelmon_reference_metric{{{MODEL}}}", "{{model}} {{metric}} (reference)"),
                ],
                "Computed on the window rows whose ground truth has arrived.",
            ),
            timeseries(
                "Change from the reference",
                [query(f"modelmon:model_metric:change_from_reference{{{MODEL}}}", "{{model}} {{metric}}")],
                "Current minus reference. Errors (mae, rmse, mape, log_loss) alert above reference "
                f"x {1 + limit('error_metric_increase'):g}; scores alert below reference - "
                f"{limit('score_metric_drop'):g}.",
            ),
            table(
                "Metrics by segment (latest)",
                [query(f'modelmon_model_metric{{{MODEL},segment!="all"}}', instant=True)],
                'Segment values beyond the top K are grouped as "other".',
            ),
            timeseries(
                "Metrics by segment",
                [
                    query(
                        f'modelmon_model_metric{{{MODEL},segment!="all"}}', "{{model}} {{segment}} {{metric}}"
                    )
                ],
            ),
            timeseries(
                "Share of events with ground truth",
                [
                    query(
                        f"{rate('modelmon_targets_total', MODEL, 'model')} / "
                        f"clamp_min({rate('modelmon_events_total', MODEL, 'model')}, 1e-09)",
                        "{{model}}",
                    )
                ],
                "Targets received per event over 5 minutes; metrics only cover rows with ground truth.",
                unit="percentunit",
            ),
            timeseries(
                "Estimated metrics before ground truth arrives",
                [query(f"modelmon_estimated_metric{{{MODEL}}}", "{{model}} {{metric}} (estimated)")],
                "Confidence-based performance estimation (CBPE) from the predicted probabilities; "
                "classification models only.",
            ),
            state(
                "Concept drift detectors",
                [query(f"modelmon_concept_drift_detected{{{MODEL}}}", "{{model}} {{detector}}")],
            ),
        ],
    )


def data_quality() -> tuple[str, str, list[Panel]]:
    def share(series: str, title: str, key: str) -> Panel:
        return timeseries(
            title,
            [query(f"{series}{{{MODEL}}}", "{{model}} {{column}}")],
            unit="percentunit",
            threshold=limit(key),
        )

    return (
        "modelmon: data quality",
        "Missing, out-of-range and unseen values in the current window.",
        [
            share("modelmon_missing_share", "Missing values by column", "missing_share"),
            share("modelmon_out_of_range_share", "Out-of-range values by column", "out_of_range_share"),
            share("modelmon_new_category_share", "New categories by column", "new_category_share"),
            table(
                "Data quality per column (latest)",
                [
                    query(f"modelmon_missing_share{{{MODEL}}}", instant=True),
                    query(f"modelmon_out_of_range_share{{{MODEL}}}", instant=True),
                    query(f"modelmon_new_category_share{{{MODEL}}}", instant=True),
                    query(f"modelmon_type_error_share{{{MODEL}}}", instant=True),
                ],
                columns=("missing", "out of range", "new category", "type errors"),
            ),
            timeseries(
                "Values of the wrong type by column",
                [query(f"modelmon_type_error_share{{{MODEL}}}", "{{model}} {{column}}")],
                unit="percentunit",
            ),
            timeseries(
                "Rejected events per second",
                [
                    query(
                        or_zero(rate("modelmon_events_rejected_total", MODEL, "model, reason")),
                        "{{model}} {{reason}}",
                    )
                ],
                unit="reqps",
            ),
            timeseries(
                "Rows in the current window", [query(f"modelmon_window_rows{{{MODEL}}}", "{{model}}")]
            ),
        ],
    )


def drift() -> tuple[str, str, list[Panel]]:
    return (
        "modelmon: data and prediction drift",
        "Drift of every column, the prediction included.",
        [
            state(
                "Dataset drift",
                [query(f"modelmon_dataset_drift{{{MODEL}}}", "{{model}}")],
                "Drift when the share of drifted columns reaches the dataset drift share.",
            ),
            timeseries(
                "Share of drifted columns",
                [query(f"modelmon_drifted_columns_share{{{MODEL}}}", "{{model}}")],
                "Default dataset drift share: 0.5.",
                unit="percentunit",
                threshold=0.5,
            ),
            table(
                "Drift score and threshold per column (latest)",
                [
                    query(f"modelmon_drift_score{{{MODEL}}}", instant=True),
                    query(f"modelmon_drift_threshold{{{MODEL}}}", instant=True),
                ],
                "Each column's test (method) with its score and threshold: p-value tests (ks, chisquare, "
                "z) drift when the score is below the threshold, distances (wasserstein, jensenshannon, "
                "psi...) when it is at or above it.",
                columns=("score", "threshold"),
            ),
            timeseries(
                "Drift score and threshold by column",
                [
                    query(f"modelmon_drift_score{{{MODEL}}}", "{{model}} {{column}} ({{method}})"),
                    query(f"modelmon_drift_threshold{{{MODEL}}}", "threshold {{model}} {{column}}"),
                ],
            ),
            state(
                "Drift detected by column",
                [query(f"modelmon_drift_detected{{{MODEL}}}", "{{model}} {{column}}")],
            ),
            timeseries(
                "Share of drifted features per segment",
                [query(f"modelmon_segment_drifted_share{{{MODEL}}}", "{{model}} {{segment}}")],
                "Each segment (column=value, top values plus other) against the same segment of the "
                "reference; a shift confined to one segment shows here before the dataset verdict moves.",
                unit="percentunit",
                threshold=0.5,
            ),
        ],
    )


def fairness() -> tuple[str, str, list[Panel]]:
    differences = 'metric=~"demographic_parity_difference|equalized_odds_difference"'
    return (
        "modelmon: fairness",
        "Gaps between protected groups (config `sensitive:`).",
        [
            timeseries(
                "Differences between groups",
                [query(f"modelmon_fairness{{{MODEL},{differences}}}", "{{model}} {{attribute}} {{metric}}")],
                threshold=limit("fairness_difference"),
            ),
            timeseries(
                "Demographic parity ratio",
                [
                    query(
                        f'modelmon_fairness{{{MODEL},metric="demographic_parity_ratio"}}',
                        "{{model}} {{attribute}}",
                    )
                ],
                "Least over most favoured group's positive rate; below the line breaks the four-fifths rule.",
                threshold=limit("fairness_ratio"),
                below_is_bad=True,
            ),
            table("Fairness (latest)", [query(f"modelmon_fairness{{{MODEL}}}", instant=True)]),
        ],
    )


def outliers() -> tuple[str, str, list[Panel]]:
    attribution = f"modelmon_feature_attribution{{{MODEL}}}"
    return (
        "modelmon: outliers and attributions",
        "Unusual inputs and which features drive predictions.",
        [
            timeseries(
                "Share of outlier rows",
                [query(f"modelmon_outlier_share{{{MODEL}}}", "{{model}}")],
                unit="percentunit",
                threshold=limit("outlier_share"),
            ),
            bars(
                "Mean absolute attribution by feature (latest)",
                [query(attribution, "{{model}} {{feature}}", instant=True)],
            ),
            timeseries("Attribution by feature", [query(attribution, "{{model}} {{feature}}")]),
            timeseries(
                "Share of total attribution by feature",
                [
                    query(
                        f"{attribution} / ignoring(feature) group_left "
                        f"clamp_min(sum without (feature) ({attribution}), 1e-09)",
                        "{{model}} {{feature}}",
                    )
                ],
                unit="percentunit",
            ),
        ],
    )


DASHBOARDS = {
    "modelmon-service-health": service_health,
    "modelmon-performance": performance,
    "modelmon-data-quality": data_quality,
    "modelmon-drift": drift,
    "modelmon-fairness": fairness,
    "modelmon-outliers": outliers,
}


def all_dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard."""
    return {f"{uid}.json": dashboard(uid, *make()) for uid, make in DASHBOARDS.items()}


def render() -> dict[str, str]:
    """File name -> JSON text, stable so the checked-in files can be compared."""
    boards = all_dashboards()
    return {name: json.dumps(board, indent=2, sort_keys=True) + "\n" for name, board in boards.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "dashboards")
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print(f"out of date, run {Path(__file__).name}: {', '.join(stale)}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
