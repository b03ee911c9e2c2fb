"""Windows: UI Automation, on paper. It has the interface of every backend and says it is not available yet.

What it will do, with COM (``comtypes``, or ctypes on ``UIAutomationCore.dll``), on a thread
that called ``CoInitializeEx(COINIT_MULTITHREADED)`` once:

1. ``CoCreateInstance(CLSID_CUIAutomation, …, IID_IUIAutomation)`` once per thread, kept.
2. Per click: ``IUIAutomation::ElementFromPoint(POINT{x, y})`` with the click's screen point
   in physical pixels (the agent is per-monitor DPI aware, so these are the hook's pixels).
3. ``IUIAutomationElement::get_CurrentName`` for the name and ``get_CurrentControlType`` for
   the role: ``UIA_ButtonControlTypeId`` → "button", ``UIA_EditControlTypeId`` → "text field",
   ``UIA_MenuItemControlTypeId`` → "menu item", ``UIA_TabItemControlTypeId`` → "tab",
   ``UIA_CheckBoxControlTypeId`` → "check box", ``UIA_HyperlinkControlTypeId`` → "link",
   ``UIA_ListItemControlTypeId`` → "list item" (the words the AT-SPI backend uses too).
   An element whose ``get_CurrentIsPassword`` is true gives its role only, never its name.
4. The window title: ``IUIAutomation::get_ControlViewWalker`` and ``GetParentElement`` up to
   the element whose parent is the desktop (``GetRootElement``), then its ``get_CurrentName``
   (at most :data:`~agent.pointer_target.MAX_DEPTH` steps up).
5. The budget: UIA calls into the target process block while it is hung, so the calls run on
   the lookup thread only (as here) and a lookup past its budget is abandoned, its answer unread.
"""

from __future__ import annotations

from agent.pointer_target import LOOKUP_BUDGET_S, PointerTarget

NOT_AVAILABLE = "naming what was clicked through UI Automation is not available on this platform yet"


class UiaFinder:
    @property
    def problem(self) -> str | None:
        return NOT_AVAILABLE

    def target_at(self, x: int, y: int, budget_s: float = LOOKUP_BUDGET_S) -> PointerTarget | None:
        return None

    def close(self) -> None:
        return None
