"""What a report section declares, in one place: :class:`Section`.

A section module (``modelmon/sections/<name>.py``) builds one ``Section``: its name (the report key),
the profile parts it reads, how it computes its result from the reference and current profiles, the
Prometheus series it exports, its HTML fragment, and whether the monitoring service runs it online.
The registry (:data:`modelmon.sections.REGISTRY`) lists the sections; report assembly, the window
recompute, the collector and the HTML page iterate it. A section module never imports the registry.

>>> toy = Section("toy", compute=lambda inputs: {"rows": inputs.current.rows})
>>> toy.name, toy.parts, toy.reads_rows, toy.online, toy.series is None
('toy', (), False, False, True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelmon.engine.report import ReportInputs

__all__ = ["Compute", "Fragment", "Gauge", "Section", "Series", "imported", "mapping"]

#: the section's result (a JSON-ready dict) from the reference and current profiles and samples
Compute = Callable[["ReportInputs"], dict[str, Any]]
#: ``gauge(name, documentation, labels, value)``: one sample of a gauge (not exported unless finite)
Gauge = Callable[[str, str, Mapping[str, str], Any], None]
#: ``series(gauge, model, result)``: the section's Prometheus samples from its result
Series = Callable[[Gauge, str, Mapping[str, Any]], None]
#: ``fragment(result, report)``: the section's HTML (the whole report is there for shared parts)
Fragment = Callable[[dict[str, Any], Mapping[str, Any]], str]


@dataclass(frozen=True)
class Section:
    """One report section, declared once."""

    #: the report key of the section's result
    name: str
    #: the result from the inputs of a report or a window
    compute: Compute
    #: the model-level profile parts (:data:`modelmon.engine.parts.PART_TYPES`) it reads
    parts: tuple[str, ...] = ()
    #: whether it reads the bounded samples of raw rows (the others read profiles and counts)
    reads_rows: bool = False
    #: whether the monitoring service computes it on each window recompute
    online: bool = False
    #: its Prometheus samples; ``None``: it exports none
    series: Series | None = None
    #: its HTML fragment; ``None``: it is drawn generically as tables
    fragment: Fragment | None = None


def imported(path: str) -> Callable[..., Any]:
    """The function ``module:function``, imported on its first call.

    Sections are imported when first run, so a report of a few sections does not load the modules
    (scikit-learn, scipy.stats) of the others.

    >>> imported("math:sqrt")(9.0)
    3.0
    """
    module_name, _, function_name = path.partition(":")

    def function(*arguments: Any) -> Any:
        return getattr(importlib.import_module(module_name), function_name)(*arguments)

    function.__name__ = function.__qualname__ = function_name
    return function


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one: results are read without trusting their shape.

    >>> mapping({"a": 1}), mapping(None)
    ({'a': 1}, {})
    """
    return value if isinstance(value, Mapping) else {}
