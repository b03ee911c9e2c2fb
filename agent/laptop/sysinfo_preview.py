"""The system information a report will carry, group by group, each with a switch.

Every value is shown exactly as it will leave the machine: the snapshot is already scrubbed by
``agent.sysinfo.collect``, and what is sent is that snapshot without the groups switched off
(``agent.sysinfo.without_groups``), nothing else. Strings are shown as they are, other values as
the JSON they will be written as.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from agent.sysinfo import GROUPS

MAX_CHILDREN: Final = 200  # rows shown per list or table; the rest is summarised (all of it is sent)
_GROUP_ROLE: Final = Qt.ItemDataRole.UserRole + 1


def _shown(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _add_children(parent: QTreeWidgetItem, value: object) -> None:
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        pairs = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        parent.addChild(QTreeWidgetItem(["", _shown(value)]))
        return
    for key, item in pairs[:MAX_CHILDREN]:
        if isinstance(item, Mapping | list) and item:
            node = QTreeWidgetItem([key, ""])
            parent.addChild(node)
            _add_children(node, item)
        else:
            parent.addChild(QTreeWidgetItem([key, _shown(item)]))
    if len(pairs) > MAX_CHILDREN:
        parent.addChild(QTreeWidgetItem(["…", f"{len(pairs) - MAX_CHILDREN} more (sent too)"]))


class SysinfoPreview(QWidget):
    """A tree of groups with check boxes; unchecked groups are not sent."""

    excluded_changed = Signal(object)  # set[str]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = QLabel("Collecting system information…")
        self.note.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("sysinfo-tree")
        self.tree.setHeaderLabels(["Sent to the help desk", "Value"])
        self.tree.setAccessibleName("System information sent with the report; untick a group to leave it out")
        self.tree.setColumnWidth(0, 220)
        self.tree.itemChanged.connect(self._item_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.tree, 1)
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._excluded: set[str] = set()
        self._loading = False

    def set_snapshot(self, snapshot: Mapping[str, object] | None, excluded: Collection[str] = ()) -> None:
        """Show ``snapshot`` (None: nothing will be sent) with the groups in ``excluded`` switched off."""
        self._loading = True
        self.tree.clear()
        self._groups.clear()
        self._excluded = {name for name in excluded if snapshot is not None and name in snapshot}
        if snapshot is None:
            self.note.setText("No system information will be sent.")
        else:
            self.note.setText("Untick what you do not want to send. This is exactly what will be sent:")
            ordered = [name for name in GROUPS if name in snapshot] + [n for n in snapshot if n not in GROUPS]
            for name in ordered:
                item = QTreeWidgetItem([GROUPS.get(name, name), ""])
                item.setData(0, _GROUP_ROLE, name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Unchecked if name in self._excluded else Qt.CheckState.Checked)
                item.setToolTip(0, f"“{name}” in the report's sysinfo.json")
                _add_children(item, snapshot[name])
                self.tree.addTopLevelItem(item)
                self._groups[name] = item
                self._style(item)
        self._loading = False

    def groups(self) -> list[str]:
        return list(self._groups)

    def excluded(self) -> set[str]:
        return set(self._excluded)

    def group_item(self, name: str) -> QTreeWidgetItem:
        return self._groups[name]

    def set_group_included(self, name: str, included: bool) -> None:
        self._groups[name].setCheckState(0, Qt.CheckState.Checked if included else Qt.CheckState.Unchecked)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        name = item.data(0, _GROUP_ROLE)
        if self._loading or column != 0 or not isinstance(name, str):
            return
        if item.checkState(0) == Qt.CheckState.Checked:
            self._excluded.discard(name)
        else:
            self._excluded.add(name)
        self._style(item)
        self.excluded_changed.emit(self.excluded())

    def _style(self, item: QTreeWidgetItem) -> None:
        included = item.checkState(0) == Qt.CheckState.Checked
        item.setText(1, "" if included else "not sent")
        for index in range(item.childCount()):
            child = item.child(index)
            if child is not None:
                child.setDisabled(not included)
