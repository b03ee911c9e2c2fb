"""Screenshots of every kiosk screen: ``.venv/bin/python docs/screenshots.py [--out docs]``.

Starts a private Xvfb at 1920x1080 and a built-in server on loopback with a throw-away data
directory, runs the real kiosk (full screen, as on a tech bar) against them, walks the flow
as a person would, and saves what the X screen shows as ``kiosk-<screen>.png``. Nothing of
the user's own configuration, outbox or keyring is touched: every path points into a
temporary directory.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SITE = "HQ Tech Bar"
CONFIG = f"""
[kiosk]
site = "{SITE}"
kiosk_id = "hq-bar-1"
idle_seconds = 600

[[kiosk.articles]]
id = "reset-password"
title = {{ en = "Reset your password", de = "Passwort zurücksetzen" }}
url = "https://help.example.org/reset-password"

[[kiosk.articles]]
id = "mfa"
title = {{ en = "Set up your authenticator app", de = "Authenticator-App einrichten" }}
url = "https://help.example.org/mfa"

[[kiosk.categories]]
id = "sign-in"
label = {{ en = "Can't sign in", de = "Anmeldung klappt nicht" }}
articles = ["reset-password", "mfa"]

[[kiosk.categories]]
id = "laptop"
label = {{ en = "Laptop", de = "Laptop" }}

[[kiosk.categories]]
id = "printer"
label = {{ en = "Printer", de = "Drucker" }}

[[kiosk.categories]]
id = "software"
label = {{ en = "Software", de = "Software" }}

[[kiosk.categories]]
id = "other"
label = {{ en = "Something else", de = "Etwas anderes" }}

[[kiosk.allowed_apps]]
id = "browser"
label = {{ en = "Browser", de = "Browser" }}
command = ["{sys.executable}", "{Path(__file__).resolve()}", "--fake-browser"]
"""


# ---------------------------------------------------------------- the parent: Xvfb, server, child
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    # Read up to the newline: closing the pipe before Xvfb has written all of it ends Xvfb.
    received = b""
    deadline = time.monotonic() + 15
    while not received.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(read_fd, 64) if ready else b""
        if not chunk:
            break
        received += chunk
    os.close(read_fd)
    number = received.decode().strip()
    if not number:
        xvfb.kill()
        raise SystemExit("screenshots: Xvfb did not start (Debian package: xvfb)")
    return xvfb, f":{number}"


def _server(data: Path, port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    import requests

    server = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(data)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    else:
        server.kill()
        raise SystemExit("screenshots: the built-in server did not start")
    token = subprocess.run(
        [sys.executable, "-m", "server", "token", "create", "--role", "submitter", "--name", "screenshots",
         "--site", SITE, "--data", str(data)],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    return server, token


def parent(out: Path) -> int:
    if shutil.which("Xvfb") is None:
        print("screenshots: Xvfb is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="showdesk-screens-") as scratch:
        root = Path(scratch)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOWDESK_", "WAYLAND"))}
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
            (root / name).mkdir(mode=0o700)
            env[name] = str(root / name)
        env["SHOWDESK_RUNTIME_DIR"] = str(root / "runtime")
        env["PYTHONPATH"] = str(REPO)
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        xvfb, display = _start_xvfb()
        port = _free_port()
        server, token = _server(root / "server", port, env)
        try:
            (root / "config.toml").write_text(CONFIG + f'\n[backend]\nurl = "http://127.0.0.1:{port}"\n')
            env.update(
                DISPLAY=display,
                QT_QPA_PLATFORM="xcb",
                SHOWDESK_CONFIG=str(root / "config.toml"),
                SHOWDESK_MACHINE_CONFIG=str(root / "none.toml"),
                SHOWDESK_TOKEN=token,
                SHOWDESK_KIOSK_PHOTO_FILE=str(root / "photo.png"),
            )
            _phone_photo(root / "photo.png")
            child = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", "--out", str(out.resolve())],
                cwd=REPO, env=env, timeout=300, check=False,
            )
            return child.returncode
        finally:
            server.terminate()
            server.wait(15)
            xvfb.terminate()
            xvfb.wait(15)


def _phone_photo(path: Path) -> None:
    """A stand-in camera picture: a phone showing an error."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1600, 1200), (96, 84, 72))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((560, 100, 1040, 1100), radius=60, fill=(20, 20, 24))
    draw.rectangle((590, 200, 1010, 1000), fill=(245, 245, 250))
    draw.rectangle((620, 480, 980, 640), fill=(200, 40, 40))
    draw.text((640, 540), "Authentication failed (code 0x4c2)", fill=(255, 255, 255))
    image.save(path)


# ---------------------------------------------------------------- the fake browser the kiosk opens
def fake_browser() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
    from PySide6.QtWidgets import QApplication, QWidget

    class SignInPage(QWidget):
        def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
            painter = QPainter(self)
            painter.fillRect(self.rect(), QColor("#eef1f5"))
            painter.fillRect(0, 0, self.width(), 64, QColor("#2b2f36"))
            painter.setPen(QColor("#ffffff"))
            painter.setFont(QFont("DejaVu Sans", 14))
            painter.drawText(24, 40, "https://login.example.org/")
            card = self.rect().adjusted(660, 220, -660, -340)
            painter.fillRect(card, QColor("#ffffff"))
            painter.setPen(QColor("#16202a"))
            painter.setFont(QFont("DejaVu Sans", 24, QFont.Weight.Bold))
            painter.drawText(card.adjusted(40, 40, -40, 0), Qt.AlignmentFlag.AlignTop, "Sign in")
            painter.setFont(QFont("DejaVu Sans", 14))
            painter.drawText(card.adjusted(40, 120, -40, 0), Qt.AlignmentFlag.AlignTop, "ada.lovelace@example.org")
            painter.drawText(card.adjusted(40, 180, -40, 0), Qt.AlignmentFlag.AlignTop, "••••••••••••")
            painter.fillRect(card.adjusted(40, 260, -40, -card.height() + 360), QColor("#fde8e8"))
            painter.setPen(QColor("#b42318"))
            painter.drawText(
                card.adjusted(56, 290, -56, 0),
                Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                "Your account has been locked. Contact your administrator.",
            )
            painter.end()

    app = QApplication(sys.argv[:1])
    page = SignInPage()
    page.setWindowTitle("Browser")
    page.setGeometry(0, 0, 1920, 1080)
    page.show()
    return int(app.exec())


# ---------------------------------------------------------------- the child: the kiosk itself
def child(out: Path) -> int:
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from agent.config import load_config
    from agent.markup import new_item
    from kiosk.app import build_window, services_from_config
    from kiosk.flow import Stage
    from kiosk.settings import load_settings

    app = QApplication(sys.argv[:1])
    config = load_config()
    settings = load_settings(config)
    services, sender = services_from_config(config, settings)
    window, _translations = build_window(app, settings, services, windowed=False)
    sender.start()
    window.show_kiosk()
    out.mkdir(parents=True, exist_ok=True)

    def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit("screenshots: the kiosk did not get there in time")
            app.processEvents()
            time.sleep(0.02)

    def settle(seconds: float = 0.4) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def shot(name: str) -> None:
        settle()
        screen = QGuiApplication.primaryScreen()
        screen.grabWindow(0).save(str(out / f"kiosk-{name}.png"))
        print(f"saved {out / f'kiosk-{name}.png'}")

    settle(1.0)
    shot("welcome")
    window.welcome.start_button.click()
    window.who.name_edit.setText("Ada Lovelace")
    window.who.email_edit.setText("ada.lovelace@example.org")
    shot("who")
    window.who.submit_form()
    window.what.choose("sign-in")
    window.what.description_edit.setPlainText("The sign-in page says my account is locked")
    shot("what")
    # The question an idle person gets, over the screen they left half done.
    window.idle._start_countdown()
    shot("idle")
    window.idle.poke()
    window.what.continue_button.click()
    shot("show")

    showme = window.showme
    assert showme is not None
    window.show_screen.app_buttons["browser"].click()
    settle(2.5)  # the browser starts and paints
    showme.bar.caption_edit.setText("The sign-in page after I type my password")
    shot("capture-bar")
    for number, caption in enumerate(("The sign-in page after I type my password", "After I press Sign in"), 1):
        showme.bar.caption_edit.setText(caption)
        showme.bar.capture_button.click()
        wait_until(partial(lambda wanted: len(window.session.steps) == wanted, number))
    # A short recording, kept whole: Review lists it beside the steps.
    showme.bar.record_button.click()
    wait_until(lambda: showme.recorder is not None and showme.recorder.progress.frames >= 8)
    showme.bar.stop_button.click()
    wait_until(lambda: window.clip_review.recording is not None)
    settle()
    shot("clip-review")
    window.clip_review.keep_button.click()
    wait_until(lambda: len(window.session.clips) == 1, timeout=30)
    showme.bar.done_button.click()
    window.show_screen.photo_button.click()
    shot("photo")
    window.show_screen.take_photo_button.click()
    wait_until(lambda: len(window.session.steps) == 3)
    shot("show-steps")
    window.show_screen.continue_button.click()
    wait_until(lambda: bool(window.review.group_boxes))
    # Three steps fill the first row: scrolled down, as a person would, to the clip under them.
    settle()
    steps_bar = window.review.steps_area.verticalScrollBar()
    steps_bar.setValue(steps_bar.maximum())
    shot("review")
    steps_bar.setValue(0)

    window.review.open_editor(window.session.steps[0].id)
    editor = window.review.editor
    assert editor is not None
    document = editor.document()  # type: ignore[attr-defined]
    document.add(new_item("redaction", [(760, 380), (1180, 430)]))
    document.add(new_item("arrow", [(1300, 760), (1180, 660)], stroke_width=8))
    document.add(new_item("marker", [(1240, 620)], text="1", stroke_width=8))
    shot("markup")
    window.review.save_markup()
    wait_until(lambda: window.review.pages.currentIndex() == 0)
    window.review.send_button.click()
    shot("send")
    window.send.send_button.click()
    wait_until(lambda: window.flow.stage is Stage.DONE, timeout=30)
    shot("done")
    window.flow.reset("done")
    window.set_language("de")
    shot("welcome-de")
    window.set_language("en")
    window.toggle_contrast()
    window.welcome.start_button.click()
    shot("who-high-contrast")
    window.flow.reset("cancel")  # the next person gets the site's own look again

    # The queue board a TV beside the tech bar shows (a second walk-up joined meanwhile).
    from agent.bundle import build_bundle
    from agent.connectors import make_connector
    from agent.schema import Report, Reporter, Source
    from kiosk.board import BoardWindow, fetch_board

    connector = make_connector(config.backend())
    connector.submit(build_bundle(Report(
        reporter=Reporter(name="Grace Hopper"), category="Laptop",
        source=Source(kind="kiosk", id="hq-bar-1", site=SITE), walk_up=True,
    )))
    board = BoardWindow(SITE, lambda: fetch_board(connector, SITE))
    window.hide()
    board.setGeometry(0, 0, 1920, 1080)
    board.showFullScreen()
    board.start()
    wait_until(lambda: board.board is not None)
    shot("board")
    board.shutdown()
    board.close()
    connector.close()

    window.allow_close = True
    window.close()
    sender.stop(timeout=10)
    services.outbox.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fake-browser", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_browser:
        return fake_browser()
    if args.child:
        return child(args.out)
    return parent(args.out)


if __name__ == "__main__":
    sys.exit(main())
