"""Technician-mode test helpers: reports sent through the agent's core, windows on the real server."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from agent.bundle import StepDraft, build_bundle
from agent.connectors.builtin import BuiltinConnector
from agent.outbox import Outbox
from agent.schema import Geometry, Monitor, Report, Reporter, Source, Ticket
from technician.client import TechClient
from technician.model import ReadState
from technician.session import TechSession
from technician.settings import TechSettings
from technician.window import TechWindow
from technician.workers import FEED_THREAD, running_threads
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until

# A lane told to stop ends once the job under way (one fetch, one decode) is done.
LANE_END_SECONDS = 20.0


def screen_png(width: int, height: int, label: str, colour: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 10, height // 10, width // 2, height // 3), fill=(240, 240, 240))
    draw.text((width // 10 + 8, height // 10 + 8), label, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def crafted_sysinfo(**groups: Any) -> dict[str, Any]:
    """A snapshot shaped like ``agent.sysinfo.collect``'s, healthy unless a group is given."""
    snapshot: dict[str, Any] = {
        "os": {"name": "Debian GNU/Linux 12", "hostname": "pc-test", "uptime_seconds": 3600},
        "memory": {"total": 16 * 2**30, "available": 8 * 2**30, "percent": 50.0, "swap": {"total": 0}},
        "disks": [{"mount": "/", "filesystem": "ext4", "read_only": False, "total": 500 * 2**30,
                   "used": 100 * 2**30, "free": 400 * 2**30, "percent": 20.0}],
        "network": {"default_route_known": True, "default_routes": [{"family": "IPv4", "gateway": "192.0.2.1"}]},
        "battery": {"present": True, "plugged_in": True, "percent": 90.0},
    }  # fmt: skip
    snapshot.update(groups)
    return snapshot


@dataclass
class ReportSender:
    """Sends reports the way the laptop agent does: a bundle into the outbox, delivered by it."""

    server: ServerProcess
    outbox_dir: Path
    token: str = ""
    outbox: Outbox | None = field(default=None, init=False)
    bundles: dict[str, bytes] = field(default_factory=dict, init=False)  # ticket id → the bundle's bytes

    def __post_init__(self) -> None:
        self.token = self.token or self.server.token("submitter", site="HQ")
        self.outbox = Outbox(
            self.outbox_dir,
            connector_for=lambda _name: BuiltinConnector(self.server.url, token=self.token, connect_timeout=2.0),
        )

    def send(
        self,
        *,
        source_id: str = "pc-101",
        category: str = "Printing",
        description: str = "The printer shows an error",
        name: str | None = "Ada Lovelace",
        email: str | None = "ada@example.org",
        steps: Sequence[StepDraft] = (),
        sysinfo: Mapping[str, Any] | None = None,
        walk_up: bool = False,
        site: str | None = None,
        kind: str = "agent",
    ) -> Ticket:
        report = Report(
            id=uuid.uuid4(),
            reporter=Reporter(name=name, email=email),
            category=category,
            description=description,
            source=Source(kind=kind, id=source_id, site=site, app_version="test"),  # type: ignore[arg-type]
            walk_up=walk_up,
        )
        bundle = build_bundle(report, steps, sysinfo=dict(sysinfo) if sysinfo is not None else None)
        assert self.outbox is not None
        entry = self.outbox.put(bundle)
        attempt = self.outbox.deliver_now(entry.id)
        assert attempt.state == "delivered" and attempt.receipt is not None, attempt
        ticket = attempt.receipt.ticket
        self.bundles[ticket.id] = bundle.to_bytes()
        return ticket

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()


def multi_monitor_steps(count: int = 2, size: tuple[int, int] = (320, 180)) -> list[StepDraft]:
    """One capture of ``count`` monitors side by side, as ``capture_all`` makes them."""
    now = datetime.now(UTC)
    width, height = size
    return [
        StepDraft(
            image=screen_png(width, height, f"monitor {i + 1}", (40 + 60 * i, 90, 160)),
            width=width,
            height=height,
            captured_at=now + timedelta(milliseconds=20 * i),
            caption=f"Screen {i + 1}",
            monitor=Monitor(
                index=i + 1, name=f"DP-{i + 1}", geometry=Geometry(left=i * width, top=0, width=width, height=height)
            ),
        )
        for i in range(count)
    ]


class TechWindows:
    """Makes technician windows on a server; shuts every one down at the end."""

    def __init__(self, qtbot: QtBot, tmp_path: Path) -> None:
        self.qtbot = qtbot
        self.tmp_path = tmp_path
        self.windows: list[TechWindow] = []

    def session(
        self, server_url: str, token: str, *, connector: Any = None, credentials: Callable[[], str | None] | None = None
    ) -> TechSession:
        settings = TechSettings(long_poll_seconds=3.0, poll_seconds=2.0)
        read_state = ReadState(self.tmp_path / f"read-{len(self.windows)}.json", now=0.0)

        def connector_factory() -> Any:
            if connector is not None:
                return connector()
            return BuiltinConnector(server_url, token=token, connect_timeout=2.0, read_timeout=20.0)

        return TechSession(
            lambda: TechClient(connector_factory), settings, read_state=read_state, credentials=credentials
        )

    def __call__(
        self,
        server: ServerProcess,
        token: str | None = None,
        *,
        connector: Any = None,
        credentials: Callable[[], str | None] | None = None,
        sign_in: bool = True,
    ) -> TechWindow:
        token = token if token is not None else server.token("technician")
        session = self.session(server.url, token, connector=connector, credentials=credentials)
        return self.show(TechWindow(session, server=server.url, tray=False), sign_in=sign_in)

    def show(self, window: TechWindow, *, sign_in: bool = True) -> TechWindow:
        """Show ``window`` (made here or by ``technician.cli.build_window``), signed in unless told."""
        self.qtbot.addWidget(window)
        window.resize(1600, 900)
        window.show()
        self.qtbot.waitExposed(window)
        self.windows.append(window)
        if sign_in:
            with self.qtbot.waitSignal(window.session.signed_in, timeout=15_000):
                window.start()
            wait_loaded(self.qtbot, window)
        return window

    def close(self) -> None:
        for window in self.windows:
            window.shutdown()


# pytest-qt's key and mouse helpers carry no type hints; these typed wrappers keep the tests strict.
def key_click(
    qtbot: QtBot, widget: QWidget, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    qtbot.keyClick(widget, key, modifier)  # type: ignore[no-untyped-call]


def key_clicks(qtbot: QtBot, widget: QWidget, text: str) -> None:
    qtbot.keyClicks(widget, text)  # type: ignore[no-untyped-call]


def mouse_click(qtbot: QtBot, widget: QWidget, pos: QPoint | None = None) -> None:
    if pos is None:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    else:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)  # type: ignore[no-untyped-call]


def wait_loaded(qtbot: QtBot, window: TechWindow) -> None:
    model = window.session.model
    qtbot.waitUntil(lambda: model.started and not model.loading, timeout=15_000)


def numbers(window: TechWindow) -> list[str]:
    return [row.ticket.number for row in window.session.model.rows]


def open_in_viewer(qtbot: QtBot, window: TechWindow, ticket_id: str) -> None:
    qtbot.waitUntil(lambda: window.queue_view.select_ticket(ticket_id), timeout=10_000)
    qtbot.waitUntil(
        lambda: window.viewer.info is not None and window.viewer.info.summary.id == ticket_id, timeout=10_000
    )


@pytest.fixture(autouse=True)
def _technician_threads_stopped() -> Iterator[None]:
    """A test leaves none of technician mode's threads running unless it was told to stop.

    Whatever a test starts, its fixtures (or the test) stop: a thread left running would go on
    polling and delivering into the tests after it. A stopped lane ends once its job under way
    is done; a stopped changes feed may still finish its current long poll, reporting nothing.
    """
    yield
    running = running_threads()
    assert all(thread.stopping for thread in running), f"technician threads left running: {running}"
    wait_until(
        lambda: all(thread.name == FEED_THREAD for thread in running_threads()),
        f"stopped lanes ending: {running_threads()}",
        LANE_END_SECONDS,
    )


@pytest.fixture
def tech_windows(qtbot: QtBot, tmp_path: Path) -> Iterator[TechWindows]:
    factory = TechWindows(qtbot, tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def reporter(server_process: ServerProcess, tmp_path: Path) -> Iterator[ReportSender]:
    sender = ReportSender(server_process, tmp_path / "outbox")
    yield sender
    sender.close()
