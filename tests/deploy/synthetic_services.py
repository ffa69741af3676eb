"""Stand-ins for the monitoring and prediction services' ``/metrics``, in the middle of an incident.

They export every series of the Prometheus contract (DESIGN.md) with the labels the real services use,
so the shipped rules and dashboards can be exercised end to end without the services. ``taxi-duration``
is in trouble on every count; ``credit-approval`` is healthy except for fairness, which only it has.
Counters grow on every scrape, so rates and increases are non-zero.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TAXI, CREDIT = "taxi-duration", "credit-approval"
BUCKETS = (0.05, 0.1, 0.5, 1.0, float("inf"))


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def _histogram(name: str, seconds: float, count: int, **labels: str) -> list[str]:
    lines = []
    for edge in BUCKETS:
        le = "+Inf" if edge == float("inf") else f"{edge:g}"
        lines.append(f"{name}_bucket{_labels(**labels, le=le)} {count if seconds <= edge else 0}")
    lines.append(f"{name}_sum{_labels(**labels)} {seconds * count}")
    lines.append(f"{name}_count{_labels(**labels)} {count}")
    return lines


def monitoring_metrics(scrape: int) -> str:
    """Exposition text of the monitoring service at its ``scrape``-th scrape."""
    lines = []
    for model, bad in ((TAXI, True), (CREDIT, False)):
        m = {"model": model}
        lines += [
            f"modelmon_events_total{_labels(**m)} {100 * scrape}",
            f"modelmon_targets_total{_labels(**m)} {60 * scrape}",
            f"modelmon_window_rows{_labels(**m)} 1000",
            f"modelmon_dataset_drift{_labels(**m)} {int(bad)}",
            f"modelmon_drifted_columns_share{_labels(**m)} {0.6 if bad else 0.1}",
            f"modelmon_outlier_share{_labels(**m)} {0.2 if bad else 0.01}",
            f"modelmon_concept_drift_detected{_labels(**m, detector='page_hinkley')} {int(bad)}",
            f"modelmon_concept_drift_detected{_labels(**m, detector='adwin')} 0",
            f"modelmon_concept_error_beyond_band{_labels(**m)} {int(bad)}",
            f"modelmon_feature_attribution{_labels(**m, feature='f1')} 0.7",
            f"modelmon_feature_attribution{_labels(**m, feature='f2')} 0.3",
            f"modelmon_segment_drifted_share{_labels(**m, segment='zone=north')} {0.5 if bad else 0.0}",
        ]
        for column, drifted in (("f1", bad), ("f2", False)):
            c = {**m, "column": column}
            lines += [
                f"modelmon_drift_score{_labels(**c, method='wasserstein')} {0.4 if drifted else 0.02}",
                f"modelmon_drift_threshold{_labels(**c, method='wasserstein')} 0.1",
                f"modelmon_drift_detected{_labels(**c)} {int(drifted)}",
                f"modelmon_type_error_share{_labels(**c)} {0.1 if drifted else 0}",
                f"modelmon_missing_share{_labels(**c)} {0.3 if drifted else 0}",
                f"modelmon_out_of_range_share{_labels(**c)} {0.2 if drifted else 0}",
                f"modelmon_new_category_share{_labels(**c)} {0.4 if drifted else 0}",
            ]
        lines += _histogram("modelmon_prediction_latency_seconds", 0.9 if bad else 0.02, 100 * scrape, **m)
    lines.append(f"modelmon_events_rejected_total{_labels(model=TAXI, reason='schema')} {5 * scrape}")
    metrics = {TAXI: {"mae": (6.0, 4.0), "rmse": (7.0, 6.5), "r2": (0.5, 0.7)},
               CREDIT: {"accuracy": (0.7, 0.85), "f1": (0.8, 0.8)}}  # fmt: skip
    for model, values in metrics.items():
        for metric, (current, reference) in values.items():
            for segment in ("all", "north"):
                labels = _labels(model=model, metric=metric, segment=segment)
                lines.append(f"modelmon_model_metric{labels} {current}")
            lines.append(f"modelmon_reference_metric{_labels(model=model, metric=metric)} {reference}")
    lines.append(f"modelmon_estimated_metric{_labels(model=CREDIT, metric='accuracy')} 0.8")
    for metric, value in (("demographic_parity_difference", 0.3), ("equalized_odds_difference", 0.05),
                          ("demographic_parity_ratio", 0.6)):  # fmt: skip
        lines.append(f"modelmon_fairness{_labels(model=CREDIT, attribute='gender', metric=metric)} {value}")
    for service, up in (("prediction-service", 1), ("prefect-server", 0)):
        lines.append(f"modelmon_service_up{_labels(model='', service=service)} {up}")
        lines.append(f"modelmon_service_probe_seconds{_labels(service=service)} 0.01")
    return "\n".join(lines) + "\n"


def prediction_metrics(scrape: int) -> str:
    """Exposition text of the prediction service's client middleware at its ``scrape``-th scrape."""
    lines = []
    for endpoint, errors in (("/predict", 20), ("/predict/credit", 0)):
        for status, per_scrape in (("200", 80), ("500", errors)):
            if per_scrape:
                lines.append(
                    f"modelmon_http_requests_total{_labels(endpoint=endpoint, status=status)} "
                    f"{per_scrape * scrape}"
                )
        lines += _histogram("modelmon_http_request_duration_seconds", 0.03, 100 * scrape, endpoint=endpoint)
    lines += [
        "modelmon_client_queue_depth 12",
        "modelmon_client_spooled_events 40",
        f"modelmon_client_dropped_events_total {3 * scrape}",
    ]
    return "\n".join(lines) + "\n"


class MetricsServer:
    """Serves ``render(scrape_number)`` at ``/metrics`` on a free loopback port while in ``with``."""

    def __init__(self, render: Callable[[int], str]) -> None:
        self.render = render
        self.scrapes = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.scrapes += 1
                body = outer.render(outer.scrapes).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> MetricsServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
