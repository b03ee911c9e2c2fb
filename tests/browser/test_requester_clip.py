"""A clip on the requester's page, in Debian's real Chromium against the real server process.

The clip plays as an animated image (no script needed); where the browser has WebCodecs'
ImageDecoder, the page's own script steps it frame by frame on a canvas, and each stepped frame
is exactly the frame Pillow decodes from the same file. The page's strict CSP stays unbroken.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from PIL import Image, ImageChops
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.chromium import DESKTOP_SIZE, PHONE_SIZE
from tests.browser.requester_site import RequesterSite
from tests.fixtures.server import ServerProcess

WAIT_SECONDS = 15
FRAMES = 12
SIZES = pytest.mark.parametrize("size", [DESKTOP_SIZE, PHONE_SIZE], ids=["desktop", "phone"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RequesterSite]:
    server = ServerProcess(
        tmp_path_factory.mktemp("requester-clip") / "data",
        extra_args=["--link-guess-rate", "0", "--answer-rate", "0"],
    )
    try:
        yield RequesterSite(server.start())
    finally:
        server.stop()


@pytest.fixture(scope="module")
def clip_ticket(site: RequesterSite) -> tuple[dict[str, Any], bytes]:
    return site.report_with_clip(31, frames=FRAMES)


def wait_for(browser: webdriver.Chrome, condition: Any, what: str) -> Any:
    return WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.05).until(condition, message=what)


def csp_violations(browser: webdriver.Chrome) -> list[str]:
    entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in entries if "Content Security Policy" in entry["message"]]


def pillow_frame(data: bytes, index: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as clip:
        clip.seek(index)
        return clip.convert("RGB")


def canvas_image(browser: webdriver.Chrome) -> Image.Image:
    url: str = browser.execute_script("return document.querySelector('li.clip canvas').toDataURL('image/png');")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")


def shown_frame(browser: webdriver.Chrome) -> str | None:
    value: str | None = browser.find_element(By.CSS_SELECTOR, "li.clip").get_attribute("data-frame")
    return value


def step_to(browser: webdriver.Chrome, button: str, frame: int) -> None:
    browser.find_element(By.CSS_SELECTOR, f"li.clip .clip-{button}").click()
    wait_for(browser, lambda b: shown_frame(b) == str(frame), f"frame {frame} on the canvas")


@SIZES
def test_the_clip_is_on_the_page_and_plays(
    site: RequesterSite, clip_ticket: tuple[dict[str, Any], bytes], browser: webdriver.Chrome, size: tuple[int, int]
) -> None:
    ticket, _data = clip_ticket
    browser.set_window_size(*size)
    browser.get(ticket["url"])
    image = browser.find_element(By.CSS_SELECTOR, "li.clip img.clip-image")
    browser.execute_script("arguments[0].scrollIntoView();", image)
    wait_for(browser, lambda b: b.execute_script("return arguments[0].naturalWidth;", image) == 640, "the clip loads")
    caption = browser.find_element(By.CSS_SELECTOR, "li.clip figcaption").text
    assert caption == f"The print dialog that never finishes · 2.4 s, {FRAMES} frames"
    # It plays: what the browser paints of the image changes by itself.
    first = image.screenshot_as_png
    wait_for(browser, lambda b: image.screenshot_as_png != first, "the animated clip moves on by itself")
    viewport = browser.execute_script("return document.documentElement.clientWidth;")
    widest = browser.execute_script("return document.documentElement.scrollWidth;")
    assert widest <= viewport, f"the page is {widest} px wide in a {viewport} px viewport"
    assert image.rect["width"] <= viewport
    assert csp_violations(browser) == []


@SIZES
def test_stepping_moves_exactly_one_frame_and_shows_that_frame(
    site: RequesterSite, clip_ticket: tuple[dict[str, Any], bytes], browser: webdriver.Chrome, size: tuple[int, int]
) -> None:
    ticket, data = clip_ticket
    browser.set_window_size(*size)
    browser.get(ticket["url"])
    wait_for(
        browser,
        lambda b: b.find_element(By.CSS_SELECTOR, "li.clip").get_attribute("data-steppable") == str(FRAMES),
        "the page's script can step the clip",
    )
    controls = browser.find_element(By.CSS_SELECTOR, "li.clip .clip-controls")
    assert controls.is_displayed()
    for button in controls.find_elements(By.TAG_NAME, "button"):
        assert button.size["height"] >= 44 and button.size["width"] >= 44, "touch-sized buttons"

    step_to(browser, "forward", 0)  # from the playing image: the first frame
    assert ImageChops.difference(canvas_image(browser), pillow_frame(data, 0)).getbbox() is None
    step_to(browser, "forward", 1)
    assert ImageChops.difference(canvas_image(browser), pillow_frame(data, 1)).getbbox() is None
    assert canvas_image(browser) != pillow_frame(data, 0)
    assert browser.find_element(By.CSS_SELECTOR, "li.clip .clip-position").text == f"Frame 2 of {FRAMES}"
    assert not browser.find_element(By.CSS_SELECTOR, "li.clip img.clip-image").is_displayed()
    step_to(browser, "back", 0)
    assert ImageChops.difference(canvas_image(browser), pillow_frame(data, 0)).getbbox() is None
    browser.find_element(By.CSS_SELECTOR, "li.clip .clip-forward").send_keys(".")
    wait_for(browser, lambda b: shown_frame(b) == "1", "the . key steps one frame on")
    browser.find_element(By.CSS_SELECTOR, "li.clip .clip-forward").send_keys(",")
    wait_for(browser, lambda b: shown_frame(b) == "0", "the , key steps one frame back")
    step_to(browser, "back", 0)  # it stops at the first frame
    # The last frame, one step at a time, is the file's last frame too.
    for frame in range(1, FRAMES):
        step_to(browser, "forward", frame)
    assert ImageChops.difference(canvas_image(browser), pillow_frame(data, FRAMES - 1)).getbbox() is None

    browser.find_element(By.CSS_SELECTOR, "li.clip .clip-play").send_keys(Keys.ENTER)
    wait_for(browser, lambda b: shown_frame(b) is None, "Play shows the playing image again")
    assert browser.find_element(By.CSS_SELECTOR, "li.clip img.clip-image").is_displayed()
    assert csp_violations(browser) == []


def test_without_image_decoder_the_clip_plays_and_offers_no_stepping(
    site: RequesterSite, clip_ticket: tuple[dict[str, Any], bytes], browser: webdriver.Chrome
) -> None:
    ticket, _data = clip_ticket
    # A browser without WebCodecs' ImageDecoder (older Safari, Firefox before 133).
    added = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.ImageDecoder;"})
    try:
        browser.get(ticket["url"])
        image = browser.find_element(By.CSS_SELECTOR, "li.clip img.clip-image")
        browser.execute_script("arguments[0].scrollIntoView();", image)
        first = image.screenshot_as_png
        wait_for(browser, lambda b: image.screenshot_as_png != first, "the animated clip plays without stepping")
        assert not browser.find_element(By.CSS_SELECTOR, "li.clip .clip-controls").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "li.clip").get_attribute("data-steppable") is None
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]})
    assert csp_violations(browser) == []


def test_the_clip_is_served_through_the_link_like_a_screenshot(
    site: RequesterSite, clip_ticket: tuple[dict[str, Any], bytes]
) -> None:
    ticket, data = clip_ticket
    page = requests.get(ticket["url"], timeout=10)
    assert page.status_code == 200
    clip_src = page.text.split('class="clip-image" src="', 1)[1].split('"', 1)[0]
    shot_href = page.text.split('<ul class="shots">', 1)[1].split('<a href="', 1)[1].split('"', 1)[0]
    secret = urlsplit(ticket["url"]).path.rsplit("/", 1)[1]
    assert clip_src.startswith(f"{secret}/files/"), "the same capability route as the screenshots"
    clip = requests.get(urljoin(ticket["url"], clip_src), timeout=10)
    shot = requests.get(urljoin(ticket["url"], shot_href), timeout=10)
    assert clip.status_code == 200 and clip.content == data
    assert clip.headers["content-type"] == "image/webp"
    for header in ("Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options", "Cache-Control"):
        assert clip.headers[header] == shot.headers[header], header
    assert clip.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # Another ticket's link does not open this clip.
    other = site.report(32, shots=1)
    other_secret = urlsplit(other["url"]).path.rsplit("/", 1)[1]
    elsewhere = requests.get(urljoin(other["url"], clip_src.replace(secret, other_secret, 1)), timeout=10)
    assert elsewhere.status_code == 404
    script = requests.get(urljoin(ticket["url"], "../static/clips.js"), timeout=10)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


def test_a_page_without_clips_loads_no_clip_script(site: RequesterSite) -> None:
    ticket = site.report(33, shots=1)
    page = requests.get(ticket["url"], timeout=10)
    assert "clips.js" not in page.text and 'class="clips"' not in page.text
