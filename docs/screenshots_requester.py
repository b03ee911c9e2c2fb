"""Make the requester page's screenshots in docs/: each state, on a desktop and on a 360 px phone.

    .venv/bin/python docs/screenshots_requester.py [--out docs] [--only STATE ...]

Starts a real server on loopback with a throw-away data directory, files reports through the
API a kiosk uses, acts as a technician through the API technician mode uses, and photographs
the page in Debian's headless Chromium (the same set-up as tests/browser). Writes
docs/requester-<state>-<desktop|phone>.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.browser.chromium import DESKTOP_SIZE, PHONE_SIZE, start_chromium  # noqa: E402
from tests.browser.requester_site import RequesterSite, photo_jpeg  # noqa: E402
from tests.fixtures.server import ServerProcess  # noqa: E402

WAIT_SECONDS = 15
STATES = ("queue", "queue-de", "waiting", "answered", "resolved", "not-found", "clip")
# The clip's frame the screenshot shows, stepped to with the page's own buttons.
CLIP_FRAME = 5


def shoot(
    browser: webdriver.Chrome,
    url: str,
    out: Path,
    state: str,
    *,
    phone_only: bool = False,
    show: str = "",
    act: Callable[[webdriver.Chrome], None] | None = None,
) -> list[Path]:
    """Photograph ``url`` at each size; ``show``: a CSS selector scrolled to the bottom of the view;
    ``act``: what the person does on the page before the picture."""
    made = []
    sizes = [("phone", PHONE_SIZE)] if phone_only else [("desktop", DESKTOP_SIZE), ("phone", PHONE_SIZE)]
    for name, (width, height) in sizes:
        browser.set_window_size(width, height)
        browser.get(url)
        # Screenshots in view have loaded, so the picture shows the page as a person sees it.
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda b: b.execute_script(
                "return document.readyState === 'complete' && [...document.images].every("
                "i => i.getBoundingClientRect().top > innerHeight || (i.complete && i.naturalWidth > 0));"
            )
        )
        if show:
            browser.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'end'});", show)
        if act is not None:
            act(browser)
        path = out / f"requester-{state}-{name}.png"
        path.write_bytes(browser.get_screenshot_as_png())
        made.append(path)
    return made


def shoot_clip(browser: webdriver.Chrome, site: RequesterSite, out: Path) -> list[Path]:
    """A report with a clip, stepped to one frame with the page's own buttons (the clip, scrolled into view)."""
    ticket, _data = site.report_with_clip(
        6, frames=12, description="Printing from the browser hangs: the dialog never finishes."
    )

    def step_to_a_frame(b: webdriver.Chrome) -> None:
        wait = WebDriverWait(b, WAIT_SECONDS)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "li.clip").get_attribute("data-steppable"))
        clip = b.find_element(By.CSS_SELECTOR, "li.clip")
        forward = clip.find_element(By.CSS_SELECTOR, ".clip-forward")
        for frame in range(CLIP_FRAME):
            forward.click()
            shown = str(frame)
            wait.until(lambda _d: clip.get_attribute("data-frame") == shown)  # noqa: B023 - waited for at once
        b.execute_script("document.querySelector('li.clip').scrollIntoView({block: 'end'});")

    return shoot(browser, ticket["url"], out, "clip", act=step_to_a_frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--only", nargs="+", choices=STATES, help="make these states' pictures only")
    args = parser.parse_args()
    out: Path = args.out
    wanted = set(args.only or STATES)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="showdesk-requester-shots-") as scratch:
        root = Path(scratch)
        server = ServerProcess(root / "data", extra_args=["--link-guess-rate", "0", "--answer-rate", "0"])
        server.start()
        browser = start_chromium(root / "profile")
        made: list[Path] = []
        try:
            site = RequesterSite(server)
            if "clip" in wanted:
                made += shoot_clip(browser, site, out)
            # Two people ahead in the walk-up queue, then the person whose page is shown.
            for seed in (1, 2):
                site.report(seed, walk_up=True, site="north", kind="kiosk", reporter_name=f"Person {seed}", shots=1)
            walk_up = site.report(
                3,
                walk_up=True,
                site="north",
                kind="kiosk",
                shots=2,
                description="The label printer at the front desk prints blank labels.",
            )
            if "queue" in wanted:
                made += shoot(browser, walk_up["url"], out, "queue")
            german = site.report(
                4,
                language="de",
                walk_up=True,
                site="north",
                kind="kiosk",
                shots=1,
                description="Der Drucker im 2. Stock meldet einen Papierstau.",
            )
            if "queue-de" in wanted:
                made += shoot(browser, german["url"], out, "queue-de", phone_only=True)

            ticket = site.report(
                5, shots=3, description="Outlook says 'Disconnected' since this morning; the web mail works."
            )
            site.tech("POST", f"/tickets/{ticket['id']}/assign", json={"assignee": "me"})
            site.reply(ticket, "Thanks! Does it still say Disconnected after a restart of Outlook?")
            site.status(ticket, "waiting")
            if "waiting" in wanted:
                made += shoot(browser, ticket["url"], out, "waiting")

            browser.set_window_size(*PHONE_SIZE)
            browser.get(ticket["url"])
            photo = root / "IMG_2041.jpg"
            photo.write_bytes(photo_jpeg(seed=5))
            browser.find_element(By.ID, "answer-text").send_keys("Yes, still. This is what it shows:")
            browser.find_element(By.ID, "answer-photos").send_keys(str(photo))
            browser.find_element(By.CSS_SELECTOR, "form.answer button[type=submit]").click()
            WebDriverWait(browser, WAIT_SECONDS).until(lambda b: "answer was sent" in b.page_source)
            if "answered" in wanted:
                made += shoot(browser, browser.current_url, out, "answered", show="#timeline li:last-child")

            site.reply(ticket, "Your mailbox was over its quota; we raised it. It should connect now.")
            site.status(ticket, "resolved")
            if "resolved" in wanted:
                made += shoot(browser, ticket["url"], out, "resolved")
            if "not-found" in wanted:
                made += shoot(browser, f"{server.url}/t/this-link-does-not-exist", out, "not-found", phone_only=True)
        finally:
            browser.quit()
            server.stop()
    for path in made:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
