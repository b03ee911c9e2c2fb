"""`showdesk capture` for real: Xvfb, the built-in server on loopback, the outbox in between."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from agent.bundle import ReportBundle
from tests.fixtures.server import ServerProcess
from tests.fixtures.xvfb import XvfbServer, paint_root, pattern_rgb, position_pattern

pytestmark = pytest.mark.xvfb


def showdesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "showdesk", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


@pytest.fixture
def screen(xvfb_display: XvfbServer) -> XvfbServer:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    return xvfb_display


def test_capture_to_a_bundle_holds_the_screen_and_system_info(screen: XvfbServer, tmp_path: Path) -> None:
    target = tmp_path / "report.showdesk"
    result = showdesk(
        "capture", "-o", str(target), "--description", "Printer offline", "--caption", "the dialog", env=screen.env
    )
    assert result.returncode == 0, result.stderr
    bundle = ReportBundle.read(target)
    [step] = bundle.report.steps
    assert (step.width, step.height, step.caption) == (screen.width, screen.height, "the dialog")
    image = Image.open(io.BytesIO(bundle.files[step.image.path])).convert("RGB")
    for x, y in [(0, 0), (100, 200), (1919, 1079), (777, 555)]:
        assert image.getpixel((x, y)) == pattern_rgb(x, y)
    assert bundle.report.description == "Printer offline"
    assert bundle.sysinfo is not None and "os" in bundle.sysinfo and "displays" in bundle.sysinfo


def test_capture_of_a_region(screen: XvfbServer, tmp_path: Path) -> None:
    target = tmp_path / "region.showdesk"
    result = showdesk("capture", "--region", "100,50,320,240", "--no-sysinfo", "-o", str(target), env=screen.env)
    assert result.returncode == 0, result.stderr
    bundle = ReportBundle.read(target)
    [step] = bundle.report.steps
    image = Image.open(io.BytesIO(bundle.files[step.image.path])).convert("RGB")
    assert image.size == (320, 240)
    assert image.getpixel((0, 0)) == pattern_rgb(100, 50)
    assert bundle.sysinfo is None


def test_without_a_display_the_error_names_the_cause(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-m", "showdesk", "capture", "-o", str(tmp_path / "x.showdesk")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 4
    assert "DISPLAY" in result.stderr
    assert not list(tmp_path.iterdir())


def _tickets(server: ServerProcess) -> list[dict[str, object]]:
    token = server.token("technician")
    answer = requests.get(f"{server.api}/tickets", headers=server.auth(token), timeout=10)
    answer.raise_for_status()
    items: list[dict[str, object]] = answer.json()["tickets"]
    return items


def test_capture_submit_creates_a_ticket_on_the_local_server(
    screen: XvfbServer, server_process: ServerProcess, tmp_path: Path
) -> None:
    # No token configured anywhere: the local server's hand-over file provides it.
    env = {**screen.env, "SHOWDESK_URL": server_process.url, "SHOWDESK_OUTBOX": str(tmp_path / "outbox")}
    result = showdesk("capture", "--submit", "--json", "--category", "Laptop", env=env)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "delivered"
    [ticket] = _tickets(server_process)
    assert ticket["number"] == outcome["ticket"]["number"]
    assert not list((tmp_path / "outbox").rglob("*.showdesk"))


def test_capture_submit_while_the_server_is_down_queues_then_delivers_once(
    screen: XvfbServer, server_process: ServerProcess, tmp_path: Path
) -> None:
    env = {**screen.env, "SHOWDESK_URL": server_process.url, "SHOWDESK_OUTBOX": str(tmp_path / "outbox")}
    server_process.stop()
    result = showdesk("capture", "--submit", "--wait", "0", "--json", "--no-sysinfo", env=env)
    assert result.returncode == 3, result.stderr
    queued = json.loads(result.stdout)
    assert queued["state"] != "delivered"
    listed = showdesk("outbox", "list", "--json", env=env)
    [entry] = json.loads(listed.stdout)["entries"]
    assert entry["id"] == queued["report_id"]

    server_process.start()
    flushed = showdesk("outbox", "flush", env=env)
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    again = showdesk("outbox", "flush", env=env)
    assert again.returncode == 0
    [ticket] = _tickets(server_process)
    assert ticket["report_id"] == queued["report_id"]
    receipts = json.loads(showdesk("outbox", "list", "--json", env=env).stdout)["receipts"]
    assert [r["report_id"] for r in receipts] == [queued["report_id"]]


def test_submit_of_a_saved_bundle_keeps_every_byte(
    screen: XvfbServer, server_process: ServerProcess, tmp_path: Path
) -> None:
    env = {**screen.env, "SHOWDESK_URL": server_process.url, "SHOWDESK_OUTBOX": str(tmp_path / "outbox")}
    target = tmp_path / "saved.showdesk"
    assert showdesk("capture", "-o", str(target), env=env).returncode == 0
    result = showdesk("submit", str(target), "--json", env=env)
    assert result.returncode == 0, result.stderr
    bundle = ReportBundle.read(target)
    token = server_process.token("technician")
    ticket_id = json.loads(result.stdout)["ticket"]["id"]
    for ref in bundle.report.files():
        answer = requests.get(
            f"{server_process.api}/tickets/{ticket_id}/files/{ref.path}", headers=server_process.auth(token), timeout=10
        )
        assert answer.status_code == 200
        assert hashlib.sha256(answer.content).hexdigest() == ref.sha256
