"""WebM (VP9) through an optional ffmpeg: found only with libvpx-vp9, never another codec, frames right.

The encoding tests run the real ffmpeg where it is installed (Debian package ffmpeg) and decode
the video again with it; the detection tests stand in a fake ffmpeg and run everywhere.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from PIL import Image

from agent.clips import ClipError, EncodeCancelledError
from agent.clips.encode import VIDEO_MEDIA_TYPE, encode_clip_webm, webm_encoder
from agent.markup import new_item
from tests.clips.synthetic import marked_frame, marked_recording, recording

needs_ffmpeg = pytest.mark.skipif(webm_encoder() is None, reason="ffmpeg with libvpx-vp9 is not installed")


def fake_ffmpeg(directory: Path, encoders: str) -> str:
    """An "ffmpeg" that lists ``encoders`` and does nothing else."""
    program = directory / "ffmpeg"
    program.write_text(f"#!/bin/sh\ncat <<'END'\nEncoders:\n ------\n{encoders}\nEND\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return str(program)


def test_an_ffmpeg_without_vp9_is_not_used_whatever_else_it_has(tmp_path: Path) -> None:
    h264_only = fake_ffmpeg(tmp_path, " V....D libx264              libx264 H.264 / AVC (codec h264)")
    assert webm_encoder(h264_only) is None
    assert webm_encoder(str(tmp_path / "no-such-ffmpeg")) is None
    with pytest.raises(ClipError, match="libvpx-vp9"):
        encode_clip_webm(marked_recording(3), ffmpeg=h264_only)


def test_an_ffmpeg_with_vp9_is_found(tmp_path: Path) -> None:
    (tmp_path / "vp9").mkdir()
    with_vp9 = fake_ffmpeg(tmp_path / "vp9", " V....D libvpx-vp9           libvpx VP9 (codec vp9)")
    assert webm_encoder(with_vp9) == with_vp9


def decoded_frames(data: bytes, width: int, height: int) -> list[Image.Image]:
    """The video's frames, decoded by ffmpeg, as RGB pictures."""
    program = webm_encoder()
    assert program is not None
    decoded = subprocess.run(
        [program, "-hide_banner", "-loglevel", "error", "-f", "webm", "-i", "pipe:0", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "pipe:1"],
        input=data, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    size = width * height * 3
    raw = decoded.stdout
    return [Image.frombytes("RGB", (width, height), raw[i : i + size]) for i in range(0, len(raw), size)]


def ffmpeg_children() -> list[int]:
    """Processes of this test process that run ffmpeg (zombies too), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat_line[stat_line.index("(") + 1 : stat_line.rindex(")")]
        parent = int(stat_line[stat_line.rindex(")") + 2 :].split()[1])
        if name == "ffmpeg" and parent == os.getpid():
            found.append(int(entry.name))
    return found


def red_square_at(image: Image.Image) -> int | None:
    """Which frame's red square (tests.clips.synthetic.marked_frame) ``image`` shows, allowing for lossy colours."""
    found = []
    for number in range(image.width // 10):
        red, green, blue = image.getpixel((number * 10 + 5, 45))  # type: ignore[misc]
        if red > 170 and green < 90 and blue < 90:
            found.append(number)
    assert len(found) <= 1
    return found[0] if found else None


@needs_ffmpeg
def test_a_recording_becomes_a_webm_whose_frames_follow_its_times() -> None:
    # Frames at 0, 0.2, … 1.8 s; at 10 frames a second each shows twice, in order.
    clip = marked_recording(10, 0.2)
    seen: list[tuple[int, int]] = []
    video = encode_clip_webm(clip, fps=10, progress=lambda done, total: seen.append((done, total)))
    assert video.data[:4] == b"\x1a\x45\xdf\xa3" and video.media_type == VIDEO_MEDIA_TYPE == "video/webm"
    assert (video.width, video.height, video.frames, video.duration_ms) == (160, 120, 20, 2000)
    frames = decoded_frames(video.data, video.width, video.height)
    assert [red_square_at(frame) for frame in frames] == [n // 2 for n in range(20)]
    assert seen[0] == (0, 20) and seen[-1] == (20, 20)


@needs_ffmpeg
def test_redaction_is_black_in_every_frame_and_odd_sizes_are_padded() -> None:
    pictures = [marked_frame(n, 161, 121) for n in range(6)]
    clip = recording(pictures, [n * 0.2 for n in range(6)], 1.2)
    box = new_item("redaction", [(0, 30), (60, 60)])  # over the squares of frames 0 to 5
    video = encode_clip_webm(clip, redactions=[box])
    assert (video.width, video.height, video.frames) == (162, 122, 6)
    frames = decoded_frames(video.data, video.width, video.height)
    assert len(frames) == 6
    for frame in frames:
        assert max(frame.crop((4, 34, 56, 56)).tobytes()) < 24, "the redaction box is black in every frame"
    assert red_square_at(frames[0]) is None


@needs_ffmpeg
def test_a_cancelled_encode_raises_and_leaves_no_ffmpeg_running() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(EncodeCancelledError):
        encode_clip_webm(marked_recording(5), cancel=cancel)
    assert ffmpeg_children() == [], "the cancelled ffmpeg is ended and reaped"
    with pytest.raises(ClipError, match="frame rate"):
        encode_clip_webm(marked_recording(5), fps=0)
