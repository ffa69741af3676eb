"""Evidently's monitoring-service ``config.yaml`` read as a modelmon config.

Evidently's monitoring service (removed upstream in 2023) was configured with ``datasets:`` (one
entry per monitored model: a ``column_mapping``, a ``reference_file``, the ``monitors`` to run and
the CSV ``data_format``) and ``service:`` (window size, calculation period, ...). Each dataset
becomes a model of the same name, with ``compat: {evidently: [monitors]}`` so that the service
also exports the old ``evidently:<monitor>:<metric>`` series.

Every option is either translated, kept as a comment saying why it needs no counterpart, or
refused with an error that names it: nothing is silently ignored. The February 2022 layout (one
model: top-level ``column_mapping`` and ``data_format``, ``service.reference_path`` and
``service.monitors``) is read as one dataset named :data:`SINGLE_DATASET`.

>>> old = {"datasets": {"taxi": {"column_mapping": {"numerical_features": ["trip_distance"],
...                                                 "categorical_features": ["PULocationID"]},
...                              "reference_file": "./datasets/ref.parquet", "monitors": ["data_drift"],
...                              "data_format": {"header": True, "separator": ","}}},
...        "service": {"window_size": 5, "calculation_period_sec": 2, "min_reference_size": 30,
...                    "moving_reference": False, "use_reference": True, "datasets_path": "datasets"}}
>>> translation = translate(old)
>>> model = translation.config["models"]["taxi"]
>>> model["numerical"], model["prediction"], model["window"], model["compat"]
(['trip_distance'], 'prediction', {'rows': 5}, {'evidently': ['data_drift']})
>>> translation.comments[0].split(";")[0]
'service.min_reference_size: 30: no counterpart'
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelmon.errors import ConfigError

__all__ = ["MONITORS", "SINGLE_DATASET", "EvidentlyTranslation", "is_evidently_config", "render", "translate"]

#: the model name of a config in the February 2022 layout, which monitored one unnamed dataset
SINGLE_DATASET = "default"

#: the old service's monitors that modelmon exports old series for, and the task each implies
MONITORS: dict[str, str | None] = {
    "data_drift": None,
    "num_target_drift": "regression",
    "cat_target_drift": "classification",
    "regression_performance": "regression",
    "classification_performance": "classification",
}
#: old monitors modelmon has no old series for, and what to use instead
_UNSUPPORTED_MONITORS = {
    "data_quality": "the modelmon_missing_share, modelmon_out_of_range_share, modelmon_new_category_share "
    "and modelmon_type_error_share series",
    "prob_classification_performance": "classification_performance and the modelmon_model_metric series",
}
_SERVICE_KEYS = {
    "window_size",
    "calculation_period_sec",
    "min_reference_size",
    "moving_reference",
    "use_reference",
    "datasets_path",
}
_DATASET_KEYS = {"column_mapping", "reference_file", "monitors", "data_format", "date_column"}
#: the February 2022 layout's keys of ``service:`` that belong to its one dataset
_SINGLE_SERVICE_KEYS = {"reference_path", "monitors"}
_MAPPING_KEYS = {
    "numerical_features",
    "categorical_features",
    "target",
    "prediction",
    "datetime",
    "id",
    "task",
    "target_names",
    "datetime_features",
    "pos_label",
    "text_features",
}


@dataclass
class EvidentlyTranslation:
    """The modelmon config (plain data, as in the YAML file) and one comment per untranslated option."""

    config: dict[str, Any]
    comments: list[str] = field(default_factory=list)


def is_evidently_config(data: Any) -> bool:
    """Whether parsed YAML is in the old service's format: ``datasets:`` or ``service:`` (or the
    February 2022 layout's top-level ``column_mapping``), no ``models:``."""
    old_keys = {"datasets", "service", "column_mapping"}
    return isinstance(data, Mapping) and "models" not in data and bool(old_keys & set(data))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    return value


def _unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown option(s) {unknown} of Evidently's monitoring service; known: {sorted(known)}"
        )


def _service(service: Mapping[str, Any], comments: list[str]) -> dict[str, Any]:
    """Settings every model gets from ``service:``."""
    _unknown(service, _SERVICE_KEYS, "service")
    settings: dict[str, Any] = {}
    if "window_size" in service:
        size = service["window_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"service.window_size: expected a positive integer, got {size!r}")
        settings["window"] = {"rows": size}
    if "calculation_period_sec" in service:
        settings["refresh_seconds"] = service["calculation_period_sec"]
    if "min_reference_size" in service:
        comments.append(
            f"service.min_reference_size: {service['min_reference_size']}: no counterpart; modelmon reports "
            "insufficient_data instead of a drift verdict on too few rows"
        )
    if service.get("moving_reference", False):
        raise ConfigError(
            "service.moving_reference: true is not supported: modelmon compares each window with the fixed "
            "reference file; set it to false (or remove it)"
        )
    if "moving_reference" in service:
        comments.append("service.moving_reference: false: the default, the reference stays fixed")
    if service.get("use_reference", True) is not True:
        raise ConfigError(
            "service.use_reference: false is not supported: modelmon needs the reference file to compare "
            "windows with; set it to true (or remove it)"
        )
    if "use_reference" in service:
        comments.append(
            "service.use_reference: true: the default, every model is compared with its reference"
        )
    if "datasets_path" in service:
        comments.append(
            f"service.datasets_path: {service['datasets_path']}: used only to find a dataset's "
            "<datasets_path>/<name>/reference.csv when it has no reference_file"
        )
    return settings


def _columns(mapping: Mapping[str, Any], where: str, comments: list[str]) -> dict[str, Any]:
    _unknown(mapping, _MAPPING_KEYS, f"{where}.column_mapping")
    model: dict[str, Any] = {}
    for old, new in (("numerical_features", "numerical"), ("categorical_features", "categorical")):
        if mapping.get(old) is not None:
            model[new] = list(mapping[old])
    prediction = mapping.get("prediction", "prediction")  # the old ColumnMapping's defaults
    if isinstance(prediction, list | tuple):
        model["probabilities"] = list(prediction)
        model["prediction"] = "prediction"
        comments.append(
            f"{where}.column_mapping.prediction: a list of probability columns became `probabilities`; "
            "send the predicted label in a `prediction` column"
        )
    elif prediction is not None:
        model["prediction"] = str(prediction)
    target = mapping.get("target", "target")
    if target is not None:
        model["target"] = str(target)
    if mapping.get("datetime") is not None:
        model["timestamp"] = str(mapping["datetime"])
    if mapping.get("id") is not None:
        model["id"] = str(mapping["id"])
    if mapping.get("task") is not None:
        model["task"] = str(mapping["task"])
    if mapping.get("pos_label") is not None:
        model["positive_class"] = mapping["pos_label"]
    for key, why in (
        ("target_names", "modelmon labels classes by their values"),
        ("datetime_features", "date features are not monitored for drift"),
        ("text_features", "text columns are not monitored (the old monitors skipped them too)"),
    ):
        if mapping.get(key) is not None:
            comments.append(f"{where}.column_mapping.{key}: no counterpart; {why}")
    return model


def _monitors(value: Any, where: str) -> list[str]:
    monitors = [str(name) for name in (value or [])]
    for name in monitors:
        if name in _UNSUPPORTED_MONITORS:
            raise ConfigError(
                f"{where}.monitors: {name!r} has no old-series counterpart in modelmon; remove it and use "
                f"{_UNSUPPORTED_MONITORS[name]} instead"
            )
        if name not in MONITORS:
            known = sorted({*MONITORS, *_UNSUPPORTED_MONITORS})
            raise ConfigError(f"{where}.monitors: unknown monitor {name!r}; Evidently's monitors: {known}")
    return monitors


def _data_format(value: Any, where: str, comments: list[str]) -> Any:
    """Check the CSV format (modelmon reads ',' with a header line); its ``date_column``, if any."""
    data_format = _mapping(value, f"{where}.data_format")
    _unknown(data_format, {"separator", "header", "date_column"}, f"{where}.data_format")
    if data_format.get("separator", ",") != ",":
        raise ConfigError(
            f"{where}.data_format.separator: {data_format['separator']!r} is not supported: modelmon reads "
            "CSV separated by ',' and parquet; convert the reference file"
        )
    if data_format.get("header", True) is not True:
        raise ConfigError(
            f"{where}.data_format.header: false is not supported: give the reference CSV a header line"
        )
    if data_format:
        comments.append(f"{where}.data_format: ',' and a header line, as modelmon reads CSV")
    return data_format.get("date_column")


#: Evidently's rule (``recognize_task``): a numerical label with at least this many values is a regression
TASK_MIN_VALUES = 5


def _task_from_reference(
    model: Mapping[str, Any],
    dataset: Mapping[str, Any],
    service: Mapping[str, Any],
    name: str,
    base: Path | None,
    comments: list[str],
) -> str:
    """The task of a dataset whose monitors do not say it, told as Evidently told it: from the
    reference's target (else prediction) values; regression when the reference cannot be read."""
    where = f"datasets.{name}"
    reference = (
        dataset.get("reference_file") or f"{service.get('datasets_path', 'datasets')}/{name}/reference.csv"
    )
    if base is not None:
        import pandas as pd  # here: reading a config loads no pandas unless a task must be told

        from modelmon.errors import InputError
        from modelmon.reading.files import file_columns, read_frame

        path = Path(reference) if Path(reference).is_absolute() else base / reference
        try:
            present = set(file_columns(path))
            for label in (model.get("target"), model.get("prediction")):
                if label in present:
                    values = read_frame(path, [label])[label].dropna()
                    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
                    task = (
                        "regression" if numeric and values.nunique() >= TASK_MIN_VALUES else "classification"
                    )
                    comments.append(f"{where}: task {task}, told from the reference's {label!r} values")
                    return task
        except InputError:
            pass
    comments.append(
        f"{where}: task regression, as no monitor says it and the reference's labels were not read"
    )
    return "regression"


def _dataset(
    name: str, data: Any, service: Mapping[str, Any], comments: list[str], base: Path | None = None
) -> dict[str, Any]:
    where = f"datasets.{name}"
    dataset = _mapping(data, where)
    _unknown(dataset, _DATASET_KEYS, where)
    model = _columns(_mapping(dataset.get("column_mapping"), f"{where}.column_mapping"), where, comments)
    if dataset.get("date_column") is not None and "timestamp" not in model:
        model["timestamp"] = str(dataset["date_column"])
    monitors = _monitors(dataset.get("monitors"), where)
    tasks = {MONITORS[name] for name in monitors} - {None}
    if len(tasks) > 1:
        raise ConfigError(f"{where}.monitors: {monitors} mix regression and classification monitors")
    if "task" not in model and tasks:
        model["task"] = tasks.pop()
    elif "task" not in model:
        model["task"] = _task_from_reference(model, dataset, service, name, base, comments)
    elif tasks and model["task"] not in tasks:
        # the old service gave no series for such monitors; say so rather than export nothing
        raise ConfigError(
            f"{where}.column_mapping.task: {model['task']!r} but the monitors {monitors} are for "
            f"{tasks.pop()}: make them agree"
        )
    reference = dataset.get("reference_file")
    if reference is None:
        reference = f"{service.get('datasets_path', 'datasets')}/{name}/reference.csv"
    model["reference"] = str(reference)
    date_column = _data_format(dataset.get("data_format"), where, comments)
    if date_column is not None and "timestamp" not in model:
        model["timestamp"] = str(date_column)
    model["compat"] = {"evidently": monitors}
    return model


def _single_dataset(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The February 2022 layout as the later one: its ``service:`` without the dataset's keys, and
    ``datasets:`` of one dataset (its ``reference_path``, ``monitors``, ``column_mapping`` and
    ``data_format``)."""
    service = dict(_mapping(data.get("service"), "service"))
    dataset: dict[str, Any] = {
        "column_mapping": data.get("column_mapping"),
        "data_format": data.get("data_format"),
        "monitors": service.pop("monitors", None),
    }
    if "reference_path" in service:
        dataset["reference_file"] = service.pop("reference_path")
    return service, {SINGLE_DATASET: dataset}


def translate(data: Any, base: Path | None = None) -> EvidentlyTranslation:
    """The modelmon config equivalent to an Evidently monitoring-service config (parsed YAML).

    ``base`` is the folder reference paths are relative to: when given, a dataset whose monitors
    do not say its task gets it from its reference's labels, as the old service did."""
    if not is_evidently_config(data):
        raise ConfigError("not an Evidently monitoring-service config: expected `datasets:` and `service:`")
    comments: list[str] = []
    service: dict[str, Any]
    datasets: Mapping[str, Any]
    single = set(_mapping(data.get("service"), "service")) & _SINGLE_SERVICE_KEYS or "column_mapping" in data
    if "datasets" not in data and single:  # the February 2022 layout: one dataset, at the top level
        _unknown(data, {"service", "column_mapping", "data_format"}, "config")
        service, datasets = _single_dataset(data)
    else:
        _unknown(data, {"datasets", "service"}, "config")
        service = dict(_mapping(data.get("service"), "service"))
        datasets = _mapping(data.get("datasets"), "datasets")
    shared = _service(service, comments)
    if not datasets:
        raise ConfigError("datasets: no dataset is configured; add one under `datasets:`")
    models = {}
    for name, dataset in datasets.items():
        model = _dataset(str(name), dataset, service, comments, base)
        models[str(name)] = {**model, **copy.deepcopy(shared)}  # no object shared: no YAML anchors
    return EvidentlyTranslation({"models": models}, comments)


def render(translation: EvidentlyTranslation, source: str = "config.yaml") -> str:
    """The translated config as YAML text, each untranslated option a comment on top."""
    lines = [f"# modelmon config translated from Evidently's monitoring-service config {source}"]
    if translation.comments:
        lines.append("# options without a modelmon counterpart:")
        lines += [f"#   {comment}" for comment in translation.comments]
    import yaml  # here: a report reads configs through this module without writing one

    body = yaml.safe_dump(translation.config, sort_keys=False, default_flow_style=None)
    return "\n".join(lines) + "\n" + body


def compat_monitors(value: Any, task: str, where: str) -> tuple[str, ...] | None:
    """The old monitors a model's ``compat:`` asks for: ``evidently`` (those fitting the task) or
    ``{evidently: [monitors]}``; None without ``compat:``.

    >>> compat_monitors("evidently", "regression", "models.taxi.compat")
    ('data_drift', 'num_target_drift', 'regression_performance')
    """
    if value is None:
        return None
    if value == "evidently":
        return tuple(name for name, fits in MONITORS.items() if fits in (None, task))
    if isinstance(value, Mapping) and set(value) == {"evidently"}:
        return tuple(_monitors(value["evidently"], where.removesuffix(".compat")))
    raise ConfigError(f"{where}: expected `evidently` or {{evidently: [monitors]}}, got {value!r}")
