"""Step thumbnails: every image the capture writes gets one, even those Qt's readers refuse."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from agent.encoding import encode
from kiosk.steps import thumbnail


def test_a_one_colour_lossless_webp_gets_a_thumbnail(qtbot: QtBot) -> None:
    colour = (200, 60, 30)
    # What the capture writes for a blank monitor; Qt's WebP reader returns a null image for it.
    webp = encode(Image.new("RGB", (400, 300), colour)).data
    assert QImage.fromData(webp).isNull(), "Qt reads this file now: pick one it cannot, or drop the fallback"

    image = thumbnail(webp, (200, 200))

    assert (image.width(), image.height()) == (200, 150)
    centre = image.pixelColor(100, 75)
    assert (centre.red(), centre.green(), centre.blue()) == colour


def test_bytes_that_are_no_image_are_refused_with_the_cause(qtbot: QtBot) -> None:
    with pytest.raises(ValueError, match="not an image"):
        thumbnail(b"GIF89a but not really")
