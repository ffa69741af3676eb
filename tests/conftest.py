"""Shared fixtures; the helpers behind them live in ``integration_support``."""

from __future__ import annotations

import pytest

from integration_support import require_binary


@pytest.fixture
def binary():
    """``binary("promtool")`` inside a test: the path, or skip/fail with the reason."""
    return require_binary
