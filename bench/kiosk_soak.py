"""Does a kiosk's memory stay flat over many visits? Resident memory across scripted walk-ups.

    .venv/bin/python bench/kiosk_soak.py --visits 40

The real kiosk window on its own Xvfb (1920x1080), a real built-in server on 127.0.0.1, and
every tap, drag and key sent through the X server with ``xdotool`` (pointer and keyboard as a
person's would arrive). Visits take turns: a photo marked up with the pointer, a guest who sends
nothing, a "Show me" capture of the kiosk's screen marked up with the pointer, and a typed
check-in with a photo left as it is, so the mark-up is drawn on every second visit. Each visit
ends on the Done screen, and the kiosk wipes itself for the next person.

Printed: resident memory (RSS) after every tenth visit (``--every N`` for more rows), measured
once the kiosk has tidied up for the next person, with its parts (the process's own memory,
mapped files, shared memory); the tickets the server holds; the highest RSS at any moment of
the visits (sampled every 2 ms from a thread of its own, and at every event loop turn); the
``--stages N`` stages of a visit with the highest RSS, each with its largest rise over the RSS
on entering it; a peer row (a second kiosk process idling the same wall time, started fresh;
``--no-peer`` leaves it out for a quicker look) and, as the last line, the growth from visit 10
to the last visit in MB. Targets: at most 10 MB growth from visit 10 to 40, and at most 200 MB
at any moment. The kiosk starts as ``showdesk kiosk`` does (``keep_working_memory()`` first).

Needs Xvfb and xdotool (Debian packages ``xvfb``, ``xdotool``). ``--idle SECONDS`` is the
peer's own mode (the bare kiosk, idling) and prints its RSS at start and end. A 40-visit run
takes about 8 minutes on 2 cores, and its peer as long again.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QWidget

    from kiosk.window import KioskWindow

TARGET_GROWTH_MB = 10.0
TARGET_PEAK_MB = 200.0
STEP_DEADLINE_S = 30.0
# Between two visitors (the kiosk tidies up half a second after a reset).
IDLE_BETWEEN_VISITS_S = 1.5
# xdotool's pause between typed keys: a quick typist.
TYPE_DELAY_MS = 40
# Loop turns (5 ms apart) a widget must stay in one place before it is tapped.
STILL_TURNS = 20
# The RSS sampler's period: a transient rise (a decode, an encode) lasts tens of milliseconds.
SAMPLE_INTERVAL_S = 0.002


def rss_mb(pid: int | None = None) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def rss_parts() -> str:
    """This process's resident memory by kind: its own (heap, pixels), mapped files (code), shared."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0]) / 1024
    return ", ".join(f"{name[3:].lower()} {mb:.1f}" for name, mb in fields.items())


@contextmanager
def private_environment(root: Path) -> Iterator[None]:
    """Nothing of the user's own: hand-over files, data dirs and settings all go under ``root``."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        (root / name).mkdir(mode=0o700, exist_ok=True)
        os.environ[name] = str(root / name)
    os.environ["SHOWDESK_RUNTIME_DIR"] = str(root / "runtime")
    os.environ["SHOWDESK_CONFIG"] = str(root / "config.toml")
    os.environ["SHOWDESK_MACHINE_CONFIG"] = str(root / "machine.toml")
    yield


def photo_png() -> bytes:
    """A camera-sized photo-like picture (busy pixels, so nothing compresses it away)."""
    from PIL import Image

    image = Image.effect_noise((1600, 1200), 48).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


class RssSampler:
    """The highest resident memory at any moment, per stage of a visit, from a thread of its own.

    A thread, not the event loop: the highest moments are when the GUI thread is busy (decoding a
    picture, re-rendering the window) or waits on a worker, and a loop turn would miss them.
    Reading ``/proc/self/statm`` takes no lock the kiosk holds; Pillow's encoders, libwebp and
    Qt's painting release Python's lock, so the samples go on while they run.
    """

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.stage = "start"
        self.peak_mb = 0.0
        self.stage_peaks: dict[str, float] = {}
        self.stage_rises: dict[str, float] = {}
        self._entered_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def enter(self, stage: str) -> None:
        """From now on samples count for ``stage``; its RSS on entering is kept for the rise."""
        self._entered_at = self.now()
        self.stage = stage

    def now(self) -> float:
        with Path("/proc/self/statm").open() as statm:
            return int(statm.read().split()[1]) * self._page_mb

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            mb, stage, entered_at = self.now(), self.stage, self._entered_at
            self.peak_mb = max(self.peak_mb, mb)
            self.stage_peaks[stage] = max(self.stage_peaks.get(stage, 0.0), mb)
            self.stage_rises[stage] = max(self.stage_rises.get(stage, 0.0), mb - entered_at)

    def report(self, top: int) -> list[str]:
        """The ``top`` stages with the highest RSS, each with its largest rise over its RSS on entering."""
        ranked = sorted(self.stage_peaks.items(), key=lambda item: item[1], reverse=True)[:top]
        return [f"    {peak:6.1f} MB ({self.stage_rises.get(stage, 0.0):+5.1f}) {stage}" for stage, peak in ranked]


class Driver:
    """Pointer and keys through the X server, while this process's Qt event loop keeps running."""

    def __init__(self, app: QApplication, display: str, sampler: RssSampler | None = None) -> None:
        self.app = app
        self.env = {**os.environ, "DISPLAY": display}
        self.sampler = sampler
        self.peak_mb = 0.0  # the highest RSS seen at any moment of the visits (sampled each loop turn)

    def stage(self, name: str) -> None:
        if self.sampler is not None:
            self.sampler.enter(name)

    def pump_until(self, condition: Callable[[], bool], what: str, timeout: float = STEP_DEADLINE_S) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        # A real event loop turn, not processEvents(): deleteLater() and the rest of Qt's
        # housekeeping behave as under the kiosk's own exec().
        loop = QEventLoop()
        tick = QTimer()
        tick.setSingleShot(True)
        tick.setInterval(5)
        tick.timeout.connect(loop.quit)
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"not within {timeout:.0f} s: {what}")
            tick.start()
            loop.exec()
            self.peak_mb = max(self.peak_mb, rss_mb())

    def xdotool(self, *args: str) -> None:
        process = subprocess.Popen(["xdotool", *args], env=self.env)
        # The kiosk must keep handling events while xdotool's input arrives.
        self.pump_until(lambda: process.poll() is not None, f"xdotool {' '.join(args[:3])}")
        if process.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(args)} failed ({process.returncode})")
        self.settle()

    def idle(self, seconds: float) -> None:
        """Nobody at the kiosk for ``seconds``; its event loop runs."""
        deadline = time.monotonic() + seconds
        self.pump_until(lambda: time.monotonic() >= deadline, "idling", timeout=seconds + STEP_DEADLINE_S)

    def settle(self) -> None:
        """Let what the X server sent arrive and be handled."""
        turns = iter(range(5))
        self.pump_until(lambda: next(turns, None) is None, "five event loop turns")

    @staticmethod
    def centre(widget: QWidget) -> tuple[int, int]:
        point = widget.mapToGlobal(widget.rect().center())
        return point.x(), point.y()

    def click(self, widget: QWidget) -> None:
        self.pump_until(lambda: widget.isVisible() and widget.isEnabled(), f"{widget.objectName()} tappable")
        self.wait_still(widget)
        x, y = self.centre(widget)
        under = self.app.widgetAt(x, y)
        if under is None or not (under is widget or widget.isAncestorOf(under)):
            raise RuntimeError(f"{widget.objectName() or widget} is covered by {under and under.objectName()}")
        self.xdotool("mousemove", "--sync", str(x), str(y), "click", "1")

    def wait_still(self, widget: QWidget, turns: int = STILL_TURNS) -> None:
        """Until ``widget`` has stayed in one place for ``turns`` loop turns: the capture bar moves
        up when its on-screen keyboard opens, and a tap aimed before that lands beside it."""
        seen: list[tuple[int, int]] = []

        def still() -> bool:
            seen.append(self.centre(widget))
            return len(seen) >= turns and len(set(seen[-turns:])) == 1

        self.pump_until(still, f"{widget.objectName()} in one place")

    def type_into(self, widget: QWidget, text: str) -> None:
        self.click(widget)
        self.pump_until(widget.hasFocus, f"{widget.objectName()} focused")
        self.xdotool("type", "--delay", str(TYPE_DELAY_MS), text)

    def hide_keyboard(self, window: QWidget) -> None:
        """Tap the on-screen keyboard's hide key, as a person does to see the buttons under it."""
        from PySide6.QtWidgets import QAbstractButton

        keyboard = window.keyboard.keyboard  # type: ignore[attr-defined]
        if keyboard.isVisible():
            key = keyboard.findChild(QAbstractButton, "key-hide")
            self.click(key)
            self.pump_until(lambda: not keyboard.isVisible(), "the on-screen keyboard hidden")

    def drag(self, widget: QWidget, start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> None:
        """A press, a path of moves and a release, in fractions of ``widget``'s size."""
        origin = widget.mapToGlobal(widget.rect().topLeft())
        width, height = widget.width(), widget.height()

        def at(fx: float, fy: float) -> list[str]:
            return [str(origin.x() + round(fx * width)), str(origin.y() + round(fy * height))]

        args = ["mousemove", "--sync", *at(*start), "mousedown", "1"]
        for i in range(1, steps + 1):
            t = i / steps
            args += ["mousemove", *at(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)]
        args += ["mouseup", "1"]
        self.xdotool(*args)


def run_visits(visits: int, display: str, root: Path, every: int, stages: int) -> list[tuple[int, float]]:
    from PySide6.QtWidgets import QApplication

    from agent.connectors.builtin import BuiltinConnector
    from agent.encoding import keep_working_memory
    from agent.outbox import Outbox, Sender
    from kiosk.flow import Stage
    from kiosk.image_source import FileImageSource
    from kiosk.settings import parse_settings
    from kiosk.showme import mss_grabber
    from kiosk.window import KioskServices, KioskWindow
    from shared_qt.markup_editor import MarkupEditor
    from tests.fixtures.server import ServerProcess

    # As the kiosk's own start does (kiosk.cli.run_kiosk), before its window exists.
    keep_working_memory()
    server = ServerProcess(root / "server").start()
    try:
        token = server.token("submitter", site="Soak")
        app = QApplication.instance() or QApplication(sys.argv[:1])
        assert isinstance(app, QApplication)
        sampler = RssSampler()
        driver = Driver(app, display, sampler)
        outbox = Outbox(root / "outbox", connector_for=lambda _n: BuiltinConnector(server.url, token=token))
        sender = Sender(outbox, max_idle=0.5)
        sender.start()
        photo = root / "photo.png"
        photo.write_bytes(photo_png())
        settings = parse_settings(
            {
                "site": "Soak",
                # Long enough that no visit is cut short by the idle timer.
                "idle_seconds": 3600,
                "allowed_apps": [{"id": "app", "label": "App", "command": ["sleep", "600"]}],
            }
        )
        services = KioskServices(
            outbox=outbox,
            temp_root=root / "sessions",
            queue_connector=lambda: BuiltinConnector(server.url, token=token),
            sysinfo=lambda: {"os": {"name": "Soak"}, "memory": {"total_bytes": 2**33}},
            grab_factory=mss_grabber(display, 1),
            image_source=FileImageSource(photo),
            editor_factory=MarkupEditor,
            patience_seconds=60,
        )
        window = KioskWindow(settings, services, windowed=True)
        window.setGeometry(0, 0, 1920, 1080)
        window.show()
        window.activateWindow()
        driver.pump_until(window.isActiveWindow, "the kiosk window active")
        figures: list[tuple[int, float]] = []
        try:
            with sampler:
                for visit in range(1, visits + 1):
                    one_visit(driver, window, visit, Stage)
                    # The moments before the next person walks up, in which the kiosk tidies up.
                    driver.stage("between visits")
                    driver.idle(IDLE_BETWEEN_VISITS_S)
                    if visit % every == 0 or visit == visits:
                        figures.append((visit, rss_mb()))
                        print(f"  visit {visit:3d}: {figures[-1][1]:6.1f} MB ({rss_parts()})", flush=True)
            driver.pump_until(lambda: not outbox.list(), "every report delivered", timeout=120)
        finally:
            window.allow_close = True
            window.close()
            window.shutdown()
            sender.stop(timeout=30)
            outbox.close()
        tickets = server_ticket_count(server, token)
        print(f"  tickets on the server: {tickets} (visits: {visits})")
        print(f"  highest at any moment of a visit: {sampler.peak_mb:.1f} MB (target ≤ {TARGET_PEAK_MB:.0f} MB)")
        print(f"  highest seen at an event loop turn: {driver.peak_mb:.1f} MB")
        if stages:
            print(f"  the {stages} stages with the highest RSS (rise over the RSS on entering the stage):")
            print("\n".join(sampler.report(stages)))
        return figures
    finally:
        server.stop()


def server_ticket_count(server: Any, token: str) -> int:
    import requests

    admin = server.token("admin")
    answer = requests.get(f"{server.url}/api/v1/tickets", headers=server.auth(admin), params={"limit": 200}, timeout=30)
    answer.raise_for_status()
    return len(answer.json()["tickets"])


def one_visit(driver: Driver, window: KioskWindow, visit: int, stage: Any) -> None:
    """One person, start to Done. The kind of visit follows ``visit``: see the module's text."""
    kind = ("photo-markup", "guest", "showme-markup", "typed-photo")[(visit - 1) % 4]
    driver.stage(f"{kind}: welcome to what")
    driver.click(window.welcome.start_button)
    driver.pump_until(lambda: window.flow.stage is stage.WHO, "Who")
    if kind == "guest" or kind == "showme-markup":
        driver.click(window.who.guest_button)
    else:
        driver.type_into(window.who.name_edit, f"Visitor {visit}")
        driver.type_into(window.who.email_edit, f"visitor{visit}@example.org")
        driver.xdotool("key", "Return")  # the on-screen keyboard covers Continue; Enter sends the form
    driver.pump_until(lambda: window.flow.stage is stage.WHAT, "What")
    driver.click(window.what.tiles["laptop"])
    description = window.what.description_edit
    driver.type_into(description, f"Visit {visit}: the screen stays dark")
    driver.hide_keyboard(window)
    driver.click(window.what.continue_button)
    driver.pump_until(lambda: window.flow.stage is stage.SHOW, "Show")
    show = window.show_screen
    if kind in ("photo-markup", "typed-photo"):
        driver.stage(f"{kind}: the photo")
        driver.click(show.photo_button)
        driver.click(show.take_photo_button)
        driver.pump_until(lambda: len(window.session.steps) == 1, "the photo as a step")
    elif kind == "showme-markup":
        driver.stage(f"{kind}: to the app")
        driver.click(show.app_buttons["app"])
        controller = window.showme
        assert controller is not None
        driver.pump_until(controller.bar.isVisible, "the capture bar")
        driver.stage(f"{kind}: capture and encode")
        driver.click(controller.bar.capture_button)
        driver.pump_until(lambda: len(window.session.steps) == 1, "the capture as a step")
        driver.stage(f"{kind}: back from the app")
        driver.click(controller.bar.done_button)
        driver.pump_until(window.isVisible, "the kiosk back")
        driver.stage(f"{kind}: back from the app, the kiosk shown")
    driver.pump_until(lambda: show.continue_button.isVisible(), "Show's continue")
    driver.stage(f"{kind}: to review")
    driver.click(show.continue_button)
    driver.pump_until(lambda: window.flow.stage is stage.REVIEW, "Review")
    review = window.review
    if kind.endswith("markup"):
        markup_button = review.findChild(type(review.send_button), "markup-1")
        assert markup_button is not None, "a step card with Mark up"
        driver.stage(f"{kind}: open the mark-up")
        driver.click(markup_button)
        editor: Any = review.editor
        driver.pump_until(lambda: editor is not None and editor.isVisible(), "the mark-up editor")
        canvas = editor.canvas()
        driver.stage(f"{kind}: draw")
        for tool, start, end in (
            ("arrow", (0.2, 0.2), (0.45, 0.5)),
            ("rectangle", (0.5, 0.2), (0.8, 0.45)),
            ("highlight", (0.1, 0.6), (0.4, 0.75)),
            ("arrow", (0.7, 0.8), (0.55, 0.55)),
        ):
            driver.click(editor.tool_button(tool))
            driver.drag(canvas, start, end)
        driver.pump_until(lambda: len(editor.items()) == 4, "four drawn items")
        driver.stage(f"{kind}: save the mark-up (flatten)")
        driver.click(review.save_markup_button)
        driver.pump_until(lambda: review.pages.currentIndex() == 0, "back on the overview")
    driver.stage(f"{kind}: send")
    driver.click(review.send_button)
    driver.pump_until(lambda: window.flow.stage is stage.SEND, "Send")
    driver.click(window.send.send_button)
    driver.pump_until(lambda: window.flow.stage is stage.DONE, "Done", timeout=90)
    driver.stage(f"{kind}: done, the kiosk wiped")
    driver.click(window.done.finish_button)
    driver.pump_until(lambda: window.flow.stage is stage.WELCOME, "Welcome again")


def idle_kiosk(seconds: float, display: str, root: Path) -> None:
    """The peer: the same kiosk, shown and idling; prints RSS at start and end as JSON."""
    from PySide6.QtWidgets import QApplication

    from agent.outbox import Outbox
    from kiosk.settings import parse_settings
    from kiosk.window import KioskServices, KioskWindow
    from shared_qt.markup_editor import MarkupEditor

    app = QApplication(sys.argv[:1])
    driver = Driver(app, display)
    outbox = Outbox(root / "outbox")
    settings = parse_settings({"site": "Soak", "idle_seconds": 3600})
    services = KioskServices(outbox=outbox, temp_root=root / "sessions", editor_factory=MarkupEditor)
    window = KioskWindow(settings, services, windowed=True)
    window.setGeometry(0, 0, 1920, 1080)
    window.show()
    driver.pump_until(window.isVisible, "the idle kiosk shown")
    driver.settle()
    start = rss_mb()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)  # idling is the point
    end = rss_mb()
    print(f"  the bare kiosk: {rss_parts()}", file=sys.stderr)
    window.allow_close = True
    window.close()
    window.shutdown()
    outbox.close()
    print(json.dumps({"start_mb": start, "end_mb": end}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=40)
    parser.add_argument("--idle", type=float, default=None, help="peer mode: idle this many seconds")
    parser.add_argument("--every", type=int, default=10, help="print RSS after every this many visits")
    parser.add_argument("--stages", type=int, default=8, help="list this many stages with the highest RSS")
    parser.add_argument("--no-peer", action="store_true", help="skip the idling peer (a quicker look at one change)")
    parser.add_argument("--display", default=None, help="an X display to use instead of a private Xvfb")
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (Debian package: {tool.lower()})", file=sys.stderr)
            return 2
    from tests.fixtures.xvfb import start_xvfb

    with tempfile.TemporaryDirectory(prefix="showdesk-soak-") as scratch:
        root = Path(scratch)
        with private_environment(root):
            if args.idle is not None:
                os.environ["QT_QPA_PLATFORM"] = "xcb"
                os.environ["DISPLAY"] = args.display
                idle_kiosk(args.idle, args.display, root)
                return 0
            with start_xvfb(1920, 1080) as xvfb:
                os.environ["QT_QPA_PLATFORM"] = "xcb"
                os.environ["DISPLAY"] = xvfb.display
                os.environ.pop("WAYLAND_DISPLAY", None)
                print(f"Kiosk soak: {args.visits} visits on Xvfb {xvfb.display}, mark-up on every second visit")
                began = time.monotonic()
                figures = run_visits(args.visits, xvfb.display, root, max(1, args.every), max(0, args.stages))
                elapsed = time.monotonic() - began
                idle: dict[str, float] | None = None
                if not args.no_peer:
                    peer = subprocess.run(
                        [sys.executable, __file__, "--idle", f"{elapsed:.0f}", "--display", xvfb.display],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    idle = json.loads(peer.stdout.strip().splitlines()[-1])
    peak = max(mb for _visit, mb in figures)
    if idle is not None:
        print(
            f"  peer: the bare kiosk idling {elapsed:.0f} s: {idle['start_mb']:.1f} → {idle['end_mb']:.1f} MB "
            f"({idle['end_mb'] - idle['start_mb']:+.1f} MB)"
        )
    print(f"  highest after a printed visit: {peak:.1f} MB (target ≤ {TARGET_PEAK_MB:.0f} MB)")
    at_ten = next((mb for visit, mb in figures if visit == 10), figures[0][1])
    last_visit, last = figures[-1]
    print(f"growth from visit 10 to {last_visit}: {last - at_ten:+.1f} MB (target ≤ {TARGET_GROWTH_MB:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
