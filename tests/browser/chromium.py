"""Starting Debian's Chromium under Selenium with Debian's chromedriver (tests, docs screenshots, bench)."""

from __future__ import annotations

import os
from pathlib import Path

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


class ChromiumMissingError(RuntimeError):
    """Debian's chromium or chromium-driver is not installed."""


def missing_browser() -> str:
    """Why Chromium cannot be driven here, or "" when it can."""
    absent = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if absent:
        return (
            f"needs Debian's chromium and chromium-driver ({', '.join(absent)} missing); scripts/setup.sh installs them"
        )
    return ""


def start_chromium(profile: Path) -> webdriver.Chrome:
    missing = missing_browser()
    if missing:
        raise ChromiumMissingError(missing)
    # The driver is Debian's: Selenium Manager must not look for (or download) another.
    os.environ.setdefault("SE_OFFLINE", "true")
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=chromium_options(profile), service=service)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver
