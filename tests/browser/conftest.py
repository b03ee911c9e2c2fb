"""The page tests' browser: the session's one Chromium (tests/fixtures/chromium.py) at a known size."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver

from tests.browser.chromium import DESKTOP_SIZE


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The session's browser at desktop size with its console log emptied; a test may resize it."""
    chromium.set_window_size(*DESKTOP_SIZE)
    chromium.get_log("browser")  # type: ignore[no-untyped-call]
    yield chromium
    chromium.set_window_size(*DESKTOP_SIZE)
