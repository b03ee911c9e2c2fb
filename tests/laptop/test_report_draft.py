"""Freezing a draft into the report that is sent: mark-up as data, the original only when allowed, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.connectors.builtin import BuiltinConnector
from agent.laptop.report_draft import (
    DraftError,
    ReportDraft,
    ReportForm,
    default_contact,
    freeze,
)
from agent.markup import new_item, open_image
from agent.schema import MAX_STEPS
from agent.steps import EditableStep, freeze_step
from tests.fixtures.server import ServerProcess
from tests.laptop.conftest import AgentHarness
from tests.markup.helpers import gradient, png_bytes, source_pixel
from tests.outbox.helpers import make_bundle


def step(**overrides: object) -> EditableStep:
    image = gradient(240, 160)
    values: dict[str, object] = {
        "image": png_bytes(image),
        "width": image.width,
        "height": image.height,
        "captured_at": datetime(2024, 5, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return EditableStep(**values)  # type: ignore[arg-type]


def test_an_unmarked_step_is_sent_as_captured() -> None:
    draft = step(caption="  the error  ")
    frozen = freeze_step(draft)
    assert frozen.image is draft.image and frozen.original is None and frozen.markup == []
    assert frozen.caption == "the error"


def test_a_crop_or_redaction_leaves_no_original_and_other_markup_keeps_it() -> None:
    arrow = new_item("arrow", [(10, 10), (100, 80)])
    kept = freeze_step(step(markup=[arrow]))
    assert kept.original is not None and kept.markup == [arrow]
    assert open_image(kept.original).convert("RGB").getpixel((10, 10)) == source_pixel(10, 10)
    for kind in ("redaction", "crop"):
        item = new_item(kind, [(20, 20), (120, 90)])
        frozen = freeze_step(step(markup=[arrow, item]))
        assert frozen.original is None, kind
        assert frozen.markup == [arrow, item]
    cropped = freeze_step(step(markup=[new_item("crop", [(20, 20), (120, 90)])]))
    assert (cropped.width, cropped.height) == (100, 70)


def test_freeze_makes_an_agent_report_with_the_sysinfo_switched_off_groups_removed() -> None:
    draft = ReportDraft(
        steps=[step()],
        form=ReportForm(description="  Outlook crashes  ", category="Software", name="Ada", email="ada@example.org"),
        sysinfo={"os": {"name": "Linux"}, "processes": {"by_cpu": []}, "network": {"interfaces": []}},
        excluded_groups={"processes"},
    )
    bundle = freeze(draft)
    report = bundle.report
    assert report.id == draft.id and report.source.kind == "agent"
    assert report.description == "Outlook crashes" and report.category == "Software"
    assert report.reporter.email == "ada@example.org"
    assert bundle.sysinfo == {"os": {"name": "Linux"}, "network": {"interfaces": []}}


def test_a_bad_form_is_refused_with_the_field_named() -> None:
    with pytest.raises(DraftError, match="'ada at example' is not an e-mail address"):
        freeze(ReportDraft(form=ReportForm(description="x", email="ada at example")))
    with pytest.raises(DraftError, match="description is longer than"):
        freeze(ReportDraft(form=ReportForm(description="x" * 5000)))


def test_a_draft_holds_at_most_the_schema_s_steps() -> None:
    draft = ReportDraft()
    assert draft.add_steps([step()] * (MAX_STEPS + 3)) == list(range(MAX_STEPS))
    with pytest.raises(DraftError, match=f"at most {MAX_STEPS} captures"):
        draft.add_steps([step()])


class _Account:
    def __init__(self, gecos: str) -> None:
        self.pw_gecos = gecos


@pytest.mark.parametrize(
    ("login", "gecos", "expected_name"),
    [
        ("ada", "Ada Lovelace,Room 12,,", "Ada Lovelace"),
        ("root", "root", ""),  # the login repeated is no name: the field stays empty to be filled in once
        ("jdoe", "", ""),  # no full name known: never the login name
    ],
)
def test_the_contact_comes_from_the_os_user_s_full_name_only(
    monkeypatch: pytest.MonkeyPatch, login: str, gecos: str, expected_name: str
) -> None:
    import getpass
    import pwd

    monkeypatch.setattr(getpass, "getuser", lambda: login)
    monkeypatch.setattr(pwd, "getpwnam", lambda name: _Account(gecos) if name == login else None)
    assert default_contact() == (expected_name, "")
    assert default_contact("example.org") == (expected_name, f"{login}@example.org")


def test_the_contact_sent_last_wins_over_the_os_user_even_when_empty() -> None:
    assert default_contact("example.org", ("Grace Hopper", "grace@example.org")) == (
        "Grace Hopper",
        "grace@example.org",
    )
    assert default_contact("example.org", ("Grace Hopper", "")) == ("Grace Hopper", "")


@pytest.mark.xvfb
def test_my_requests_reads_the_ticket_status_back(
    harness: AgentHarness, qtbot: QtBot, server_process: ServerProcess
) -> None:
    harness.use_server(server_process)
    agent = harness.make()
    bundle = make_bundle(3)
    harness.outbox.put(bundle)
    with qtbot.waitSignal(agent.delivered, timeout=20_000) as delivered:
        harness.outbox.wake()
    receipt = delivered.args[0]
    BuiltinConnector(server_process.url, token=server_process.token("technician")).set_status(
        receipt.ticket_id, "resolved"
    )
    agent.open_requests()
    window = agent.requests_window
    assert window is not None and window.table.rowCount() == 1
    assert window.table.item(0, 0).text() == receipt.number
    assert window.table.item(0, 1).text() == "new"
    qtbot.mouseClick(window.refresh_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.table.item(0, 1).text() == "resolved", timeout=20_000)


def test_an_unreadable_image_is_a_clear_error() -> None:
    broken = step(image=b"\x89PNG\r\n\x1a\nnot really", markup=[new_item("arrow", [(1, 1), (5, 5)])])
    with pytest.raises(ValueError, match=r"(?i)image"):
        freeze_step(broken)
