"""Frames in memory: unchanged bands shared, the byte cap held, the pixels given back as grabbed."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageDraw

from agent.capture import Rect
from agent.clips import FrameStore, MemoryCapError, black_out
from agent.clips.frames import BAND_ROWS, FrameCompressor, FrameDecoder
from tests.clips.synthetic import bgrx, marked_frame


def noisy(width: int, height: int, seed: int) -> bytes:
    """BGRX pixels that do not compress: every frame made of them costs its full size."""
    return random.Random(seed).randbytes(width * height * 4)


def test_a_frame_round_trips_to_the_pixels_grabbed() -> None:
    picture = marked_frame(3)
    frame = FrameCompressor().compress(bgrx(picture), picture.width, picture.height, 0.0)
    assert FrameDecoder().image(frame).tobytes() == picture.tobytes()


def test_an_unchanged_frame_shares_every_band_and_a_change_only_its_bands() -> None:
    compressor = FrameCompressor()
    first_picture = Image.new("RGB", (64, BAND_ROWS * 4), (10, 20, 30))
    first = compressor.compress(bgrx(first_picture), 64, BAND_ROWS * 4, 0.0)
    same = compressor.compress(bgrx(first_picture), 64, BAND_ROWS * 4, 0.2)
    assert same.bands is first.bands
    changed_picture = first_picture.copy()
    ImageDraw.Draw(changed_picture).point((5, BAND_ROWS * 2 + 1), fill=(255, 255, 255))  # in band 2 only
    changed = compressor.compress(bgrx(changed_picture), 64, BAND_ROWS * 4, 0.4)
    shared = [new is old for new, old in zip(changed.bands, first.bands, strict=True)]
    assert shared == [True, True, False, True]
    decoder = FrameDecoder()
    assert [decoder.image(f).tobytes() for f in (first, same, changed)] == [
        first_picture.tobytes(),
        first_picture.tobytes(),
        changed_picture.tobytes(),
    ]


def test_the_store_counts_a_shared_band_once() -> None:
    compressor = FrameCompressor()
    pixels = noisy(64, 64, 1)
    store = FrameStore(10 * 1024 * 1024)
    first = compressor.compress(pixels, 64, 64, 0.0)
    store.append(first)
    held = store.bytes_held
    assert held == sum(len(b) for b in first.bands) > 0
    for number in range(1, 20):
        store.append(compressor.compress(pixels, 64, 64, number * 0.2))
    assert store.bytes_held == held
    assert len(store) == 20


def test_a_recording_store_refuses_the_frame_past_its_cap() -> None:
    compressor = FrameCompressor()
    store = FrameStore(3 * 64 * 64 * 4)
    with pytest.raises(MemoryCapError, match="cap"):
        for number in range(10):
            store.append(compressor.compress(noisy(64, 64, number), 64, 64, number * 0.2))
    assert 1 <= len(store) < 10
    assert store.bytes_held <= store.max_bytes


def test_a_replay_store_drops_its_oldest_frames_and_never_passes_its_cap() -> None:
    compressor = FrameCompressor()
    cap = 3 * 64 * 64 * 4 + 1000
    store = FrameStore(cap, drop_oldest=True)
    for number in range(30):
        store.append(compressor.compress(noisy(64, 64, number), 64, 64, number * 0.2))
        assert store.bytes_held <= cap
    kept = store.frames()
    assert kept[-1].at == pytest.approx(29 * 0.2)
    assert [f.at for f in kept] == sorted(f.at for f in kept)
    assert 1 <= len(kept) <= 3


def test_drop_before_keeps_the_frame_on_screen_at_the_cut() -> None:
    compressor = FrameCompressor()
    store = FrameStore(10 * 1024 * 1024, drop_oldest=True)
    for number in range(10):
        store.append(compressor.compress(noisy(16, 16, number), 16, 16, number * 1.0))
    store.drop_before(4.5)
    assert [f.at for f in store.frames()] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_black_out_blackens_exactly_the_excluded_part_inside_the_frame() -> None:
    picture = Image.new("RGB", (40, 30), (200, 200, 200))
    pixels = bytearray(bgrx(picture))
    # The frame was taken at (100, 50) on the desktop; the rectangle reaches past its right edge.
    black_out(pixels, 40, 30, Rect(100, 50, 40, 30), [Rect(130, 60, 50, 5), Rect(0, 0, 10, 10)])
    image = Image.frombytes("RGB", (40, 30), bytes(pixels), "raw", "BGRX")
    black = {(x, y) for x in range(40) for y in range(30) if image.getpixel((x, y)) == (0, 0, 0)}
    assert black == {(x, y) for x in range(30, 40) for y in range(10, 15)}
