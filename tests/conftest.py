"""Shared fixtures; the helpers behind them live in ``integration_support``."""

from __future__ import annotations

import pytest
from hypothesis import settings

from integration_support import REQUIRE_INTEGRATION, require_binary

# CI runs the same examples every time, so a run fails on a change, not on the draw; runs elsewhere keep
# exploring new examples (and print the seed of a failure, to add as a case)
settings.register_profile("ci", derandomize=True, print_blob=True)
if REQUIRE_INTEGRATION:
    settings.load_profile("ci")


@pytest.fixture
def binary():
    """``binary("promtool")`` inside a test: the path, or skip/fail with the reason."""
    return require_binary
