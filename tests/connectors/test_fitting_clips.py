"""Clips through the connectors: fitted to a ticket system's limits or refused naming the limit, and
listed in the ticket text.

A clip over the per-file limit is re-encoded as lossy WebP at 100 %, 75 % and 50 % of its size
(the least lossy rung that fits wins); what comes out must still pass the server's clip checks
(``server.images.inspect_clip``) and the bundle reader. End to end: the built-in server on
loopback refuses the report as too large (its --max-body-mb) and takes it after one more fitting;
the folder connector writes the fitted report with the clips in its text.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from agent.bundle import ClipDraft, ReportBundle, StepDraft, build_bundle
from agent.clips import encode_clip, shrink_clip
from agent.connectors.base import TooLargeError
from agent.connectors.body import clip_attachment_name, render
from agent.connectors.builtin import BuiltinConnector
from agent.connectors.fitting import CLIP_LADDER, LOSSY_QUALITY, FitResult, Limits, fit_bundle, submit_fitted
from agent.connectors.folder import FolderConnector
from agent.markup import new_item
from agent.schema import Clip, Report, Reporter, Source, animation_facts
from server.images import inspect_clip
from tests.clips.synthetic import recording
from tests.connectors.helpers import SYSINFO, screenshot
from tests.fixtures.server import ServerProcess

FRAME_INTERVAL = 0.2  # 5 frames a second, as the recorder grabs
MARKER = (230, 20, 20)
CAPTION = "the dialog flashes and goes"
REDACTION = ((0.0, 0.0), (40.0, 40.0))  # the top-left corner, blacked out in every frame
TAKEN_AT = datetime(2026, 12, 6, 12, 1, tzinfo=UTC)


def marker_box(number: int) -> tuple[int, int, int, int]:
    """Where frame ``number`` shows its red square (20 pixels further right each frame)."""
    return (number * 20 + 50, 60, number * 20 + 69, 79)


def moving_frames(count: int, size: tuple[int, int] = (480, 300)) -> list[Image.Image]:
    """A desktop with a red square and a block of noise moving right: noise does not compress, so
    the clip is large for its size, and the square tells which frame a picture is."""
    rng = random.Random(count)
    with Image.open(io.BytesIO(screenshot(3, size))) as opened:
        desktop = opened.convert("RGB")
    block = (size[0] // 4, size[1] // 4)
    frames = []
    for number in range(count):
        frame = desktop.copy()
        noise = Image.frombytes("RGB", block, rng.randbytes(block[0] * block[1] * 3))
        frame.paste(noise, (10 + number * 20, size[1] - block[1] - 20))
        ImageDraw.Draw(frame).rectangle(marker_box(number), fill=MARKER)
        frames.append(frame)
    return frames


def clip_draft(pictures: Sequence[Image.Image], caption: str = CAPTION) -> ClipDraft:
    times = [number * FRAME_INTERVAL for number in range(len(pictures))]
    encoded = encode_clip(
        recording(pictures, times, len(pictures) * FRAME_INTERVAL),
        redactions=[new_item("redaction", list(REDACTION))],
    )
    return encoded.draft(caption)


def clip_report(
    *, frames: int = 8, size: tuple[int, int] = (480, 300), still: bytes | None = None, clip: ClipDraft | None = None
) -> ReportBundle:
    """A report with one captioned step (``still``, a small screenshot by default) and one clip."""
    picture = still if still is not None else screenshot(1, (320, 200))
    with Image.open(io.BytesIO(picture)) as opened:
        width, height = opened.size
    report = Report(
        description="A dialog flashes up and vanishes before I can read it.",
        reporter=Reporter(name="Ann Example", email="ann@example.org"),
        source=Source(kind="agent", id="laptop-7", site="HQ"),
    )
    step = StepDraft(picture, width, height, TAKEN_AT, caption="after")
    return build_bundle(report, [step], clips=[clip or clip_draft(moving_frames(frames, size))], sysinfo=SYSINFO)


def shrunk_size(data: bytes, scale: float) -> int:
    return len(shrink_clip(data, scale=scale, lossless=False, quality=LOSSY_QUALITY))


def check_like_the_server(data: bytes, clip: Clip, tmp_path: Path) -> None:
    """The server's own check of a stored clip, and the manifest agreeing with it."""
    path = tmp_path / "clip.webp"
    path.write_bytes(data)
    facts = inspect_clip(path, clip.file.path, 50_000_000)
    assert (facts.width, facts.height, facts.frames) == (clip.width, clip.height, clip.frames)
    if facts.animated:
        assert facts.duration_ms == clip.duration_ms


def frame_pictures(data: bytes) -> list[Image.Image]:
    with Image.open(io.BytesIO(data)) as clip:
        pictures = []
        for index in range(getattr(clip, "n_frames", 1)):
            clip.seek(index)
            pictures.append(clip.convert("RGB"))
        return pictures


def rgb(picture: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    red, green, blue = picture.getpixel((x, y))  # type: ignore[misc]  # an RGB picture's pixel
    return red, green, blue


def near(color: tuple[int, ...], wanted: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, wanted, strict=False))


# ---------------------------------------------------------------- within the limit
def test_a_clip_within_the_limit_is_sent_byte_identical_while_a_still_beside_it_is_shrunk() -> None:
    big_still = screenshot(60, (1280, 800), noise=(500, 400))
    bundle = clip_report(still=big_still)
    (clip,) = bundle.report.clips
    limit = clip.file.size + 1000  # the clip fits; the still (600 KB of noise) does not
    assert len(big_still) > limit

    result = fit_bundle(bundle, Limits("Test system", max_file_bytes=limit))

    assert result.bundle.report.steps[0].image.size <= limit  # the still was fitted…
    assert result.bundle.report.clips == [clip]  # …and the clip's entry is as it came
    assert result.bundle.files[clip.file.path] == bundle.files[clip.file.path]
    assert not any(note.startswith("Clip") for note in result.notes)


def test_nothing_over_any_limit_leaves_the_report_as_it_came() -> None:
    bundle = clip_report()
    result = fit_bundle(bundle, Limits("Test", max_file_bytes=10_000_000, max_request_bytes=10_000_000))
    assert result.bundle is bundle and not result.changed


# ---------------------------------------------------------------- over the limit
def test_a_clip_over_the_file_limit_takes_the_least_lossy_rung_that_fits(tmp_path: Path) -> None:
    bundle = clip_report()
    (clip,) = bundle.report.clips
    data = bundle.files[clip.file.path]
    full, three_quarters = shrunk_size(data, 1.0), shrunk_size(data, 0.75)
    assert three_quarters < full < clip.file.size  # lossy and smaller do shrink this clip
    limit = three_quarters  # full size lossy stays over; 75 % fits exactly

    result = fit_bundle(bundle, Limits("Test system", max_file_bytes=limit, file_limit_name="the test limit"))

    (fitted,) = result.bundle.report.clips
    fitted_data = result.bundle.files[fitted.file.path]
    assert fitted.file.path == clip.file.path and fitted.file.size == len(fitted_data) <= limit
    assert (fitted.width, fitted.height) == (round(clip.width * 0.75), round(clip.height * 0.75))
    facts = animation_facts(fitted_data)
    assert facts is not None and (facts.width, facts.height, facts.frames) == (fitted.width, fitted.height,
                                                                               fitted.frames)
    assert fitted.duration_ms == clip.duration_ms and facts.duration_ms == clip.duration_ms
    # What the person wrote and where the clip came from stay; the redaction box follows the scale.
    assert (fitted.caption, fitted.started_at, fitted.origin, fitted.region) == (
        clip.caption, clip.started_at, clip.origin, clip.region,
    )
    assert fitted.redactions[0].points == [(0.0, 0.0), (30.0, 30.0)]
    [note] = result.notes
    assert note.startswith("Clip 1 was scaled to 75 % and re-encoded as lossy WebP")
    assert "Test system accepts files up to" in note and "(the test limit)" in note
    # The server's checks and the bundle reader take it.
    check_like_the_server(fitted_data, fitted, tmp_path)
    again = ReportBundle.from_bytes(result.bundle.to_bytes())
    assert again.files[fitted.file.path] == fitted_data
    # The motion is still there, frame by frame, and the black box is black in every frame.
    pictures = frame_pictures(fitted_data)
    assert len(pictures) == clip.frames
    for number, picture in enumerate(pictures):
        left, top, right, bottom = (round(v * 0.75) for v in marker_box(number))
        assert near(rgb(picture, (left + right) // 2, (top + bottom) // 2), MARKER)
        assert all(max(rgb(picture, x, y)) <= 40 for x in range(2, 26, 4) for y in range(2, 26, 4))
    # The same report fits to the same bytes: a replay after a lost answer sends the same files.
    assert fit_bundle(bundle, Limits("Test system", max_file_bytes=limit)).bundle.to_bytes() == \
        result.bundle.to_bytes()


def test_a_clip_that_cannot_fit_is_refused_naming_the_clip_and_the_limit() -> None:
    bundle = clip_report()
    limit = 2000
    with pytest.raises(TooLargeError) as refused:
        fit_bundle(bundle, Limits("Test system", max_file_bytes=limit, file_limit_name="the test limit"))
    reason = refused.value.reason
    assert f'clip 1 (clip-001.webp, "{CAPTION}") stays over 2 KB' in reason
    assert f"even scaled to {CLIP_LADDER[-1] * 100:.0f} % as lossy WebP" in reason
    assert "Test system accepts files up to 2 KB (the test limit)" in reason
    assert refused.value.system == "Test system"


def test_a_clip_of_a_screen_that_never_changed_keeps_its_length(tmp_path: Path) -> None:
    desktop = moving_frames(1)[0]
    still = clip_draft([desktop] * 6)  # libwebp writes six equal frames as one still WebP
    bundle = clip_report(clip=still)
    (clip,) = bundle.report.clips
    assert clip.frames == 1 and clip.duration_ms == round(6 * FRAME_INTERVAL * 1000)
    limit = shrunk_size(bundle.files[clip.file.path], 0.5)

    result = fit_bundle(bundle, Limits("Test", max_file_bytes=limit))

    (fitted,) = result.bundle.report.clips
    assert fitted.file.size <= limit and fitted.width == round(clip.width * 0.5)
    assert (fitted.frames, fitted.duration_ms) == (1, clip.duration_ms)
    check_like_the_server(result.bundle.files[fitted.file.path], fitted, tmp_path)
    assert ReportBundle.from_bytes(result.bundle.to_bytes()).report.clips == [fitted]


def test_the_request_limit_shrinks_the_clip_before_the_stills() -> None:
    bundle = clip_report(frames=10)
    (clip,) = bundle.report.clips
    assert clip.file.size > 2 * bundle.report.steps[0].image.size  # the clip is the largest file
    before = fit_bundle(bundle, Limits("Test", max_request_bytes=10_000_000)).wire_bytes
    limits = Limits("Test", max_request_bytes=before - clip.file.size // 2)

    result = fit_bundle(bundle, limits)

    assert result.bundle.report.steps == bundle.report.steps  # the still the person chose is untouched
    assert result.bundle.report.clips[0].file.size < clip.file.size
    assert result.wire_bytes <= before - clip.file.size // 2
    [note] = result.notes
    assert note.startswith("Clip 1 was") and "requests up to" in note


def test_a_request_limit_nothing_can_meet_names_the_clips_too() -> None:
    bundle = clip_report()
    with pytest.raises(TooLargeError, match="even with every step image and clip shrunk as far as ShowDesk goes"):
        fit_bundle(bundle, Limits("Test", max_request_bytes=70_000, overhead_bytes=60_000))


# ---------------------------------------------------------------- the ticket text
def test_the_ticket_text_lists_the_clips_with_caption_length_and_frames() -> None:
    bundle = clip_report(frames=7)
    (clip,) = bundle.report.clips
    body = render(bundle, notes=["Clip 1 was re-encoded"])

    text = body.text
    assert "\nClips\n  1. the dialog flashes and goes\n" in text
    assert "[clip-001.webp, 1.4 s, 7 frames, 480×300, " in text
    assert "1 redaction box blacked out in every frame" in text
    assert text.index("\nSteps\n") < text.index("\nClips\n") < text.index("Changed to fit this ticket system")
    assert "<h3>Clips</h3>" in body.html and "<strong>the dialog flashes and goes</strong>" in body.html
    assert "1.4 s, 7 frames" in body.html
    assert clip_attachment_name(clip.file.path) == "clip-001.webp"


def test_a_report_without_clips_has_no_clips_section() -> None:
    report = Report(source=Source(kind="agent", id="laptop-7"), description="no motion here")
    step = StepDraft(screenshot(2, (160, 100)), 160, 100, TAKEN_AT, caption="only a still")
    body = render(build_bundle(report, [step]))
    assert "Clips" not in body.text and "<h3>Clips</h3>" not in body.html


# ---------------------------------------------------------------- end to end
def test_the_builtin_server_refuses_it_as_too_large_then_takes_the_fitted_clip(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server(extra_args=["--max-body-mb", "0.25"])
    bundle = clip_report()
    (clip,) = bundle.report.clips
    assert clip.file.size > 0.25 * 1024 * 1024  # as it came, the report is over the server's limit
    submitter = BuiltinConnector(server.url, token=server.token("submitter", site="HQ"))
    technician = BuiltinConnector(server.url, token=server.token("technician"))
    sent: list[FitResult] = []

    def send(fitted: FitResult) -> str:
        sent.append(fitted)
        return submitter.submit(fitted.bundle).id

    ticket_id = submit_fitted(bundle, Limits(submitter.system), send)

    first, second = sent
    assert first.bundle is bundle and second.bundle.report.clips[0].file.size < clip.file.size
    (fitted,) = second.bundle.report.clips
    detail = technician.get_ticket(ticket_id)
    assert detail.report is not None and detail.report.clips == [fitted]  # the server checked it and kept it
    assert technician.attachment(ticket_id, fitted.file.path) == second.bundle.files[fitted.file.path]
    submitter.close()
    technician.close()


def test_the_folder_connector_writes_the_fitted_report_and_its_clips_text(tmp_path: Path) -> None:
    bundle = clip_report()
    (clip,) = bundle.report.clips
    limits = Limits("folder", max_file_bytes=shrunk_size(bundle.files[clip.file.path], 1.0))
    folder = FolderConnector(tmp_path / "share", create_directory=True)

    ticket = submit_fitted(bundle, limits, lambda fitted: folder.submit(fitted.bundle))

    written = ReportBundle.read(folder.bundle_path(ticket.id))
    (fitted,) = written.report.clips
    assert fitted.file.size <= limits.max_file_bytes  # type: ignore[operator]
    assert (fitted.width, fitted.height, fitted.duration_ms) == (clip.width, clip.height, clip.duration_ms)
    check_like_the_server(written.files[fitted.file.path], fitted, tmp_path)
    summary = folder.bundle_path(ticket.id).with_suffix(".txt").read_text("utf-8")
    assert f"  1. {CAPTION}\n     [clip-001.webp, 1.6 s, 8 frames, 480×300" in summary
