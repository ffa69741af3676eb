"""The engine's view of the section registry (:mod:`modelmon.sections`): which sections exist,
which profile parts a choice of sections reads, and whether it needs samples of raw rows.

A report of a few sections (``modelmon report --sections drift``) fits only the parts they read and
keeps row samples only when one of them reads rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from modelmon import sections as registry
from modelmon.errors import InputError

__all__ = ["check_sections", "parts_for", "reads_rows", "section_names"]


def section_names() -> tuple[str, ...]:
    """The report keys of the registered sections, in report order.

    >>> section_names()[:3]
    ('drift', 'quality', 'performance')
    """
    return tuple(section.name for section in registry.REGISTRY)


def reads_rows(sections: Iterable[str] | None) -> bool:
    """Whether ``sections`` (``None``: all) need samples of raw rows kept.

    >>> reads_rows(["drift", "quality"]), reads_rows(["drift", "explain"]), reads_rows(None)
    (False, True, True)
    """
    if sections is None:
        return True
    chosen = set(sections)
    return any(section.reads_rows for section in registry.REGISTRY if section.name in chosen)


def check_sections(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, or an error naming those that are not sections.

    >>> check_sections(["drift", "quality"])
    ('drift', 'quality')
    >>> check_sections(["drift", "speed"])
    Traceback (most recent call last):
    ...
    modelmon.errors.InputError: unknown report section(s) ['speed']; the sections are drift, quality, \
performance, segments, fairness, outliers, explain, concept, multivariate
    """
    names = tuple(names)
    known = section_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(f"unknown report section(s) {unknown}; the sections are {', '.join(known)}")
    return names


def parts_for(sections: Iterable[str] | None) -> tuple[str, ...] | None:
    """The profile parts ``sections`` read (``None``, every section, reads every part).

    >>> parts_for(["drift", "concept", "performance"])
    ('performance', 'estimated', 'dle')
    """
    if sections is None:
        return None
    declared = registry.named()
    parts = [part for name in check_sections(sections) for part in declared[name].parts]
    return tuple(dict.fromkeys(parts))
