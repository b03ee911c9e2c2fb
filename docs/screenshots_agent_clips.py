"""Screenshots of the agent's clips: ``.venv/bin/python docs/screenshots_agent_clips.py [--out docs]``.

Starts a private Xvfb at 1920x1080 showing the made-up desktop of ``screenshots_agent.py`` (a
print queue with an error), runs the real agent on it (Qt on xcb) with every path in a temporary
directory, records a clip of the print queue while a message flashes up and a retry counts, and
saves what the X screen shows:

    agent-clip-recording.png    the recording indicator (time recorded, Stop) beside the recorded window
    agent-clip-trim.png         the trim dialog: preview, frame scrubber with start and end handles
    agent-clip-report.png       the report window with the clip: it plays as it will be sent

Nothing of the user's own configuration, outbox or keyring is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "docs"))  # screenshots_agent: the stage and the private screen this script shares
SIZE = (1920, 1080)
QUEUE = (300, 160, 940, 600)  # the print queue window of the made-up desktop: left, top, width, height


def desktop_with(step: int) -> Image.Image:
    """The desktop at ``step``: 0 the queue; 1-3 a message flashes and a retry counts down; 4 it is gone."""
    from PIL import Image, ImageDraw
    from screenshots_agent import desktop_picture

    from agent.markup import load_font

    image = desktop_picture()
    assert isinstance(image, Image.Image)
    if step in (1, 2, 3):
        draw = ImageDraw.Draw(image)
        body = load_font(20)
        draw.rectangle([560, 330, 1060, 520], fill=(250, 250, 250), outline=(80, 80, 80), width=2)
        draw.rectangle([560, 330, 1060, 366], fill=(180, 40, 40))
        draw.text((576, 337), "Printer offline", fill="white", font=body)
        draw.text((580, 390), f"Retrying in {4 - step} s …", fill=(20, 20, 20), font=body)
        draw.rectangle([580, 440, 1040, 466], outline=(120, 120, 120))
        draw.rectangle([582, 442, 582 + 152 * step, 464], fill=(40, 120, 220))
    return image


# ---------------------------------------------------------------- the child: the agent on xcb
def child(out: Path, display: str) -> int:
    from screenshots_agent import AgentStage

    stage = AgentStage(out, clip_fps=5.0)  # the Qt application first: the modules below may use it
    from agent.capture import Rect
    from tests.fixtures.xvfb import paint_root

    app, agent = stage.app, stage.agent
    wait, wait_until, save, frame_of = stage.wait, stage.wait_until, stage.save, stage.frame_of

    # Report a problem, then record the print queue while the message flashes.
    shown: list[object] = []
    agent.report_shown.connect(shown.append)
    agent.start_report("all")
    wait_until(lambda: bool(shown))
    window = agent.report_window
    assert window is not None
    window.setGeometry(150, 60, 1620, 940)
    window.description_edit.setPlainText(
        "The printer says it is offline for a moment, then the message goes away and nothing prints."
    )
    window.category_combo.setCurrentText("Printer")
    window.name_edit.setText("Ada Lovelace")
    agent.start_clip(region=Rect(*QUEUE))
    session = agent.clip_session
    assert session is not None

    def wait_for_frames(count: int) -> None:
        wait_until(lambda: session.frames >= count)

    for step in range(5):
        paint_root(display, desktop_with(step))
        wait_for_frames(session.frames + 4)
    indicator = session.indicator.frameGeometry()
    save(
        "agent-clip-recording.png",
        QUEUE[0] - 40,
        indicator.y() - 40,
        QUEUE[2] + 80,
        QUEUE[1] + QUEUE[3] - indicator.y() + 80,
    )
    session.indicator.stop_button.click()
    wait_until(lambda: window.trim_dialog is not None and window.trim_dialog.isVisible())
    dialog = window.trim_dialog
    assert dialog is not None
    dialog.setGeometry(420, 180, 1080, 720)
    count = dialog.scrubber.count
    dialog.scrubber.set_start(3)
    dialog.scrubber.set_end(count - 3)
    dialog.scrubber.set_position(8)
    wait(700)
    save("agent-clip-trim.png", *frame_of(dialog, 8))
    dialog.accept()
    wait_until(lambda: bool(window.draft.clips) and window.draft.clips[0].encoded is not None)
    window.clip_panel.caption_edit.setText("The message flashes, then the queue stays stuck")
    wait(1200)
    save("agent-clip-report.png", *frame_of(window, 8))
    agent.shutdown()
    app.quit()
    return 0


# ---------------------------------------------------------------- the parent: Xvfb and isolation
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.out, os.environ["DISPLAY"])
    from screenshots_agent import run_on_private_screen

    return run_on_private_screen(Path(__file__), args.out, desktop_with(0))


if __name__ == "__main__":
    sys.exit(main())
