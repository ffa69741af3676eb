"""Column roles of one monitored model.

A :class:`Schema` says which columns are numerical or categorical features, which column holds the
prediction, the probabilities, the target, the id and the timestamp, and which columns define
segments or sensitive groups. It is loaded from the config file or inferred from a DataFrame.

>>> import pandas as pd
>>> frame = pd.DataFrame({"distance": [1.5, 2.0, 3.1], "zone": ["a", "b", "a"], "duration": [7.0, 9.5, 14.0]})
>>> schema = Schema.infer(frame, prediction="duration")
>>> schema.numerical, schema.categorical, schema.task
(('distance',), ('zone',), 'regression')
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from modelmon.errors import SchemaError

__all__ = ["ROLES", "TASKS", "Schema", "looks_like_code", "nested_type", "suggest_column"]

TASKS = ("regression", "classification")
Task = Literal["regression", "classification"]

#: a numerical-looking column with at most this many distinct values is inferred as categorical
INFER_CATEGORICAL_MAX_VALUES = 10
#: an integer column is a code (categorical) when its distinct values are at most this share of the
#: rows and at most INFER_CODE_MAX_VALUES (zone ids among thousands of rides; not ages or amounts)
INFER_CODE_MAX_SHARE = 0.005
INFER_CODE_MAX_VALUES = 50
_CODE_NAME = re.compile(r"(?:ID|Id|_id|^id|code|Code)$")
#: a text column with a distinct value on every row of at least this many rows holds ids, not a feature
ID_LIKE_MIN_ROWS = 20
#: roles naming one column each, then roles naming several, as in the config file and the CLI options
_SINGLE_ROLES = ("prediction", "target", "id", "timestamp")
_MANY_ROLES = ("numerical", "categorical", "probabilities", "segments", "sensitive")
#: every role that names columns
ROLES = (*_MANY_ROLES, *_SINGLE_ROLES, "embeddings")


def nested_type(series: pd.Series) -> str | None:
    """``"struct"`` or ``"list"`` for a column whose values are mappings or sequences (a parquet
    struct or list column), which cannot be profiled as a feature; ``None`` for a column of scalars.

    >>> [nested_type(pd.Series(values)) for values in ([None, {"a": 1}], [[1, 2]], ["x"])]
    ['struct', 'list', None]
    """
    if series.dtype != object:
        return None
    valid = series.dropna()
    if valid.empty:
        return None
    value = valid.iloc[0]
    if isinstance(value, Mapping):
        return "struct"
    if hasattr(value, "__len__") and not isinstance(value, str | bytes):
        return "list"
    return None


def suggest_column(name: str, columns: Iterable[str]) -> str | None:
    """The column of ``columns`` that ``name`` most likely misspells, if any is close.

    >>> suggest_column("progresion", ["age", "bmi", "progression"]), suggest_column("BMI", ["bmi"])
    ('progression', 'bmi')
    >>> suggest_column("zzz", ["age", "bmi"]) is None
    True
    """
    names = [str(column) for column in columns]
    folded = {column.casefold(): column for column in names}
    if name.casefold() in folded:
        return folded[name.casefold()]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _id_like(frame: pd.DataFrame, name: Any) -> bool:
    """Whether a text column has a distinct value on every row of a frame large enough to tell."""
    series = frame[name]
    return (
        len(frame) >= ID_LIKE_MIN_ROWS
        and not pd.api.types.is_numeric_dtype(series)
        and series.nunique() == len(frame)
    )


def looks_like_code(name: str, series: pd.Series) -> bool:
    """Whether an integer column holds codes (zone ids, vendor ids, ...) rather than quantities: its
    name ends like an identifier (``PULocationID``, ``vendor_id``, ``zip_code``) or it has few
    distinct values for its number of rows.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> zones, hours = rng.integers(1, 266, 500), rng.integers(0, 24, 10_000)
    >>> ages = rng.integers(18, 90, 10_000)
    >>> looks_like_code("PULocationID", pd.Series(zones)), looks_like_code("paid", pd.Series(ages))
    (True, False)
    >>> looks_like_code("hour", pd.Series(hours)), looks_like_code("age", pd.Series(ages))
    (True, False)
    """
    if not pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    if _CODE_NAME.search(str(name)):
        return True
    distinct = series.nunique(dropna=True)
    return distinct <= INFER_CATEGORICAL_MAX_VALUES or (
        distinct <= INFER_CODE_MAX_VALUES and distinct <= INFER_CODE_MAX_SHARE * len(series)
    )


def _names(value: Any, role: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    if isinstance(value, Iterable):
        names = tuple(str(name) for name in value)
        return names
    raise SchemaError(f"{role}: expected a list of column names, got {value!r}")


def _embedding_sets(value: Any) -> dict[str, tuple[str, ...]]:
    """``{name: (columns...)}`` from the config's ``embeddings`` mapping, or an error naming the set."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SchemaError(f"embeddings: expected a mapping of set name -> list of columns, got {value!r}")
    sets = {str(name): _names(columns, f"embeddings.{name}") for name, columns in value.items()}
    for name, columns in sets.items():
        if not columns:
            raise SchemaError(f"embeddings.{name}: expected at least one column")
    return sets


@dataclass(frozen=True)
class Schema:
    """Roles of the columns of one model's data.

    ``probabilities`` names the probability columns: one column (the positive class) for a binary
    classifier, or one column per class. ``positive_class`` is the label treated as positive for
    precision, recall, F1 and selection rates. ``embeddings`` maps a set's name to its columns (one
    coordinate each, or one column of equal-length vectors); a set's drift is tested on the space
    as a whole (``drift.embeddings``), its columns need not be features too.
    """

    task: Task = "regression"
    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    prediction: str | None = None
    probabilities: tuple[str, ...] = ()
    target: str | None = None
    id: str | None = None
    timestamp: str | None = None
    segments: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    positive_class: Any = 1
    extra: Mapping[str, Any] = field(default_factory=dict)
    embeddings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise SchemaError(f"task: {self.task!r} is not one of {', '.join(TASKS)}")
        for role in ("numerical", "categorical", "probabilities", "segments", "sensitive"):
            object.__setattr__(self, role, _names(getattr(self, role), role))
        both = set(self.numerical) & set(self.categorical)
        if both:
            raise SchemaError(f"columns {sorted(both)} are listed as both numerical and categorical")
        for role in ("prediction", "target", "id", "timestamp"):
            value = getattr(self, role)
            if value is not None and not isinstance(value, str):
                raise SchemaError(f"{role}: expected one column name, got {value!r}")
        object.__setattr__(self, "embeddings", _embedding_sets(self.embeddings))

    @property
    def features(self) -> tuple[str, ...]:
        """Feature columns, numerical first."""
        return self.numerical + self.categorical

    @property
    def monitored_columns(self) -> tuple[str, ...]:
        """Every column whose distribution is profiled: features, prediction, probabilities, target."""
        extra = [self.prediction, *self.probabilities, self.target]
        seen = dict.fromkeys(self.features)
        for name in extra:
            if name is not None:
                seen.setdefault(name)
        return tuple(seen)

    def kind(self, column: str) -> Literal["numerical", "categorical"]:
        """Whether ``column`` is profiled as numerical or categorical."""
        if column in self.numerical or column in self.probabilities:
            return "numerical"
        if column in self.categorical:
            return "categorical"
        if column in (self.prediction, self.target):
            return "numerical" if self.task == "regression" else "categorical"
        raise SchemaError(f"column {column!r} is not part of the schema")

    @property
    def named_columns(self) -> tuple[str, ...]:
        """Every column the schema names: monitored ones, segments, sensitive groups, id and timestamp."""
        names = [*self.monitored_columns, *self.segments, *self.sensitive]
        names += [name for name in (self.id, self.timestamp) if name]
        names += [name for columns in self.embeddings.values() for name in columns]
        return tuple(dict.fromkeys(names))

    def required_columns(self) -> tuple[str, ...]:
        """Columns every profiled frame must have (target, segments and sensitive may be missing)."""
        names = [*self.features]
        if self.prediction:
            names.append(self.prediction)
        return tuple(names)

    def check(self, columns: Iterable[str]) -> dict[str, list[str]]:
        """Compare a frame's columns with the schema: ``{"missing": [...], "unexpected": [...]}``."""
        present = list(columns)
        expected = set(self.named_columns)
        missing = [name for name in self.monitored_columns if name not in present]
        unexpected = [name for name in present if name not in expected]
        return {"missing": missing, "unexpected": unexpected}

    def check_columns(
        self,
        columns: Iterable[str],
        *,
        data: str = "the reference",
        unsupported: Mapping[str, str] | None = None,
        roles: Iterable[str] = ROLES,
    ) -> None:
        """Raise a :class:`SchemaError` naming each role (of ``roles``) whose column ``data`` does
        not have (with the closest column it has), or whose column holds values of an
        ``unsupported`` type (column -> type, such as a parquet struct): a misspelt ``target`` must
        not pass as "no labels".

        >>> Schema(numerical=["bmi"], target="progresion").check_columns(["bmi", "progression"])
        Traceback (most recent call last):
        ...
        modelmon.errors.SchemaError: target 'progresion': the reference has no such column (did you mean \
'progression'?); its columns: bmi, progression
        """
        present = [str(name) for name in columns]
        known = set(present)
        unsupported = unsupported or {}
        embedded = {name for names in self.embeddings.values() for name in names}
        problems = []
        for role in roles:
            value = getattr(self, role)
            if role == "embeddings":
                names = tuple(name for names in value.values() for name in names)
            else:
                names = (value,) if isinstance(value, str) else value or ()
            for name in names:
                if name not in known:
                    close = suggest_column(name, present)
                    hint = f" (did you mean {close!r}?)" if close else ""
                    problems.append(f"{role} {name!r}: {data} has no such column{hint}")
                elif name in unsupported and name not in embedded:
                    problems.append(
                        f"{role} {name!r}: a {unsupported[name]} column, which cannot be monitored as "
                        "a number or a category; leave it out of the schema"
                    )
        if problems:
            shown = ", ".join(present[:30]) + (f", ... ({len(present)} in all)" if len(present) > 30 else "")
            raise SchemaError(f"{'; '.join(problems)}; its columns: {shown or 'none'}")

    def with_overrides(self, **overrides: Any) -> Schema:
        """A copy with some roles replaced (``None`` values are ignored)."""
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as in the config file."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        data["extra"] = dict(self.extra)
        data["embeddings"] = {name: list(columns) for name, columns in self.embeddings.items()}
        return data

    def to_config_text(self) -> str:
        """The roles that are set, as a model's section of the config file (to paste and correct).

        >>> schema = Schema(numerical=["distance"], categorical=["zone"], prediction="duration")
        >>> print(schema.to_config_text())
        task: regression
        numerical: [distance]
        categorical: [zone]
        prediction: duration
        """
        lines = [f"task: {self.task}"]
        for role in ("numerical", "categorical", "prediction", "probabilities", "target", "id", "timestamp",
                     "segments", "sensitive"):  # fmt: skip
            value = getattr(self, role)
            if isinstance(value, tuple) and value:
                lines.append(f"{role}: [{', '.join(value)}]")
            elif isinstance(value, str):
                lines.append(f"{role}: {value}")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Build from the model section of the config file (unknown keys are an error)."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(f"unknown schema keys {sorted(unknown)}; valid keys: {sorted(known)}")
        return cls(**{key: value for key, value in data.items() if key in known})

    @classmethod
    def infer(
        cls,
        frame: pd.DataFrame,
        *,
        prediction: str | None = None,
        target: str | None = None,
        task: Task | None = None,
        exclude: Iterable[str] = (),
        floats: Sequence[str] = (),
        only_given: bool = False,
        **roles: Any,
    ) -> Schema:
        """Infer roles from dtypes: numbers with many values are numerical, the rest categorical;
        integer codes (see :func:`looks_like_code`) are categorical. Text with a distinct value on
        every row (ids), dates and struct or list columns are not features.

        Explicit roles (``numerical=[...]``, ``id=...``) override what is inferred: the columns
        given as ``numerical`` or ``categorical`` take that role and the other columns are still
        inferred, unless ``only_given`` (then the features are the given ones only). ``floats``
        names float columns of the data left out of ``frame`` because their values decide nothing
        (they are numerical); they are taken in the order given, after the frame's own columns.

        >>> frame = pd.DataFrame({"sex": [1, 2] * 15, "bmi": [20.5 + i for i in range(30)]})
        >>> Schema.infer(frame, categorical=["sex"]).numerical
        ('bmi',)
        >>> Schema.infer(frame, categorical=["sex"], only_given=True).numerical
        ()
        >>> Schema.infer(pd.DataFrame({"zone": ["a", "b"]}), floats=["fare"]).numerical
        ('fare',)
        """
        given = {
            **dict.fromkeys(_names(roles.pop("numerical", None), "numerical"), "numerical"),
            **dict.fromkeys(_names(roles.pop("categorical", None), "categorical"), "categorical"),
        }
        inferring = not (only_given and given)
        taken = set(exclude) | {prediction, target}
        for value in roles.values():
            taken |= set(_names(value, "role")) if not isinstance(value, str) else {value}
        # embedding coordinates are tested as a space, not inferred as numerical features
        taken |= {
            column for columns in _embedding_sets(roles.get("embeddings")).values() for column in columns
        }
        features: dict[str, list[str]] = {"numerical": [], "categorical": []}
        left_out = [name for name in floats if name not in frame.columns]
        for name in [*frame.columns, *left_out, *given]:
            if name in given:
                if str(name) not in features[given[name]]:
                    features[given[name]].append(str(name))
                continue
            if name in taken or not inferring:
                continue
            if name in left_out:
                features["numerical"].append(str(name))
                continue
            series = frame[name]
            if pd.api.types.is_datetime64_any_dtype(series) or nested_type(series) or _id_like(frame, name):
                continue
            few_integers = looks_like_code(str(name), series)
            is_number = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
            features["numerical" if is_number and not few_integers else "categorical"].append(str(name))
        if task is None and roles.get("probabilities"):
            task = "classification"
        if task is None:
            task = "regression"
            label = target or prediction
            if label is not None and label in frame.columns:
                series = frame[label]
                if not pd.api.types.is_float_dtype(series) or series.nunique(dropna=True) <= 2:
                    task = "classification"
        inferred: dict[str, Any] = dict(features)
        inferred.update({key: value for key, value in roles.items() if value is not None})
        return cls(task=task, prediction=prediction, target=target, **inferred)
