"""The capture bar is on the real screen while the person works, and never in a shot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures.xvfb import XvfbServer, paint_root

BACKGROUND = (12, 200, 120)

# Runs under the X server as a real Qt app on xcb: the controller shows the bar, a plain
# screen grab (the bar visible) is saved, then a step is captured through the controller.
_SCRIPT = r"""
import json, sys
from pathlib import Path
from PySide6.QtCore import QRect, QTimer
from PySide6.QtWidgets import QApplication
from kiosk.settings import parse_settings
from kiosk.showme import ScreenGrabber, ShowMeController, mss_grabber
from kiosk.theme import style_sheet
from kiosk.settings import Colours

out = Path(sys.argv[1])
app = QApplication([])
app.setStyleSheet(style_sheet(Colours()))
settings = parse_settings({"allowed_apps": [{"id": "app", "label": "App", "command": ["sleep", "30"]}]})
grabber = ScreenGrabber(mss_grabber(None, 1))
controller = ShowMeController(grabber, lambda: QRect(0, 0, 1920, 1080))
result = {}

def grab_with_bar():
    from agent.capture import Capturer
    from agent.encoding import encode
    with Capturer() as capturer:
        out.joinpath("with-bar.png").write_bytes(encode(capturer.capture_monitor(1)).data)
    geometry = controller.bar.frameGeometry()
    result["bar"] = [geometry.x(), geometry.y(), geometry.width(), geometry.height()]
    controller.capture("a caption")

def captured(draft):
    out.joinpath("step.png").write_bytes(draft.image)
    result["caption"] = draft.caption
    result["bar_back"] = controller.bar.isVisible()
    controller.finish()
    result["apps_left"] = len(controller.running_apps())
    app.quit()

controller.step_captured.connect(captured)
controller.capture_failed.connect(lambda reason: (result.update(error=reason), app.quit()))
controller.start(settings.allowed_apps[0], 0)
QTimer.singleShot(800, grab_with_bar)
QTimer.singleShot(20000, app.quit)
app.exec()
grabber.shutdown()
out.joinpath("result.json").write_text(json.dumps(result))
"""


@pytest.mark.xvfb
def test_the_bar_shows_on_screen_but_not_in_the_step(xvfb_display: XvfbServer, tmp_path: Path) -> None:
    paint_root(xvfb_display.display, Image.new("RGB", (1920, 1080), BACKGROUND))
    env = {**xvfb_display.env, "QT_QPA_PLATFORM": "xcb"}
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert "error" not in result, result
    assert result["caption"] == "a caption" and result["bar_back"] is True and result["apps_left"] == 0
    left, top, width, height = result["bar"]
    assert width > 400 and top + height <= 1080
    box = (left + 4, top + 4, left + width - 4, top + height - 4)
    with_bar = Image.open(tmp_path / "with-bar.png").convert("RGB").crop(box)
    step = Image.open(tmp_path / "step.png").convert("RGB").crop(box)
    with_bar_colours = {colour for _count, colour in with_bar.getcolors(maxcolors=1 << 20) or []}
    step_colours = {colour for _count, colour in step.getcolors(maxcolors=1 << 20) or []}
    assert with_bar_colours != {BACKGROUND}, "the bar must be on the screen while the person works"
    assert step_colours == {BACKGROUND}, "the bar must never appear in a shot"
