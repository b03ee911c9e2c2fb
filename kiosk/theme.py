"""The kiosk's look: a style sheet from the site's colours, and a high-contrast variant.

The touch rules live here as numbers, and the tests measure the widgets against them:
targets at least ``MIN_TARGET_PX`` at 1080p, text at least ``MIN_TEXT_PT``, a focus frame
thick enough to see from a step away, scroll bars ``SCROLL_BAR_PX`` wide without arrow buttons.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from kiosk.settings import Colours

MIN_TARGET_PX: Final = 48
MIN_TEXT_PT: Final = 18
BODY_PT: Final = 20
BUTTON_PT: Final = 22
TITLE_PT: Final = 36
HERO_PT: Final = 48
NUMBER_PT: Final = 96
BUTTON_HEIGHT_PX: Final = 72
TILE_HEIGHT_PX: Final = 140
# Wide enough to drag with a finger; there are no arrow buttons (too small to hit).
SCROLL_BAR_PX: Final = 32

HIGH_CONTRAST: Final = Colours(
    primary="#ffd400",
    on_primary="#000000",
    background="#000000",
    surface="#000000",
    text="#ffffff",
    muted="#ffffff",
    focus="#00e5ff",
    danger="#ff6b6b",
)


def colours_for(theme: str, site_colours: Colours) -> Colours:
    """High contrast ignores the site's colours on purpose: legibility wins over branding."""
    return replace(HIGH_CONTRAST) if theme == "high-contrast" else site_colours


def style_sheet(colours: Colours) -> str:
    c = colours
    return f"""
QWidget {{
    font-size: {BODY_PT}pt;
    color: {c.text};
}}
QWidget#KioskRoot, QWidget[role="screen"], QStackedWidget, QScrollArea, QScrollArea > QWidget > QWidget {{
    background: {c.background};
}}
QScrollArea[surface="true"], QScrollArea[surface="true"] > QWidget > QWidget {{ background: {c.surface}; }}
QLabel {{ background: transparent; }}
QLabel[role="title"] {{ font-size: {TITLE_PT}pt; font-weight: bold; }}
QLabel[role="hero"] {{ font-size: {HERO_PT}pt; font-weight: bold; }}
QLabel[role="number"] {{ font-size: {NUMBER_PT}pt; font-weight: bold; color: {c.primary}; }}
QLabel[role="hint"] {{ color: {c.muted}; }}
QLabel[role="strong"] {{ font-size: {BUTTON_PT}pt; font-weight: bold; }}
QLabel[role="board-number"] {{ font-size: {HERO_PT}pt; font-weight: bold; color: {c.primary}; }}
QLabel[role="error"] {{ color: {c.danger}; font-weight: bold; }}
QLabel[role="stage"] {{ color: {c.muted}; font-size: {BODY_PT}pt; }}
QFrame[role="card"] {{
    background: {c.surface};
    border: 2px solid {c.muted};
    border-radius: 16px;
}}
QFrame[role="bar"] {{ background: {c.surface}; border-bottom: 2px solid {c.muted}; }}
QFrame[role="footer"] {{ background: {c.surface}; border-top: 2px solid {c.muted}; }}
QPushButton, QToolButton {{
    font-size: {BUTTON_PT}pt;
    min-height: {BUTTON_HEIGHT_PX}px;
    min-width: {BUTTON_HEIGHT_PX}px;
    padding: 4px 28px;
    border: 3px solid {c.muted};
    border-radius: 14px;
    background: {c.surface};
    color: {c.text};
}}
QPushButton[role="primary"] {{
    background: {c.primary};
    color: {c.on_primary};
    border-color: {c.primary};
    font-weight: bold;
}}
QPushButton[role="tile"] {{ min-height: {TILE_HEIGHT_PX}px; text-align: center; }}
QPushButton[role="hero"] {{
    min-height: 128px;
    min-width: 560px;
    font-size: {TITLE_PT}pt;
    background: {c.primary};
    color: {c.on_primary};
    border-color: {c.primary};
    border-radius: 24px;
    font-weight: bold;
}}
QPushButton:checked, QPushButton[role="tile"]:checked {{
    background: {c.primary};
    color: {c.on_primary};
    border-color: {c.primary};
}}
QToolButton:checked {{ border: 5px solid {c.primary}; }}
MarkupEditor QToolButton {{ font-size: {MIN_TEXT_PT}pt; padding: 4px 10px; }}
QPushButton[compact="true"] {{ padding: 4px 12px; }}
QPushButton[role="danger"] {{ color: {c.danger}; border-color: {c.danger}; }}
QPushButton:disabled {{ color: {c.muted}; border-style: dashed; }}
QPushButton[role="primary"]:disabled {{ background: {c.surface}; color: {c.muted}; border-color: {c.muted}; }}
QPushButton:focus, QToolButton:focus, QLineEdit:focus, QPlainTextEdit:focus, QCheckBox:focus {{
    border: 5px solid {c.focus};
}}
QLineEdit, QPlainTextEdit {{
    font-size: {BUTTON_PT}pt;
    min-height: {BUTTON_HEIGHT_PX}px;
    padding: 4px 16px;
    border: 3px solid {c.muted};
    border-radius: 12px;
    background: {c.surface};
    color: {c.text};
    selection-background-color: {c.primary};
    selection-color: {c.on_primary};
}}
QLineEdit[invalid="true"] {{ border-color: {c.danger}; }}
QCheckBox {{
    font-size: {BODY_PT}pt;
    min-height: {BUTTON_HEIGHT_PX}px;
    spacing: 16px;
    padding: 0 12px;
    border: 3px solid transparent;
    border-radius: 12px;
}}
QCheckBox::indicator {{ width: 48px; height: 48px; }}
QProgressBar {{
    min-height: 48px;
    border: 3px solid {c.muted};
    border-radius: 12px;
    background: {c.surface};
    text-align: center;
    font-size: {BODY_PT}pt;
}}
QProgressBar::chunk {{ background: {c.primary}; border-radius: 8px; }}
QScrollBar:vertical {{
    width: {SCROLL_BAR_PX}px;
    background: {c.background};
    border: none;
    border-radius: {SCROLL_BAR_PX // 2}px;
    margin: 0;
}}
QScrollBar:horizontal {{
    height: {SCROLL_BAR_PX}px;
    background: {c.background};
    border: none;
    border-radius: {SCROLL_BAR_PX // 2}px;
    margin: 0;
}}
QScrollBar::handle:vertical {{ background: {c.muted}; border-radius: {SCROLL_BAR_PX // 2}px; min-height: 96px; }}
QScrollBar::handle:horizontal {{ background: {c.muted}; border-radius: {SCROLL_BAR_PX // 2}px; min-width: 96px; }}
QScrollBar::handle:pressed {{ background: {c.primary}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; border: none; background: none; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QLabel[role="more"] {{ color: {c.muted}; font-weight: bold; }}
QLabel[role="thumb"] {{ background: {c.surface}; border: 2px solid {c.muted}; border-radius: 8px; }}
QFrame#OnScreenKeyboard {{ background: {c.background}; border-top: 3px solid {c.muted}; }}
QPushButton[role="key"], QPushButton[role="key-action"], QPushButton[role="key-done"] {{
    font-size: {BUTTON_PT}pt;
    min-height: {MIN_TARGET_PX}px;
    min-width: {MIN_TARGET_PX}px;
    padding: 0;
    border: 2px solid {c.muted};
    border-radius: 10px;
    background: {c.surface};
    color: {c.text};
}}
QPushButton[role="key-action"] {{ font-weight: bold; }}
QPushButton[role="key-done"] {{
    background: {c.primary};
    color: {c.on_primary};
    border-color: {c.primary};
    font-weight: bold;
}}
QPushButton[role="key"]:pressed, QPushButton[role="key-action"]:pressed, QPushButton[role="key-action"]:checked {{
    background: {c.primary};
    color: {c.on_primary};
    border-color: {c.primary};
}}
QPushButton[role="key-done"]:pressed {{ background: {c.on_primary}; color: {c.primary}; }}
"""
