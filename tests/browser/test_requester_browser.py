"""The requester's page in Debian's real Chromium against the real server process.

One server and one browser for the module's tests; each test makes its own tickets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.chromium import PHONE_SIZE
from tests.browser.requester_site import RequesterSite, photo_jpeg
from tests.fixtures.server import ServerProcess

WAIT_SECONDS = 15


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RequesterSite]:
    server = ServerProcess(
        tmp_path_factory.mktemp("requester-browser") / "data",
        extra_args=["--link-guess-rate", "0", "--answer-rate", "0"],
    )
    try:
        yield RequesterSite(server.start())
    finally:
        server.stop()


def wait_for(browser: webdriver.Chrome, condition: Any, what: str) -> Any:
    return WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.05).until(condition, message=what)


def text_of(browser: webdriver.Chrome, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def loaded_images(browser: webdriver.Chrome, css: str) -> list[tuple[int, int]]:
    """(naturalWidth, naturalHeight) of the images that finished loading, after scrolling them into view."""
    result: list[list[int]] = browser.execute_script(
        "const images = [...document.querySelectorAll(arguments[0])];"
        "images.forEach(i => i.scrollIntoView());"
        "return images.filter(i => i.complete && i.naturalWidth > 0).map(i => [i.naturalWidth, i.naturalHeight]);",
        css,
    )
    return [(w, h) for w, h in result]


def csp_violations(browser: webdriver.Chrome) -> list[str]:
    entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in entries if "Content Security Policy" in entry["message"]]


def test_the_link_shows_status_queue_and_screenshots(site: RequesterSite, browser: webdriver.Chrome) -> None:
    ticket = site.report(1, walk_up=True, site="north", kind="kiosk", shots=3)
    browser.get(ticket["url"])
    assert ticket["number"] in text_of(browser, "h1")
    assert "Received. A technician will look at it soon." in text_of(browser, "#status")
    assert "You are number" in text_of(browser, "#queue")
    wait_for(browser, lambda b: len(loaded_images(b, ".shots img")) == 3, "three screenshots loaded")
    # The full picture, or its thumbnail if the server's thumbnail child made it before this view.
    assert loaded_images(browser, ".shots img")[0] in ((1280, 800), (480, 300))
    assert csp_violations(browser) == []


def test_screenshots_become_thumbnails_that_open_the_full_image(site: RequesterSite, browser: webdriver.Chrome) -> None:
    ticket = site.report(7, shots=2)
    browser.get(ticket["url"])

    def thumbnails_shown(b: webdriver.Chrome) -> bool:
        # The thumbnails are made in the background after the first view; a reload shows them.
        b.refresh()
        sizes = loaded_images(b, ".shots img")
        return len(sizes) == 2 and all(max(size) <= 480 for size in sizes)

    wait_for(browser, thumbnails_shown, "two thumbnails of at most 480 px")
    assert csp_violations(browser) == []
    browser.find_element(By.CSS_SELECTOR, ".shots a").click()
    wait_for(browser, lambda b: "/files/" in b.current_url, "the full image opened")
    size = browser.execute_script("const i = document.querySelector('img'); return [i.naturalWidth, i.naturalHeight];")
    assert tuple(size) == (1280, 800)


def test_the_person_answers_with_text_and_a_photo(
    site: RequesterSite, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    ticket = site.report(2)
    site.status(ticket, "waiting")
    site.reply(ticket, "Which printer is it?")
    browser.get(ticket["url"])
    assert "Which printer is it?" in text_of(browser, "#timeline")
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(photo_jpeg(seed=2))
    browser.find_element(By.ID, "answer-text").send_keys("The one next to the kitchen")
    browser.find_element(By.ID, "answer-photos").send_keys(str(photo))
    browser.find_element(By.CSS_SELECTOR, "form.answer button[type=submit]").click()
    wait_for(browser, lambda b: "Your answer was sent" in b.page_source, "the answer's confirmation")
    assert "The one next to the kitchen" in text_of(browser, "#timeline")
    wait_for(browser, lambda b: len(loaded_images(b, "#timeline .photos img")) == 1, "the photo in the timeline")
    detail = site.detail(ticket)
    assert detail["status"] == "open"
    answer = next(e for e in detail["timeline"] if e["kind"] == "answer")
    assert answer["data"]["text"] == "The one next to the kitchen"
    assert len(answer["data"]["files"]) == 1
    # A browser's resend of the same post answers nothing twice: the page redirected (303).
    browser.refresh()
    assert sum(1 for e in site.detail(ticket)["timeline"] if e["kind"] == "answer") == 1


def test_a_technicians_reply_and_the_resolve_appear_without_reloading(
    site: RequesterSite, browser: webdriver.Chrome
) -> None:
    ticket = site.report(3)
    browser.get(ticket["url"])
    browser.execute_script("window.__notReloaded = true;")
    site.reply(ticket, "We replaced the toner, please try again")
    wait_for(
        browser,
        lambda b: "We replaced the toner" in text_of(b, "#timeline"),
        "the reply arrived over the live stream",
    )
    site.status(ticket, "resolved")
    wait_for(browser, lambda b: "Is the problem solved?" in text_of(b, "#after"), "the after-resolve questions")
    assert "Resolved." in text_of(browser, "#status")
    assert browser.execute_script("return window.__notReloaded === true;"), "no reload happened"


def test_the_queue_place_moves_live_when_the_desk_calls(site: RequesterSite, browser: webdriver.Chrome) -> None:
    # A site of its own, so other tests' walk-ups do not stand in this queue.
    first = site.report(10, walk_up=True, site="east", kind="kiosk", shots=1)
    mine = site.report(11, walk_up=True, site="east", kind="kiosk", shots=1)
    browser.get(mine["url"])
    assert "You are number 2 in the queue." in text_of(browser, "#queue")
    browser.execute_script("window.__notReloaded = true;")
    called = site.tech("POST", "/queue/east/next").json()["called"]
    assert called["id"] == first["id"]
    wait_for(browser, lambda b: "You are number 1 in the queue." in text_of(b, "#queue"), "the place moved up")
    site.tech("POST", "/queue/east/next")
    wait_for(browser, lambda b: "It is your turn" in text_of(b, "#queue"), "the call reached the page")
    assert browser.execute_script("return window.__notReloaded === true;"), "no reload happened"


def test_rating_after_resolve(site: RequesterSite, browser: webdriver.Chrome) -> None:
    ticket = site.report(4)
    site.status(ticket, "resolved")
    browser.get(ticket["url"])
    browser.find_element(By.CSS_SELECTOR, "form.solved button.yes").click()
    wait_for(browser, lambda b: "Thank you for letting us know" in b.page_source, "the feedback's confirmation")
    browser.find_element(By.CSS_SELECTOR, "label.star:nth-of-type(4)").click()
    browser.find_element(By.ID, "rating-comment").send_keys("Fast and friendly")
    browser.find_element(By.CSS_SELECTOR, "form.rating button[type=submit]").click()
    wait_for(browser, lambda b: "Thank you for your rating" in b.page_source, "the rating's confirmation")
    assert "You rated the help: 4 of 5." in text_of(browser, "#timeline")
    events = [(e["kind"], e["data"]) for e in site.detail(ticket)["timeline"] if e["kind"] in ("solved", "rating")]
    assert events == [("solved", {"solved": True}), ("rating", {"score": 4, "comment": "Fast and friendly"})]


def test_wrong_and_revoked_links_show_the_not_found_page(site: RequesterSite, browser: webdriver.Chrome) -> None:
    ticket = site.report(5)
    browser.get(ticket["url"])
    assert ticket["number"] in text_of(browser, "h1")
    site.tech("POST", f"/tickets/{ticket['id']}/link/revoke")
    for url in (ticket["url"], ticket["url"][:-2], f"{site.server.url}/t/{ticket['id']}"):
        browser.get(url)
        assert text_of(browser, "h1") == "Page not found"
        assert ticket["number"] not in browser.page_source


PAYLOADS = (
    "<script>alert('script')</script>",
    '"><img src=x onerror=alert("img")>',
    "javascript:alert('link')",
    "invoice\u202egpj.exe",
)


def test_hostile_texts_are_shown_as_text(site: RequesterSite, browser: webdriver.Chrome) -> None:
    ticket = site.report(6, description="\n".join(PAYLOADS), reporter_name='<b onmouseover="alert(1)">Eve</b>')
    for payload in PAYLOADS:
        site.reply(ticket, payload)
    browser.get(ticket["url"])
    timeline = text_of(browser, "#timeline")
    for payload in PAYLOADS[:3]:
        assert payload in timeline
    assert "[U+202E]" in timeline
    assert payload_free(browser)
    # The live stream renders the same way: a payload arriving while the page is open.
    site.reply(ticket, "<svg onload=alert('live')>")
    wait_for(browser, lambda b: "<svg onload=alert('live')>" in text_of(b, "#timeline"), "the live payload as text")
    assert payload_free(browser)


def payload_free(browser: webdriver.Chrome) -> bool:
    """No dialog opened, no element a payload would make, no javascript: link."""
    try:
        browser.switch_to.alert.dismiss()
    except NoAlertPresentException:
        pass
    else:
        return False
    made = browser.execute_script(
        'return document.querySelectorAll(\'main script, img[src="x"], svg, a[href^="javascript:"]\').length;'
    )
    return bool(made == 0)


def test_a_phone_sized_window_needs_no_sideways_scrolling(site: RequesterSite, browser: webdriver.Chrome) -> None:
    ticket = site.report(7, walk_up=True, site="north", kind="kiosk", description="A" * 300)
    site.reply(ticket, "https://example.test/a-very-long-address-without-spaces-" + "x" * 120)
    site.status(ticket, "resolved")
    browser.set_window_size(*PHONE_SIZE)
    browser.get(ticket["url"])
    viewport = browser.execute_script("return document.documentElement.clientWidth;")
    assert viewport <= PHONE_SIZE[0]
    widest = browser.execute_script("return document.documentElement.scrollWidth;")
    assert widest <= viewport, f"the page is {widest} px wide in a {viewport} px viewport"
    send = browser.find_element(By.CSS_SELECTOR, "form.answer button[type=submit]")
    assert send.size["height"] >= 44, "touch targets are at least 44 px tall"
    assert send.rect["x"] >= 0 and send.rect["x"] + send.size["width"] <= viewport
    capture = browser.find_element(By.ID, "answer-photos")
    assert capture.get_attribute("accept") == "image/*" and capture.get_attribute("capture") == "environment"
