"""Image checks on upload: structure walked, pixel cap read from headers, nothing decoded.

The server-side behaviour (201 and the file served back as sent, or 422 with nothing
stored, and bounded memory under decompression bombs) is tested against the real server
on loopback. The exhaustive cases (every truncation of every format) call
``inspect_image`` in-process, where thousands of files cost milliseconds.
"""

from __future__ import annotations

import functools
import io
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from PIL import Image, ImageDraw, ImageSequence

from agent.bundle import build_bundle
from agent.clips import encode_clip
from agent.schema import MAX_CLIP_FRAMES, AnimationFacts, animation_facts
from server.images import ImageRejectedError, inspect_clip, inspect_image
from tests.clips.synthetic import marked_recording
from tests.fixtures.server import ServerProcess, database_for
from tests.server.helpers import Upload, api, make_bundle, png_header_only, stored_state, submit

DEFAULT_CAP = 50_000_000
MEGABYTE = 1024 * 1024


# ---------------------------------------------------------------- sample images
def encoded(image: Image.Image, pillow_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, pillow_format, **options)
    return buffer.getvalue()


def picture(mode: str = "RGB", size: tuple[int, int] = (123, 77)) -> Image.Image:
    """A small image with some structure (not one flat colour), in ``mode``."""
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((5, 5, size[0] * 2 // 3, size[1] * 3 // 4), fill=(200, 20, 20))
    draw.rectangle((size[0] // 2, size[1] // 3, size[0] - 4, size[1] - 4), fill=(20, 60, 200))
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize(size))
        return image
    return image.convert(mode)


def uniform_lossless_webp(width: int, height: int, argb: tuple[int, int, int, int] = (255, 0, 0, 0)) -> bytes:
    """A complete lossless WebP of one colour, of any size up to 16384×16384, in 34 bytes.

    The VP8L bitstream has no transform, no colour cache and five prefix codes of a single
    symbol each, so every pixel takes zero bits: the file stays tiny whatever its size,
    while a decoder still has to fill width × height × 4 bytes.
    """
    alpha, red, green, blue = argb
    bits = used = 0

    def put(value: int, count: int) -> None:  # VP8L packs fields least-significant bit first
        nonlocal bits, used
        bits |= value << used
        used += count

    put(0x2F, 8)  # signature
    put(width - 1, 14)
    put(height - 1, 14)
    put(int(alpha != 255), 1)
    put(0, 3)  # version
    put(0, 1)  # no transform
    put(0, 1)  # no colour cache
    put(0, 1)  # no meta prefix codes
    for symbol in (green, red, blue, alpha, 0):  # the five codes; the last is for distances
        put(1, 1)  # a "simple" code…
        put(0, 1)  # …of one symbol…
        put(1, 1)  # …written in 8 bits
        put(symbol, 8)
    payload = bits.to_bytes((used + 7) // 8, "little")
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


@functools.cache
def zero_png(width: int, height: int) -> bytes:
    """A complete RGB PNG of black pixels: zlib squeezes width × height × 3 bytes about 1000:1."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = bytes(1 + width * 3)  # filter byte 0, then the row's pixels
    deflated = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", deflated) + chunk(b"IEND", b"")


def with_png_crc_broken(data: bytes) -> bytes:
    """One bit flipped inside the first IDAT chunk's data: only its CRC can tell."""
    position = data.index(b"IDAT") + 4 + 1
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming another size."""
    position = data.index(b"\xff\xc0") + 5  # marker, length (2), precision (1)
    return data[:position] + struct.pack(">HH", height, width) + data[position + 4 :]


def with_vp8_size(data: bytes, width: int, height: int) -> bytes:
    """The lossy WebP with its key frame header claiming another size."""
    position = data.index(b"\x9d\x01\x2a") + 3
    return data[:position] + struct.pack("<HH", width, height) + data[position + 4 :]


def with_vp8x_canvas(data: bytes, width: int, height: int) -> bytes:
    """The extended WebP with its VP8X chunk claiming another canvas."""
    position = data.index(b"VP8X") + 8 + 4
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return data[:position] + canvas + data[position + 6 :]


def with_riff_size(data: bytes, riff_size: int) -> bytes:
    return data[:4] + struct.pack("<I", riff_size) + data[8:]


def valid_samples() -> dict[str, tuple[bytes, str]]:
    """Real files as Pillow (libpng, libjpeg, libwebp) writes them, the agent's default among them."""
    rgb, rgba = picture(), picture("RGBA")
    return {
        "png rgb": (encoded(rgb, "PNG"), "image/png"),
        "png rgba": (encoded(rgba, "PNG"), "image/png"),
        "png palette": (encoded(rgb.convert("P"), "PNG"), "image/png"),
        "png 16-bit grey": (encoded(rgb.convert("I;16"), "PNG"), "image/png"),
        "png 1-bit": (encoded(rgb.convert("1"), "PNG"), "image/png"),
        "jpeg baseline": (encoded(rgb, "JPEG"), "image/jpeg"),
        "jpeg progressive": (encoded(rgb, "JPEG", progressive=True), "image/jpeg"),
        "jpeg grey": (encoded(rgb.convert("L"), "JPEG"), "image/jpeg"),
        "jpeg cmyk": (encoded(rgb.convert("CMYK"), "JPEG"), "image/jpeg"),
        "jpeg restart markers": (encoded(rgb, "JPEG", restart_marker_blocks=1), "image/jpeg"),
        "webp lossy": (encoded(rgb, "WEBP", quality=80), "image/webp"),
        "webp lossless (agent default)": (
            encoded(rgb, "WEBP", lossless=True, method=0, quality=0, exact=True),
            "image/webp",
        ),
        "webp lossy with alpha (VP8X)": (encoded(rgba, "WEBP", quality=80), "image/webp"),
        "webp with ICC profile (VP8X)": (encoded(rgb, "WEBP", icc_profile=b"\0" * 99), "image/webp"),
        "webp animated": (
            encoded(rgb, "WEBP", save_all=True, append_images=[rgba], duration=100, lossless=True),
            "image/webp",
        ),
    }


def checked(tmp_path: Path, data: bytes, media_type: str, max_pixels: int = DEFAULT_CAP) -> tuple[int, int]:
    path = tmp_path / "image"
    path.write_bytes(data)
    return inspect_image(path, "steps/001", media_type, max_pixels)


# ---------------------------------------------------------------- in-process: the walkers
@pytest.mark.parametrize("name", sorted(valid_samples()))
def test_valid_image_gives_the_size_pillow_reads(name: str, tmp_path: Path) -> None:
    data, media_type = valid_samples()[name]
    with Image.open(io.BytesIO(data)) as image:
        expected = image.size

    assert checked(tmp_path, data, media_type) == expected


@pytest.mark.parametrize("name", sorted(valid_samples()))
def test_every_truncation_is_refused(name: str, tmp_path: Path) -> None:
    data, media_type = valid_samples()[name]
    accepted = []
    for length in range(1, len(data)):
        try:
            checked(tmp_path, data[:length], media_type)
        except ImageRejectedError:
            continue
        accepted.append(length)

    assert accepted == []


def test_uniform_webp_sample_is_a_real_webp() -> None:
    # The bomb below is only a fair test if libwebp reads it as the image it claims to be.
    data = uniform_lossless_webp(64, 48, (255, 10, 200, 30))
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (64, 48)
        assert image.getextrema() == ((10, 10), (200, 200), (30, 30))
    with Image.open(io.BytesIO(zero_png(50, 40))) as image:
        image.load()
        assert image.size == (50, 40)
        assert image.getextrema() == ((0, 0), (0, 0), (0, 0))


def test_pixel_cap_is_read_from_the_header(tmp_path: Path) -> None:
    bomb = uniform_lossless_webp(7000, 7000)
    assert checked(tmp_path, bomb, "image/webp") == (7000, 7000)
    with pytest.raises(ImageRejectedError, match="7000×7000 = 49,000,000 pixels; the limit is 48,999,999 pixels"):
        checked(tmp_path, bomb, "image/webp", max_pixels=48_999_999)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _flooded(media_type: str, count: int) -> bytes:
    """A valid small image with ``count`` empty metadata chunks or segments added."""
    if media_type == "image/png":
        data = encoded(picture(), "PNG")
        return data[:33] + _png_chunk(b"tEXt", b"") * count + data[33:]  # after the 33-byte signature + IHDR
    if media_type == "image/jpeg":
        data = encoded(picture(), "JPEG")
        return data[:2] + b"\xff\xfe\x00\x02" * count + data[2:]  # empty comment segments after SOI
    data = encoded(picture("RGBA"), "WEBP", quality=80)  # extended (VP8X): other chunks are allowed
    body = data[12:] + b"XMP \0\0\0\0" * count
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
def test_a_flood_of_empty_chunks_is_refused_but_many_are_fine(media_type: str, tmp_path: Path) -> None:
    # Each chunk costs the walk a little Python; 40 MB of empty ones would cost seconds.
    assert checked(tmp_path, _flooded(media_type, 2_000), media_type) == (123, 77)
    with pytest.raises(ImageRejectedError, match=r"more than 20,000 (chunks|segments); no image needs that many"):
        checked(tmp_path, _flooded(media_type, 20_001), media_type)


def test_jpeg_fill_bytes_before_markers_are_accepted(tmp_path: Path) -> None:
    data = encoded(picture(), "JPEG")
    padded = data[:2] + b"\xff" * 1000 + data[2:-2] + b"\xff" * 1000 + data[-2:]
    with Image.open(io.BytesIO(padded)) as image:
        image.load()  # libjpeg agrees the fill is allowed

    assert checked(tmp_path, padded, "image/jpeg") == (123, 77)


# ---------------------------------------------------------------- the real server
@pytest.fixture(scope="module")
def image_server(
    tmp_path_factory: pytest.TempPathFactory, server_engine: str, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    # Dozens of reports from one token in seconds: the per-token rate limit is not under test here.
    server = ServerProcess(tmp_path_factory.mktemp("images") / "data", database=database_for(server_engine, request))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def submitter(image_server: ServerProcess) -> str:
    return image_server.token("submitter")


@pytest.mark.parametrize("name", sorted(valid_samples()))
def test_server_accepts_and_serves_the_image_as_sent(name: str, image_server: ServerProcess, submitter: str) -> None:
    data, media_type = valid_samples()[name]
    bundle = make_bundle(images=[data])
    (path,) = [ref.path for ref in bundle.report.files() if ref.path.startswith("steps/")]

    response = submit(image_server, submitter, bundle)

    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]
    served = api(image_server, image_server.token("technician"), "GET", f"/tickets/{ticket['id']}/files/{path}")
    assert served.status_code == 200
    assert served.headers["content-type"] == media_type
    assert served.content == data


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory map (Linux)")
def test_server_loads_no_image_decoder(image_server: ServerProcess, submitter: str) -> None:
    # Stronger than timing or memory: with no decoder library in the process, no upload can be decoded.
    for media_type in ("image/png", "image/jpeg", "image/webp"):
        good, _, _ = _base_of(media_type)
        assert submit(image_server, submitter, good).status_code == 201
    assert image_server.pid is not None

    mapped = {Path(region.path).name for region in psutil.Process(image_server.pid).memory_maps()}

    assert not {name for name in mapped if name.startswith(("_imaging", "_webp", "libwebp", "libjpeg", "libpng"))}
    assert any(name.startswith("libpython") or name.startswith("python") for name in mapped)


def _base_of(media_type: str) -> tuple[Upload, str, bytes]:
    """A good upload whose one step is a real image of ``media_type``: (upload, its path, its bytes)."""
    data = {
        "image/png": encoded(picture(), "PNG"),
        "image/jpeg": encoded(picture(), "JPEG"),
        "image/webp": encoded(picture(), "WEBP", lossless=True, method=0, quality=0, exact=True),
    }[media_type]
    upload = Upload.of(make_bundle(images=[data]))
    (path,) = [name for name in upload.files if name.startswith("steps/")]
    return upload, path, data


def _lossy_webp() -> bytes:
    return encoded(picture(), "WEBP", quality=80)


def _alpha_webp() -> bytes:
    return encoded(picture("RGBA"), "WEBP", quality=80)


# Each case: the format of the good upload it spoils, how it spoils the image, the words the 422 must say.
REFUSED: dict[str, tuple[str, Callable[[bytes], bytes], str]] = {
    "png crc broken": ("image/png", with_png_crc_broken, "chunk IDAT at byte {idat} fails its CRC"),
    "png truncated": ("image/png", lambda data: data[: len(data) * 2 // 3], "truncated or corrupt (image/png)"),
    "png bytes after IEND": ("image/png", lambda data: data + b"<html>", "6 bytes follow IEND"),
    "png without IDAT": ("image/png", lambda _: png_header_only(100, 100), "there is no IDAT chunk"),
    "png over the cap": ("image/png", lambda _: zero_png(8000, 6251), "the limit is 50,000,000 pixels"),
    "png header-only 30000x30000": (
        "image/png",
        lambda _: png_header_only(30_000, 30_000),
        "30000×30000 = 900,000,000 pixels; the limit is 50,000,000 pixels",
    ),
    "jpeg truncated": ("image/jpeg", lambda data: data[: len(data) * 2 // 3], "inside the image data of scan 1"),
    "jpeg without EOI": ("image/jpeg", lambda data: data[:-2], "ends at byte {size} inside the image data of scan 1"),
    "jpeg EOI before any scan": (
        "image/jpeg",
        lambda data: data[: data.index(b"\xff\xda")] + b"\xff\xd9",
        "EOI comes before any scan (SOS)",
    ),
    "jpeg over the cap": (
        "image/jpeg",
        lambda data: with_jpeg_size(data, 10_000, 5_001),
        "10000×5001 = 50,010,000 pixels; the limit is 50,000,000 pixels",
    ),
    "webp wrong RIFF size": (
        "image/webp",
        lambda data: with_riff_size(data, len(data) - 8 + 2),
        "the RIFF header gives {riff_claims} bytes; the file has {size}",
    ),
    "webp truncated": ("image/webp", lambda data: data[: len(data) - 10], "the RIFF header gives"),
    "webp with bytes after the RIFF": ("image/webp", lambda data: data + b"\0\0", "the RIFF header gives"),
    "webp chunk longer than the file": (
        "image/webp",
        lambda data: data[:16] + struct.pack("<I", len(data)) + data[20:],
        "chunk b'VP8L' at byte 12 claims",
    ),
    "webp VP8L bad signature": ("image/webp", lambda data: data[:20] + b"\x2e" + data[21:], "not the signature 0x2F"),
    "webp lossless over the cap": (
        "image/webp",
        lambda _: uniform_lossless_webp(8000, 6251),
        "8000×6251 = 50,008,000 pixels; the limit is 50,000,000 pixels",
    ),
    "webp lossy over the cap": (
        "image/webp",
        lambda _: with_vp8_size(_lossy_webp(), 10_000, 10_000),
        "10000×10000 = 100,000,000 pixels; the limit is 50,000,000 pixels",
    ),
    "webp VP8X canvas over the cap": (
        "image/webp",
        lambda _: with_vp8x_canvas(_alpha_webp(), 16_000, 16_000),
        "16000×16000 = 256,000,000 pixels; the limit is 50,000,000 pixels",
    ),
    "webp VP8X canvas not the image's size": (
        "image/webp",
        lambda _: with_vp8x_canvas(_alpha_webp(), 200, 100),
        "the image is 123×77 but the VP8X canvas is 200×100",
    ),
    "webp lossy not a key frame": (
        "image/webp",
        lambda _: (lambda data: data[:20] + bytes([data[20] | 1]) + data[21:])(_lossy_webp()),
        "not a key frame",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_server_refuses_broken_or_oversized_image_and_stores_nothing(
    case: str, image_server: ServerProcess, submitter: str
) -> None:
    media_type, spoil, words = REFUSED[case]
    good, path, data = _base_of(media_type)
    bad = spoil(data)
    before = stored_state(image_server)

    response = submit(image_server, submitter, good.replace_file(path, bad))

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{path} ")
    facts = {"idat": bad.find(b"IDAT") - 4, "riff_claims": int.from_bytes(bad[4:8], "little") + 8, "size": len(bad)}
    assert words.format(**facts) in detail
    assert stored_state(image_server) == before
    # The refusal left nothing half made: the same report with its good image goes through.
    assert submit(image_server, submitter, good).status_code == 201


# ---------------------------------------------------------------- decompression bombs
BOMBS: dict[str, Callable[[], bytes]] = {
    "34-byte 7000x7000 lossless webp": lambda: uniform_lossless_webp(7000, 7000),
    "7000x7000 png of zlib'd zeros": lambda: zero_png(7000, 7000),
}
# Decoding one 7000×7000 image takes 147–196 MB (RGB/RGBA) whatever the file's size, so
# any decode on the request path overshoots these by far; storing 8 tiny files does not.
MAX_GROWTH_DURING = 100 * MEGABYTE
MAX_GROWTH_AFTER = 30 * MEGABYTE
MAX_PEAK = 300 * MEGABYTE


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_concurrent_bomb_uploads_keep_server_memory_bounded(
    bomb: str, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server()
    assert server.pid is not None
    process = psutil.Process(server.pid)
    token = server.token("submitter")
    data = BOMBS[bomb]()
    # One ordinary report first, so the baseline includes what the first request sets up once.
    assert submit(server, token, make_bundle(1)).status_code == 201
    baseline = process.memory_info().rss
    uploads = [Upload.of(make_bundle(images=[data])) for _ in range(8)]

    peak = baseline
    samples = 0
    uploads_done = threading.Event()

    def sample() -> None:
        nonlocal peak, samples
        # Polls every 2 ms until the uploads are answered: a decode would hold its memory far longer.
        while not uploads_done.wait(0.002):
            peak = max(peak, process.memory_info().rss)
            samples += 1

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
            responses = list(pool.map(lambda upload: submit(server, token, upload, timeout=120), uploads))
    finally:
        uploads_done.set()
        sampler.join()
    after = process.memory_info().rss

    assert [r.status_code for r in responses] == [201] * len(uploads), [r.text for r in responses]
    assert samples > 0
    assert peak - baseline < MAX_GROWTH_DURING, f"peak {peak / MEGABYTE:.0f} MB, baseline {baseline / MEGABYTE:.0f} MB"
    assert peak < MAX_PEAK
    assert after - baseline < MAX_GROWTH_AFTER, (
        f"after {after / MEGABYTE:.0f} MB, baseline {baseline / MEGABYTE:.0f} MB"
    )


# ---------------------------------------------------------------- clips: animated WebP
def animated_webp(width: int, height: int, frames: list[tuple[int, int, int, int, int]]) -> bytes:
    """An animated WebP built chunk by chunk: frames as (x, y, width, height, duration in ms).

    Each frame holds a one-colour lossless bitstream of its size (a few dozen bytes), so a file
    can announce any canvas, frame count and duration while staying tiny.
    """

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return kind + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)

    def three(value: int) -> bytes:
        return value.to_bytes(3, "little")

    body = chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + three(width - 1) + three(height - 1))
    body += chunk(b"ANIM", bytes(4) + struct.pack("<H", 0))
    for x, y, frame_width, frame_height, duration in frames:
        bitstream = uniform_lossless_webp(frame_width, frame_height)[12:]
        header = three(x // 2) + three(y // 2) + three(frame_width - 1) + three(frame_height - 1) + three(duration)
        body += chunk(b"ANMF", header + b"\0" + bitstream)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def clip_checked(tmp_path: Path, data: bytes, max_pixels: int = DEFAULT_CAP) -> AnimationFacts:
    path = tmp_path / "clip.webp"
    path.write_bytes(data)
    return inspect_clip(path, "clips/001.webp", max_pixels)


def test_a_clip_s_frames_and_duration_are_what_a_decoder_finds(tmp_path: Path) -> None:
    clip = encode_clip(marked_recording(7, 0.3))
    facts = clip_checked(tmp_path, clip.data)
    with Image.open(io.BytesIO(clip.data)) as decoded:
        durations = []
        for frame in ImageSequence.Iterator(decoded):
            frame.load()  # Pillow sets a frame's duration once it has decoded the frame
            durations.append(int(frame.info["duration"]))
        assert (facts.width, facts.height) == decoded.size
    assert (facts.frames, facts.duration_ms, facts.animated) == (len(durations), sum(durations), True)
    assert facts == animation_facts(clip.data)


def test_hand_built_frames_sum_their_durations(tmp_path: Path) -> None:
    data = animated_webp(64, 48, [(0, 0, 64, 48, 100), (10, 10, 20, 20, 250), (0, 0, 8, 8, 650)])
    assert clip_checked(tmp_path, data) == AnimationFacts(64, 48, 3, 1000)


def test_a_still_webp_is_a_one_frame_clip_with_no_duration_of_its_own(tmp_path: Path) -> None:
    data = encoded(picture(), "WEBP", lossless=True)
    assert clip_checked(tmp_path, data) == AnimationFacts(123, 77, 1, 0, animated=False)


@pytest.mark.parametrize(
    ("frames", "canvas", "words"),
    [
        # 27 frames of a 7000×7000 canvas: 1.32 billion frame pixels in a file of 2 KB.
        ([(0, 0, 1, 1, 100)] * 27, (7000, 7000), "frame pixels; the limit is 1,300,000,000"),
        ([(0, 0, 1, 1, 100)] * (MAX_CLIP_FRAMES + 1), (4, 4), f"a clip has at most {MAX_CLIP_FRAMES:,}"),
        ([(0, 0, 1, 1, 0xFFFFFF), (0, 0, 1, 1, 0xFFFFFF)], (4, 4), "a clip lasts at most 120,000 ms"),
        ([(0, 0, 64, 48, 100)], (32, 32), "leaves the canvas"),
    ],
)
def test_a_clip_over_a_bound_is_refused_without_decoding(
    frames: list[tuple[int, int, int, int, int]], canvas: tuple[int, int], words: str, tmp_path: Path
) -> None:
    with pytest.raises(ImageRejectedError, match=r"clips/001\.webp") as refused:
        clip_checked(tmp_path, animated_webp(*canvas, frames))
    assert words in str(refused.value)


def test_the_frame_pixel_bound_holds_for_an_animated_step_image_too(tmp_path: Path) -> None:
    path = tmp_path / "step.webp"
    path.write_bytes(animated_webp(7000, 7000, [(0, 0, 1, 1, 100)] * 27))
    with pytest.raises(ImageRejectedError, match="frame pixels"):
        inspect_image(path, "steps/001.webp", "image/webp", DEFAULT_CAP)


def test_every_truncation_of_a_clip_is_refused(tmp_path: Path) -> None:
    data = encode_clip(marked_recording(4, 0.2)).data
    for end in range(0, len(data), max(1, len(data) // 200)):
        with pytest.raises(ImageRejectedError):
            clip_checked(tmp_path, data[:end] if end >= 16 else data[:16])


def _clip_upload() -> tuple[Upload, bytes]:
    clip = encode_clip(marked_recording(6, 0.2))
    report = make_bundle().report
    bundle = build_bundle(report, clips=[clip.draft("the dialog that flashed")])
    return Upload.of(bundle), clip.data


def test_server_stores_a_clip_and_serves_it_as_sent(image_server: ServerProcess, submitter: str) -> None:
    upload, data = _clip_upload()

    response = submit(image_server, submitter, upload)

    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]
    technician = image_server.token("technician")
    served = api(image_server, technician, "GET", f"/tickets/{ticket['id']}/files/clips/001.webp")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.content == data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"frames": 5}, "6 frames, 1200 ms; the manifest says 160×120, 5 frames, 1200 ms"),
        ({"duration_ms": 1300}, "the manifest says 160×120, 6 frames, 1300 ms"),
    ],
)
def test_server_refuses_a_clip_unlike_its_manifest_and_stores_nothing(
    change: dict[str, int], words: str, image_server: ServerProcess, submitter: str
) -> None:
    upload, _ = _clip_upload()
    manifest = upload.manifest_json()
    manifest["clips"][0].update(change)
    before = stored_state(image_server)

    response = submit(image_server, submitter, upload.with_manifest(manifest))

    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("clips/001.webp ")
    assert words in response.json()["detail"]
    assert stored_state(image_server) == before
