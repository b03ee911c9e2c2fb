"""Fixtures of the connector tests: the real Request Tracker is tests/fixtures/rt.py (a plugin)."""

from __future__ import annotations

import pytest

_PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                    "no_proxy")


@pytest.fixture
def no_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy from the machine's environment: the calls under test go straight to the local server."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
