"""The words a recorded step says: what was clicked, where, and how many keys (never which)."""

from __future__ import annotations

import pytest

from agent.pointer_target import PointerTarget
from agent.schema import MAX_CAPTION_CHARS
from agent.steps import MAX_NAME_CHARS, click_line, step_text, typed_keys_line


@pytest.mark.parametrize(
    ("button", "target", "line"),
    [
        (1, PointerTarget("OK", "button", "Save As"), "Left-click 'OK' button in 'Save As'"),
        (3, PointerTarget("Paste", "menu item", ""), "Right-click 'Paste' menu item"),
        (2, PointerTarget("Tab 2", "", "Browser"), "Middle-click 'Tab 2' in 'Browser'"),
        (1, PointerTarget("", "text field", "Save As"), "Left-click a text field in 'Save As'"),
        (1, PointerTarget("", "image", "Viewer"), "Left-click an image in 'Viewer'"),
        (1, PointerTarget("", "", "Save As"), "Left-click in 'Save As'"),
        (1, None, "Left-click at (12, -3)"),
        (1, PointerTarget(), "Left-click at (12, -3)"),
        (8, None, "Button 8 click at (12, -3)"),
    ],
)
def test_a_click_says_what_is_known(button: int, target: PointerTarget | None, line: str) -> None:
    assert click_line(button, 12, -3, target) == line


def test_names_are_one_short_line() -> None:
    line = click_line(1, 0, 0, PointerTarget("A\nB\x07C", "button", "W" * 300))
    assert line.startswith("Left-click 'A B C' button in 'W")
    title = line.split(" in ", 1)[1]
    assert len(title) == MAX_NAME_CHARS + 2 and title.endswith("…'")


def test_keys_are_a_count() -> None:
    assert typed_keys_line(1) == "Typed 1 key"
    assert typed_keys_line(7) == "Typed 7 keys"


def test_a_step_text_leads_with_what_was_done_and_keeps_the_persons_words() -> None:
    lines = [typed_keys_line(2), "Left-click 'OK' button in 'Save As'"]
    assert step_text(lines) == "Typed 2 keys. Left-click 'OK' button in 'Save As'"
    assert step_text(lines, " it fails here ") == "Typed 2 keys. Left-click 'OK' button in 'Save As' — it fails here"
    assert step_text([], "only words") == "only words"
    long = step_text(["Left-click at (1, 1)"], "x" * 1000)
    assert len(long) == MAX_CAPTION_CHARS and long.startswith("Left-click at (1, 1) — xxx")
