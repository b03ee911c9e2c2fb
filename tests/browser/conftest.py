"""Debian's real Chromium, driven by Selenium through Debian's chromedriver: one browser per session.

Headless, sandboxed by Chromium itself where the kernel allows it. The browser talks only to
servers on 127.0.0.1. Tests skip (naming the reason) only when chromium or its driver is absent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP_SIZE = (1280, 900)
PHONE_SIZE = (360, 740)


def chromium_options(profile: Path) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.add_argument("--headless=new")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument("--no-first-run")
    options.add_argument("--disable-background-networking")
    options.add_argument("--disable-component-update")
    options.add_argument("--disable-sync")
    options.add_argument("--lang=en-US")
    options.add_argument(f"--window-size={DESKTOP_SIZE[0]},{DESKTOP_SIZE[1]}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to run its sandbox as root (containers); the tests only visit loopback.
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


def start_chromium(profile: Path) -> webdriver.Chrome:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}); scripts/setup.sh installs them"
        )
    # The driver is Debian's: Selenium Manager must not look for (or download) another.
    os.environ.setdefault("SE_OFFLINE", "true")
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=chromium_options(profile), service=service)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    if shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}; scripts/setup.sh installs it")
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The session's browser at desktop size with its console log emptied; a test may resize it."""
    chromium.set_window_size(*DESKTOP_SIZE)
    chromium.get_log("browser")
    yield chromium
    chromium.set_window_size(*DESKTOP_SIZE)
