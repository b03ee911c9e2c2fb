"""Trimming keeps what was on screen between two times, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.clips import ClipError
from tests.clips.synthetic import marked_recording, square_at


def test_a_trim_keeps_the_frame_on_screen_at_its_start_and_those_starting_before_its_end() -> None:
    full = marked_recording(10, 0.2)  # frame n from n × 0.2 s, the last until 2.0 s
    part = full.trimmed(0.5, 1.3)
    # On screen from 0.5 s: frame 2 (since 0.4 s); frames 3..6 start at 0.6..1.2 s, before 1.3 s.
    assert [square_at(image) for image in part.images()] == [2, 3, 4, 5, 6]
    assert part.frame_times == pytest.approx((0.0, 0.1, 0.3, 0.5, 0.7))
    assert part.duration == pytest.approx(0.8)
    assert part.started_at == full.started_at + timedelta(seconds=0.5)


def test_a_trim_on_frame_boundaries_keeps_exactly_those_frames() -> None:
    part = marked_recording(10, 0.2).trimmed(0.4, 1.0)
    assert [square_at(image) for image in part.images()] == [2, 3, 4]
    assert part.duration == pytest.approx(0.6)


def test_a_trim_is_clamped_to_the_recording_and_shares_its_frames() -> None:
    full = marked_recording(5, 0.2)
    part = full.trimmed(-3.0, 99.0)
    assert [square_at(image) for image in part.images()] == [0, 1, 2, 3, 4]
    assert part.duration == pytest.approx(full.duration)
    assert all(a.bands is b.bands for a, b in zip(part.frames, full.frames, strict=True))


def test_a_trim_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ClipError, match="end after it starts"):
        marked_recording(5, 0.2).trimmed(0.6, 0.6)


def test_the_frame_on_screen_at_a_time() -> None:
    full = marked_recording(5, 0.2)
    assert [full.frame_index_at(t) for t in (0.0, 0.19, 0.2, 0.5, 0.99)] == [0, 0, 1, 2, 4]
