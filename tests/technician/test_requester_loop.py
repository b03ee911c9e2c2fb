"""Technician mode's side of the person's page: answers, photos, verdicts and ratings live in the
viewer, the receipt code and the reporter's clock, the person's link, satisfaction in Figures.

Everything goes through the real server on loopback: the person's answers are posted through
their page (its form tokens and all), as a phone would.
"""

from __future__ import annotations

import html
import io
import re
from urllib.parse import urlsplit

import requests
from PIL import Image
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication, QImage, QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from agent.connectors.builtin import BuiltinConnector
from agent.schema import Ticket
from technician.client import DeskFigures, Feature, TechClient
from technician.model import QueueFilter, ReporterClock, visible_controls
from technician.model import TicketSummary as ModelSummary
from technician.viewer import PHOTO_SCHEME
from technician.window import TAB_FIGURES, TechWindow
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import (
    ReportSender,
    TechWindows,
    crafted_sysinfo,
    key_clicks,
    numbers,
    open_in_viewer,
)

FORM_RE = re.compile(r'name="form" value="([^"]+)"')
HOSTILE = "<b>x</b><img src=x> \u202eevil"


# ---------------------------------------------------------------- the person's page, as a phone uses it
def page_url(server: ServerProcess, link: str) -> str:
    """The person's link on this server (the link names the server's public address)."""
    parts = urlsplit(link)
    return server.url + parts.path


def form_token(server: ServerProcess, link: str, index: int = 0) -> str:
    page = requests.get(page_url(server, link), timeout=10)
    assert page.status_code == 200, page.status_code
    return html.unescape(FORM_RE.findall(page.text)[index])


def post_on_page(
    server: ServerProcess, link: str, what: str, data: dict[str, str], *, form: int = 0, photo: bytes | None = None
) -> None:
    files = [("photo", ("IMG_0001.JPG", photo, "image/jpeg"))] if photo is not None else None
    sent = requests.post(
        f"{page_url(server, link)}/{what}",
        data={"form": form_token(server, link, form), **data},
        files=files,
        timeout=10,
        allow_redirects=False,
    )
    assert sent.status_code == 303, sent.text


def technician_call(server: ServerProcess, token: str, method: str, path: str, **kwargs: object) -> requests.Response:
    answer = requests.request(method, f"{server.api}{path}", headers=server.auth(token), timeout=10, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code < 300, answer.text
    return answer


def jpeg_bytes(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def wire_link_actions(window: TechWindow) -> None:
    """The viewer's revoke request reaches the session as the window connects it (once)."""
    if window.viewer.receivers("2revoke_link_wanted(QString)") == 0:
        window.viewer.revoke_link_wanted.connect(window.session.revoke_link)


def opened(qtbot: QtBot, tech_windows: TechWindows, server: ServerProcess, ticket: Ticket) -> TechWindow:
    window = tech_windows(server)
    open_in_viewer(qtbot, window, ticket.id)
    return window


# ---------------------------------------------------------------- answers live in the viewer
def test_an_answer_with_a_photo_appears_in_the_open_viewer_without_a_reload(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send(description="The printer on the 2nd floor jams")
    window = opened(qtbot, tech_windows, server_process, ticket)
    viewer = window.viewer
    token = server_process.token("technician", name="tech-colleague")
    technician_call(server_process, token, "POST", f"/tickets/{ticket.id}/status", json={"status": "waiting"})
    technician_call(
        server_process, token, "POST", f"/tickets/{ticket.id}/notes", json={"text": "Which tray?", "internal": False}
    )
    qtbot.waitUntil(lambda: "Which tray?" in viewer.timeline_text(), timeout=15_000)
    loads: list[object] = []
    window.session.ticket_loaded.connect(loads.append)

    photo = jpeg_bytes()
    with qtbot.waitSignal(window.session.ticket_changed, timeout=15_000):
        post_on_page(server_process, ticket.url, "answer", {"text": "Tray 2, the lower one"}, photo=photo)
    qtbot.waitUntil(lambda: "Tray 2, the lower one" in viewer.timeline_text(), timeout=15_000)
    assert "The person answered, with a photo" in viewer.timeline_text()
    assert "requester" not in viewer.timeline_text()  # the person's doings are theirs, not a token's
    assert "<b>open</b>" in viewer.meta.text()  # the answer moved "waiting" back to "open"

    # The photo's thumbnail is fetched through the connector and shown in the timeline.
    resource = QUrl(f"{PHOTO_SCHEME}:answers/001.jpg")
    document = viewer.timeline.document()

    def thumbnail() -> QImage | None:
        found = document.resource(QTextDocument.ResourceType.ImageResource, resource)
        return found if isinstance(found, QImage) and not found.isNull() else None

    qtbot.waitUntil(lambda: thumbnail() is not None, timeout=15_000)
    shown = thumbnail()
    assert shown is not None and shown.width() <= 160 and shown.height() <= 120
    assert f'src="{PHOTO_SCHEME}:answers/001.jpg"' in viewer.timeline.toHtml()

    # Opened, it is the person's picture at its size.
    viewer.open_photo("answers/001.jpg")
    qtbot.waitUntil(lambda: viewer.photo_dialog is not None and viewer.photo_dialog.isVisible(), timeout=15_000)
    assert viewer.photo_dialog is not None
    picture = viewer.photo_dialog.findChild(QLabel, "PhotoPicture")
    assert isinstance(picture, QLabel)
    assert (picture.pixmap().width(), picture.pixmap().height()) == (640, 480)
    viewer.photo_dialog.close()
    assert loads == []  # it came through the changes feed: the viewer was never loaded again

    # Opened afresh in another technician's window, the ticket shows the answer's thumbnail too.
    colleague = opened(qtbot, tech_windows, server_process, ticket)
    qtbot.waitUntil(
        lambda: f'src="{PHOTO_SCHEME}:answers/001.jpg"' in colleague.viewer.timeline.toHtml(), timeout=15_000
    )
    assert "loading" not in colleague.viewer.timeline_text()


def test_a_hostile_answer_and_rating_show_literally(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send()
    window = opened(qtbot, tech_windows, server_process, ticket)
    viewer = window.viewer
    post_on_page(server_process, ticket.url, "answer", {"text": HOSTILE})
    qtbot.waitUntil(lambda: "evil" in viewer.timeline_text(), timeout=15_000)
    text = viewer.timeline_text()
    assert "<b>x</b><img src=x> [U+202E]evil" in text  # the mark-up as typed, the control as a mark
    assert "\u202e" not in text
    assert 'src="x"' not in viewer.timeline.toHtml()

    token = server_process.token("technician", name="tech-colleague")
    technician_call(server_process, token, "POST", f"/tickets/{ticket.id}/status", json={"status": "resolved"})
    post_on_page(server_process, ticket.url, "feedback", {"solved": "no"})
    qtbot.waitUntil(lambda: "The person says: still broken" in viewer.timeline_text(), timeout=15_000)
    technician_call(server_process, token, "POST", f"/tickets/{ticket.id}/status", json={"status": "resolved"})
    post_on_page(server_process, ticket.url, "feedback", {"solved": "yes"})
    qtbot.waitUntil(lambda: "The person says: solved" in viewer.timeline_text(), timeout=15_000)
    post_on_page(server_process, ticket.url, "rating", {"score": "2", "comment": HOSTILE}, form=1)
    qtbot.waitUntil(lambda: "Rated 2 of 5" in viewer.timeline_text(), timeout=15_000)
    assert viewer.timeline_text().count("<b>x</b><img src=x> [U+202E]evil") == 2
    assert "★★☆☆☆" in viewer.timeline_text()


# ---------------------------------------------------------------- receipt code, reported-at, clock
def test_the_receipt_code_is_shown_and_the_queue_search_finds_the_ticket_by_it(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    wanted = reporter.send(description="Badge reader beeps twice", kind="kiosk", source_id="hq-bar-1", site="HQ")
    other = reporter.send(description="Monitor flickers")
    window = opened(qtbot, tech_windows, server_process, wanted)
    code = window.viewer.info.summary.receipt_code if window.viewer.info else ""
    assert re.fullmatch(r"[0-9A-F]{8}", code), code
    assert wanted.id.replace("-", "").upper().startswith(code)  # the code the kiosk printed
    assert f"receipt <b>{code}</b>" in window.viewer.meta.text()
    assert other.number in numbers(window)

    window.queue_view.search.setFocus()
    key_clicks(qtbot, window.queue_view.search, code.lower())  # as read off the slip, in any case
    qtbot.waitUntil(lambda: numbers(window) == [wanted.number], timeout=15_000)


def test_the_header_says_when_the_person_reported_it_and_how_far_their_clock_is_off(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    three_days = 3 * 86400
    clock = {
        "local_time": "2026-12-03T09:15:00+01:00",
        "timezone": "CET",
        "utc_offset_minutes": 60,
        "offset_seconds": -three_days,
        "server_time": "Sun, 06 Dec 2026 08:15:00 GMT",
        "compared_with": "the Date the help desk sent",
    }
    ticket = reporter.send(sysinfo=crafted_sysinfo(clock=clock))
    fine = reporter.send(sysinfo=crafted_sysinfo(clock={**clock, "offset_seconds": 2.0}))
    window = opened(qtbot, tech_windows, server_process, ticket)
    viewer = window.viewer
    assert "reported 2026-12-03 09:15 on their clock" in viewer.meta.text()
    assert "reporter's clock 3 d behind" in viewer.meta.text()
    assert "arrived " in viewer.meta.text()

    # The flag points at the clock: the flags open with their evidence, and so does that group.
    tree = viewer.tree
    items = [item for item in (tree.topLevelItem(i) for i in range(tree.topLevelItemCount())) if item is not None]
    rows = {item.text(0): item for item in items}
    assert items[0].text(0) == "Flags"
    flags = rows["Flags"]
    assert flags.isExpanded() and flags.childCount() == 1
    flag = flags.child(0)
    assert flag is not None and flag.isExpanded() and "behind the help desk" in flag.text(1)
    evidence = [flag.child(i) for i in range(flag.childCount())]
    assert ("Offset", f"-{three_days} s") in [(row.text(0), row.text(1)) for row in evidence if row is not None]
    assert rows["Clock"].isExpanded()
    assert not rows["Disks"].isExpanded() and not rows["Operating system"].isExpanded()

    open_in_viewer(qtbot, window, fine.id)
    assert "reporter's clock" not in viewer.meta.text()  # two seconds is no news
    assert "reported 2026-12-03 09:15 on their clock" in viewer.meta.text()


# ---------------------------------------------------------------- the person's link
def test_revoking_the_persons_link_makes_the_old_one_a_404_and_copy_link_gives_the_new(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send()
    window = opened(qtbot, tech_windows, server_process, ticket)
    wire_link_actions(window)
    viewer = window.viewer
    assert viewer.revoke_link_button.isVisible()
    window.actions_by_name["copy-link"].trigger()
    old = QGuiApplication.clipboard().text()
    assert old == ticket.url
    assert requests.get(page_url(server_process, old), timeout=10).status_code == 200

    # Asked first: Cancel revokes nothing.
    viewer.revoke_link_button.click()
    qtbot.waitUntil(lambda: viewer.findChild(QMessageBox, "RevokeLinkQuestion") is not None, timeout=5000)
    box = viewer.findChild(QMessageBox, "RevokeLinkQuestion")
    assert isinstance(box, QMessageBox)
    qtbot.waitUntil(box.isVisible)
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: viewer.findChild(QMessageBox, "RevokeLinkQuestion") is None, timeout=5000)
    assert requests.get(page_url(server_process, old), timeout=10).status_code == 200

    viewer.revoke_link_button.click()
    qtbot.waitUntil(lambda: viewer.findChild(QMessageBox, "RevokeLinkQuestion") is not None, timeout=5000)
    box = viewer.findChild(QMessageBox, "RevokeLinkQuestion")
    assert isinstance(box, QMessageBox)
    qtbot.waitUntil(box.isVisible)
    (revoke,) = [b for b in box.findChildren(QPushButton) if b.text() == "Revoke"]
    with qtbot.waitSignal(window.session.action_done, timeout=15_000):
        revoke.click()
    assert requests.get(page_url(server_process, old), timeout=10).status_code == 404

    # The feed brings the ticket with its new link; Copy link hands that one over.
    qtbot.waitUntil(lambda: viewer.info is not None and viewer.info.summary.url != old, timeout=15_000)
    qtbot.waitUntil(lambda: "link was revoked" in viewer.timeline_text(), timeout=15_000)
    window.actions_by_name["copy-link"].trigger()
    new = QGuiApplication.clipboard().text()
    assert new != old
    assert requests.get(page_url(server_process, new), timeout=10).status_code == 200


# ---------------------------------------------------------------- satisfaction in Figures
def test_figures_show_a_rating_given_through_the_page(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    rated = reporter.send(description="VPN drops")
    reporter.send(description="Unrated, resolved")  # resolved too: half the resolved tickets are rated
    window = tech_windows(server_process)
    token = server_process.token("technician", name="tech-colleague")
    for ticket in window.session.model.rows:
        technician_call(
            server_process, token, "POST", f"/tickets/{ticket.ticket.id}/status", json={"status": "resolved"}
        )
    post_on_page(server_process, rated.url, "rating", {"score": "4", "comment": "quick"}, form=1)

    dashboard = window.dashboard
    loaded: list[object] = []
    window.session.stats_loaded.connect(loaded.append)
    with qtbot.waitSignal(window.session.stats_loaded, timeout=15_000):
        window.tabs.setCurrentIndex(TAB_FIGURES)
    assert isinstance(loaded[-1], DeskFigures) and loaded[-1].satisfaction is not None
    tile = dashboard.tiles["satisfaction"]
    assert tile.isVisible()
    assert tile.value.text() == "4.0 of 5"
    assert "1 of 2 resolved tickets rated (50%)" in tile.detail.text()
    assert dashboard.ratings_chart.isVisible() and dashboard.rating_trend_chart.isVisible()
    bars = dashboard.ratings_chart.chart().series()
    assert bars, "the ratings chart has its bars"

    # A backend that cannot say how people rated it shows no satisfaction at all.
    dashboard.show_stats(loaded[-1].figures)
    assert not tile.isVisible() and not dashboard.ratings_chart.isVisible()


# ---------------------------------------------------------------- the rules under it, without a server
def test_the_reporters_clock_is_read_from_the_snapshot_and_said_in_the_largest_unit() -> None:
    def clock(offset: object) -> ReporterClock | None:
        return ReporterClock.from_sysinfo(
            {"clock": {"local_time": "2026-12-03T09:15:00+01:00", "offset_seconds": offset}}
        )

    three_days = clock(-3 * 86400)
    assert three_days is not None and three_days.off and not three_days.ahead and three_days.amount == "3 d"
    later = clock(5400.0)
    assert later is not None and later.off and later.ahead and later.amount == "2 h"
    assert clock(36 * 3600) is not None and clock(36 * 3600).amount == "1.5 d"  # type: ignore[union-attr]
    close = clock(12.0)
    assert close is not None and not close.off  # the Date header counts whole seconds: no news
    for unreadable in (None, "fast", True, float("nan")):
        read = clock(unreadable)
        assert read is not None and read.offset_seconds is None and not read.off
    assert ReporterClock.from_sysinfo({"os": {}}) is None
    assert ReporterClock.from_sysinfo(None) is None


def test_bidirectional_controls_are_shown_as_marks() -> None:
    assert visible_controls("a\u202eb\u2066c\u200fd") == "a[U+202E]b[U+2066]c[U+200F]d"
    assert visible_controls("<b>plain</b>") == "<b>plain</b>"


def test_a_live_change_keeps_a_ticket_found_by_its_receipt_code_in_the_search() -> None:
    ticket = ModelSummary(
        id="0f3a", number="SD-1", status="new", subject="Badge", description="beeps", receipt_code="0F3A9C21"
    )
    assert QueueFilter(text="0f3a9c21").matches(ticket, None)
    assert not QueueFilter(text="0F3A9C22").matches(ticket, None)


def test_a_backend_without_the_calls_offers_no_link_or_satisfaction() -> None:
    class Plain(BuiltinConnector):
        satisfaction = None  # type: ignore[assignment]
        requester_link = None  # type: ignore[assignment]

    full = TechClient(lambda: BuiltinConnector("http://127.0.0.1:9", token="sdk_x"))
    plain = TechClient(lambda: Plain("http://127.0.0.1:9", token="sdk_x"))
    assert {Feature.LINK, Feature.SATISFACTION} <= full.features
    assert not {Feature.LINK, Feature.SATISFACTION} & plain.features
    full.close()
    plain.close()
