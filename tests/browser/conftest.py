"""Debian's real Chromium, driven by Selenium through Debian's chromedriver: one browser per session.

Headless; the browser talks only to servers on 127.0.0.1. Tests skip (naming the reason) only
when chromium or its driver is absent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver

from tests.browser.chromium import DESKTOP_SIZE, missing_browser, start_chromium


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    missing = missing_browser()
    if missing:
        pytest.skip(missing)
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The session's browser at desktop size with its console log emptied; a test may resize it."""
    chromium.set_window_size(*DESKTOP_SIZE)
    chromium.get_log("browser")  # type: ignore[no-untyped-call]
    yield chromium
    chromium.set_window_size(*DESKTOP_SIZE)
