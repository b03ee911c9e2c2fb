"""The requester's page: time to first byte and to a loaded page in Chromium, for a ticket with five 4K shots.

Against the real server process on 127.0.0.1, in the same run:

* the JSON API call for the same ticket (``GET /api/v1/tickets/{id}`` with a technician token),
  timed to its first byte and to its last: the peer every other row is a ratio of;
* the page's first byte (``GET /t/{secret}``, the HTML);
* the page loaded in Debian's headless Chromium, cache disabled (every load cold): the browser's
  own navigation timing, first byte and ``loadEventEnd``;
* the five screenshots shown: the page scrolled to them and every image decoded. They are the
  thumbnails (WebP, 480 px), made by the thumbnail worker after the submission, which the bench
  waits for (and times) before measuring; the page links each to the full image;
* the page loaded with all five shots visible: from the navigation's start until the page is
  scrolled to the shots and all five are decoded, as the browser's clock says.

    .venv/bin/python bench/requester_page.py               # 15 runs each
    .venv/bin/python bench/requester_page.py --runs 5      # quicker

Targets (issue 16): first byte ≤ 50 ms, page loaded ≤ 300 ms (thumbnails, never the full images).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.chromium import DESKTOP_SIZE, PHONE_SIZE, start_chromium
from tests.browser.requester_site import RequesterSite
from tests.fixtures.server import ServerProcess

FIRST_BYTE_TARGET_MS = 50.0
LOADED_TARGET_MS = 300.0
SHOTS = 5
SHOT_SIZE = (3840, 2160)


def median(values: list[float]) -> float:
    return statistics.median(values)


def http_timings(url: str, headers: dict[str, str], runs: int) -> tuple[float, float]:
    """Median (first byte, last byte) in ms of ``runs`` GETs on one kept-alive connection, after a warm-up."""
    session = requests.Session()
    session.get(url, headers=headers, timeout=30).raise_for_status()
    first: list[float] = []
    total: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        with session.get(url, headers=headers, timeout=30, stream=True) as response:
            response.raise_for_status()
            first.append((time.perf_counter() - start) * 1000)  # headers in: the first bytes arrived
            response.content  # noqa: B018 - read the body to its end
            total.append((time.perf_counter() - start) * 1000)
    return median(first), median(total)


def browser_timings(browser: Any, url: str, size: tuple[int, int], runs: int) -> dict[str, float]:
    browser.set_window_size(*size)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    navigation = (
        "const n = performance.getEntriesByType('navigation')[0];"
        "return [n.responseStart - n.requestStart, n.loadEventEnd];"
    )
    first: list[float] = []
    loaded: list[float] = []
    shown: list[float] = []
    visible: list[float] = []
    browser.get(url)  # warm-up: the browser's own start-up costs are not the page's
    for _ in range(runs):
        browser.get(url)
        wait(lambda: browser.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd > 0;"))
        ttfb, load_end = browser.execute_script(navigation)
        first.append(float(ttfb))
        loaded.append(float(load_end))
        start = time.perf_counter()
        browser.execute_script("document.querySelector('.shots').scrollIntoView();")
        wait(
            lambda: browser.execute_script(
                "return [...document.querySelectorAll('.shots img')].every(i => i.complete && i.naturalWidth > 0);"
            )
        )
        shown.append((time.perf_counter() - start) * 1000)
        visible.append(float(browser.execute_script(_ALL_SHOWN_AT)))
    # The same, from the navigation's start: a fresh load scrolled to the shots at once.
    for _ in range(runs):
        browser.get(url)
        browser.execute_script("document.querySelector('.shots').scrollIntoView();")
        wait(lambda: browser.execute_script(_ALL_SHOWN_AT) > 0)
        visible.append(float(browser.execute_script(_ALL_SHOWN_AT)))
    return {
        "first": median(first),
        "loaded": median(loaded),
        "shown": median(shown),
        "visible": median(visible[runs:]),
        "thumbnails": float(browser.execute_script(_THUMBNAILS_SHOWN)),
    }


# When the last of the shots finished (ms since the navigation's start, the browser's own resource
# timing), 0 while any is still loading: the moment the person sees all five.
_ALL_SHOWN_AT = (
    "const images = [...document.querySelectorAll('.shots img')];"
    "if (!images.length || !images.every(i => i.complete && i.naturalWidth > 0)) return 0;"
    "const ends = images.map(i => performance.getEntriesByName(i.currentSrc)"
    "  .map(e => e.responseEnd).reduce((a, b) => Math.max(a, b), 0));"
    "return Math.max(performance.getEntriesByType('navigation')[0].loadEventEnd, ...ends);"
)
_THUMBNAILS_SHOWN = (
    "return [...document.querySelectorAll('.shots img')].filter(i => i.src.includes('/thumbs/')).length;"
)


def wait(condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not finish within a minute")
        time.sleep(0.005)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="showdesk-bench-requester-") as scratch:
        root = Path(scratch)
        server = ServerProcess(root / "data", extra_args=["--link-guess-rate", "0"])
        server.start()
        browser = start_chromium(root / "profile")
        try:
            site = RequesterSite(server)
            started = time.perf_counter()
            ticket = site.report(1, shots=SHOTS, size=SHOT_SIZE, grain=True)
            # The worker starts on the submission's commit: time the thumbnails from there.
            submitted = time.perf_counter()
            sizes = [s["image"]["size"] for s in site.detail(ticket)["steps"]]
            print(
                f"ticket {ticket['number']}: {SHOTS} shots of {SHOT_SIZE[0]}x{SHOT_SIZE[1]}, "
                f"{sum(sizes) / 1e6:.1f} MB in all (made and sent in {time.perf_counter() - started:.1f} s)"
            )
            api_first, api_total = http_timings(
                f"{server.api}/tickets/{ticket['id']}", server.auth(site.technician), args.runs
            )
            wait(lambda: requests.get(ticket["url"], timeout=30).text.count("/thumbs/") == SHOTS, timeout=120)
            made_in = time.perf_counter() - submitted
            page_html = requests.get(ticket["url"], timeout=30).text
            base = ticket["url"].split("?")[0].rsplit("/", 1)[0]
            thumbs = re.findall(r'src="([^"]*/thumbs/\d+)', page_html)
            thumb_bytes = sum(len(requests.get(f"{base}/{src}", timeout=30).content) for src in thumbs)
            page_first, page_total = http_timings(ticket["url"], {}, args.runs)
            desktop = browser_timings(browser, ticket["url"], DESKTOP_SIZE, args.runs)
            phone = browser_timings(browser, ticket["url"], PHONE_SIZE, args.runs)
        finally:
            browser.quit()
            server.stop()

    def row(name: str, value: float, target: float | None = None) -> None:
        verdict = "" if target is None else (" ok" if value <= target else f" OVER the target of {target:.0f} ms")
        print(f"  {name:<56} {value:8.1f} ms  {value / api_total:6.2f}x the API call{verdict}")

    print(
        f"thumbnails of the {SHOTS} shots on the page {made_in:.2f} s after the submission (not in the rows "
        f"below): {thumb_bytes / 1e3:.0f} kB in all"
    )
    print(f"medians of {args.runs} runs; the peer: the JSON API call for the same ticket")
    row("JSON API GET /api/v1/tickets/{id}: first byte", api_first)
    row("JSON API GET /api/v1/tickets/{id}: whole answer", api_total)
    row("page GET /t/{secret}: first byte", page_first, FIRST_BYTE_TARGET_MS)
    row("page GET /t/{secret}: whole HTML", page_total)
    for name, timings in (("desktop 1280x900", desktop), ("phone 360x740", phone)):
        row(f"Chromium {name}: first byte", timings["first"], FIRST_BYTE_TARGET_MS)
        row(f"Chromium {name}: page loaded (loadEventEnd)", timings["loaded"], LOADED_TARGET_MS)
        row(f"Chromium {name}: then all five shots shown", timings["shown"])
        row(f"Chromium {name}: loaded, all five shots visible", timings["visible"], LOADED_TARGET_MS)
        assert timings["thumbnails"] == SHOTS, "the page showed the full images, not the thumbnails"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
