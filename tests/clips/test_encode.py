"""Encoding a recording: an animated WebP whose frames and times are the recording's, redactions
black in every frame, progress reported, cancellation honoured, the caller's thread left free."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image, ImageSequence

from agent.clips import ClipError, EncodeCancelledError, encode_clip, encode_clip_async, shrink_clip
from agent.markup import new_item
from agent.report_format import animation_facts
from tests.clips.synthetic import marked_frame, marked_recording, recording, square_at


def played(data: bytes) -> list[tuple[Image.Image, int]]:
    """Every frame of an animated WebP as a browser shows it (composited) with its duration."""
    with Image.open(io.BytesIO(data)) as clip:
        return [(frame.convert("RGB"), int(frame.info["duration"])) for frame in ImageSequence.Iterator(clip)]


def test_every_frame_is_played_in_order_for_as_long_as_it_was_on_screen() -> None:
    clip = encode_clip(marked_recording(6, 0.2))
    frames = played(clip.data)
    assert [square_at(image) for image, _ in frames] == [0, 1, 2, 3, 4, 5]
    assert [duration for _, duration in frames] == [200] * 6
    assert (clip.width, clip.height, clip.frames, clip.duration_ms) == (160, 120, 6, 1200)
    assert animation_facts(clip.data) == clip.facts


def test_unchanged_frames_become_one_longer_frame() -> None:
    pictures = [marked_frame(n) for n in (0, 0, 0, 1, 1, 2)]
    clip = encode_clip(recording(pictures, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 1.2))
    frames = played(clip.data)
    assert [(square_at(image), duration) for image, duration in frames] == [(0, 600), (1, 400), (2, 200)]
    assert clip.frames == 3 and clip.duration_ms == 1200


def test_a_screen_that_never_changed_is_one_still_frame_lasting_the_whole_clip() -> None:
    clip = encode_clip(recording([marked_frame(4)] * 5, [0.0, 0.2, 0.4, 0.6, 0.8], 1.0))
    assert clip.facts.animated is False
    assert (clip.frames, clip.duration_ms) == (1, 1000)
    with Image.open(io.BytesIO(clip.data)) as still:
        assert square_at(still.convert("RGB")) == 4


def test_a_redaction_box_is_black_in_every_frame() -> None:
    box = new_item("redaction", [(15.0, 35.0), (75.5, 60.2)])
    clip = encode_clip(marked_recording(8, 0.2), redactions=[box])
    frames = played(clip.data)
    # Squares 2 to 6 lie wholly under the box: once blacked out those five frames are one picture.
    assert [duration for _, duration in frames] == [200, 200, 1000, 200]
    assert square_at(frames[0][0]) == 0
    for image, _ in frames:
        inside = {image.getpixel((x, y)) for x in range(15, 76) for y in range(35, 61)}
        assert inside == {(0, 0, 0)}
    assert clip.redactions == (box,)


def test_only_redaction_boxes_are_taken() -> None:
    with pytest.raises(ClipError, match="redaction boxes only"):
        encode_clip(marked_recording(3), redactions=[new_item("arrow", [(1.0, 1.0), (9.0, 9.0)])])


def test_progress_counts_every_frame_up_to_the_total() -> None:
    seen: list[tuple[int, int]] = []
    encode_clip(marked_recording(5), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_a_cancelled_encode_raises_and_gives_nothing() -> None:
    cancel = threading.Event()

    def cancel_at_third(done: int, _total: int) -> None:
        if done == 2:
            cancel.set()

    with pytest.raises(EncodeCancelledError):
        encode_clip(marked_recording(8), progress=cancel_at_third, cancel=cancel)


def test_the_async_encode_runs_off_the_calling_thread_and_can_be_cancelled() -> None:
    caller = threading.get_ident()
    threads: set[int] = set()
    job = encode_clip_async(marked_recording(4), progress=lambda _d, _t: threads.add(threading.get_ident()))
    clip = job.result(timeout=60)
    assert clip.frames == 4
    assert threads and caller not in threads
    release = threading.Event()
    started = threading.Event()

    def hold(done: int, _total: int) -> None:
        if done == 1:
            started.set()
            release.wait(30)

    held = encode_clip_async(marked_recording(6), progress=hold)
    assert started.wait(30)
    held.cancel()
    release.set()
    with pytest.raises(EncodeCancelledError):
        held.result(timeout=60)


def test_shrinking_a_clip_keeps_its_frames_and_times_at_a_smaller_size() -> None:
    grain = Image.effect_noise((160, 120), 40).convert("RGB")
    pictures = []
    for number in range(6):
        picture = grain.copy()
        picture.paste(marked_frame(number).crop((number * 10, 40, number * 10 + 10, 50)), (number * 10, 40))
        pictures.append(picture)
    clip = encode_clip(recording(pictures, [n * 0.2 for n in range(6)], 1.2))
    half = shrink_clip(clip.data, scale=0.5, lossless=False, quality=60)
    facts = animation_facts(half)
    assert facts is not None
    assert (facts.width, facts.height, facts.frames, facts.duration_ms) == (80, 60, 6, 1200)
    assert len(half) < len(clip.data)
    same = shrink_clip(clip.data, scale=1.0, lossless=True)
    assert [image.tobytes() for image, _ in played(same)] == [image.tobytes() for image, _ in played(clip.data)]
    with pytest.raises(ClipError, match="not a WebP clip"):
        shrink_clip(b"RIFF....WEBPnothing here, really")
