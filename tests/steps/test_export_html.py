"""A report as one web page: opened in the real Chromium from a file, every image shows, nothing is fetched,
and hostile text stays text."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver

from agent.bundle import AttachmentDraft, BundleError, ClipDraft, ReportBundle, StepDraft, build_bundle
from agent.export_html import content_security_policy, export_bundle_file, export_report_html
from agent.pointer_target import PointerTarget
from agent.schema import Report, Reporter, Source
from agent.steps import click_line, step_text, typed_keys_line

HOSTILE_CATEGORY = "</title><script>document.title='ran'</script>"
TITLE = f"{HOSTILE_CATEGORY}: It fails. — ShowDesk report"


class Watcher(ThreadingHTTPServer):
    """A loopback server that only counts what asks it for anything."""

    def __init__(self) -> None:
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        server = self
        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def watcher() -> Iterator[Watcher]:
    server = Watcher()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def encoded(colour: tuple[int, int, int], kind: str, size: tuple[int, int] = (320, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind, **({"lossless": True} if kind == "WEBP" else {}))
    return out.getvalue()


def hostile_bundle(base_url: str) -> ReportBundle:
    fetch = f'<img src="{base_url}/caption">'
    captions = [
        step_text([typed_keys_line(7), click_line(1, 10, 10, PointerTarget("OK", "button", "Save As"))]),
        f"<script>document.title='ran'</script>{fetch}",
        f'"><img src=x onerror="document.title=\'ran\'"><a href="{base_url}/link">',
    ]
    images = [encoded((200, 0, 0), "PNG"), encoded((0, 200, 0), "JPEG"), encoded((0, 0, 200), "WEBP")]
    now = datetime.now(UTC)
    steps = [
        StepDraft(image=image, width=320, height=200, captured_at=now, caption=caption)
        for image, caption in zip(images, captions, strict=True)
    ]
    base = Report(
        source=Source(kind="agent", id="laptop-7"),
        category=HOSTILE_CATEGORY,
        description=f"It fails.\n<style>body{{background:url({base_url}/style)}}</style>",
        reporter=Reporter(name=f"<img src={base_url}/name>", email="ann@example.org"),
    )
    sysinfo: dict[str, object] = {"os": {"name": f"<iframe src='{base_url}/sysinfo'></iframe>"}}
    return build_bundle(base, steps, sysinfo=sysinfo)


def test_the_page_is_escaped_and_allows_no_source(watcher: Watcher) -> None:
    base_url = f"http://127.0.0.1:{watcher.server_address[1]}"
    page = export_report_html(hostile_bundle(base_url))
    assert f'content="{content_security_policy()}"'.replace("'", "&#x27;") in page
    assert "<script" not in page and "<iframe" not in page and "<a " not in page
    assert page.count("<img ") == 3  # the three shots, nothing a caption brought
    assert "&lt;script&gt;document.title=&#x27;ran&#x27;&lt;/script&gt;" in page


def test_the_page_opens_in_chromium_with_every_image_and_fetches_nothing(
    chromium: webdriver.Chrome, watcher: Watcher, tmp_path: Path
) -> None:
    base_url = f"http://127.0.0.1:{watcher.server_address[1]}"
    bundle_path = tmp_path / "report.showdesk"
    hostile_bundle(base_url).write(bundle_path)
    page_path = tmp_path / "report.html"
    export_bundle_file(bundle_path, page_path)

    chromium.get(page_path.as_uri())
    images = chromium.execute_script(
        "return [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt]);"
    )
    assert images == [[True, 320, 200, "Step 1"], [True, 320, 200, "Step 2"], [True, 320, 200, "Step 3"]]
    captions = chromium.execute_script("return [...document.querySelectorAll('figcaption')].map(f => f.innerText);")
    assert captions[0] == "1.Typed 7 keys. Left-click 'OK' button in 'Save As'"
    assert "<script>document.title='ran'</script>" in captions[1]
    assert "onerror=\"document.title='ran'\"" in captions[2]
    assert chromium.title == TITLE, "the category is the title's text; no script changed it"
    assert chromium.execute_script("return document.querySelectorAll('script, a, iframe').length") == 0
    # The style sheet is allowed by its digest: a wrong digest would leave the page unstyled.
    assert chromium.execute_script("return getComputedStyle(document.body).maxWidth") == "1120px"
    assert chromium.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert watcher.paths == []


def test_the_policy_holds_even_if_markup_got_into_the_page(
    chromium: webdriver.Chrome, watcher: Watcher, tmp_path: Path
) -> None:
    """Defence in depth: markup put into the file past the escaping still runs and fetches nothing."""
    base_url = f"http://127.0.0.1:{watcher.server_address[1]}"
    page = export_report_html(hostile_bundle(base_url))
    injected = (
        f'<script>document.title=\'ran\'</script><img src="{base_url}/img"><iframe src="{base_url}/frame"></iframe>'
        f'<link rel="stylesheet" href="{base_url}/css"><img src="data:,x" onerror="document.title=\'ran\'">'
    )
    path = tmp_path / "tampered.html"
    path.write_text(page.replace("</body>", injected + "</body>"), encoding="utf-8")
    chromium.get(path.as_uri())
    assert chromium.title == TITLE
    chromium.get("about:blank")  # anything in flight has been asked for by now
    assert watcher.paths == []


def animated_webp(frames: int) -> bytes:
    out = io.BytesIO()
    pictures = [Image.new("RGB", (160, 90), (40 * n, 0, 0)) for n in range(frames)]
    pictures[0].save(out, "WEBP", save_all=True, append_images=pictures[1:], duration=200, lossless=True)
    return out.getvalue()


def test_clips_play_in_the_page_and_attachments_are_only_named(chromium: webdriver.Chrome, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    bundle = build_bundle(
        Report(source=Source(kind="agent", id="laptop-7"), description="It flickers"),
        clips=[ClipDraft(data=animated_webp(4), started_at=now, duration_ms=800, caption="the flicker")],
        attachments=[AttachmentDraft(data=b"log line\n", display_name="<b>app</b>.log", media_type="text/plain")],
    )
    page = tmp_path / "clip.html"
    page.write_text(export_report_html(bundle), encoding="utf-8")
    chromium.get(page.as_uri())
    assert chromium.execute_script("return [...document.images].map(i => [i.naturalWidth, i.alt])") == [
        [160, "Recording 1"]
    ]
    body = chromium.find_element("tag name", "body").text
    assert "the flicker" in body and "0.8 s, 4 frames" in body
    assert "<b>app</b>.log (9 bytes)" in body and "log line" not in body


def test_a_file_that_is_no_bundle_gives_no_page(tmp_path: Path) -> None:
    not_a_bundle = tmp_path / "notes.showdesk"
    not_a_bundle.write_bytes(b"just text")
    with pytest.raises(BundleError):
        export_bundle_file(not_a_bundle, tmp_path / "out.html")
    assert not (tmp_path / "out.html").exists()
