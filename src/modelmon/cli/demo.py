"""``modelmon demo-service``, ``modelmon simulate`` and ``modelmon demo``: the online demo."""

from __future__ import annotations

import importlib.util
import logging
import signal
from pathlib import Path

import click

from modelmon.cli import UsageFailure, failure
from modelmon.errors import ModelmonError

__all__ = ["DEMO_MODULES", "demo", "demo_service", "simulate"]

#: what the demo's two processes import beyond the base install: the monitoring service (``modelmon
#: serve``: the service extra) and the example prediction service (flask); the demo extra has both
DEMO_MODULES = ("uvicorn", "starlette", "httptools", "orjson", "jsonschema_rs", "prometheus_client", "flask")


@click.command("demo-service")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=9696, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--monitor-url", default="http://127.0.0.1:8085", show_default=True, help="The monitoring service."
)
@click.option(
    "--data-dir",
    default="demo-run",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder written by `modelmon demo-data` (the models are read from it).",
)
@click.option("--mongodb-uri", default=None, help="Also write each request's document to this MongoDB.")
@click.option(
    "--token", envvar="MODELMON_TOKEN", default=None, help="Bearer token of the monitoring service."
)
def demo_service(
    host: str, port: int, monitor_url: str, data_dir: Path, mongodb_uri: str | None, token: str | None
) -> None:
    """Run the example prediction service: POST /predict (taxi trip duration), POST /predict/credit.

    Every prediction is logged to the monitoring service without waiting for it; /metrics exports the
    service's request counts and latencies. Served by werkzeug's threaded server.
    """
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel("WARNING")  # one access-log line per prediction is noise here
    from modelmon.demo.service import create_app, serve

    try:
        app = create_app(data_dir, monitor_url, token=token or None, mongodb_uri=mongodb_uri)
    except ModelmonError as exc:
        raise failure(exc) from exc
    click.echo(f"modelmon demo prediction service on http://{host}:{port} (events to {monitor_url})")
    serve(app, host, port)


@click.command("simulate")
@click.option("--service-url", default="http://127.0.0.1:9696", show_default=True, help="Prediction service.")
@click.option("--monitor-url", default="http://127.0.0.1:8085", show_default=True, help="Monitoring service.")
@click.option("--model", type=click.Choice(["taxi", "credit", "both"]), default="both", show_default=True)
@click.option("--rate", default=50.0, show_default=True, type=float, help="Requests per second (all models).")
@click.option("--duration", default=60.0, show_default=True, type=float, help="Seconds of traffic.")
@click.option(
    "--incident",
    "incidents",
    multiple=True,
    help="Incident to inject, NAME or NAME:COLUMN[,COLUMN] (repeatable), e.g. covariate_shift:trip_distance.",
)
@click.option(
    "--incident-at", default=30.0, show_default=True, type=float, help="Seconds before the incident."
)
@click.option(
    "--target-delay", default=10.0, show_default=True, type=float, help="Seconds before ground truth is sent."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated traffic.")
@click.option(
    "--token",
    envvar="MODELMON_TOKEN",
    default=None,
    help="Bearer token of the monitoring service, sent with the ground truth (env MODELMON_TOKEN).",
)
@click.option(
    "--deadline",
    type=float,
    default=None,
    help="Seconds after which requests a slow service held up are skipped (default: the duration).",
)
def simulate(
    service_url: str,
    monitor_url: str,
    model: str,
    rate: float,
    duration: float,
    incidents: tuple[str, ...],
    incident_at: float,
    target_delay: float,
    seed: int,
    token: str | None,
    deadline: float | None,
) -> None:
    """Replay generated traffic to the prediction service, inject incidents, send ground truth late.

    Incidents: covariate_shift, new_categories, missing_spike, type_errors, outliers, concept_change,
    segment_degradation. Stops by itself after --duration seconds (and the last targets' delay).
    """
    from modelmon.demo.simulate import Plan, Simulator, check_local_url, parse_incident

    try:
        plan = Plan(
            models=("taxi", "credit") if model == "both" else (model,),
            rate=rate,
            duration=duration,
            incidents=tuple(parse_incident(text) for text in incidents),
            incident_at=incident_at,
            target_delay=target_delay,
            seed=seed,
            deadline=deadline,
        )
        simulator = Simulator(
            plan,
            check_local_url(service_url),
            check_local_url(monitor_url),
            echo=click.echo,
            token=token or None,
        )
    except ModelmonError as exc:
        raise failure(exc) from exc
    # Ctrl-C stops the run; the process's own handlers come back after it (run inside a longer-lived
    # process, as tests run commands, a handler left behind would make Ctrl-C stop a finished run)
    previous = {
        sig: signal.signal(sig, lambda *_: simulator.stop()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    click.echo(
        f"[simulate] {rate:g} requests/s for up to {duration:g}s to {service_url} "
        f"({', '.join(plan.models)}); "
        + (f"incidents {', '.join(incidents)} from {incident_at:g}s" if incidents else "no incident")
    )
    try:
        stats = simulator.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stats.sent and not stats.ok:
        raise click.ClickException(f"no request succeeded; last error: {stats.last_error}")
    if stats.targets_failed and not stats.targets_sent:
        raise click.ClickException(f"no ground truth was accepted; last error: {stats.last_error}")


@click.command("demo")
@click.option(
    "--duration", type=float, default=None, help="Seconds of traffic, then stop (default: until Ctrl-C)."
)
@click.option(
    "--data-dir",
    default="demo-run",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for demo data, models, logs, the store and Prometheus' data.",
)
@click.option(
    "--incident",
    "incidents",
    multiple=True,
    default=("covariate_shift:trip_distance",),
    show_default=True,
    help="Incident after the calm period, NAME or NAME:COLUMN[,COLUMN] (repeatable).",
)
@click.option("--model", type=click.Choice(["taxi", "credit", "both"]), default="both", show_default=True)
@click.option("--calm", default=30.0, show_default=True, type=float, help="Seconds of clean traffic first.")
@click.option("--rate", default=50.0, show_default=True, type=float, help="Requests per second.")
@click.option(
    "--target-delay", default=5.0, show_default=True, type=float, help="Seconds until ground truth."
)
@click.option(
    "--deadline",
    type=float,
    default=None,
    help="With --duration: seconds after which requests a slow service held up are skipped "
    "(default: the duration).",
)
@click.option("--no-prometheus", is_flag=True, help="Do not start a local Prometheus.")
@click.option(
    "--rows", default=20_000, show_default=True, type=click.IntRange(min=1000), help="Demo file rows."
)
@click.option("--monitor-port", default=8085, show_default=True, type=int)
@click.option("--service-port", default=9696, show_default=True, type=int)
@click.option("--prometheus-port", default=9090, show_default=True, type=int)
def demo(
    duration: float | None,
    data_dir: Path,
    incidents: tuple[str, ...],
    model: str,
    calm: float,
    rate: float,
    target_delay: float,
    deadline: float | None,
    no_prometheus: bool,
    rows: int,
    monitor_port: int,
    service_port: int,
    prometheus_port: int,
) -> None:
    """Run the whole local stack: monitoring service, prediction service, traffic with an incident,
    and Prometheus when installed. Ctrl-C stops everything.
    """
    missing = [name for name in DEMO_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        # checked before any data is written or process started, which would only fail in their logs
        raise UsageFailure(f"{', '.join(missing)}: needed for the demo: pip install 'modelmon[demo]'")
    from modelmon.demo.simulate import parse_incident
    from modelmon.demo.stack import Settings, Stack, format_summary

    if deadline is not None and duration is None:
        raise click.UsageError("--deadline bounds a run of --duration seconds; give --duration too")
    try:
        for text in incidents:
            parse_incident(text)
    except ModelmonError as exc:
        raise failure(exc) from exc
    settings = Settings(
        data_dir=data_dir,
        duration=duration,
        incidents=incidents,
        model=model,
        calm=calm,
        rate=rate,
        target_delay=target_delay,
        deadline=deadline,
        rows=rows,
        prometheus=not no_prometheus,
        monitor_port=monitor_port,
        service_port=service_port,
        prometheus_port=prometheus_port,
    )
    stack = Stack(settings, echo=click.echo)
    previous = {sig: signal.signal(sig, stack.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stack.start()
        click.echo("modelmon demo is running:")
        for line in stack.urls():
            click.echo(f"  {line}")
        click.echo(f"  processes           {stack.pids()}  (logs in {data_dir / 'logs'})")
        click.echo(
            f"incident {', '.join(incidents)} after {calm:g}s of calm traffic; Ctrl-C stops everything"
        )
        stack.run_traffic()
        click.echo("summary of the last window:")
        for line in format_summary(stack.summary()):
            click.echo(f"  {line}")
    except ModelmonError as exc:
        raise failure(exc) from exc
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if stack.children:
            click.echo("stopped: " + ", ".join(f"{name} (pid {pid})" for name, pid in stack.pids().items()))
