"""Screenshots of technician mode: ``.venv/bin/python docs/screenshots_tech.py [--out docs]``.

Starts a private Xvfb (two 1920x1080 monitors side by side) and a built-in server on loopback
with a throw-away data directory, and fills the server the way a help desk's would be filled:

* seven weeks of earlier tickets (demo history, written straight into the database so their
  times lie in the past: response and resolution times, walk-up waits, self-help events);
* recent reports sent through the agent's core (the built-in connector), one of them with
  real screen captures of the Xvfb desktop: a two-monitor capture and two single screens.

Then it runs technician mode on the first monitor and saves ``tech-queue.png``,
``tech-viewer.png``, ``tech-viewer-step.png``, ``tech-system.png``, ``tech-viewer-answer.png`` (the timeline
with the person's answer, photo, verdict and rating, given on their page), ``tech-viewer-clip.png`` (a
clip after the report's step, stepped to a frame), ``tech-dashboard.png``,
``tech-help.png`` and ``tech-signin.png``. Nothing of the user's own configuration, outbox or keyring is touched.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SITE = "HQ Tech Bar"
TECHNICIANS = ("alex.kim", "jo.berg", "sam.ortiz")
PEOPLE = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Margaret Hamilton",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "Hedy Lamarr",
    "Claude Shannon",
    "Radia Perlman",
    "Dennis Ritchie",
    "Annie Easley",
    "Dorothy Vaughan",
    "Karen Spärck Jones",
    "Lynn Conway",
    "Adele Goldberg",
    "Jean Bartik",
    "Betty Holberton",
    "Kathleen Booth",
    "Konrad Zuse",
    "Charles Babbage",
    "Ida Rhodes",
)
SUBJECTS = {
    "Printing": ("Printer on the 4th floor shows offline", "Print jobs stuck in the queue", "Scan to e-mail fails"),
    "Network": ("VPN disconnects every few minutes", "Wi-Fi in meeting room B drops", "No network on the dock"),
    "Sign-in": ("Account locked after the password change", "MFA prompt never arrives", "Password expired"),
    "Email": ("Outlook keeps asking for the password", "Shared mailbox is missing", "Invites do not arrive"),
    "Laptop": ("Fan is loud and the laptop is slow", "Battery drains within an hour", "Screen flickers on the dock"),
    "Software": ("Excel crashes opening the budget file", "Teams finds no camera", "Update stuck at 35 %"),
}
CATEGORY_WEIGHTS = {"Printing": 5, "Network": 4, "Sign-in": 6, "Email": 3, "Laptop": 4, "Software": 4}
ARTICLES = ("reset-password", "set-up-mfa", "printer-offline", "vpn-reconnect")


def email_of(name: str) -> str:
    ascii_name = name.lower().replace("ä", "a").replace(" ", ".")
    return f"{ascii_name}@example.org"


# ---------------------------------------------------------------- demo history in the database
def write_history(data_dir: Path, now: float, rng: random.Random) -> None:
    """Earlier tickets, 2 to 48 days old, with the times a working help desk produces."""
    from agent.schema import Report, Reporter, Source
    from server.store import Store

    store = Store(data_dir)
    conn = store.connection()
    machines = [f"lt-{n:04d}" for n in rng.sample(range(100, 500), 60)] + ["lt-0412"] * 3 + ["pc-2210"] * 2
    rows: list[tuple[Any, ...]] = []
    count = 230
    start, end = now - 48 * 86400, now - 2 * 86400
    for index in range(count):
        created = start + (end - start) * index / count + rng.uniform(0, 3000)
        category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        subject_text = rng.choice(SUBJECTS[category])
        name = rng.choice(PEOPLE)
        walk_up = rng.random() < 0.3
        source_kind, source_id = ("kiosk", "hq-bar-1") if walk_up else ("agent", rng.choice(machines))
        if index in (200, 221):  # the laptop of the showcase report had this before
            category, subject_text = "Printing", "Printer on the 4th floor shows offline"
            name, walk_up, source_kind, source_id = PEOPLE[0], False, "agent", "lt-0412"
        report = Report(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            created_at=datetime.fromtimestamp(created, UTC),
            reporter=Reporter(name=name, email=email_of(name)),
            category=category,
            description=subject_text,
            source=Source(kind=source_kind, id=source_id, site=SITE if walk_up else None, app_version="1.0"),  # type: ignore[arg-type]
            walk_up=walk_up,
        )
        response = created + rng.lognormvariate(3.0, 0.8) * 60  # median about 20 minutes
        resolved: float | None = response + rng.lognormvariate(1.2, 1.0) * 3600  # median about 3 hours
        status = "closed" if resolved is not None and resolved < now - 86400 * 3 and rng.random() < 0.6 else "resolved"
        if rng.random() < 0.05:
            status, resolved = "waiting", None
        rows.append((report, status, created, response, resolved, rng.choice(TECHNICIANS)))
    conn.execute("BEGIN IMMEDIATE")
    for report, status, created, response, resolved, technician in rows:
        manifest = report.canonical_json().decode()
        cursor = conn.execute(
            "INSERT INTO tickets (id, fingerprint, manifest, status, subject, description, category, source_kind, "
            "source_id, site, reporter_name, reporter_email, submitted_by, assignee, walk_up, step_count, "
            "attachment_count, self_help_count, created_at, reported_at, updated_at, first_response_at, resolved_at, "
            "closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'demo', ?, ?, 0, 0, 0, ?, ?, ?, ?, ?, ?)",
            (
                str(report.id),
                report.fingerprint(),
                manifest,
                status,
                report.subject(),
                report.description,
                report.category,
                report.source.kind,
                report.source.id,
                report.source.site,
                report.reporter.name,
                report.reporter.email,
                technician,
                int(report.walk_up),
                created,
                report.created_at.isoformat(),
                resolved or response,
                response,
                resolved,
                resolved if status == "closed" else None,
            ),
        )
        seq = cursor.lastrowid
        if store.has_fts:
            conn.execute(
                "INSERT INTO tickets_fts (rowid, subject, description) VALUES (?, ?, ?)",
                (seq, report.subject(), report.description),
            )
        events = [
            ("created", "demo", created, 0, {"number": f"SD-{1000 + (seq or 0)}"}),
            ("assigned", technician, response, 0, {"from": None, "to": technician}),
            ("status", technician, response + 1, 0, {"from": "new", "to": "open"}),
        ]
        if resolved is not None:
            events.append(("status", technician, resolved, 0, {"from": "open", "to": "resolved"}))
        if report.source.id == "lt-0412":
            note = "Printer queue was paused on the laptop; resumed it and removed the stale job."
            events.append(("note", technician, (resolved or response) - 60, 1, {"text": note}))
        conn.executemany(
            "INSERT INTO events (ticket_seq, kind, actor, at, internal, data) VALUES (?, ?, ?, ?, ?, ?)",
            [(seq, kind, actor, at, internal, json.dumps(data)) for kind, actor, at, internal, data in events],
        )
        if report.walk_up:
            called = created + rng.lognormvariate(2.0, 0.6) * 60  # median about 7 minutes
            conn.execute(
                "INSERT INTO queue_entries (ticket_seq, site, state, enqueued_at, called_at, served_at, called_by) "
                "VALUES (?, ?, 'served', ?, ?, ?, ?)",
                (seq, SITE, created, called, called + rng.uniform(240, 900), technician),
            )
    for _ in range(70):
        conn.execute(
            "INSERT INTO self_help_events (at, site, category, article, actor) VALUES (?, ?, ?, ?, 'hq-bar-1')",
            (rng.uniform(start, end), SITE, "Sign-in", rng.choice(ARTICLES)),
        )
    conn.execute("COMMIT")
    store.close()


def backdate(data_dir: Path, ticket_id: str, created: float) -> None:
    """Make a just-sent demo report look as old as it would be in a real morning."""
    import sqlite3

    with sqlite3.connect(data_dir / "showdesk.db") as conn:
        row = conn.execute("SELECT seq FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        conn.execute("UPDATE tickets SET created_at = ?, updated_at = ? WHERE id = ?", (created, created, ticket_id))
        conn.execute("UPDATE events SET at = ? WHERE ticket_seq = ? AND kind = 'created'", (created, row[0]))
        conn.execute("UPDATE queue_entries SET enqueued_at = ? WHERE ticket_seq = ?", (created, row[0]))


# ---------------------------------------------------------------- the reporter's desktop
def paint_desktop(app: Any, stage: str) -> list[Any]:
    """Show the reporter's two screens for ``stage``: invoice, error or queue."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
    from PySide6.QtWidgets import QWidget

    def text(
        painter: QPainter,
        rect: QRect,
        value: str,
        size: int = 13,
        *,
        bold: bool = False,
        colour: str = "#1b1f24",
        flags: Any = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
    ) -> None:
        painter.setFont(QFont("DejaVu Sans", size, QFont.Weight.Bold if bold else QFont.Weight.Normal))
        painter.setPen(QColor(colour))
        painter.drawText(rect, flags | Qt.TextFlag.TextWordWrap, value)

    def window_frame(painter: QPainter, rect: QRect, title: str, accent: str = "#2f5d8a") -> QRect:
        painter.fillRect(rect.adjusted(6, 6, 6, 6), QColor(0, 0, 0, 60))
        painter.fillRect(rect, QColor("#ffffff"))
        painter.fillRect(QRect(rect.left(), rect.top(), rect.width(), 34), QColor(accent))
        text(painter, QRect(rect.left() + 12, rect.top() + 7, rect.width() - 24, 24), title, 12, colour="#ffffff")
        return rect.adjusted(0, 34, 0, 0)

    def taskbar(painter: QPainter, width: int, height: int, items: str) -> None:
        painter.fillRect(0, height - 44, width, 44, QColor("#20242b"))
        text(painter, QRect(16, height - 34, width - 200, 30), items, 12, colour="#e8eaed")
        text(painter, QRect(width - 130, height - 34, 120, 30), "09:41", 12, colour="#e8eaed")

    class LeftScreen(QWidget):
        def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
            p = QPainter(self)
            p.fillRect(self.rect(), QColor("#3d6b8f"))
            body = window_frame(p, QRect(60, 40, 1500, 900), "Ledger — Invoice 2291 (Northwind Traders)")
            text(p, body.adjusted(30, 20, -30, 0), "Invoice 2291", 22, bold=True)
            text(p, body.adjusted(30, 70, -30, 0), "Northwind Traders · due 30 June · EUR 12,480.00", 13)
            for row in range(9):
                y = body.top() + 130 + row * 44
                p.fillRect(body.left() + 30, y, body.width() - 60, 40, QColor("#f3f5f8" if row % 2 else "#ffffff"))
                label = ("Item", "Qty", "Price")[0] if row == 0 else f"Consulting, week {row + 21}"
                text(p, QRect(body.left() + 44, y + 10, 700, 30), label, 12, bold=row == 0)
                text(
                    p,
                    QRect(body.right() - 320, y + 10, 260, 30),
                    "Amount" if row == 0 else "1,386.67",
                    12,
                    bold=row == 0,
                    flags=Qt.AlignmentFlag.AlignRight,
                )
            if stage in ("invoice", "error"):
                dialog = window_frame(p, QRect(620, 300, 680, 420), "Print", "#4a4f57")
                text(p, dialog.adjusted(24, 20, -24, 0), "Printer", 12, bold=True)
                p.fillRect(dialog.left() + 24, dialog.top() + 48, dialog.width() - 48, 40, QColor("#eef1f5"))
                text(p, dialog.adjusted(36, 58, -36, 0), "4F-HP-M507 (4th floor, east)", 12)
                text(p, dialog.adjusted(24, 110, -24, 0), "Copies: 1      Pages: all      Duplex: on", 12)
                if stage == "error":
                    p.fillRect(dialog.left() + 24, dialog.top() + 160, dialog.width() - 48, 120, QColor("#fde8e8"))
                    text(
                        p,
                        dialog.adjusted(40, 176, -40, 0),
                        "The printer “4F-HP-M507” is offline. Your document was not printed.",
                        13,
                        colour="#b42318",
                    )
                p.fillRect(dialog.right() - 164, dialog.bottom() - 64, 140, 44, QColor("#2f6fed"))
                text(
                    p,
                    QRect(dialog.right() - 164, dialog.bottom() - 54, 140, 30),
                    "Print",
                    13,
                    colour="#ffffff",
                    flags=Qt.AlignmentFlag.AlignHCenter,
                )
            if stage == "queue":
                queue = window_frame(p, QRect(520, 260, 900, 380), "Print queue — 4F-HP-M507", "#4a4f57")
                text(
                    p,
                    queue.adjusted(24, 16, -24, 0),
                    "Document                     Status                 Pages",
                    12,
                    bold=True,
                )
                text(
                    p,
                    queue.adjusted(24, 56, -24, 0),
                    "Invoice 2291.pdf          Error – printer offline       3",
                    12,
                    colour="#b42318",
                )
                text(
                    p, queue.adjusted(24, 96, -24, 0), "Timesheet June.xlsx       Waiting                         1", 12
                )
                text(
                    p,
                    queue.adjusted(24, 180, -24, 0),
                    "Queue paused by the system after 3 failed attempts.",
                    12,
                    colour="#5f6368",
                )
            taskbar(p, self.width(), self.height(), "Start    Ledger    Mail    Files")
            p.end()

    class RightScreen(QWidget):
        def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
            p = QPainter(self)
            p.fillRect(self.rect(), QColor("#2d5573"))
            body = window_frame(
                p, QRect(80, 60, 1600, 880), "Browser — http://4f-hp-m507.print.example.org/", "#3c4043"
            )
            text(p, body.adjusted(40, 30, -40, 0), "HP LaserJet M507 — 4th floor, east", 20, bold=True)
            p.fillRect(body.left() + 40, body.top() + 100, 520, 120, QColor("#e6f4ea"))
            text(p, body.adjusted(60, 120, -40, 0), "Status: Ready", 18, bold=True, colour="#137333")
            text(p, body.adjusted(60, 160, -40, 0), "Toner 64 %   ·   Paper tray 2: 380 sheets", 12)
            text(p, body.adjusted(40, 260, -40, 0), "Recent jobs", 14, bold=True)
            for row, job in enumerate(
                (
                    "Report Q2.pdf — J. Bartik — printed 09:32",
                    "Slides.pptx — K. Booth — printed 09:35",
                    "Minutes.docx — D. Vaughan — printed 09:38",
                )
            ):
                text(p, body.adjusted(40, 300 + row * 34, -40, 0), job, 12)
            taskbar(p, self.width(), self.height(), "")
            p.end()

    screens = []
    for kind, left in ((LeftScreen, 0), (RightScreen, 1920)):
        widget = kind()
        widget.setWindowFlag(Qt.WindowType.FramelessWindowHint)
        widget.setGeometry(left, 0, 1920, 1080)
        widget.show()
        screens.append(widget)
    settle(app, 0.8)
    return screens


def settle(app: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def wait_until(app: Any, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: {what} did not happen in time")
        app.processEvents()
        time.sleep(0.02)


def capture_showcase(app: Any, display: str) -> list[Any]:
    """The reporter's own capture: both screens at once, then the error, then the print queue."""
    from agent.capture import Capturer
    from agent.encoding import step_draft

    steps = []
    with Capturer(display=display) as capturer:
        screens = paint_desktop(app, "invoice")
        left, right = capturer.capture_all()
        steps.append(step_draft(left, caption="I open invoice 2291 and press Print"))
        steps.append(step_draft(right, caption="The printer's own page says it is ready"))
        for screen in screens:
            screen.close()
        for stage, caption in (("error", "After I press Print"), ("queue", "The print queue says offline")):
            screens = paint_desktop(app, stage)
            steps.append(step_draft(capturer.capture_monitor(1), caption=caption))
            for screen in screens:
                screen.close()
    settle(app, 0.2)
    return steps


def drawn_screen(title: str, message: str, colour: str = "#3d6b8f") -> bytes:
    """A simpler screenshot for the other demo reports (drawn, not captured)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1920, 1080), colour)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 22)
    big = ImageFont.truetype("DejaVuSans-Bold.ttf", 30)
    draw.rectangle((260, 180, 1660, 860), fill="white")
    draw.rectangle((260, 180, 1660, 220), fill="#4a4f57")
    draw.text((280, 188), title, fill="white", font=font)
    draw.rectangle((420, 420, 1500, 620), fill="#fde8e8")
    draw.text((460, 470), message, fill="#b42318", font=big)
    draw.rectangle((0, 1036, 1920, 1080), fill="#20242b")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def vpn_clip() -> Any:
    """A clip of the VPN client as it loses the connection: 2 s connected, then reconnecting, then lost."""
    from PIL import Image

    from agent.clips import encode_clip
    from tests.clips.synthetic import recording

    states = [("Connected to vpn.example.org", "#2e7d32")] * 4 + [("Reconnecting…", "#b26a00")] * 3
    states += [("Connection lost: no route to gateway", "#3d6b8f")] * 3
    pictures = [
        Image.open(io.BytesIO(drawn_screen("VPN client", message, colour))).convert("RGB").resize((960, 540))
        for message, colour in states
    ]
    encoded = encode_clip(recording(pictures, [n * 0.5 for n in range(len(pictures))], len(pictures) * 0.5))
    return encoded.draft("The VPN drops while I watch it")


def sysinfo(hostname: str, **changes: Any) -> dict[str, Any]:
    """A plausible laptop snapshot (the agent's groups); ``changes`` replace whole groups."""
    snapshot: dict[str, Any] = {
        "os": {
            "name": "Windows 11 Pro 23H2",
            "system": "Windows",
            "release": "11",
            "hostname": hostname,
            "user": "ada.lovelace",
            "uptime_seconds": 3 * 3600,
            "timezone": "CET",
        },
        "cpu": {"model": "Intel Core i7-1265U", "physical_cores": 10, "logical_cores": 12, "percent": 18.5},
        "memory": {
            "total": 16 * 2**30,
            "available": 7 * 2**30,
            "used": 9 * 2**30,
            "percent": 56.0,
            "swap": {"total": 4 * 2**30, "used": 2**29, "percent": 12.5},
        },
        "disks": [
            {
                "mount": "C:\\",
                "device": "C:\\",
                "filesystem": "NTFS",
                "read_only": False,
                "total": 476 * 2**30,
                "used": 201 * 2**30,
                "free": 275 * 2**30,
                "percent": 42.2,
            }
        ],
        "network": {
            "interfaces": [
                {
                    "name": "Wi-Fi",
                    "up": True,
                    "addresses": [{"family": "IPv4", "address": "10.20.4.117", "netmask": "255.255.252.0"}],
                }
            ],
            "default_routes": [{"family": "IPv4", "gateway": "10.20.4.1", "interface": "Wi-Fi"}],
            "default_route_known": True,
            "dns_servers": ["10.20.0.53"],
        },
        "proxy": {"environment": {}, "effective": {}},
        "battery": {"present": True, "percent": 81.0, "plugged_in": True, "seconds_left": None},
        "displays": {
            "count": 2,
            "monitors": [
                {"index": 1, "name": "Built-in", "geometry": {"left": 0, "top": 0, "width": 1920, "height": 1080}},
                {
                    "index": 2,
                    "name": "DELL U2722D",
                    "geometry": {"left": 1920, "top": 0, "width": 1920, "height": 1080},
                },
            ],
        },
        "processes": {
            "count": 214,
            "logical_cores": 12,
            "by_cpu": [
                {"pid": 4412, "name": "Ledger.exe", "cpu_percent": 6.0, "memory_rss": 412 * 2**20},
                {"pid": 932, "name": "msedge.exe", "cpu_percent": 3.1, "memory_rss": 690 * 2**20},
            ],
        },
        "showdesk": {"version": "1.0.0", "collected_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "connectivity": {
            "checked": True,
            "url": "https://help.example.org",
            "reachable": True,
            "http_status": 200,
            "elapsed_ms": 38.0,
        },
    }
    snapshot.update(changes)
    return snapshot


def send_reports(url: str, laptop_token: str, kiosk_token: str, showcase: list[Any], data_dir: Path) -> dict[str, Any]:
    from agent.bundle import StepDraft, build_bundle
    from agent.connectors.builtin import BuiltinConnector
    from agent.schema import Report, Reporter, Source

    now = time.time()
    sent: dict[str, Any] = {}
    laptop = BuiltinConnector(url, token=laptop_token)
    kiosk = BuiltinConnector(url, token=kiosk_token)

    def send(
        key: str,
        minutes_ago: float,
        name: str,
        category: str,
        description: str,
        source: Source,
        steps: list[StepDraft],
        snapshot: dict[str, Any] | None,
        walk_up: bool = False,
        clips: Sequence[Any] = (),
    ) -> None:
        report = Report(
            reporter=Reporter(name=name, email=email_of(name)),
            category=category,
            description=description,
            source=source,
            walk_up=walk_up,
        )
        connector = kiosk if source.kind == "kiosk" else laptop
        ticket = connector.submit(build_bundle(report, steps, sysinfo=snapshot, clips=clips))
        backdate(data_dir, ticket.id, now - minutes_ago * 60)
        sent[key] = ticket

    def one_step(title: str, message: str, caption: str, method: str = "mss") -> list[StepDraft]:
        image = drawn_screen(title, message)
        return [StepDraft(image, 1920, 1080, datetime.now(UTC), caption=caption, capture_method=method)]

    send(
        "excel",
        95,
        "Margaret Hamilton",
        "Software",
        "Excel closes as soon as I open budget-2025.xlsx.",
        Source(kind="agent", id="pc-2210"),
        one_step("Microsoft Excel", "Excel has stopped working", "The crash"),
        sysinfo("pc-2210"),
    )
    send(
        "outlook",
        70,
        "Edsger Dijkstra",
        "Email",
        "Outlook asks for my password every few minutes since Monday.",
        Source(kind="agent", id="lt-0388"),
        [],
        sysinfo("lt-0388"),
    )
    send(
        "vpn",
        41,
        "Katherine Johnson",
        "Network",
        "The VPN drops every ten minutes when I work from home.",
        Source(kind="agent", id="lt-0233"),
        one_step("VPN client", "Connection lost: no route to gateway", "The VPN message"),
        sysinfo(
            "lt-0233",
            network={"interfaces": [{"name": "Wi-Fi", "up": True}], "default_routes": [], "default_route_known": True},
            connectivity={
                "checked": True,
                "url": "https://help.example.org",
                "reachable": False,
                "reason": "no route to host",
            },
        ),
        clips=[vpn_clip()],
    )
    send(
        "walkup-1",
        26,
        "Grace Hopper",
        "Laptop",
        "My laptop does not start after last night's update.",
        Source(kind="kiosk", id="hq-bar-1", site=SITE),
        [],
        None,
        walk_up=True,
    )
    send(
        "fan",
        17,
        "Barbara Liskov",
        "Laptop",
        "The fan is loud all the time and everything is slow.",
        Source(kind="agent", id="lt-0150"),
        [],
        sysinfo(
            "lt-0150",
            processes={
                "count": 190,
                "logical_cores": 8,
                "by_cpu": [{"pid": 7731, "name": "SearchIndexer.exe", "cpu_percent": 97.0, "memory_rss": 310 * 2**20}],
            },
        ),
    )
    send(
        "showcase",
        12,
        "Ada Lovelace",
        "Printing",
        "Invoice 2291 won't print: the print dialog says the 4th-floor printer is offline, although my "
        "colleagues print to it and its own page says it is ready.",
        Source(kind="agent", id="lt-0412"),
        showcase,
        sysinfo(
            "lt-0412",
            os={
                "name": "Windows 11 Pro 23H2",
                "system": "Windows",
                "hostname": "lt-0412",
                "user": "ada.lovelace",
                "uptime_seconds": 23 * 86400 + 4 * 3600,
                "timezone": "CET",
            },
            disks=[
                {
                    "mount": "C:\\",
                    "device": "C:\\",
                    "filesystem": "NTFS",
                    "read_only": False,
                    "total": 238 * 2**30,
                    "used": 229 * 2**30,
                    "free": 9 * 2**30,
                    "percent": 96.2,
                }
            ],
            battery={"present": True, "percent": 14.0, "plugged_in": False, "seconds_left": 1500},
        ),
    )
    send(
        "walkup-2",
        8,
        "Alan Turing",
        "Sign-in",
        "My account is locked after I changed my password.",
        Source(kind="kiosk", id="hq-bar-1", site=SITE),
        one_step("Sign in", "Your account has been locked.", "Photo of the sign-in screen", "photo"),
        None,
        walk_up=True,
    )
    send(
        "walkup-3",
        3,
        "Hedy Lamarr",
        "Printing",
        "I need the badge printer for a visitor badge.",
        Source(kind="kiosk", id="hq-bar-1", site=SITE),
        [],
        None,
        walk_up=True,
    )
    laptop.close()
    kiosk.close()
    return sent


def work_some_tickets(url: str, token: str, sent: dict[str, Any]) -> None:
    """What the other technicians did this morning, through the same client technician mode uses."""
    from agent.connectors.builtin import BuiltinConnector
    from technician.client import TechClient

    client = TechClient(lambda: BuiltinConnector(url, token=token))
    client.assign(sent["excel"].id, "jo.berg")
    client.set_status(sent["excel"].id, "open")
    client.assign(sent["outlook"].id, "sam.ortiz")
    client.set_status(sent["outlook"].id, "waiting")
    client.add_note(sent["outlook"].id, "Asked for a screenshot of the prompt.", internal=False)
    client.assign(sent["vpn"].id, "alex.kim")
    client.close()


def the_person_answers(url: str, token: str, sent: dict[str, Any]) -> None:
    """The person behind the Outlook ticket answers on their page with a photo; once it is resolved,
    they say it is solved and rate it: through the page's forms, as a phone posts them."""
    import html
    import re
    from urllib.parse import urlsplit

    import requests

    from agent.connectors.builtin import BuiltinConnector
    from technician.client import TechClient

    ticket = sent["outlook"]
    page = url + urlsplit(ticket.url).path

    def post(what: str, data: dict[str, str], files: list[Any] | None = None) -> None:
        form = re.findall(r'name="form" value="([^"]+)"', requests.get(page, timeout=10).text)[0]
        answer = requests.post(
            f"{page}/{what}", data={"form": html.unescape(form), **data}, files=files, timeout=10, allow_redirects=False
        )
        answer.raise_for_status()

    photo = drawn_screen("Outlook", "Allow this website to configure alex@example.org server settings?", "#0f5a9c")
    post(
        "answer",
        {"text": "Here it is: it asks every time Outlook starts."},
        [("photo", ("IMG_2041.PNG", photo, "image/png"))],
    )
    client = TechClient(lambda: BuiltinConnector(url, token=token))
    client.add_note(ticket.id, "That prompt is from the mail profile; I reset it remotely. Better now?", internal=False)
    client.set_status(ticket.id, "resolved")
    client.close()
    post("feedback", {"solved": "yes"})
    post("rating", {"score": "5", "comment": "Fixed within the hour, thank you!"})


# ---------------------------------------------------------------- the technician's screen
def shoot(out: Path, display: str, url: str, tokens: dict[str, str], sent: dict[str, Any], showcase: Any) -> None:
    from PySide6.QtWidgets import QApplication

    from agent.config import load_config
    from technician.cli import build_window
    from technician.viewer import TAB_SYSTEM, TAB_TIMELINE

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    del showcase, display
    os.environ["SHOWDESK_TOKEN"] = tokens["technician"]
    config = load_config({"backend.url": url})
    # The technician was here half an hour ago and has seen what colleagues worked on since.
    from technician.settings import default_read_state_path

    seen_until = time.time() + 60
    default_read_state_path().parent.mkdir(parents=True, exist_ok=True)
    default_read_state_path().write_text(
        json.dumps(
            {
                "baseline": time.time() - 30 * 60,
                "seen": {sent[key].id: seen_until for key in ("excel", "outlook", "vpn")},
            }
        )
    )
    window = build_window(config, tray=False)
    window.setGeometry(0, 0, 1920, 1080)
    window.show()
    window.start()
    wait_until(app, lambda: window.caller is not None and not window.session.model.loading, "sign-in")
    model = window.session.model
    wait_until(app, lambda: model.row_of(sent["showcase"].id) is not None, "the queue")

    def save(name: str) -> None:
        settle(app, 0.6)
        path = out / f"tech-{name}.png"
        window.grab().save(str(path))
        print(f"saved {path}")

    # The queue, with the walk-up visitor at the tech bar selected.
    window.queue_view.select_ticket(sent["walkup-2"].id)
    wait_until(app, lambda: window.viewer.shown_image_count >= 1, "the walk-up photo")
    wait_until(app, lambda: all(row.flags is not None for row in model.rows[:30]), "flags of the rows on screen")
    save("queue")

    # The viewer: the showcase report, both monitors as they stood, then the system information.
    window.queue_view.select_ticket(sent["showcase"].id)
    viewer = window.viewer
    wait_until(app, lambda: viewer.shown_image_count == 2, "both monitors of step 1")
    wait_until(app, lambda: viewer.history.count() > 0, "the history")
    wait_until(app, lambda: all(not viewer.filmstrip.item(i).icon().isNull() for i in range(4)), "the filmstrip")
    save("viewer")
    viewer.select_step(2)  # the error, one screen, as large as the window allows
    wait_until(app, lambda: viewer.shown_image_count == 1, "step 3")
    save("viewer-step")
    viewer.select_step(0)
    viewer.tabs.setCurrentIndex(TAB_SYSTEM)
    save("system")
    viewer.tabs.setCurrentIndex(0)

    # The person's answer with a photo, their verdict and rating, in the ticket's timeline.
    window.queue_view.select_ticket(sent["outlook"].id)
    wait_until(app, lambda: viewer.info is not None and viewer.info.summary.id == sent["outlook"].id, "Outlook")
    viewer.tabs.setCurrentIndex(TAB_TIMELINE)
    wait_until(app, lambda: "<img" in viewer.timeline.toHtml(), "the person's photo")
    save("viewer-answer")
    viewer.tabs.setCurrentIndex(0)

    # A clip of the VPN dropping, after the report's step, stepped to the moment the connection goes.
    window.queue_view.select_ticket(sent["vpn"].id)
    wait_until(app, lambda: viewer.info is not None and viewer.info.summary.id == sent["vpn"].id, "the VPN ticket")
    viewer.select_clip(0)
    wait_until(app, lambda: viewer.clip_player.clip is not None, "the clip's frames")
    viewer.clip_player.show_frame(1)  # the middle of the three: reconnecting
    wait_until(app, lambda: not viewer.filmstrip.item(1).icon().isNull(), "the clip's thumbnail")
    save("viewer-clip")

    window.toggle_help()
    save("help")
    window.toggle_help()

    window.actions_by_name["show-dashboard"].trigger()
    wait_until(app, lambda: window.dashboard.stats is not None, "the figures")
    save("dashboard")

    window.shutdown()
    window.close()

    # The sign-in screen as a technician sees it with a token the server does not know.
    os.environ["SHOWDESK_TOKEN"] = "sdk_revoked-or-mistyped"  # noqa: S105 - a made-up token, refused on purpose
    refused = build_window(config, tray=False)
    refused.setGeometry(0, 0, 1400, 820)
    refused.show()
    refused.start()
    wait_until(app, lambda: refused.signin.kind == "refused", "the refusal")
    settle(app, 0.5)
    refused.grab().save(str(out / "tech-signin.png"))
    print(f"saved {out / 'tech-signin.png'}")
    refused.shutdown()
    refused.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    if shutil.which("Xvfb") is None:
        print("screenshots: Xvfb is not installed (Debian package: xvfb)", file=sys.stderr)
        return 1
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="showdesk-tech-screens-") as scratch:
        root = Path(scratch)
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
            (root / name).mkdir(mode=0o700)
            os.environ[name] = str(root / name)
        for name in [n for n in os.environ if n.startswith(("SHOWDESK_", "WAYLAND"))]:
            del os.environ[name]
        os.environ.update(
            SHOWDESK_RUNTIME_DIR=str(root / "runtime"),
            SHOWDESK_CONFIG=str(root / "config.toml"),
            SHOWDESK_MACHINE_CONFIG=str(root / "none.toml"),
            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
            QT_QPA_PLATFORM="xcb",
        )
        from tests.fixtures.server import ServerProcess
        from tests.fixtures.xvfb import set_monitors, start_xvfb

        with start_xvfb(3840, 1080) as xvfb:
            set_monitors(xvfb.display, [(0, 0, 1920, 1080), (1920, 0, 1920, 1080)])
            os.environ["DISPLAY"] = xvfb.display
            data = root / "server"
            write_history(data, time.time(), random.Random(7))  # noqa: S311 - demo data, not secrets
            server = ServerProcess(data).start()
            try:
                tokens = {
                    "laptop": server.token("submitter", name="laptop-agents"),
                    "kiosk": server.token("submitter", name="hq-bar-1", site=SITE),
                    "technician": server.token("technician", name="alex.kim"),
                    "colleague": server.token("technician", name="jo.berg"),
                }
                from PySide6.QtWidgets import QApplication

                app = QApplication([sys.argv[0]])
                app.setApplicationName("ShowDesk technician")
                showcase = capture_showcase(app, xvfb.display)
                sent = send_reports(server.url, tokens["laptop"], tokens["kiosk"], showcase, data)
                work_some_tickets(server.url, tokens["colleague"], sent)
                the_person_answers(server.url, tokens["colleague"], sent)
                shoot(out, xvfb.display, server.url, tokens, sent, showcase)
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
