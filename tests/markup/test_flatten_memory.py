"""Flattening a 1080p step holds as few full-size copies of the picture as it can.

A kiosk must stay under its memory bound (issue 24: 200 MB) at the highest moment of a visit,
and saving a mark-up was one of them: the decoded capture, its RGBA copy and the RGB result
(and, for a WebP capture, libwebp's two decoder canvases, kept for as long as Pillow's image
lived) all at once. Each case runs in a fresh interpreter with the kiosk's allocator settings
(``kiosk.memory.keep_big_blocks_apart``: big blocks are their own pages, back to the system
when freed), and reads the process's peak resident memory (``VmHWM``, reset just before) over
its resident memory before the call. Bounds are in full-size copies of the picture (4 bytes a
pixel, as Pillow and Qt hold it), between what the code needs and what it held before.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from agent.markup import MarkupError, check_image
from shared_qt.markup_editor import MarkupEditor
from tests.markup.helpers import gradient, png_bytes

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1920, 1080
COPY_MB = WIDTH * HEIGHT * 4 / 2**20

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc peak reset")

# Runs in the child: argv = picture file, what to do. Prints the rise of the peak and what stays, in MB.
_PROBE = """
import gc, json, sys
from pathlib import Path
from kiosk.memory import keep_big_blocks_apart, release_free_memory
from agent import markup

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)

keep_big_blocks_apart()
data = Path(sys.argv[1]).read_bytes()
items = [markup.new_item("arrow", [(100, 100), (900, 600)]), markup.new_item("highlight", [(50, 700), (800, 900)])]
actions = {
    "flatten": lambda: markup.flatten(data, items),
    "open": lambda: markup.open_image(data),
    "check": lambda: markup.check_image(data),
}
action = actions[sys.argv[2]]
action()  # once before: fonts, plugins and the interpreter's own first-use memory
gc.collect()
release_free_memory()
before = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
kept = action()
print(json.dumps({"rise_mb": status("VmHWM") - before, "kept_mb": status("VmRSS") - before}))
"""


def busy_picture(fmt: str) -> bytes:
    """A 1080p screen-like picture that does not compress away, as a capture (WebP) or a photo (PNG)."""
    image = Image.effect_noise((WIDTH, HEIGHT), 40).convert("RGB")
    buffer = io.BytesIO()
    if fmt == "WEBP":
        image.save(buffer, "WEBP", lossless=True, method=0, quality=0)  # the capture format
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    paths = {}
    for fmt in ("WEBP", "PNG"):
        paths[fmt] = folder / f"shot.{fmt.lower()}"
        paths[fmt].write_bytes(busy_picture(fmt))
    return paths


def measure(picture: Path, action: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(picture), action],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def test_flattening_a_1080p_photo_holds_at_most_two_copies_and_a_half(pictures: dict[str, Path]) -> None:
    # Needed: the decoded picture, drawn on in place, and the RGB result (2 copies, ~17 MB with
    # the PNG encoder's buffers). Before: the RGBA copy beside the decoded picture as well (~24 MB).
    figures = measure(pictures["PNG"], "flatten")
    assert figures["rise_mb"] <= 2.5 * COPY_MB, figures


def test_flattening_a_1080p_capture_stays_within_its_decode(pictures: dict[str, Path]) -> None:
    # Pillow's WebP decode alone passes four copies (libwebp's two canvases, the frame's bytes,
    # the image); drawing and encoding then add at most the RGB result. Before: ~45 MB.
    figures = measure(pictures["WEBP"], "flatten")
    assert figures["rise_mb"] <= 5 * COPY_MB, figures


def test_a_decoded_capture_keeps_only_its_own_pixels(pictures: dict[str, Path]) -> None:
    # Pillow's WebP image kept libwebp's decoder and its two full-size canvases (3 copies in all).
    figures = measure(pictures["WEBP"], "open")
    assert figures["kept_mb"] <= 1.5 * COPY_MB, figures


def test_checking_a_picture_decodes_nothing(pictures: dict[str, Path]) -> None:
    assert check_image(pictures["WEBP"].read_bytes()) == (WIDTH, HEIGHT)
    figures = measure(pictures["WEBP"], "check")
    assert figures["rise_mb"] <= 0.5 * COPY_MB, figures


def test_the_editor_still_refuses_a_damaged_picture_and_keeps_what_it_had(qtbot: QtBot) -> None:
    # The editor checks only the header before Qt decodes; a file cut short is refused all the same.
    editor = MarkupEditor()
    qtbot.addWidget(editor)
    good = png_bytes(gradient(320, 200))
    editor.load(good)
    whole = png_bytes(gradient(640, 400))
    with pytest.raises(MarkupError, match="damaged"):
        editor.load(whole[: len(whole) // 2])
    assert editor.canvas().image_size() == (320, 200)
    assert editor.image_bytes() == good
