"""What the model-health tests (performance, estimated, segments, fairness) share."""

from __future__ import annotations

import pandas as pd

from modelmon.engine.profile import ProfileSpec
from modelmon.schema import Schema

#: the parts these tests read; the others (an IsolationForest per spec) would only cost time
MODEL_HEALTH_PARTS = ("performance", "estimated", "segments", "fairness")


def fit_spec(reference: pd.DataFrame, schema: Schema) -> ProfileSpec:
    """A spec fitted on ``reference`` with the model-health parts only."""
    return ProfileSpec.fit(reference, schema, parts=MODEL_HEALTH_PARTS)


#: awkward current data every model-health section must handle (JSON out, no crash)
EDGE_CASES = ("empty", "one_row", "no_targets", "constant_predictions", "class_absent")


def edge_case(frame: pd.DataFrame, case: str, task: str) -> pd.DataFrame:
    """``frame`` (columns ``pred`` and ``y``) made into one of :data:`EDGE_CASES`."""
    if case == "empty":
        return frame.iloc[:0]
    if case == "one_row":
        return frame.iloc[:1]
    if case == "no_targets":
        return frame.assign(y=None)
    if case == "constant_predictions":
        return frame.assign(pred=frame["pred"].iloc[0])
    if case == "class_absent":
        return frame[frame["y"] == frame["y"].iloc[0]] if task == "classification" else frame
    raise ValueError(f"unknown edge case {case!r}: use one of {EDGE_CASES}")
