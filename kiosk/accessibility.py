"""What assistive technology needs to hear that Qt's widgets do not say by themselves.

Three things: a widget can carry a role of its own (the idle warning is an alert, the two
language buttons are radio buttons, one choice of two); a text can be announced at once (a
field's error, the idle warning) through Qt's accessibility events, which Qt's AT-SPI bridge
passes on to screen readers; and a field's error becomes the field's accessible description,
so a screen reader says it whenever the field is reached again.

Roles go through one accessibility factory installed on first use. Its interfaces are kept on
the widget they describe: Qt's accessibility cache deletes an interface when its widget goes,
and a Python reference dropped earlier would delete it under the cache's feet.
"""

from __future__ import annotations

import functools
from typing import Final

from PySide6 import QtGui
from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible, QAccessibleEvent, QAccessibleInterface
from PySide6.QtWidgets import QAbstractButton, QAccessibleWidget, QLineEdit, QPlainTextEdit, QWidget

# The dynamic property that holds a widget's own role (an int of QAccessible.Role).
ROLE_PROPERTY: Final = "showdeskAccessibleRole"
_INTERFACE_ATTRIBUTE: Final = "_showdesk_accessible"


class _RoleInterface(QAccessibleWidget):
    """A widget's interface with its own role; a checkable button keeps its checked state."""

    def state(self) -> QAccessible.State:
        state = super().state()
        widget = self.widget()
        if isinstance(widget, QAbstractButton) and widget.isCheckable():
            state.checkable = True
            state.checked = widget.isChecked()
        return state


def _factory(_class_name: str, obj: QObject) -> QAccessibleInterface | None:
    if not isinstance(obj, QWidget):
        return None
    role = obj.property(ROLE_PROPERTY)
    if not isinstance(role, int):
        return None
    interface = _RoleInterface(obj, QAccessible.Role(role), "")
    # Kept as long as the widget: Qt's cache deletes the interface with it (see the module text).
    setattr(obj, _INTERFACE_ATTRIBUTE, interface)
    return interface


@functools.cache
def install() -> None:
    """Install the role factory (once per process)."""
    QAccessible.installFactory(_factory)


def set_accessible_role(widget: QWidget, role: QAccessible.Role) -> None:
    """Expose ``widget`` with ``role``. Call before anything asks for the widget's interface."""
    install()
    widget.setProperty(ROLE_PROPERTY, int(role.value))


def announce(widget: QWidget, text: str, *, assertive: bool = True) -> None:
    """Have screen readers say ``text`` now, on behalf of ``widget`` (a new error, a warning).

    Qt 6.8 and later carry the text itself (an announcement event); every version also gets
    the Alert event, on which screen readers read the alert widget's name and description.
    """
    if not text:
        return
    announcement = getattr(QtGui, "QAccessibleAnnouncementEvent", None)
    if announcement is not None:
        event = announcement(widget, text)
        if assertive:
            event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive)
        QAccessible.updateAccessibility(event)
    QAccessible.updateAccessibility(QAccessibleEvent(widget, QAccessible.Event.Alert))


def set_field_error(field: QLineEdit | QPlainTextEdit, message: str, *, say_it: bool = True) -> None:
    """``message`` (empty: none) becomes ``field``'s accessible description; ``say_it`` announces it too."""
    if field.accessibleDescription() != message:
        field.setAccessibleDescription(message)
        QAccessible.updateAccessibility(QAccessibleEvent(field, QAccessible.Event.DescriptionChanged))
    if message and say_it:
        announce(field, message)
