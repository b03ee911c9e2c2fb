"""`showdesk capture --clip`, `showdesk export --html` and `showdesk notify`, for real: a clip of the
Xvfb screen, a page written from a bundle, notifications to a local signed-webhook receiver."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, ImageSequence

from agent.bundle import ReportBundle
from agent.cli import Exit, main
from tests.fixtures.server import ServerProcess
from tests.fixtures.xvfb import XvfbServer, paint_root, pattern_rgb, position_pattern
from tests.notify.receivers import Receiver, SignedReceiver
from tests.outbox.helpers import make_bundle

SECRET = "cli-webhook-secret"
REGION = (40, 30, 320, 240)  # x, y, width, height: small, so a second's clip encodes at once


@pytest.fixture
def screen(xvfb_display: XvfbServer, monkeypatch: pytest.MonkeyPatch) -> XvfbServer:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    for name, value in xvfb_display.env.items():
        monkeypatch.setenv(name, value)
    return xvfb_display


def never_handed(_request: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
    raise AssertionError("a clip was handed to the running agent, which makes still shots only")


def region_arg() -> str:
    return ",".join(str(n) for n in REGION)


@pytest.mark.xvfb
def test_capture_clip_writes_a_bundle_with_one_clip_whose_frames_show_the_screen(
    screen: XvfbServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "clip.showdesk"
    code = main(
        ["capture", "--clip", "1", "--fps", "5", "--region", region_arg(), "--caption", "the freeze",
         "--description", "the window freezes", "-o", str(target), "--json"],
        agent_capture=never_handed,
    )
    assert code == Exit.OK, capsys.readouterr().err
    said = json.loads(capsys.readouterr().out)
    bundle = ReportBundle.read(target)
    assert said["report_id"] == str(bundle.report.id) and said["clips"] == 1
    assert bundle.report.steps == [] and bundle.report.description == "the window freezes"
    [clip] = bundle.report.clips
    assert (clip.width, clip.height, clip.caption, clip.duration_ms) == (320, 240, "the freeze", 1000)
    assert bundle.sysinfo is not None and "os" in bundle.sysinfo  # collected while it recorded
    x0, y0 = REGION[0], REGION[1]
    with Image.open(io.BytesIO(bundle.files[clip.file.path])) as played:
        frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(played)]
    assert len(frames) == clip.frames >= 1
    for frame in frames:
        for x, y in [(0, 0), (319, 239), (123, 45)]:
            assert frame.getpixel((x, y)) == pattern_rgb(x0 + x, y0 + y)


@pytest.mark.xvfb
def test_capture_clip_submitted_reaches_the_server_as_a_clip(
    screen: XvfbServer, shared_server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHOWDESK_URL", shared_server.url)
    monkeypatch.setenv("SHOWDESK_TOKEN", shared_server.token("submitter"))
    monkeypatch.setenv("SHOWDESK_OUTBOX", str(tmp_path / "outbox"))
    code = main(
        ["capture", "--clip", "1", "--region", region_arg(), "--no-sysinfo", "--submit", "--json"],
        agent_capture=never_handed,
    )
    assert code == Exit.OK, capsys.readouterr().err
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["state"] == "delivered"
    token = shared_server.token("technician")
    answer = requests.get(
        f"{shared_server.api}/tickets/{outcome['ticket']['id']}", headers=shared_server.auth(token), timeout=10
    )
    answer.raise_for_status()
    [stored] = clips_in(answer.json())
    assert stored["file"]["path"] == "clips/001.webp" and stored["duration_ms"] == 1000
    assert (stored["width"], stored["height"]) == (REGION[2], REGION[3])


def clips_in(found: object) -> list[dict[str, Any]]:
    """Every "clips" list in an answer, wherever the ticket's manifest puts it."""
    if isinstance(found, dict):
        own = found.get("clips")
        nested = [clip for value in found.values() for clip in clips_in(value)]
        return (own if isinstance(own, list) else []) + nested
    if isinstance(found, list):
        return [clip for value in found for clip in clips_in(value)]
    return []


def test_clip_options_out_of_bounds_are_usage_errors_before_anything_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "never.showdesk"
    for args in (["--clip", "0"], ["--clip", "121"], ["--clip", "2", "--fps", "11"], ["--fps", "5"],
                 ["--clip", "2", "--format", "png"], ["--clip", "2", "--exclude", "no-such-group"]):
        assert main(["capture", *args, "-o", str(target)], agent_capture=never_handed) == Exit.USAGE, args
        assert capsys.readouterr().err.startswith("showdesk: ")
    assert not target.exists()


def test_export_html_writes_a_page_with_every_image_as_a_data_uri(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, page = tmp_path / "report.showdesk", tmp_path / "report.html"
    bundle = make_bundle(4, steps=3, description="the printer <b>jams</b>", image_size=(16, 9))
    bundle.write(source)
    assert main(["export", "--html", str(source), "-o", str(page)]) == Exit.OK
    assert str(page) in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    for step in bundle.report.steps:
        encoded = base64.b64encode(bundle.files[step.image.path]).decode("ascii")
        assert f'src="data:image/png;base64,{encoded}"' in text
    assert "the printer &lt;b&gt;jams&lt;/b&gt;" in text


def test_export_html_of_a_file_that_is_no_bundle_or_to_a_path_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_bundle = tmp_path / "notes.showdesk"
    not_a_bundle.write_bytes(b"just some notes")
    assert main(["export", "--html", str(not_a_bundle), "-o", str(tmp_path / "a.html")]) == Exit.BAD_BUNDLE
    assert str(not_a_bundle) in capsys.readouterr().err
    assert not (tmp_path / "a.html").exists()

    source = tmp_path / "report.showdesk"
    make_bundle(1).write(source)
    unwritable = source / "report.html"  # under a file: no folder can be made there
    assert main(["export", "--html", str(source), "-o", str(unwritable)]) == Exit.NOT_KEPT
    assert f"could not write {unwritable}" in capsys.readouterr().err


@pytest.fixture
def webhook_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[notifications]\ndir = "{tmp_path / "notify"}"\n\n'
        '[[notify]]\nname = "desk"\nkind = "webhook"\nurl_env = "DESK_HOOK_URL"\nsecret_env = "DESK_HOOK_SECRET"\n'
    )
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))
    monkeypatch.setenv("DESK_HOOK_SECRET", SECRET)
    return config_file


def test_notify_list_and_test_against_a_signed_webhook(
    webhook_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = SignedReceiver(SECRET, time.time)
    with Receiver(receiver) as hook:
        monkeypatch.setenv("DESK_HOOK_URL", hook.url("/events"))
        assert main(["notify", "list", "--json"]) == Exit.OK
        listed = json.loads(capsys.readouterr().out)
        assert [(t["name"], t["kind"]) for t in listed["targets"]] == [("desk", "webhook")]
        assert listed["pending"] == 0

        assert main(["notify", "test", "desk"]) == Exit.OK
        assert capsys.readouterr().out.startswith("desk: delivered")
        assert len(hook.requests) == 1 and len(receiver.accepted) == 1  # one post, its signature verified

        assert main(["notify", "test", "nobody"]) == Exit.CONFIG
        assert "nobody" in capsys.readouterr().out
        assert len(hook.requests) == 1


def test_notify_test_of_a_target_that_refuses_is_not_delivered(
    webhook_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = SignedReceiver("another-secret", time.time)  # the signature will not verify: 401
    with Receiver(receiver) as hook:
        monkeypatch.setenv("DESK_HOOK_URL", hook.url("/events"))
        assert main(["notify", "test", "desk"]) == Exit.ERROR  # run_notify's "not delivered"
    assert receiver.accepted == []
    assert not capsys.readouterr().out.startswith("desk: delivered")
