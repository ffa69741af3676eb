"""Each model's section series, rendered as Prometheus text once per result.

A model's section series (drift, quality, performance, segments...: about 200 for the demo taxi
model) change only when its window is recomputed, and a model without new events is not
recomputed. Rendering every series of every model at each scrape took 3.1 s for 200 models
(40,144 series) on a loaded machine; :class:`RenderedSeries` renders a model's series once per
result (with prometheus_client's own text format, so the lines are the ones ``generate_latest``
writes) and a scrape joins the rendered lines, each metric family once with its ``# HELP`` and
``# TYPE``. What it keeps is bounded by the models and their series: one rendering per model,
replaced when its result is.

>>> rendered = RenderedSeries()
>>> rendered.update("m", {"current_rows": 12})
>>> print(rendered.text(["m"]).decode().strip())
# HELP modelmon_window_rows Events in the current window.
# TYPE modelmon_window_rows gauge
modelmon_window_rows{model="m"} 12.0
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from modelmon.service.collector import section_series

__all__ = ["RenderedSeries"]


@dataclass(frozen=True)
class _Rendering:
    result: Mapping[str, Any]
    #: family name -> (its "# HELP" and "# TYPE" lines, its sample lines)
    families: dict[str, tuple[str, str]]


class _OneModel(Collector):
    def __init__(self, model: str, result: Mapping[str, Any]) -> None:
        self.model, self.result = model, result

    def collect(self) -> Iterator[Any]:
        return section_series(self.model, self.result)


def _render(model: str, result: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OneModel(model, result))
    families: dict[str, tuple[str, str]] = {}
    head: list[str] = []
    lines: list[str] = []
    name = ""
    # a family is its "# HELP" and "# TYPE" lines, then its samples (which never start with "#":
    # a label value's newline is written escaped)
    text = generate_latest(registry).decode()
    for line in (f"{line}\n" for line in text.split("\n")[:-1]):  # only "\n" ends a line of the format
        if line.startswith("# HELP "):
            if name:
                families[name] = ("".join(head), "".join(lines))
            name, head, lines = line.split(" ", 3)[2], [line], []
        elif line.startswith("#"):
            head.append(line)
        else:
            lines.append(line)
    if name:
        families[name] = ("".join(head), "".join(lines))
    return families


class RenderedSeries:
    """The latest rendering of each model's section series (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._renderings: dict[str, _Rendering] = {}

    def update(self, model: str, result: Mapping[str, Any] | None) -> None:
        """Render ``model``'s series from ``result`` unless its latest rendering is of that result.

        Results are replaced whole, never changed: the same object is the same series."""
        if result is None:
            return
        with self._lock:
            held = self._renderings.get(model)
        if held is not None and held.result is result:
            return
        rendering = _Rendering(result, _render(model, result))
        with self._lock:
            self._renderings[model] = rendering

    def text(self, models: Iterable[str]) -> bytes:
        """The exposition of ``models``' rendered series: each family once, the models in order."""
        with self._lock:
            renderings = [self._renderings[model] for model in models if model in self._renderings]
        heads: dict[str, str] = {}
        samples: dict[str, list[str]] = {}
        for rendering in renderings:
            for name, (head, lines) in rendering.families.items():
                if name not in heads:
                    heads[name], samples[name] = head, []
                samples[name].append(lines)
        return "".join(heads[name] + "".join(samples[name]) for name in heads).encode()
