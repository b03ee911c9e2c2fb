"""Encoding shots: lossless round trips, lossy sizes, format choice, async and parallel encoding."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageDraw

from agent import encoding
from agent.bundle import build_bundle
from agent.capture import MonitorInfo, Rect, Shot
from agent.encoding import EncodedImage, ImageFormat, encode, encode_all, encode_async, step_draft
from agent.schema import Report, Source, sniff_image_type


def _screen_like(width: int, height: int, seed: int) -> Image.Image:
    """Flat areas, text, and a grainy photo-like patch: what screens hold."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (246, 247, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 24), fill=(52, 101, 164))
    for row in range(30, height - 10, 14):
        draw.text(
            (8, row),
            " ".join(rng.choice(("error", "printer", "VPN", "0x80070005")) for _ in range(8)),
            fill=(20, 20, 20),
        )
    patch = (width // 3, height // 3)
    coarse = Image.frombytes("RGB", (8, 6), rng.randbytes(8 * 6 * 3)).resize(patch, Image.Resampling.BICUBIC)
    grain = Image.frombytes("RGB", patch, rng.randbytes(patch[0] * patch[1] * 3))
    image.paste(Image.blend(coarse, grain, 0.1), (width // 2, height // 2))
    return image


def _shot_of(image: Image.Image, index: int = 1) -> Shot:
    return Shot(
        pixels=memoryview(image.tobytes("raw", "BGRX")).toreadonly(),
        width=image.width,
        height=image.height,
        monitor_info=MonitorInfo(index=index, rect=Rect(0, 0, image.width, image.height), name="test"),
        region=Rect(0, 0, image.width, image.height),
        captured_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        notes=("a note",),
    )


def _decode(encoded: EncodedImage) -> Image.Image:
    image = Image.open(io.BytesIO(encoded.data))
    image.load()
    return image


@pytest.fixture(scope="module")
def screen() -> Image.Image:
    return _screen_like(400, 300, seed=3)


@pytest.mark.parametrize("fmt", [encoding.WEBP_LOSSLESS, encoding.PNG], ids=lambda f: f.name)
def test_lossless_formats_round_trip_every_pixel(fmt: ImageFormat, screen: Image.Image) -> None:
    encoded = encode(_shot_of(screen), fmt)

    decoded = _decode(encoded)
    assert decoded.convert("RGB").tobytes() == screen.tobytes()
    assert (encoded.width, encoded.height) == screen.size
    assert sniff_image_type(encoded.data) == encoded.media_type == fmt.media_type


def test_default_format_is_lossless_and_round_trips(screen: Image.Image) -> None:
    assert encoding.DEFAULT.lossless

    encoded = encode(_shot_of(screen))

    assert _decode(encoded).convert("RGB").tobytes() == screen.tobytes()


def test_lossless_webp_keeps_colour_under_transparent_pixels() -> None:
    layer = Image.new("RGBA", (64, 32), (200, 10, 30, 0))
    ImageDraw.Draw(layer).rectangle((8, 8, 40, 20), fill=(0, 120, 255, 128))

    decoded = _decode(encode(layer, encoding.WEBP_LOSSLESS))

    assert decoded.mode == "RGBA"
    assert decoded.tobytes() == layer.tobytes()


@pytest.mark.parametrize("fmt", [encoding.WEBP_LOSSY, encoding.JPEG], ids=lambda f: f.name)
def test_lossy_formats_decode_close_to_the_original(fmt: ImageFormat, screen: Image.Image) -> None:
    lossy = encode(_shot_of(screen), fmt)

    decoded = _decode(lossy).convert("RGB")
    assert not fmt.lossless
    assert sniff_image_type(lossy.data) == fmt.media_type
    assert decoded.size == screen.size
    assert decoded.tobytes() != screen.tobytes()
    # Close to the original: the mean difference per channel stays small.
    difference = sum(abs(a - b) for a, b in zip(decoded.tobytes(), screen.tobytes(), strict=True))
    assert difference / len(screen.tobytes()) < 12


def test_jpeg_drops_alpha_instead_of_failing() -> None:
    encoded = encode(Image.new("RGBA", (10, 10), (1, 2, 3, 255)), encoding.JPEG)

    assert _decode(encoded).mode == "RGB"


def test_palette_images_are_encoded_as_rgb() -> None:
    image = Image.new("P", (8, 8), 3)

    decoded = _decode(encode(image, encoding.PNG))

    assert decoded.convert("RGB").tobytes() == image.convert("RGB").tobytes()


@pytest.mark.parametrize(
    ("fmt", "fallback"),
    [(encoding.WEBP_LOSSLESS, "image/png"), (encoding.WEBP_LOSSY, "image/jpeg")],
    ids=["lossless", "lossy"],
)
def test_images_wider_than_webp_allows_fall_back(fmt: ImageFormat, fallback: str) -> None:
    wide = Image.new("RGB", (encoding.WEBP_MAX_DIMENSION + 1, 2), (9, 99, 199))

    encoded = encode(wide, fmt)

    assert encoded.media_type == fallback
    assert sniff_image_type(encoded.data) == fallback
    assert _decode(encoded).size == wide.size


def test_encode_async_returns_while_the_frame_is_already_usable(screen: Image.Image) -> None:
    shot = _shot_of(screen)
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(release.wait)  # keeps the only worker busy: the encode must wait its turn
        future = encode_async(shot, executor=executor)

        assert not future.done()
        # The caller has the frozen frame now, while the encode is still to run.
        assert shot.image().tobytes() == screen.tobytes()
        release.set()
        encoded = future.result(timeout=60)

    assert _decode(encoded).convert("RGB").tobytes() == screen.tobytes()


def test_encode_async_default_pool(screen: Image.Image) -> None:
    future = encode_async(_shot_of(screen), encoding.PNG)

    assert _decode(future.result(timeout=60)).convert("RGB").tobytes() == screen.tobytes()


def test_encode_all_keeps_the_order() -> None:
    images = [_screen_like(120, 90, seed) for seed in range(3)]

    encoded = encode_all([_shot_of(image, index) for index, image in enumerate(images, start=1)])

    assert [_decode(e).convert("RGB").tobytes() for e in encoded] == [i.tobytes() for i in images]


def test_format_by_name_and_by_file_name() -> None:
    assert ImageFormat.parse("webp-lossless") is encoding.WEBP_LOSSLESS
    assert ImageFormat.parse("default") is encoding.DEFAULT
    assert ImageFormat.parse("jpeg") is encoding.JPEG
    assert encoding.format_for_path("shot.PNG") is encoding.PNG
    assert encoding.format_for_path("a/b/shot.jpeg") is encoding.JPEG
    assert encoding.format_for_path("shot.webp").lossless
    with pytest.raises(ValueError, match="unknown image format 'gif'; choose one of default, webp-lossless, png"):
        ImageFormat.parse("gif")
    with pytest.raises(ValueError, match=r"cannot tell the image format of 'shot.bmp'; end the name with \.webp"):
        encoding.format_for_path("shot.bmp")


def test_step_draft_goes_into_a_valid_bundle(screen: Image.Image) -> None:
    shot = _shot_of(screen)

    draft = step_draft(shot, caption="the error dialog")
    bundle = build_bundle(Report(source=Source(kind="agent", id="test-host")), [draft])

    step = bundle.report.steps[0]
    assert step.caption == "the error dialog"
    assert (step.width, step.height) == screen.size
    assert step.monitor == shot.monitor
    assert step.captured_at == shot.captured_at
    assert step.capture_notes == "a note"
    assert step.image.media_type == encoding.DEFAULT.media_type
    assert (
        _decode(EncodedImage(bundle.files[step.image.path], "image/webp", 0, 0)).convert("RGB").tobytes()
        == screen.tobytes()
    )


def test_step_draft_uses_an_image_already_encoded(screen: Image.Image) -> None:
    shot = _shot_of(screen)
    encoded = encode(shot, encoding.JPEG)

    draft = step_draft(shot, encoded)

    assert draft.image is encoded.data


def test_encoding_loads_only_the_plugin_of_its_format() -> None:
    code = (
        "import sys\n"
        "from PIL import Image\n"
        "from agent.encoding import encode, PNG\n"
        "image = Image.new('RGB', (32, 16), (1, 2, 3))\n"
        "webp, png = encode(image), encode(image, PNG)\n"
        "print(sorted(name for name in sys.modules if name.endswith('ImagePlugin')))\n"
        "print(webp.data[8:12], png.data[1:4])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['PIL.PngImagePlugin', 'PIL.WebPImagePlugin']", "b'WEBP' b'PNG'"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_keeping_the_working_memory_spares_the_page_faults_of_later_encodes() -> None:
    # Page faults, not time: each encode of a 1080p frame touches tens of MB of fresh memory
    # unless the allocator keeps it. Run apart: the setting lasts for the whole process.
    code = (
        "import resource, sys\n"
        "from PIL import Image\n"
        "from agent import encoding\n"
        "kept = encoding.keep_working_memory() if sys.argv[1] == 'keep' else False\n"
        "image = Image.effect_noise((1920, 1080), 40).convert('RGB')\n"
        "encoding.encode(image)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(3):\n"
        "    data = encoding.encode(image).data\n"
        "print(kept, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 3)\n"
    )

    def faults(mode: str) -> tuple[str, int]:
        done = subprocess.run(
            [sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        kept, count = done.stdout.split()
        return kept, int(count)

    kept, with_kept = faults("keep")
    _, without = faults("default")
    assert kept == "True"
    assert with_kept * 3 < without, (with_kept, without)
