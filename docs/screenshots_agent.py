"""Screenshots of the laptop agent: ``.venv/bin/python docs/screenshots_agent.py [--out docs]``.

Starts a private Xvfb at 1920x1080 showing a made-up desktop (a print queue with an error), runs
the real agent on it (Qt on xcb) with every path in a temporary directory, walks it as a person
would, and saves what the X screen shows:

    agent-tray-menu.png        the tray menu (Xvfb has no tray, so the same menu is popped up)
    agent-report-window.png    the report window after a capture, with description and system information
    agent-markup-editor.png    the mark-up editor with an arrow, a box, a numbered marker, text, a black-out
    agent-step-recorder.png    the step recorder's tool bar over the desktop
    agent-settings.png         the settings dialog: help desk address, proxy, sign-in, capture, global shortcut
    agent-settings-wayland.png the same where no program may take a global key: the command to bind instead
    agent-my-requests.png      My requests: the help desk's reply and the person's answer with a screenshot
                               (a real built-in server on loopback, the answer sent through the window)

Nothing of the user's own configuration, outbox or keyring is touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

REPO = Path(__file__).resolve().parent.parent
SIZE = (1920, 1080)
HELPDESK_URL = "https://helpdesk.example.org"  # made up: the agent only shows it


def desktop_picture() -> object:
    """A desktop with a print queue window that shows an error, and an account number to black out."""
    from PIL import Image, ImageDraw

    from agent.markup import load_font

    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        shade = int(40 + 50 * y / SIZE[1])
        draw.line([(0, y), (SIZE[0], y)], fill=(shade // 2, shade, 90 + shade))
    title, body, small = load_font(22), load_font(20), load_font(16)
    # A print queue window.
    draw.rectangle([300, 160, 1240, 760], fill=(246, 246, 246), outline=(60, 60, 60))
    draw.rectangle([300, 160, 1240, 204], fill=(52, 58, 70))
    draw.text((318, 170), "Print queue — Room 4.12 (HP LaserJet)", fill="white", font=title)
    draw.rectangle([320, 224, 1220, 268], fill=(255, 235, 235), outline=(200, 60, 60))
    draw.text((336, 234), "⚠  The printer is offline. 3 documents are waiting.", fill=(170, 30, 30), font=body)
    rows = [
        ("Quarterly report.pdf", "Ada Lovelace", "12 pages", "Waiting"),
        ("Travel expenses.xlsx", "Ada Lovelace", "2 pages", "Waiting"),
        ("Invoice 2024-117.pdf", "Ada Lovelace", "1 page", "Error"),
    ]
    draw.text(
        (336, 292), "Document                      Owner            Size         Status", fill=(90, 90, 90), font=small
    )
    for number, (name, owner, size, status) in enumerate(rows):
        y = 326 + number * 40
        draw.text((336, y), f"{name:<30}{owner:<17}{size:<13}{status}", fill=(20, 20, 20), font=small)
    draw.text((336, 480), "Billing account: 4711-0815-2233 (cost centre Finance)", fill=(20, 20, 20), font=body)
    for index, label in enumerate(("Resume", "Cancel all", "Printer settings…")):
        left = 336 + index * 220
        draw.rounded_rectangle([left, 680, left + 200, 730], radius=6, fill=(228, 228, 228), outline=(150, 150, 150))
        draw.text((left + 20, 694), label, fill=(20, 20, 20), font=body)
    # A task bar.
    draw.rectangle([0, SIZE[1] - 44, SIZE[0], SIZE[1]], fill=(24, 26, 32))
    draw.text((20, SIZE[1] - 34), "Files   Mail   Browser   Print queue", fill=(220, 220, 220), font=small)
    return image


# ---------------------------------------------------------------- the agent on the private screen
class AgentStage:
    """The real agent (Qt on xcb) on the private X screen, with every path in a temporary
    directory, and what the screenshot scripts do with it: wait on the event loop, save a region
    of the screen, frame a window. Shared with ``screenshots_agent_clips.py``."""

    def __init__(self, out: Path, **settings: Any) -> None:
        from PySide6.QtWidgets import QApplication

        self.app = QApplication([sys.argv[0]])
        self.app.setStyle("Fusion")
        from agent.laptop.agent_app import AgentApp, AgentServices
        from agent.laptop.settings_store import AgentSettings
        from agent.outbox import Outbox
        from agent.sysinfo import SysinfoOptions, collect

        self.out = out
        self.services = AgentServices(
            outbox=Outbox(Path(os.environ["SHOWDESK_SCREENSHOT_TMP"]) / "outbox"),
            settings=AgentSettings(backend_url=HELPDESK_URL, **settings),
            collect_sysinfo=lambda monitors: collect(SysinfoOptions(timeout=1.0, monitors=monitors)),
            use_tray=False,
            quit_application=False,
        )
        self.agent = AgentApp(self.services)

    def wait(self, ms: int) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait_until(self, condition: Callable[[], bool], limit_ms: int = 20_000) -> None:
        waited = 0
        while not condition():
            if waited > limit_ms:
                raise RuntimeError("the agent did not get there in time")
            self.wait(50)
            waited += 50

    def save(self, name: str, left: int, top: int, width: int, height: int) -> None:
        """What the X screen shows in that rectangle (clipped to the screen), as ``out/name``."""
        from agent.capture import Capturer

        left, top = max(0, left), max(0, top)
        width, height = min(width, SIZE[0] - left), min(height, SIZE[1] - top)
        with Capturer() as capturer:
            shot = capturer.capture_region((left, top, width, height))
        shot.image().save(self.out / name)
        print(f"saved {self.out / name}")

    @staticmethod
    def frame_of(widget: QWidget, margin: int = 0) -> tuple[int, int, int, int]:
        rect = widget.frameGeometry()
        return rect.x() - margin, rect.y() - margin, rect.width() + 2 * margin, rect.height() + 2 * margin


# ---------------------------------------------------------------- the child: the agent on xcb
def child(out: Path) -> int:
    from PySide6.QtCore import QPoint

    stage = AgentStage(out)  # the Qt application first: the modules below may use it
    from agent.laptop.settings_store import AgentSettings
    from agent.markup import new_item

    agent = stage.agent
    wait, wait_until, save, frame_of = stage.wait, stage.wait_until, stage.save, stage.frame_of

    # The tray menu, popped up where a tray icon would be.
    agent.tray.set_waiting(1, None)
    agent.tray.menu.popup(QPoint(1560, 620))
    wait_until(lambda: agent.tray.menu.isVisible())
    wait(400)
    menu = agent.tray.menu.frameGeometry()
    save("agent-tray-menu.png", menu.x() - 300, menu.y() - 120, menu.width() + 360, menu.height() + 180)
    agent.tray.menu.hide()
    wait(200)

    # The report window after "Report a problem".
    shown: list[object] = []
    agent.report_shown.connect(shown.append)
    agent.start_report("all")
    wait_until(lambda: bool(shown))
    window = agent.report_window
    assert window is not None
    window.setGeometry(150, 60, 1620, 940)
    window.description_edit.setPlainText(
        "The printer in room 4.12 says it is offline, but it is switched on and shows no error. "
        "Three documents are stuck in the queue since this morning."
    )
    window.category_combo.setCurrentText("Printer")
    window.name_edit.setText("Ada Lovelace")
    window.email_edit.setText("ada.lovelace@example.org")
    window.caption_edit.setText("The print queue right after I pressed Print")
    wait_until(lambda: window.draft.sysinfo is not None)
    preview = window.sysinfo_preview
    if "processes" in preview.groups():
        preview.set_group_included("processes", False)
    if "os" in preview.groups():
        preview.group_item("os").setExpanded(True)
    wait(600)
    save("agent-report-window.png", *frame_of(window, 8))

    # Mark-up on the capture.
    document = window.editor.document()
    document.add(new_item("rectangle", [(316, 218), (1226, 274)], stroke_width=5))
    document.add(new_item("arrow", [(1500, 420), (1232, 250)], stroke_width=6))
    document.add(new_item("marker", [(1262, 246)], text="1", stroke_width=5))
    document.add(new_item("text", [(1300, 440)], text="Printer is on, no error light", stroke_width=5))
    document.add(new_item("redaction", [(520, 476), (760, 504)]))
    window.editor.set_tool("redaction")
    wait(600)
    editor = window.editor
    top_left = editor.mapToGlobal(QPoint(0, 0))
    save("agent-markup-editor.png", top_left.x() - 4, top_left.y() - 4, editor.width() + 8, editor.height() + 8)
    window.hide()
    wait(300)

    # The step recorder over the desktop, two steps in.
    agent.start_recording()
    for count, caption in enumerate(("Open the print queue", "Press Resume"), start=1):
        agent.recorder.capture_step(caption)

        def recorded(count: int = count) -> bool:
            return len(agent.recorder.steps) >= count and agent.recorder.bar.isVisible()

        wait_until(recorded)
    agent.recorder.bar.caption_edit.setText("Open the printer settings")
    wait(600)
    left, top, width, height = frame_of(agent.recorder.bar)
    save("agent-step-recorder.png", left - 160, top - 420, width + 320, height + 460)
    agent.recorder.bar.hide()
    wait(300)

    # Settings, as the agent opens them (it holds the global shortcut on this X display).
    agent.open_settings()
    dialog = agent.settings_dialog
    assert dialog is not None
    dialog.proxy_edit.setText("http://proxy.example.org:3128")
    dialog.move(560, 120)
    wait_until(dialog.isVisible)
    wait(600)
    save("agent-settings.png", *frame_of(dialog))
    dialog.reject()
    wait(300)

    # The same dialog where the desktop lets no program take a key (a Wayland session).
    from agent.laptop.hotkey import HotkeyStatus
    from agent.laptop.settings_dialog import SettingsDialog

    wayland = SettingsDialog(
        AgentSettings(backend_url=HELPDESK_URL),
        hotkey_status=HotkeyStatus(
            False, "No global shortcut here: a Wayland desktop does not let programs take a global key."
        ),
    )
    wayland.move(560, 120)
    wayland.show()
    wait_until(wayland.isVisible)
    wait(600)
    save("agent-settings-wayland.png", *frame_of(wayland))
    wayland.reject()
    wait(300)

    my_requests(agent, Path(os.environ["SHOWDESK_SCREENSHOT_TMP"]), wait, wait_until, save, frame_of)
    agent.shutdown()
    return 0


def my_requests(
    agent: object,
    root: Path,
    wait: Callable[[int], None],
    wait_until: Callable[[Callable[[], bool]], None],
    save: Callable[..., None],
    frame_of: Callable[..., tuple[int, int, int, int]],
) -> None:
    """My requests against a real built-in server: a reply, the person's answer with a screenshot."""
    from agent.connectors.builtin import BuiltinConnector
    from agent.laptop.agent_app import AgentApp
    from agent.laptop.queue_windows import RepliesBridge, RequestsWindow
    from agent.laptop.replies import ReplyPoller
    from agent.outbox import Outbox
    from shared_qt.outbox_bridge import OutboxBridge
    from tests.fixtures.server import ServerProcess
    from tests.outbox.helpers import make_bundle

    assert isinstance(agent, AgentApp)
    server = ServerProcess(root / "server" / "data").start()
    try:
        person = server.token("submitter", name="laptop-ada")
        desk = BuiltinConnector(server.url, token=server.token("technician", name="Sam"))

        def connector() -> BuiltinConnector:
            return BuiltinConnector(server.url, token=person)

        outbox = Outbox(root / "requests-outbox", connector_for=lambda _name: connector())
        older = make_bundle(1, description="The VPN drops every few minutes")
        outbox.deliver_now(outbox.put(older).id)
        newer = make_bundle(2, description="The printer in room 2.14 says its paper tray is empty")
        outbox.deliver_now(outbox.put(newer).id)
        receipts = {r.report_id: r for r in outbox.receipts()}
        for status in ("open", "resolved"):
            desk.set_status(receipts[str(older.report.id)].ticket_id, status)
        ticket_id = receipts[str(newer.report.id)].ticket_id
        desk.add_note(ticket_id, "internal: the tray sensor of this model is known to stick", internal=True)
        desk.add_note(
            ticket_id,
            "Which printer is it: the one by the window or the one by the door? "
            "A screenshot of the print queue would help.",
            internal=False,
        )
        desk.set_status(ticket_id, "waiting")

        poller = ReplyPoller(outbox.receipts, connector)
        replies = RepliesBridge(poller)
        window = RequestsWindow(outbox, OutboxBridge(outbox), connector, replies=replies, capture=agent.capture)
        window.move(520, 140)
        window.resize(900, 720)
        window.show()
        poller.poll_once()  # on this thread: the window hears it at once
        wait_until(lambda: len(window.message_views()) == 1)
        window.answer_text.setPlainText("The one by the door. Here is the print queue.")
        window.add_screenshot()
        wait_until(lambda: bool(window.drafts.get(window.shown_report or "")) and not agent.capture.busy)
        wait_until(lambda: window.send_button.isEnabled())
        window.send_answer()
        wait_until(lambda: window.sending is None and len(window.message_views()) == 2)
        window.answer_text.setPlainText("It printed a test page just now, so maybe it is fixed?")
        wait(600)
        save("agent-my-requests.png", *frame_of(window, 8))
        window.hide()
        window.wait_idle()
        replies.detach()
        desk.close()
        outbox.close()
    finally:
        server.stop()


# ---------------------------------------------------------------- the parent: Xvfb and isolation
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.out)
    return run_on_private_screen(Path(__file__), args.out, desktop_picture())


def run_on_private_screen(script: Path, out: Path, desktop: object) -> int:
    """``script --child --out OUT`` on a private Xvfb showing ``desktop`` (a Pillow image), with
    every path of the agent in a temporary directory and no token, URL or Wayland display of the
    caller's; its exit code."""
    sys.path.insert(0, str(REPO))
    from tests.fixtures.xvfb import paint_root, start_xvfb

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="showdesk-agent-shots-") as temp, start_xvfb(*SIZE) as server:
        root = Path(temp)
        paint_root(server.display, desktop)  # type: ignore[arg-type]
        env = {
            **server.env,
            "QT_QPA_PLATFORM": "xcb",
            "PYTHONPATH": str(REPO),
            "SHOWDESK_SCREENSHOT_TMP": str(root),
            "SHOWDESK_CONFIG": str(root / "config.toml"),
            "SHOWDESK_MACHINE_CONFIG": str(root / "machine.toml"),
            "SHOWDESK_RUNTIME_DIR": str(root / "runtime"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "XDG_STATE_HOME": str(root / "state"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        for name in ("SHOWDESK_TOKEN", "SHOWDESK_URL", "SHOWDESK_BACKEND", "WAYLAND_DISPLAY"):
            env.pop(name, None)
        completed = subprocess.run([sys.executable, str(script), "--child", "--out", str(out)], env=env, cwd=REPO,
                                   timeout=300)
        return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
