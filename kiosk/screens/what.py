"""What: a category tile, an optional short description with a visible limit, and self-help first.

For the chosen category the site's articles are shown (title and a QR code to the article);
"This solved it" ends the visit there and is counted.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from kiosk.session import KioskSession
from kiosk.settings import Article, KioskSettings
from kiosk.widgets import KioskScreen, QrLabel, fill, make_button, make_label, set_role, set_text

_COLUMNS = 3
_MAX_ARTICLES_SHOWN = 2


class WhatScreen(KioskScreen):
    chosen = Signal()
    solved_by_article = Signal(str)  # the category id

    def __init__(self, settings: KioskSettings, session: KioskSession) -> None:
        super().__init__()
        self.settings = settings
        self.session = session
        self.language = settings.language

        row = QHBoxLayout()
        row.setSpacing(48)
        left = QVBoxLayout()
        left.setSpacing(16)
        self.tiles_heading = make_label("title")
        left.addWidget(self.tiles_heading)
        grid = QGridLayout()
        grid.setSpacing(20)
        self.tiles: dict[str, QPushButton] = {}
        for index, category in enumerate(settings.categories):
            tile = make_button("tile", object_name=f"category-{category.id}")
            tile.setCheckable(True)
            tile.clicked.connect(lambda _checked=False, c=category.id: self.choose(c))
            grid.addWidget(tile, index // _COLUMNS, index % _COLUMNS)
            self.tiles[category.id] = tile
        left.addLayout(grid)
        left.addSpacing(16)
        self.description_label = make_label()
        left.addWidget(self.description_label)
        self.description_edit = QPlainTextEdit()
        self.description_edit.setObjectName("description")
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setFixedHeight(150)
        self.description_edit.textChanged.connect(self._description_changed)
        self.description_label.setBuddy(self.description_edit)
        left.addWidget(self.description_edit)
        self.counter_label = make_label("hint", wrap=False)
        self.counter_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        left.addWidget(self.counter_label)
        left.addStretch(1)
        row.addLayout(left, 3)

        self.help_card = QFrame()
        set_role(self.help_card, "card")
        self.help_card.setObjectName("self-help")
        help_layout = QVBoxLayout(self.help_card)
        help_layout.setContentsMargins(32, 24, 32, 24)
        help_layout.setSpacing(12)
        self.help_heading = make_label("title")
        help_layout.addWidget(self.help_heading)
        self.help_hint = make_label("hint")
        help_layout.addWidget(self.help_hint)
        self.article_rows: list[tuple[QrLabel, object]] = []
        self.article_titles = []
        self.article_codes = []
        for _ in range(_MAX_ARTICLES_SHOWN):
            article_row = QHBoxLayout()
            code = QrLabel(180)
            title = make_label("strong")
            article_row.addWidget(code)
            article_row.addWidget(title, 1)
            help_layout.addLayout(article_row)
            self.article_codes.append(code)
            self.article_titles.append(title)
        help_layout.addStretch(1)
        self.solved_button = make_button(object_name="solved")
        self.solved_button.clicked.connect(self._solved)
        help_layout.addWidget(self.solved_button)
        self.help_card.hide()
        row.addWidget(self.help_card, 2)
        self.content_layout.addLayout(row, 1)

        self.footer_layout.addStretch(1)
        self.continue_button = make_button("primary", object_name="continue")
        self.continue_button.clicked.connect(self._continue)
        self.footer_layout.addWidget(self.continue_button)
        self.description_edit.setVisible(settings.description_max_chars > 0)
        self.description_label.setVisible(settings.description_max_chars > 0)
        self.counter_label.setVisible(settings.description_max_chars > 0)
        self.retranslate()

    # ------------------------------------------------------------ texts
    def set_language(self, language: str) -> None:
        self.language = language
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        translate = QCoreApplication.translate
        self.title_label.setText(self.tr("What is the problem?"))
        self.tiles_heading.setText(self.tr("Choose what fits best"))
        for category in self.settings.categories:
            label = category.label.resolve(self.language, translate)
            set_text(self.tiles[category.id], label, self.tr("Category: %1").replace("%1", label))
        self.description_label.setText(self.tr("In a few words (optional)"))
        self.description_edit.setAccessibleName(self.tr("Description (optional)"))
        self.description_edit.setPlaceholderText(self.tr("For example: the printer on floor 2 says 'offline'"))
        self.help_heading.setText(self.tr("This may help right away"))
        self.help_hint.setText(self.tr("Scan a code with your phone to open the article."))
        set_text(self.solved_button, self.tr("This solved it, thanks"))
        set_text(self.continue_button, self.tr("Continue ›"), self.tr("Continue"))
        self._update_counter()
        self._show_articles()

    # ------------------------------------------------------------ actions
    def reset(self) -> None:
        for tile in self.tiles.values():
            tile.setChecked(False)
        self.description_edit.clear()
        self.help_card.hide()
        self.continue_button.setEnabled(False)

    def entered(self) -> None:
        super().entered()
        self.continue_button.setEnabled(bool(self.session.category_id))
        first = next(iter(self.tiles.values()), None)
        if self.session.category_id in self.tiles:
            self.tiles[self.session.category_id].setFocus()
        elif first is not None:
            first.setFocus()

    def choose(self, category_id: str) -> None:
        category = self.settings.category(category_id)
        if category is None:
            return
        # Checked by hand rather than by an exclusive button group: Tab must reach every tile.
        for tile_id, tile in self.tiles.items():
            tile.setChecked(tile_id == category_id)
        articles = self.settings.articles_for(category)[:_MAX_ARTICLES_SHOWN]
        self.session.choose_category(category_id, [a.id for a in articles])
        self.continue_button.setEnabled(True)
        self._show_articles()

    def _show_articles(self) -> None:
        category = self.settings.category(self.session.category_id) if self.session.category_id else None
        articles: list[Article] = self.settings.articles_for(category)[:_MAX_ARTICLES_SHOWN] if category else []
        self.help_card.setVisible(bool(articles))
        translate = QCoreApplication.translate
        for index, (code, title) in enumerate(zip(self.article_codes, self.article_titles, strict=True)):
            if index < len(articles):
                article = articles[index]
                text = article.title.resolve(self.language, translate)
                title.setText(text)
                code.set_data(article.url, self.tr("QR code to the article: %1").replace("%1", text))
                code.show()
                title.show()
            else:
                code.hide()
                title.hide()

    def _description_changed(self) -> None:
        limit = self.settings.description_max_chars
        text = self.description_edit.toPlainText()
        if len(text) > limit:
            cursor = self.description_edit.textCursor()
            self.description_edit.setPlainText(text[:limit])
            cursor.setPosition(limit)
            self.description_edit.setTextCursor(cursor)
            return
        self._update_counter()

    def _update_counter(self) -> None:
        used = len(self.description_edit.toPlainText())
        text = fill(self.tr("%1 of %2 characters"), used, self.settings.description_max_chars)
        self.counter_label.setText(text)
        self.counter_label.setAccessibleName(text)

    def _continue(self) -> None:
        if not self.session.category_id:
            return
        self.session.describe(self.description_edit.toPlainText().strip(), self.settings.description_max_chars)
        self.chosen.emit()

    def _solved(self) -> None:
        self.solved_by_article.emit(self.session.category_id)
