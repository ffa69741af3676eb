"""A reference dataset without the prediction column, as Evidently's service accepted it.

Teams often keep the training data as their reference, which has the features and the target but
no prediction. With a ``model_file`` the reference is scored with the model; without one the
prediction column is left empty, so the prediction's drift and the reference's model metrics say
why they are missing while feature drift and the window's own model metrics work as usual.
Records that carry a prediction are never refused because the reference has none.

>>> import pandas as pd
>>> from modelmon.config import ModelConfig
>>> from modelmon.schema import Schema
>>> config = ModelConfig("taxi", Schema(numerical=["distance"], prediction="duration"))
>>> frame, notes = complete_reference(pd.DataFrame({"distance": [1.0, 2.0]}), config, model=None)
>>> bool(frame["duration"].isna().all()), notes[0].split(": ")[1].split(" (")[0]
(True, "prediction drift and the reference's model metrics are skipped")
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import numpy as np
import pandas as pd

from modelmon.config import ModelConfig

__all__ = ["add_reference_notes", "complete_reference"]


def complete_reference(
    frame: pd.DataFrame, config: ModelConfig, model: Any
) -> tuple[pd.DataFrame, list[str]]:
    """The reference with its prediction column (scored by ``model``, or empty) and notes saying so."""
    prediction = config.schema.prediction
    if prediction is None or prediction in frame.columns:
        return frame, []
    where = f"the reference has no prediction column {prediction!r}"
    if model is not None:
        features = frame[list(config.schema.features)]
        scored = frame.assign(**{prediction: np.asarray(model.predict(features))})
        return scored, [f"{where}: scored with the model file {config.model_file}"]
    empty = frame.assign(**{prediction: pd.Series(np.nan, index=frame.index, dtype=float)})
    if config.schema.task == "classification":
        empty[prediction] = empty[prediction].astype(object)
    return empty, [
        f"{where}: prediction drift and the reference's model metrics are skipped "
        "(add the column, or set model_file to score the reference)"
    ]


def add_reference_notes(sections: MutableMapping[str, Any], notes: list[str]) -> None:
    """Add the notes to the drift and performance sections, where the missing results would be."""
    for name in ("drift", "performance"):
        section = sections.get(name)
        if notes and isinstance(section, MutableMapping):
            section["notes"] = [*section.get("notes", []), *notes]
