"""The language a person chose at the kiosk travels with their report to the page their link opens."""

from __future__ import annotations

import re

import requests
from pytestqt.qtbot import QtBot

from agent.sysinfo.groups import GROUPS
from kiosk.flow import Stage
from kiosk.screens.review import GROUP_LABELS
from kiosk.window import KioskWindow
from tests.fixtures.server import ServerProcess
from tests.kiosk.conftest import WindowFactory
from tests.kiosk.helpers import check_in_by_form, tap, wait_stage

_HTML_LANG = re.compile(r"<html[^>]*\blang=\"([a-z]+)\"")


def walk_up_to_done(qtbot: QtBot, window: KioskWindow, *, language: str | None) -> str:
    """A short walk-up (no steps) in ``language`` (None: the site's); the Done screen's link."""
    wait_stage(qtbot, window, Stage.WELCOME)
    if language is not None:
        tap(qtbot, window.welcome.language_buttons[language])
    check_in_by_form(qtbot, window, "Grace Hopper", "grace@example.org")
    tap(qtbot, window.what.tiles["printer"])
    tap(qtbot, window.what.continue_button)
    tap(qtbot, window.show_screen.continue_button)  # nothing to show: skipped
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    with qtbot.waitSignal(window.submission.finished, timeout=30_000):
        tap(qtbot, window.send.send_button)
    wait_stage(qtbot, window, Stage.DONE)
    outcome = window.session.outcome
    assert outcome is not None and outcome.ticket is not None and outcome.ticket.url
    assert window.done.qr.isVisible() and window.done.qr.data == outcome.ticket.url
    return outcome.ticket.url


def page_language(url: str) -> str:
    # No Accept-Language of our own: the page must speak what the link carries.
    answer = requests.get(url, headers={"Accept-Language": ""}, timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    found = _HTML_LANG.search(answer.text)
    assert found is not None, answer.text[:300]
    return found.group(1)


def test_a_german_visit_gives_a_german_page_and_the_next_person_the_sites_language(
    make_window: WindowFactory, qtbot: QtBot, shared_server: ServerProcess
) -> None:
    make_window.server_url = shared_server.url
    make_window.token = shared_server.token("submitter", site="HQ Tech Bar")
    make_window.start_sender()
    window = make_window()  # the site speaks English

    german = walk_up_to_done(qtbot, window, language="de")
    assert page_language(german) == "de"

    tap(qtbot, window.done.finish_button)
    english = walk_up_to_done(qtbot, window, language=None)
    assert english != german
    assert page_language(english) == "en"


def test_every_system_information_group_has_a_label_the_person_reads() -> None:
    # A group without a label would show its raw key ("clock") on the Review screen.
    assert set(GROUPS) <= set(GROUP_LABELS)
